"""Does a consumer of the kit's export get the coverage the export says? And do lusoris/vmaf's own checks pass?

    .venv/bin/python bench/check_upstream.py OUT_DIR [--upstream UPSTREAM_CHECKOUT] [--as-kit-0.4] [--keep]

1. coverage (always): the exported `confidence` block (exports/vmaftune/fr_regressor_v2_ensemble_v1.json; for a
   run that held, the block the verdict would export) applied by upstream's recipe to the kit's held-out rows
   (04_verdict/intervals.parquet: pred = mu, the members' mean; std = sigma, their std, ddof=1; vmaf = the teacher):
   mu +- q sigma with q = `conformal_q_residual`, or mu +- gaussian_z sigma when the block has no q but a
   `gaussian_z` (upstream's one-of rule, ai/AGENTS.md). Coverage is the share of rows with lo <= teacher <= hi.
   With --upstream, the function that measures it is upstream's own `_coverage_metrics`
   (ai/scripts/eval_probabilistic_proxy.py, loaded from the checkout); without, the recipe restated here
   (`restated_coverage_metrics`: the same construction and report), and the output says which ran.
   Measured twice: with the exported q on every held-out row (what upstream's evaluator reports on them), and on
   held-out contents (each content group's rows with the q calibrated without that group: lo_<nominal>/hi_<nominal>
   give it back). FAILS (exit 1) when either is more than 5 points below the block's nominal coverage. A block
   that exports no interval (`calibrated: false`, no multiplier) claims nothing, and passes, saying so.
   --as-kit-0.4 measures the block the kit exported before issue 37 instead: the verdict's q where bounded,
   else `method: ensemble` with gaussian_z 1.96 (on the demo it covered 58.5 % at a nominal 95 %).
2. registry (with --upstream, on a PROMOTE's export): the export's registry-rows.json as a model/tiny/registry.json
   beside its models, upstream's validator (ai/scripts/validate_model_registry.py) and registry test
   (python/test/model_registry_schema_test.py) run on it in a scratch folder;
3. conformal (with --upstream, on a PROMOTE's export): upstream's loader (tools/vmaf-tune/src/vmaftune/
   conformal.py) reads the shipped calibration sidecar; its quantile against the manifest's card; an uncalibrated
   sidecar holds no residual, so the loader gives no interval.

UPSTREAM_CHECKOUT is a work tree of lusoris/vmaf (for a bare clone: `git --git-dir=REPO archive HEAD model/tiny
python/test ai/scripts tools/vmaf-tune/src | tar -x -C DIR`). Nothing of it enters this repository: files are read
from the checkout, or copied into a temporary folder outside it, and run there. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kit.bundle.conformal import GAUSSIAN_Z, confidence
from kit.infra.parquet import read_frame
from kit.infra.proc import run_process
from kit.infra.tree import Tree
from kit.rundir import RunDir
from kit.verdict.document import Verdict
from kit.verdict.intervals import column

PROFILE = "vmaftune"
MANIFEST = "fr_regressor_v2_ensemble_v1.json"
SLACK = 0.05  # upstream's bar (ADR-0393): within 5 points of nominal
Metrics = Callable[..., dict[str, Any]]


def restated_coverage_metrics(mu: np.ndarray, sigma: np.ndarray, target: np.ndarray, *,
                              nominal_levels: tuple[float, ...] = (0.50, 0.80, 0.95),
                              conformal_q: float | None = None) -> dict[str, Any]:
    """Upstream's recipe, restated: per nominal level a Gaussian row mu +- z sigma (z the standard normal's
    (1 + level) / 2 quantile), and with a conformal q one more row mu +- q sigma; each row's empirical coverage
    (closed interval) and mean width. Used when no checkout is given."""
    from kit.model.conformal import gaussian_z

    def row(half: np.ndarray) -> dict[str, float]:
        inside = (target >= mu - half) & (target <= mu + half)
        return {"empirical_coverage": float(inside.mean()), "mean_width": float((2 * half).mean())}

    out: dict[str, Any] = {"gaussian": {f"{int(c * 100)}": {"z": gaussian_z(c), **row(gaussian_z(c) * sigma)}
                                        for c in nominal_levels}}
    if conformal_q is not None:
        out["conformal"] = {"q": conformal_q, **row(conformal_q * sigma)}
    return out


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def coverage_function(upstream: Path | None) -> tuple[Metrics, str]:
    if upstream is None:
        return restated_coverage_metrics, "the recipe restated in bench/check_upstream.py (no --upstream given)"
    script = upstream / "ai/scripts/eval_probabilistic_proxy.py"
    module = load_module("upstream_eval_probabilistic_proxy", script)
    return module._coverage_metrics, f"upstream's _coverage_metrics ({script})"


def exported_block(run: RunDir, as_old_kit: bool) -> tuple[dict[str, Any], str]:
    """The confidence block a consumer reads: the export's, else the one the verdict would export."""
    with Tree.open(run.root, make=False) as tree:
        found = run.verdict_on_disk(tree)
    if found is None:
        raise SystemExit(f"error: no verdict in {run.step('verdict')}")
    verdict = Verdict.from_json(json.loads(found[1].read_text()), str(found[1]))
    if as_old_kit:
        iv = verdict.intervals
        q = iv.conformal_q_residual if iv is not None else None
        return ({"method": "ensemble+conformal" if q is not None else "ensemble", "gaussian_z": GAUSSIAN_Z,
                 "nominal_coverage": iv.nominal if iv else 0.95, "conformal_q_residual": q},
                "the block kit 0.4 exported for this verdict (--as-kit-0.4)")
    manifest = run.exports / PROFILE / MANIFEST
    if manifest.is_file() and verdict.promoted:
        return json.loads(manifest.read_text())["confidence"], str(manifest)
    return confidence(verdict.intervals).to_json(), f"the verdict's ({verdict.verdict}: nothing exported)"


