"""The vmaf-tune profile against the checks lusoris/vmaf runs on what it ships, restated here exactly (the
upstream files cannot be fetched at test time; bench/check_upstream.py runs the real ones against a bundle).

Restated, at lusoris/vmaf c2a3c7e0:
- model/tiny/registry.schema.json, `$defs.model_entry` (lines 22-108): required keys, no others, id pattern
  and maxLength 64, kind enum, onnx pattern and maxLength 256, sha256 pattern, opset 7..21, notes <= 512,
  smoke bool, license <= 128, license_url <= 512, sigstore_bundle pattern and maxLength 256, description <= 256;
- ai/scripts/validate_model_registry.py `_structural_fallback_validate` (lines 53-79) and `_consistency_check`
  (lines 82-131): duplicate ids, the ONNX present with its sha256, a sidecar `<onnx stem>.json` for a
  non-smoke row, a sigstore_bundle ending in .sigstore.json;
- python/test/model_registry_schema_test.py `test_every_entry_has_license_metadata` (lines 56-62) and
  `test_fr_regressor_v2_ensemble_seed_rows_are_production` (lines 65-76);
- tools/vmaf-tune/src/vmaftune/conformal.py `_empirical_quantile` (lines 173-193), `quantile` (280-292),
  `from_json` (306-317);
- ai/scripts/eval_probabilistic_proxy.py: `manifest["members"]` (line 143), `confidence.conformal_q_residual`
  (line 264), sigma with ddof=1 (line 296), the conformal row mu +/- q * sigma, closed (lines 198-208);
- ai/scripts/train_fr_regressor_v2_ensemble.py `_build_manifest` (lines 270-299): the manifest's keys.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from kit.bundle.conformal import GAUSSIAN_Z, NO_INTERVALS, confidence, upstream_quantile
from kit.bundle.registry import check_proposed
from kit.bundle.vmaftune import Exported, Shipping, write_profile
from kit.errors import InputError
from kit.infra.tree import Tree
from kit.model.conformal import rank_needed
from kit.model.features import design_matrix
from kit.model.recipe import TrainConfig
from kit.model.train import Member, train_members
from kit.verdict.document import IntervalLevel, Intervals, Verdict
from tests.conftest import ROOT, synthetic_corpus

# --- registry.schema.json, $defs.model_entry --------------------------------------------------------------
REQUIRED = {"id", "kind", "onnx", "sha256"}
ALLOWED = REQUIRED | {"opset", "notes", "smoke", "quant_mode", "quant_calibration_set", "int8_sha256",
                      "quant_accuracy_budget_plcc", "license", "license_url", "sigstore_bundle", "description"}
PATTERNS = {"id": (r"^[a-z0-9][a-z0-9_-]*$", 64), "onnx": (r"^[a-z0-9][a-z0-9_./-]*\.onnx$", 256),
            "sha256": (r"^[0-9a-f]{64}$", None), "sigstore_bundle": (r"^[a-z0-9][a-z0-9_./-]*\.sigstore\.json$", 256)}
MAX_LENGTH = {"notes": 512, "license": 128, "license_url": 512, "description": 256}
KINDS = {"fr", "nr", "filter"}


def schema_errors(row: dict[str, object]) -> list[str]:
    errors = [f"missing {k}" for k in REQUIRED - row.keys()] + [f"extra {k}" for k in row.keys() - ALLOWED]
    for key, (pattern, longest) in PATTERNS.items():
        value = row.get(key)
        if value is not None and (not isinstance(value, str) or re.search(pattern, value) is None
                                  or (longest is not None and len(value) > longest)):
            errors.append(f"{key} {value!r}")
    errors += [f"{k} too long" for k, n in MAX_LENGTH.items() if k in row and len(str(row[k])) > n]
    if row.get("kind") not in KINDS:
        errors.append("kind")
    if "opset" in row and not (isinstance(row["opset"], int) and 7 <= row["opset"] <= 21):
        errors.append("opset")
    if "smoke" in row and not isinstance(row["smoke"], bool):
        errors.append("smoke")
    return errors


def consistency_errors(rows: list[dict], folder: Path) -> list[str]:
    """validate_model_registry._consistency_check, restated (the int8 branch does not apply: fp32 rows)."""
    errors, seen = [], set()
    for m in rows:
        if m["id"] in seen:
            errors.append(f"{m['id']}: duplicate")
        seen.add(m["id"])
        path = folder / m["onnx"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != m["sha256"]:
            errors.append(f"{m['id']}: onnx missing or sha256 mismatch")
        if not m.get("smoke", False) and not path.with_suffix(".json").is_file():
            errors.append(f"{m['id']}: missing sidecar")
        if m.get("sigstore_bundle") and not m["sigstore_bundle"].endswith(".sigstore.json"):
            errors.append(f"{m['id']}: sigstore_bundle")
    return errors


# --- vmaftune.conformal -----------------------------------------------------------------------------------
def type7(values: list[float], q: float) -> float:
    v = sorted(values)
    n = len(v)
    if n == 1:
        return v[0]
    h = (n - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    return v[lo] if lo == hi else v[lo] + (h - lo) * (v[hi] - v[lo])


def upstream_load(path: Path) -> tuple[tuple[float, ...], float]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc.get("method") == "split-conformal"
    residuals, alpha = tuple(float(r) for r in doc["residuals"]), float(doc["alpha"])
    assert 0.0 < alpha < 1.0 and all(r >= 0.0 and math.isfinite(r) for r in residuals)
    return residuals, alpha


def upstream_q(residuals: tuple[float, ...], alpha: float) -> float:
    n = len(residuals)
    return 0.0 if n == 0 else type7(list(residuals), min(1.0, math.ceil((n + 1) * (1.0 - alpha)) / n))


# --- the verdict's intervals, as the lead's contract gives them ---------------------------------------------
def verdict_intervals(q: float | None, reason: str | None = None, score: str = "normalised") -> Intervals:
    """The verdict's `intervals` block as kit.verdict.intervals.calibrate writes it, at 95 % nominal."""
    level = IntervalLevel(level=0.95, rank=24, q=q, q_abs=None if q is None else 3.1, unbounded=q is None,
                          coverage=0.94, mean_width=None if q is None else 5.0, source_coverage_min=0.8,
                          share_unbounded=0.0)
    return Intervals(method="m", formula="f", score=score, unit="u", nominal=0.95, n_groups=23, levels=(level,),
                     conformal_q_residual=q if score == "normalised" else None, q_reason=reason)


