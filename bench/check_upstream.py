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
4. proxy (with --upstream, on a PROMOTE's export): vmaf-tune's own proxy.run_proxy loads the exported
   fr_regressor_v2.onnx from a model/tiny/ above it and predicts each libx264 encode of the run's corpus from its mean
   features: against the kit's onnxruntime run of the same rows (within 1e-5); and upstream's op allowlist check
   (ai/src/vmaf_train/op_allowlist.py on libvmaf/src/dnn/op_allowlist.c) passes every exported graph.
5. features (with --upstream): vmaf-tune's own feature readers on a real libvmaf JSON log the kit wrote (the kit's
   scoring of a tiny clip, its libvmaf check, unless --vmaf-log names one): fast.py's, vmaftune.score.run_score (its
   libvmaf CLI replaced by one that writes this log where run_score asks, so its own parsing runs) and the mean it
   feeds the proxy (NaN for a name it does not find), and `vmaf-tune fast`'s, vmaftune.cli._parse_canonical6_means
   (0.0 for one). Against the means the kit trains on (kit.media.libvmaf.parse_vmaf_log), then again with libvmaf's
   names renamed to the ones vmaf-tune looks up: what the fix upstream gives (docs/vmaf-tune.md). FAILS (exit 1)
   while vmaf-tune reads other features than the kit's.