def held_out_rows(run: RunDir) -> pd.DataFrame:
    rows = read_frame(run.intervals)
    return rows[np.isfinite(rows["std"].to_numpy(dtype=np.float64))].reset_index(drop=True)


def held_out_contents(metrics: Metrics, rows: pd.DataFrame, nominal: float) -> dict[str, Any]:
    """Each content group's rows scored with the q calibrated without that group (from its lo/hi at the
    nominal level), by the same function; pooled over the rows."""
    lo, hi = rows[column(nominal, "lo")], rows[column(nominal, "hi")]
    if lo.isna().any() or hi.isna().any():
        return {"measured": False, "why": "unbounded once a group is left out (null bounds in intervals.parquet)"}
    q = ((hi - rows["pred"]) / rows["std"]).groupby(rows["content"]).median()
    inside, groups = 0.0, {}
    for content, part in rows.groupby("content"):
        got = metrics(part["pred"].to_numpy(), part["std"].to_numpy(), part["vmaf"].to_numpy(),
                      conformal_q=float(q[content]))["conformal"]["empirical_coverage"]
        inside += got * len(part)
        groups[str(content)] = got
    return {"measured": True, "coverage": inside / len(rows), "lowest_group": min(groups.values()),
            "groups": len(groups)}


def coverage_check(run: RunDir, upstream: Path | None, as_old_kit: bool) -> dict[str, Any]:
    metrics, by = coverage_function(upstream)
    block, source = exported_block(run, as_old_kit)
    rows = held_out_rows(run)
    nominal = float(block.get("nominal_coverage") or 0.95)
    mu, sigma, y = (rows[c].to_numpy(dtype=np.float64) for c in ("pred", "std", "vmaf"))
    q, z = block.get("conformal_q_residual"), block.get("gaussian_z")
    got = metrics(mu, sigma, y, nominal_levels=(nominal,), conformal_q=q)
    out: dict[str, Any] = {"measured_by": by, "block": block, "block_from": source, "rows": len(rows),
                           "contents": int(rows["content"].nunique()), "nominal": nominal, "upstream_metrics": got}
    if q is not None:
        out.update(interval=f"mu +- {q:.4f} sigma (conformal_q_residual)",
                   coverage=got["conformal"]["empirical_coverage"],
                   held_out_contents=held_out_contents(metrics, rows, nominal))
    elif z is not None:  # upstream's fallback: the members' spread read as a Gaussian interval
        out.update(interval=f"mu +- {z:.4f} sigma (gaussian_z: method ensemble)",
                   coverage=got["gaussian"][f"{int(nominal * 100)}"]["empirical_coverage"])
    else:
        out.update(interval=None, coverage=None, why=block.get("reason", "no multiplier in the block"))
    held = out.get("held_out_contents", {})
    figures = [x for x in (out["coverage"], held.get("coverage")) if x is not None]
    out["ok"] = all(x >= nominal - SLACK for x in figures)
    out["verdict"] = ("no interval exported: nothing claimed, nothing to fall short of" if out["interval"] is None
                      else f"{'within' if out['ok'] else 'MORE THAN'} {SLACK:.0%} of nominal {nominal:.0%}: "
                           + ", ".join(f"{x:.1%}" for x in figures))
    return out


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
    rc, errors = validator.validate(tiny / "registry.json", tiny / "registry.schema.json")
    res = run_process([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(scratch),
                       str(scratch / "python/test/model_registry_schema_test.py")],
                      timeout_s=600, cwd=scratch, capture_stdout=True)
    summary = res.stdout.decode(errors="replace").strip().splitlines()[-1:]
    return {"rows": len(rows), "validator_rc": rc, "validator_errors": errors, "pytest_rc": res.returncode,
            "pytest_summary": summary, "ok": rc == 0 and res.returncode == 0}


