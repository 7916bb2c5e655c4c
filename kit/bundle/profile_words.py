"""What the vmaf-tune profile's cards say in words (kit.bundle.vmaftune writes them), here with no import of onnx or
torch: the catalogue of what a tarball sends (kit.bundle.messages) reads them on a box that makes a corpus alone."""

from __future__ import annotations

from kit.model.contract import LOG_FEATURES

# vmaf-tune's feature columns, in its order: a contract copy (tests/unit/test_model_contract.py checks it)
FEED_FEATURES: tuple[str, ...] = ("adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2")
FEED_LOGGED = ", ".join(f"log(1 + {f})" for f in FEED_FEATURES if f in LOG_FEATURES)  # the members' first operation
UNSEEN_BLIND = ("no row of the training corpus, and none needed: the models read no codec block (the teacher recipe), "
                "so its predictions are those of a trained slot")
