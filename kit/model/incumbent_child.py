"""The child process that runs an incumbent's ONNX models (`python -m kit.model.incumbent_child SCRATCH`), so the kit
can stop one that never ends. SCRATCH holds `request.json`, `features.npy` and `codec.npy`; the child writes
`state.json` before each model, `scores<k>.npy` per member, and `failure.json` for the first that fails (exit 3)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kit.infra.tree import Tree
from kit.model.runtime import INPUT_CODEC, INPUT_FEATURES, load_npy, npy_bytes, predict, session

REQUEST, FEATURES, CODEC, STATE, FAILURE = "request.json", "features.npy", "codec.npy", "state.json", "failure.json"
EXIT_MODEL_FAILED = 3  # failure.json says which model and why
DETAIL_CHARS = 120  # of onnxruntime's message, as the kit has always quoted it


def scores_file(scratch: Path, k: int) -> Path:
    return scratch / f"scores{k}.npy"


def _fail(tree: Tree, model: str, stage: str, detail: str = "", dims: dict[str, Any] | None = None) -> int:
    tree.write_json(tree.root / FAILURE, {"model": model, "stage": stage, "detail": detail[:DETAIL_CHARS],
                                          "dims": dims})
    return EXIT_MODEL_FAILED


def run(scratch: Path) -> int:
    with Tree.open(scratch, make=False) as tree:
        scratch = tree.root
        request = tree.read_json(scratch / REQUEST)
        models, widths = [str(m) for m in request["models"]], request["inputs"]
        feats, codec = load_npy(tree, scratch / FEATURES), load_npy(tree, scratch / CODEC)
        sessions = []
        for model in models:  # every member loads and takes the kit's inputs before any runs
            tree.write_json(scratch / STATE, {"model": model, "stage": "load"})
            try:
                sess = session(Path(model))
            except Exception as exc:  # onnxruntime raises its own types for a damaged or foreign file
                return _fail(tree, model, "load", str(exc))
            dims = {i.name: i.shape[-1] if i.shape else None for i in sess.get_inputs()}  # a scalar has no width
            if dims.get(INPUT_FEATURES) != widths[INPUT_FEATURES] or dims.get(INPUT_CODEC) != widths[INPUT_CODEC]:
                return _fail(tree, model, "inputs", dims=dims)
            sessions.append(sess)
        for k, (model, sess) in enumerate(zip(models, sessions, strict=True)):
            tree.write_json(scratch / STATE, {"model": model, "stage": "run"})
            try:
                out = predict(sess, feats, codec)
            except Exception as exc:  # onnxruntime raises its own types for a model that cannot run these inputs
                return _fail(tree, model, "run", str(exc))
            tree.write_bytes(scores_file(scratch, k), npy_bytes(out))
        return 0


if __name__ == "__main__":
    from kit.infra import scratch

    scratch.open_scratch()  # its own temporary folder before onnxruntime loads (kit/infra/scratch.py)
    sys.exit(run(Path(sys.argv[1])))