def conformal_check(profile: Path, upstream: Path) -> dict[str, Any]:
    """Upstream's loader on the shipped sidecar: its quantile is the card's; an uncalibrated one gives none."""
    card = json.loads((profile / MANIFEST).read_text()).get("calibration")
    if card is None:
        return {"ok": False, "why": "the manifest lists no calibration sidecar"}
    sys.path.insert(0, str(upstream / "tools/vmaf-tune/src"))
    import warnings

    from vmaftune.conformal import load_split_calibration

    cal = load_split_calibration(profile / card["file"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        q = cal.quantile()
    doc = json.loads((profile / card["file"]).read_text())
    out = {"file": card["file"], "n": cal.n, "upstream_q": q, "card_upstream_q": card["upstream_q"],
           "calibrated": doc.get("calibrated"), "model_id": doc.get("model_id"), "models": doc.get("models"),
           "upstream_warnings": [str(w.message) for w in caught]}
    ok = abs(q - card["upstream_q"]) <= 1e-9 * max(1.0, q) and bool(doc.get("models"))
    if doc.get("calibrated") is False:
        ok = ok and cal.n == 0 and q == 0.0  # no residual: no interval read from it
    out["ok"] = bool(ok)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--upstream", type=Path, help="a work tree of lusoris/vmaf: its own functions run")
    ap.add_argument("--as-kit-0.4", dest="old", action="store_true",
                    help="measure the block the kit exported before issue 37")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    args = ap.parse_args()
    run = RunDir(args.out_dir.resolve())
    upstream = args.upstream.resolve() if args.upstream else None
    report: dict[str, Any] = {"coverage": coverage_check(run, upstream, args.old)}
    profile = run.exports / PROFILE
    if upstream is not None and (profile / MANIFEST).is_file():
        scratch = Path(tempfile.mkdtemp(prefix="check-upstream-"))  # outside the repository
        try:
            report |= {"scratch": str(scratch), "registry": registry_check(profile, upstream, scratch),
                       "conformal": conformal_check(profile, upstream)}
        finally:
            if not args.keep:
                shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(report, indent=2, default=str))
    return 0 if all(v["ok"] for v in report.values() if isinstance(v, dict)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