def sidecar(path: Path, n: int, alpha: float = 1 - 0.95) -> Path:
    residuals = [round(0.5 + 0.37 * i, 6) for i in range(n)]
    path.write_text(json.dumps({"alpha": alpha, "method": "split-conformal", "n": n, "residuals": residuals}))
    return path


@pytest.fixture(scope="module")
def trained() -> tuple[list[Exported], Verdict, tuple]:
    df = synthetic_corpus(n_src=4, rows_per_src=40)
    feats, codec = design_matrix(df)
    seeds = (0, 1, 2, 3, 4)  # upstream's production test names five seed rows
    ens = train_members(feats, codec, df["vmaf"].to_numpy(), [Member(s, -1, np.arange(len(df))) for s in seeds],
                        TrainConfig(epochs=2))
    golden = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    return [Exported(s, ens.export_member(m)) for m, s in enumerate(seeds)], golden, (df, feats, codec)


def build(trained: tuple, folder: Path, ship: Shipping) -> Path:
    members, verdict, (df, feats, codec) = trained
    write_profile(Tree.open(folder.parent), members, verdict, TrainConfig(epochs=2), folder, (10, 51), feats, codec,
                  df["encoder"].to_numpy(), df["cq"].to_numpy(), ship)
    return folder


BOUNDED = verdict_intervals(2.75)


def test_rows_pass_upstream_registry_schema_validator_and_tests(trained: tuple, tmp_path: Path) -> None:
    ship = Shipping("BSD-3-Clause-Plus-Patent", "https://github.com/lusoris/vmaf/blob/master/LICENSE",
                    confidence(BOUNDED), sidecar(tmp_path / "calibration.json", 24))
    folder = build(trained, tmp_path / "profile", ship)
    rows = json.loads((folder / "registry-rows.json").read_text())
    assert len(rows) == 6  # five members and the single model
    for row in rows:
        assert schema_errors(row) == [], row
        assert row["license"] == "BSD-3-Clause-Plus-Patent" and row["sigstore_bundle"] == row["onnx"] + ".sigstore.json"
    assert consistency_errors(rows, folder) == []
    by_id = {r["id"]: r for r in rows}
    for seed in range(5):  # test_fr_regressor_v2_ensemble_seed_rows_are_production
        mid = f"fr_regressor_v2_ensemble_v1_seed{seed}"
        card = json.loads((folder / f"{mid}.json").read_text())
        assert by_id[mid]["smoke"] is False and card["sha256"] == by_id[mid]["sha256"]
        assert card["gate"]["passed"] is True and card["gate"]["verdict"] == "PROMOTE"
    # the restated checks can fail: a row of another kind, a long id, a wrong bundle name
    bad = {**rows[0], "kind": "magic", "id": "x" * 65, "sigstore_bundle": "x.bundle"}
    assert len(schema_errors(bad)) == 3 and consistency_errors([bad, bad], folder)


