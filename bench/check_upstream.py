"""Run lusoris/vmaf's own checks against a promoted run's vmaf-tune export, from a scratch folder.

    .venv/bin/python bench/check_upstream.py OUT_DIR UPSTREAM_CHECKOUT [--keep]

UPSTREAM_CHECKOUT is a work tree of lusoris/vmaf (for a bare clone: `git --git-dir=REPO archive HEAD model/tiny
python/test ai/scripts tools/vmaf-tune/src | tar -x -C DIR`). Nothing of it enters this repository: the files are
read from the checkout, or copied into a temporary folder outside it, and run there. Three checks:

1. registry: the export's registry-rows.json as a model/tiny/registry.json beside the export's models, with
   upstream's registry.schema.json; upstream's validator (ai/scripts/validate_model_registry.py: jsonschema when
   installed, its cross-file consistency check) and upstream's test file python/test/model_registry_schema_test.py
   run on it (pytest, in the scratch tree);
2. conformal: upstream's loader (tools/vmaf-tune/src/vmaftune/conformal.py) reads the shipped calibration
   sidecar; its quantile against the manifest's card, and its interval's coverage of the held-out clips
   (03_loso/clips.parquet, the ensemble = mean over seeds of the per-clip predictions from mean features);
3. evaluator: ai/scripts/eval_probabilistic_proxy.py loads the ensemble manifest and its members
   (`_load_ensemble`), and its `_coverage_metrics` scores the held-out rows of 04_verdict/intervals.parquet
   (pred, std over seeds, teacher) with the manifest's conformal_q_residual. Its `_predict_ensemble` feeds two
   inputs named features / codec_onehot (the ensemble-v1 trainer's layout); the profile's members take one [N, 20]
   input (vmaf-tune's proxy layout), so the script says whether that call runs and runs the members itself.

Prints one JSON document; exit 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from kit.infra.parquet import read_parquet
from kit.infra.proc import run_process
from kit.rundir import RunDir

PROFILE = "vmaftune"
MANIFEST = "fr_regressor_v2_ensemble_v1.json"


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def registry_check(profile: Path, upstream: Path, scratch: Path) -> dict[str, Any]:
    """Upstream's validator and registry test on a model/tiny/ made of the export."""
    tiny = scratch / "model" / "tiny"
    shutil.copytree(profile, tiny)
    rows = json.loads((profile / "registry-rows.json").read_text())
    (tiny / "registry.json").write_text(json.dumps({"$schema": "./registry.schema.json", "schema_version": 1,
                                                    "models": rows}, indent=2))
    shutil.copy(upstream / "model" / "tiny" / "registry.schema.json", tiny)
    for rel in ("ai/scripts/validate_model_registry.py", "python/test/model_registry_schema_test.py"):
        (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(upstream / rel, scratch / rel)
    validator = load_module("upstream_validate_model_registry", scratch / "ai/scripts/validate_model_registry.py")
    try:
        import jsonschema  # noqa: F401
        schema_by = "jsonschema"
    except ImportError:
        schema_by = "structural fallback"
    rc, errors = validator.validate(tiny / "registry.json", tiny / "registry.schema.json")
    res = run_process([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(scratch),
                       str(scratch / "python/test/model_registry_schema_test.py")],
                      timeout_s=600, cwd=scratch, capture_stdout=True)
    summary = res.stdout.decode(errors="replace").strip().splitlines()[-1:]
    return {"rows": len(rows), "validator_rc": rc, "validator_errors": errors, "schema_checked_by": schema_by,
            "pytest_rc": res.returncode, "pytest_summary": summary,
            "ok": rc == 0 and res.returncode == 0}


def conformal_check(profile: Path, upstream: Path, run: RunDir) -> dict[str, Any]:
    """Upstream's loader on the shipped sidecar, and its interval on the held-out clips."""
    manifest = json.loads((profile / MANIFEST).read_text())
    card = manifest.get("calibration")
    if card is None:
        return {"ok": False, "why": "the manifest lists no calibration sidecar"}
    sys.path.insert(0, str(upstream / "tools/vmaf-tune/src"))
    from vmaftune.conformal import ConformalPredictor, MiscalibrationWarning, load_split_calibration

    cal = load_split_calibration(profile / card["file"])
    q = cal.quantile()
    out: dict[str, Any] = {"file": card["file"], "n": cal.n, "alpha": cal.alpha, "upstream_q": q,
                           "card_upstream_q": card["upstream_q"], "card_q_abs": card["q_abs"],
                           "card_rank": card["rank"], "unbounded_in_card": card["unbounded"],
                           "max_residual": max(cal.residuals) if cal.residuals else None}
    ok = abs(q - card["upstream_q"]) <= 1e-9 * max(1.0, q)
    if card["unbounded"]:
        doc = json.loads((profile / card["file"]).read_text())
        out["unbounded_said_in_file"] = bool(doc.get("unbounded")) and "UNBOUNDED" in str(doc.get("warning"))
        out["upstream_uses_largest"] = q == max(cal.residuals)
        ok = ok and out["unbounded_said_in_file"] and out["upstream_uses_largest"]
    else:
        ok = ok and card["q_abs"] <= q
    clips_path = run.step("loso") / "clips.parquet"
    if clips_path.is_file():
        clips = read_parquet(clips_path).to_pandas()
        keys = ["src_sha256", "encoder", "cq"]
        per_clip = clips.groupby(keys).agg(vmaf=("vmaf_mean", "first"), pred=("pred_from_mean_features", "mean"))
        wrapper = ConformalPredictor(base=None, calibration=cal)  # type: ignore[arg-type]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MiscalibrationWarning)
            coverage = wrapper.coverage_probe(predictions=per_clip["pred"].tolist(), targets=per_clip["vmaf"].tolist())
        out.update({"clips": len(per_clip), "clip_coverage": coverage,
                    "clip_coverage_note": "the same clips the residuals came from: by construction every clip of a "
                                          "group whose residual is <= q is covered",
                    "stale_warning": [str(w.message) for w in caught]})
    out["ok"] = bool(ok)
    return out


def evaluator_check(profile: Path, upstream: Path, run: RunDir) -> dict[str, Any]:
    evaluator = load_module("upstream_eval_probabilistic_proxy", upstream / "ai/scripts/eval_probabilistic_proxy.py")
    manifest, sessions = evaluator._load_ensemble(profile / MANIFEST)
    out: dict[str, Any] = {"members_opened": len(sessions), "ensemble_size": manifest["ensemble_size"],
                           "confidence": manifest["confidence"],
                           "inputs": [[i.name, i.shape] for i in sessions[0].get_inputs()]}
    try:
        evaluator._predict_ensemble(sessions, np.zeros((1, 6), np.float32), np.zeros((1, 12), np.float32))
        out["predict_ensemble"] = "ran"
    except Exception as err:  # onnxruntime's own error: the two-input layout is not the profile's
        out["predict_ensemble"] = f"does not run on the [N, 20] profile: {type(err).__name__}"
    q = manifest.get("confidence", {}).get("conformal_q_residual")
    ok = len(sessions) == manifest["ensemble_size"] == len(manifest["members"])
    intervals = run.step("verdict") / "intervals.parquet"
    if intervals.is_file():
        rows = read_parquet(intervals).to_pandas()
        finite = np.isfinite(rows["std"].to_numpy())
        mu, sigma, target = (rows[c].to_numpy(dtype=np.float64)[finite] for c in ("pred", "std", "vmaf"))
        metrics = evaluator._coverage_metrics(mu, sigma, target, conformal_q=q)
        nominal = manifest["confidence"]["nominal_coverage"]
        lo, hi = rows["lo"].to_numpy()[finite], rows["hi"].to_numpy()[finite]
        out.update({"held_out_rows": int(finite.sum()), "coverage": metrics,
                    "verdict_logo_coverage_at_nominal": float(np.mean((target >= lo) & (target <= hi))),
                    "nominal": nominal})
        ok = ok and all(0.0 <= v["empirical_coverage"] <= 1.0 for v in metrics["gaussian"].values())
    out["ok"] = bool(ok)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("upstream", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    args = ap.parse_args()
    run = RunDir(args.out_dir.resolve())
    profile = run.exports / PROFILE
    if not (profile / MANIFEST).is_file():
        print(f"error: no vmaf-tune export in {profile} (a PROMOTE run's bundle writes it)", file=sys.stderr)
        return 2
    upstream = args.upstream.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="check-upstream-"))  # outside the repository
    try:
        report = {"upstream": str(upstream), "scratch": str(scratch),
                  "registry": registry_check(profile, upstream, scratch),
                  "conformal": conformal_check(profile, upstream, run),
                  "evaluator": evaluator_check(profile, upstream, run)}
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(report, indent=2, default=str))
    return 0 if all(report[k]["ok"] for k in ("registry", "conformal", "evaluator")) else 1


if __name__ == "__main__":
    raise SystemExit(main())