UPSTREAM is a work tree of lusoris/vmaf or its git directory (a bare clone, or the snapshot `fetch` brings): the
files the checks run are taken from it (`git cat-file`, each file on its own: a snapshot may lack large files) into
a temporary folder outside this repository, and run there; nothing of it enters this repository. What a check needs
and lacks (the checkout's files, ffmpeg with libvmaf, a Python package: `pip install -e '.[upstream]'`) is named in
its `missing`. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
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
    out = {"rows": len(rows), "validator_rc": rc, "validator_errors": errors, "pytest_rc": res.returncode,
           "pytest_summary": summary, "ok": rc == 0 and res.returncode == 0}
    if importlib.util.find_spec("jsonschema") is None:  # upstream's validator and test then check less
        out["missing"] = ("jsonschema: upstream's validator ran its structural fallback, not the JSON Schema, and its "
                          "test skipped the schema case (pip install -e '.[upstream]')")
    return out


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


# --- 4. features: vmaf-tune's readers on a libvmaf log the kit wrote ---------------------------------------------
UPSTREAM_PATHS = ("model/tiny/registry.schema.json", "python/test/model_registry_schema_test.py",
                  "ai/scripts/validate_model_registry.py", "ai/scripts/eval_probabilistic_proxy.py",
                  "tools/vmaf-tune/src/vmaftune", "ai/src/vmaf_train/op_allowlist.py",
                  "libvmaf/src/dnn/op_allowlist.c")
PROXY_TOLERANCE = 1e-5  # vmaf-tune's session and the kit's run the same graph on the same rows
FEATURE_TOLERANCE = 1e-5  # libvmaf prints 6 decimals: its pooled mean and the mean of its printed frames agree to it


def git(repo: Path, *args: str) -> bytes:
    res = run_process(["git", f"--git-dir={repo}", *args], timeout_s=120, capture_stdout=True)
    if res.returncode != 0:
        raise SystemExit(f"error: git {' '.join(args)} in {repo}: {res.stderr.strip()[-300:]}")
    return res.stdout


def proxy_check(run: RunDir, upstream: Path, scratch: Path) -> dict[str, Any]:
    """vmaf-tune's own proxy (tools/vmaf-tune/src/vmaftune/proxy.py: run_proxy, which finds
    model/tiny/fr_regressor_v2.onnx above its own file) on the export, one call per encode of the run's corpus (its six
    mean features, libx264's one-hot, preset_norm 0.5, crf_norm over 10-51), against the kit's own onnxruntime run of
    the same rows; and libvmaf's op allowlist (ai/src/vmaf_train/op_allowlist.py, which parses op_allowlist.c) on
    every exported graph."""
    from kit.bundle.vmaftune import v2_rows
    from kit.media.libvmaf import FEATURES
    from kit.model.runtime import session

    profile = run.exports / PROFILE
    home = scratch / "proxy"
    (home / "model" / "tiny").mkdir(parents=True)
    shutil.copy(profile / "fr_regressor_v2.onnx", home / "model" / "tiny")
    code = home / "tools/vmaf-tune/src/vmaftune/proxy.py"
    code.parent.mkdir(parents=True)
    shutil.copy(upstream / "tools/vmaf-tune/src/vmaftune/proxy.py", code)
    proxy = load_module("upstream_vmaftune_proxy", code)
    allow = load_module("upstream_op_allowlist", upstream / "ai/src/vmaf_train/op_allowlist.py")
    allowed = allow.load_allowlist(upstream / "libvmaf/src/dnn/op_allowlist.c")
    reports = {p.name: allow.check_model(p, allowed) for p in sorted(profile.glob("*.onnx"))}
    with Tree.open(run.root, make=False) as tree:
        found = run.verdict_on_disk(tree)
    assert found is not None  # a PROMOTE's export: its verdict is there
    corpus = Path(Verdict.from_json(json.loads(found[1].read_text()), str(found[1])).corpus.path)
    shard = read_frame(corpus if corpus.is_absolute() else run.root / corpus)  # a --corpus, or the out-dir's shard
    shard = shard[shard["encoder"] == "libx264"]
    means = shard.groupby(["src_sha256", "cq", "enc_height"])[list(FEATURES)].mean().reset_index()
    crf = means["cq"].clip(10, 51).to_numpy()
    theirs = np.array([proxy.run_proxy([float(v) for v in row], encoder="libx264", preset_norm=0.5,
                                       crf_norm=(c - 10) / 41) for row, c in
                       zip(means[list(FEATURES)].to_numpy(), crf, strict=True)])
    (ours,) = session(profile / "fr_regressor_v2.onnx").run(None, {"input": v2_rows(
        means[list(FEATURES)].to_numpy(dtype=np.float32), np.array(["libx264"] * len(means)), crf, (10, 51))})
    diff = float(np.abs(theirs - np.asarray(ours).reshape(-1)).max()) if len(means) else math.nan
    return {"encodes": len(means), "max_abs_diff": diff, "allowlist": {n: r.pretty() for n, r in reports.items()},
            "ok": diff <= PROXY_TOLERANCE and all(r.ok for r in reports.values())}


def upstream_tree(given: Path, scratch: Path) -> Path:
    """A lusoris/vmaf work tree as given; of a git directory, the files the checks run, written into the scratch
    folder blob by blob (a snapshot may lack its large files, and `git archive` then refuses the whole tree)."""
    if not ((given / "objects").is_dir() and (given / "HEAD").is_file()):
        return given
    tree = scratch / "upstream"
    for entry in filter(None, git(given, "ls-tree", "-r", "-z", "HEAD", "--", *UPSTREAM_PATHS).decode().split("\0")):
        meta, path = entry.split("\t", 1)
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_bytes(git(given, "cat-file", "blob", meta.split()[2]))
    return tree


def kit_log(scratch: Path, ffmpeg: str | None, given: Path | None) -> tuple[Path | None, str]:
    """A libvmaf JSON log the kit wrote and where it is from: the one given, else the kit's scoring of a tiny clip
    (its libvmaf check: a libx264 encode of a test clip scored as a corpus job scores); (None, what is missing)."""
    if given is not None:
        return given.resolve(), "given (--vmaf-log)"
    from kit.errors import KitError
    from kit.media.ffmpeg import resolve_ffmpeg
    from kit.platforms.probe import check_libvmaf

    work = scratch / "kit-scoring"
    work.mkdir()
    try:
        info = resolve_ffmpeg(ffmpeg)
        version = check_libvmaf(str(info.path), work)
    except KitError as exc:
        return None, f"an ffmpeg whose libvmaf the kit can score with (--ffmpeg): {exc}"
    (log,) = work.glob("*.json")
    return log, f"the kit's libvmaf check (kit.platforms.probe.check_libvmaf) with {info.path}, libvmaf {version}"


def vmaftune_modules(upstream: Path) -> tuple[ModuleType, ModuleType] | str:
    """vmaf-tune's score and cli modules from the checkout, or what is missing to import them."""
    src = upstream / "tools/vmaf-tune/src"
    if not (src / "vmaftune" / "score.py").is_file():
        return f"vmaf-tune's source in the checkout ({src / 'vmaftune'})"
    sys.path.insert(0, str(src))
    try:
        import vmaftune.cli as cli
        import vmaftune.score as score
    except ModuleNotFoundError as exc:  # none today: both import the standard library only
        return f"the Python package {exc.name} vmaf-tune imports (pip install -e '.[upstream]')"
    return score, cli


def replayed_libvmaf(log: Path) -> Callable[..., SimpleNamespace]:
    """The libvmaf CLI vmaftune.score.run_score spawns, replaced by a stand-in that writes `log` where run_score asks
    for its JSON (--output): run_score's own parsing then reads a log libvmaf wrote. The CLI and ffmpeg's filter
    write their JSON with the same libvmaf function (libvmaf/src/output.c)."""
    def run(cmd: list[str], **_: object) -> SimpleNamespace:
        shutil.copyfile(log, cmd[cmd.index("--output") + 1])
        return SimpleNamespace(returncode=0, stdout="", stderr="")
    return run


def vmaftune_features(score: ModuleType, cli: ModuleType, log: Path) -> dict[str, list[float | None]]:
    """The six features each of vmaf-tune's readers gives for `log` (null: NaN), in its order: fast_recommend's
    (fast.py, _build_production_sample_extractor: run_score's feature_means, NaN for a name it lacks), and
    `vmaf-tune fast`'s (cli.py, _parse_canonical6_means: 0.0 for one); and the standard deviations run_score reads."""
    req = score.ScoreRequest(reference=Path("ref.y4m"), distorted=Path("dist.mp4"), width=0, height=0,
                             pix_fmt="yuv420p")
    res = score.run_score(req, runner=replayed_libvmaf(log))
    names = score.CANONICAL6_FEATURES

    def shown(values: list[float]) -> list[float | None]:
        return [None if math.isnan(v) else v for v in values]
    return {"fast_recommend": shown([res.feature_means.get(f, math.nan) for f in names]),
            "vmaf_tune_fast": shown(cli._parse_canonical6_means(json.loads(log.read_text()))),
            "run_score_std": shown([res.feature_stds.get(f, math.nan) for f in names])}


def renamed(log: Path, dest: Path) -> Path:
    """`log` with the six under the names vmaf-tune looks up (integer_adm2 -> adm2): what the fix upstream reads."""
    from kit.media.libvmaf import FEATURE_KEYS, FEATURES

    names = dict(zip(FEATURE_KEYS, FEATURES, strict=True))
    doc = json.loads(log.read_text())
    doc["pooled_metrics"] = {names.get(k, k): v for k, v in doc.get("pooled_metrics", {}).items()}
    for frame in doc.get("frames", []):
        frame["metrics"] = {names.get(k, k): v for k, v in frame["metrics"].items()}
    dest.write_text(json.dumps(doc))
    return dest


def miss(got: list[float | None], want: list[float]) -> float | None:
    """The largest |got - want| over the six; None when a reader gave none of one."""
    values = [g for g in got if g is not None]
    return None if len(values) < len(want) else max(abs(g - w) for g, w in zip(values, want, strict=True))


def proxy_outputs(model: Path, features: dict[str, list[float | None]]) -> dict[str, float | None]:
    """What the exported proxy (vmaf-tune's [N, 20] feed) gives for each reader's six: libx264 at CRF 30 of 10-51,
    preset_norm 0.5, as fast_recommend feeds it (null: NaN)."""
    from kit.bundle.vmaftune import v2_rows
    from kit.model.runtime import session

    names = list(features)
    feats = np.array([[math.nan if v is None else v for v in features[n]] for n in names], dtype=np.float32)
    x = v2_rows(feats, np.array(["libx264"] * len(names)), np.full(len(names), 30), (10, 51))
    (out,) = session(model).run(None, {"input": x})
    return {n: None if math.isnan(v) else float(v) for n, v in zip(names, np.asarray(out).reshape(-1), strict=True)}


def features_check(upstream: Path, scratch: Path, ffmpeg: str | None, given: Path | None,
                   model: Path | None = None) -> dict[str, Any]:
    """vmaf-tune's readers on a libvmaf log the kit wrote, as logged and with libvmaf's names renamed; with a
    run's exported proxy (`model`), what it predicts from each."""
    from kit.media.libvmaf import FEATURE_KEYS, parse_vmaf_log

    log, made_by = kit_log(scratch, ffmpeg, given)
    if log is None:
        return {"ok": False, "missing": made_by}
    modules = vmaftune_modules(upstream)
    if isinstance(modules, str):
        return {"ok": False, "missing": modules, "log": str(log)}
    score, cli = modules
    scored = parse_vmaf_log(log)
    kit_means = scored.features.mean(axis=0).tolist()  # what the proxy is trained on, per encode
    pooled = json.loads(log.read_text()).get("pooled_metrics", {})
    now = vmaftune_features(score, cli, log)
    fixed = vmaftune_features(score, cli, renamed(log, scratch / "renamed.json"))
    misses = {k: {"as_logged": miss(now[k], kit_means), "renamed": miss(fixed[k], kit_means)}
              for k in ("fast_recommend", "vmaf_tune_fast")}
    ok = all(m["as_logged"] is not None and m["as_logged"] <= FEATURE_TOLERANCE for m in misses.values())
    out = {"log": str(log), "log_from": made_by, "libvmaf_names": [k for k in FEATURE_KEYS if k in pooled],
           "vmaf_tune_looks_up": list(score.CANONICAL6_FEATURES), "pooled_statistics": sorted(
               next(iter(pooled.values()), {})), "kit_means": kit_means, "as_logged": now, "renamed": fixed,
           "teacher_mean": float(scored.vmaf.mean()), "max_miss": misses, "ok": ok}
    if model is not None:
        out["proxy"] = {"model": str(model), **proxy_outputs(model, {"kit_means": kit_means, **{
            f"{k}_as_logged": now[k] for k in misses}})}
    if "stddev" not in out["pooled_statistics"]:
        out["std"] = ("libvmaf's pooled metrics hold no stddev: run_score's feature_stds stay empty whatever the "
                      "names, so vmaf-tune's own corpus rows carry NaN in <feature>_std")
    out["verdict"] = features_verdict(ok, out["libvmaf_names"], now, misses)
    return out


def features_verdict(ok: bool, names: list[str], now: dict[str, list[float | None]],
                     misses: dict[str, dict[str, float | None]]) -> str:
    """The check in one sentence: what each reader feeds the proxy, and what it would with libvmaf's names."""
    def said(key: str) -> str:
        return ", ".join(f"{reader} {m[key]:.1e}" if m[key] is not None else f"{reader} none"
                         for reader, m in misses.items())

    def fed(values: list[float | None]) -> str:
        same = {"NaN" if v is None else repr(v) for v in values}
        return f"{same.pop()} for all six" if len(same) == 1 else str(values)
    if ok:
        return f"vmaf-tune's readers give the kit's means (largest miss: {said('as_logged')})"
    return (f"vmaf-tune does not read the six from libvmaf's log, which names them {', '.join(names)}: "
            f"fast_recommend feeds the proxy {fed(now['fast_recommend'])}, `vmaf-tune fast` "
            f"{fed(now['vmaf_tune_fast'])}; with the names it looks up, its readers give the kit's means (largest "
            f"miss: {said('renamed')})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", type=Path, nargs="?", help="a run's out-dir (without one: only the features check)")
    ap.add_argument("--upstream", type=Path, help="a work tree or git directory of lusoris/vmaf: its own code runs")
    ap.add_argument("--as-kit-0.4", dest="old", action="store_true",
                    help="measure the block the kit exported before issue 37")
    ap.add_argument("--ffmpeg", help="the ffmpeg whose libvmaf scores the features check's clip (the kit's by default)")
    ap.add_argument("--vmaf-log", type=Path, help="a libvmaf JSON log the kit wrote, for the features check")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    args = ap.parse_args()
    if args.out_dir is None and args.upstream is None:
        ap.error("give a run's out-dir, --upstream, or both")
    scratch = Path(tempfile.mkdtemp(prefix="check-upstream-"))  # outside the repository
    report: dict[str, Any] = {"scratch": str(scratch)}
    try:
        upstream = upstream_tree(args.upstream.resolve(), scratch) if args.upstream else None
        model = None
        if args.out_dir is not None:
            run = RunDir(args.out_dir.resolve())
            model = run.exports / PROFILE / "fr_regressor_v2.onnx"  # the member vmaf-tune's proxy loads
            report["coverage"] = coverage_check(run, upstream, args.old)
            profile = run.exports / PROFILE
            if upstream is not None and (profile / MANIFEST).is_file():
                report |= {"registry": registry_check(profile, upstream, scratch),
                           "conformal": conformal_check(profile, upstream),
                           "proxy": proxy_check(run, upstream, scratch)}
        if upstream is not None:
            report["features"] = features_check(upstream, scratch, args.ffmpeg, args.vmaf_log,
                                                model if model is not None and model.is_file() else None)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(report, indent=2, default=str))
    return 0 if all(v["ok"] for v in report.values() if isinstance(v, dict)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