def test_manifest_has_upstream_keys_and_the_conformal_multiplier(trained: tuple, tmp_path: Path) -> None:
    ship = Shipping("BSD-3-Clause", "https://spdx.org/licenses/BSD-3-Clause.html", confidence(BOUNDED),
                    sidecar(tmp_path / "calibration.json", 24))
    folder = build(trained, tmp_path / "profile", ship)
    manifest = json.loads((folder / "fr_regressor_v2_ensemble_v1.json").read_text())
    upstream_keys = {"id", "kind", "ensemble_size", "members", "feature_order", "feature_mean", "feature_std",
                     "codec_vocab", "codec_vocab_version", "confidence", "smoke"}  # _build_manifest, bar "eval"
    assert upstream_keys <= set(manifest)
    assert manifest["kind"] == "fr_ensemble" and manifest["ensemble_size"] == len(manifest["members"]) == 5
    assert manifest["smoke"] is False and isinstance(manifest["codec_vocab_version"], int)
    conf = manifest["confidence"]
    assert conf == {"method": "ensemble+conformal", "nominal_coverage": 0.95, "gaussian_z": 1.959963984540054,
                    "conformal_q_residual": 2.75, "calibrated": True}
    # the evaluator's conformal row on a probe: mu +/- q * sigma over the members (ddof=1), closed
    df, feats, _ = trained[2]
    x = np.zeros((len(df), 20), dtype=np.float32)
    x[:, :6], x[:, 6], x[:, 18], x[:, 19] = feats, 1.0, 0.5, (df["cq"].to_numpy() - 10) / 41
    preds = np.vstack([ort.InferenceSession(str(folder / m["onnx"])).run(None, {"input": x})[0].reshape(-1)
                       for m in manifest["members"]])
    mu, sigma = preds.mean(axis=0), preds.std(axis=0, ddof=1)
    q = manifest.get("confidence", {}).get("conformal_q_residual")
    inside = np.logical_and(df["vmaf"] >= mu - q * sigma, df["vmaf"] <= mu + q * sigma)
    assert 0.0 <= inside.mean() <= 1.0 and np.isfinite(sigma).all() and (sigma > 0).any()
    # the calibration sidecar beside the models: upstream's loader reads it, and the manifest lists it
    cal = folder / manifest["calibration"]["file"]
    assert cal.name == "fr_regressor_v2_ensemble_v1_calibration.json"
    verdict_side = json.loads((tmp_path / "calibration.json").read_text())
    shipped = json.loads(cal.read_text())
    assert {k: shipped[k] for k in verdict_side} == verdict_side  # bounded: the verdict's residuals, as they were
    # ... naming what it calibrates: the ensemble and each member's ONNX sha256, as the manifest lists them
    assert shipped["calibrated"] is True and shipped["model_id"] == manifest["id"] == "fr_regressor_v2_ensemble_v1"
    assert shipped["models"] == {m["onnx"]: m["sha256"] for m in manifest["members"]}
    assert all(hashlib.sha256((folder / f).read_bytes()).hexdigest() == s for f, s in shipped["models"].items())
    assert manifest["calibration"]["models"] == shipped["models"]
    residuals, alpha = upstream_load(cal)
    assert manifest["calibration"]["sha256"] == hashlib.sha256(cal.read_bytes()).hexdigest()
    assert manifest["calibration"]["unbounded"] is False and manifest["calibration"]["rank"] == 24
    assert manifest["calibration"]["upstream_q"] == pytest.approx(upstream_q(residuals, alpha))
    assert manifest["calibration"]["q_abs"] == sorted(residuals)[23] <= upstream_q(residuals, alpha)


def test_unbounded_sidecar_holds_no_residual_so_upstream_reads_no_interval(trained: tuple, tmp_path: Path) -> None:
    unbounded = verdict_intervals(None, "5 content group(s) cannot bound a 95% interval: unbounded")
    ship = Shipping("BSD-3-Clause", "https://spdx.org/licenses/BSD-3-Clause.html", confidence(unbounded),
                    sidecar(tmp_path / "calibration.json", 5))
    folder = build(trained, tmp_path / "profile", ship)
    manifest = json.loads((folder / "fr_regressor_v2_ensemble_v1.json").read_text())
    conf = manifest["confidence"]
    assert conf["conformal_q_residual"] is None and conf["method"] == "ensemble" and "unbounded" in conf["reason"]
    assert conf["calibrated"] is False and conf["gaussian_z"] is None  # no field reads as an interval
    cal_card = manifest["calibration"]
    assert cal_card["unbounded"] is True and cal_card["rank"] == 6 and cal_card["q_abs"] is None
    assert cal_card["calibrated"] is False and cal_card["n"] == 5 and cal_card["upstream_q"] == 0.0
    copy = folder / cal_card["file"]
    doc = json.loads(copy.read_text())
    assert doc["calibrated"] is False and doc["reason"].startswith("UNBOUNDED") and doc["content_groups"] == 5
    residuals, alpha = upstream_load(copy)  # the extra keys do not stop upstream's loader ...
    assert residuals == () and upstream_q(residuals, alpha) == 0.0  # ... which has no residual to take (it was
    # the largest: an interval with no guarantee), so it gives none and warns that the calibration is empty
    card = json.loads((folder / "fr_regressor_v2_ensemble_v1_seed0.json").read_text())
    assert card["intervals"]["unbounded"] is True and "UNBOUNDED" in card["intervals"]["calibration"]["note"]
    assert "no interval" in card["intervals"]["ensemble_rule"]


def test_rank_and_quantile_follow_upstream() -> None:
    alpha = 1 - 0.95  # as the verdict writes it: 0.050000000000000044
    assert [rank_needed(n, 1.0 - alpha) for n in (5, 18, 19, 24)] == [6, 19, 19, 24]  # ceil((n+1)(1-alpha))
    for n in (1, 2, 7, 19, 40):
        res = tuple(float((i * 7919) % 97) / 3 for i in range(n))
        assert upstream_quantile(res, alpha) == pytest.approx(upstream_q(res, alpha))
        assert upstream_quantile(res, 0.2) == pytest.approx(upstream_q(res, 0.2))


def test_confidence_block_without_intervals_or_with_absolute_scores() -> None:
    old = confidence(None).to_json()
    assert old == {"method": "ensemble", "nominal_coverage": 0.95, "gaussian_z": None,
                   "conformal_q_residual": None, "calibrated": False, "reason": NO_INTERVALS}
    absolute = confidence(verdict_intervals(2.0, "one seed: the intervals are absolute", "absolute")).to_json()
    assert absolute["conformal_q_residual"] is None and "absolute" in absolute["reason"]
    assert absolute["calibrated"] is False and absolute["gaussian_z"] is None
    bounded = confidence(BOUNDED).to_json()
    assert bounded == {"method": "ensemble+conformal", "nominal_coverage": 0.95, "gaussian_z": GAUSSIAN_Z,
                       "conformal_q_residual": 2.75, "calibrated": True}


@pytest.mark.parametrize(("seeds", "license", "url", "needle", "hint"), [
    ((0, 10**40), "MIT", "https://spdx.org/licenses/MIT.html", "characters long; the registry allows 64", "--seeds"),
    ((0,), "", "https://spdx.org/licenses/MIT.html", "license is empty", "--model-license"),
    ((0,), "MIT", "spdx.org/licenses/MIT.html", "not an absolute http(s) address", "--model-license-url"),
])
def test_a_row_upstream_would_reject_is_refused_before_any_work(seeds: tuple[int, ...], license: str, url: str,
                                                                 needle: str, hint: str) -> None:
    check_proposed((0, 1, 2, 3, 4), "MIT", "https://spdx.org/licenses/MIT.html")  # what passes
    with pytest.raises(InputError) as err:
        check_proposed(seeds, license, url)
    assert needle in err.value.message and hint in err.value.hint and err.value.exit_code == 2


def test_verify_checks_the_models_a_sidecar_names_and_an_older_one_names_none(tmp_path: Path) -> None:
    from kit.bundle.conformal import model_problems

    onnx = tmp_path / "fr_regressor_v2_ensemble_v1_seed0.onnx"
    onnx.write_bytes(b"model")
    sha = hashlib.sha256(b"model").hexdigest()
    (tmp_path / "fr_regressor_v2_ensemble_v1.json").write_text(json.dumps({"members": [{"onnx": onnx.name,
                                                                                        "sha256": sha}]}))
    side = sidecar(tmp_path / "fr_regressor_v2_ensemble_v1_calibration.json", 24)
    assert model_problems(side) == []  # a kit before 0.5 claimed nothing to check
    doc = json.loads(side.read_text())
    side.write_text(json.dumps({**doc, "model_id": "fr_regressor_v2_ensemble_v1", "models": {onnx.name: sha}}))
    assert model_problems(side) == []
    onnx.write_bytes(b"another model")
    assert "calibrates fr_regressor_v2_ensemble_v1_seed0.onnx with sha256" in model_problems(side)[0]
    side.write_text(json.dumps({**doc, "model_id": "fr_regressor_v2_ensemble_v1", "models": {"../x.onnx": sha}}))
    assert any("not beside it" in p for p in model_problems(side))
    side.write_text(json.dumps({**doc, "model_id": "fr_regressor_v2_ensemble_v1"}))
    assert "names half" in model_problems(side)[0]
