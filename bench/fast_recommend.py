"""What vmaf-tune's own fast path makes of the kit's exported proxy, on clips the model never saw.

    python bench/fast_recommend.py --upstream UPSTREAM --export EXPORT [--encoders libx264,libx265]
        [--targets 80,90,95] [--clips NAME,...] [--seconds 2] [--trials 30] [--time-budget 3600] [--jobs N]
        [--ffmpeg FFMPEG] [--keep]

UPSTREAM is a work tree or git directory of lusoris/vmaf (as for bench/check_upstream.py: the files are taken from
it blob by blob into a scratch folder outside this repository; nothing of it enters the repository); EXPORT a run's
05_bundle/exports/vmaftune (its fr_regressor_v2.onnx is copied to the scratch tree's model/tiny/, where vmaf-tune's
proxy.py looks for it). Python needs Optuna, which fast_recommend imports (vmaf-tune's `[fast]` extra; here
`pip install -e '.[upstream]'`).

What runs, per clip, encoder and target: vmaftune.fast.fast_recommend with its defaults (Optuna TPE over CRF 10..51,
30 trials, its production seams `_build_production_sample_extractor` and `_build_production_encode_runner`: each
trial encodes the clip with vmaf-tune's own ffmpeg command, scores it, feeds the six feature means and the codec
block to the proxy through vmaftune.proxy.run_proxy; the pick is encoded again whole and scored, and the answer is
flagged out of distribution when the two differ by more than DEFAULT_PROXY_TOLERANCE). fast_recommend only flags; the
fall back to the slow grid is its caller's. Changed in the scratch copy, and said in the output (`patch`): the
feature-name fix docs/vmaf-tune.md asks of upstream (libvmaf's `integer_<feature>` first, the bare name as the
fallback, in score.py and cli.py); without it fast_recommend feeds the proxy NaN.

What this box lacks and what stands in (`stand_ins`): libvmaf's `vmaf` CLI (no package has it, and it reads only
.y4m/.yuv, where vmaf-tune hands it its .mp4 encodes) is replaced by an executable that scores as the kit scores
(ffmpeg's libvmaf filter, the kit's scoring command, vmaf_v0.6.1) and writes libvmaf's JSON where vmaf-tune asks;
`ffprobe` by one answering the only question vmaf-tune asks it (width, height, rate) from the kit's probe. vmaf-tune
reads a .y4m source as raw frames, so the clips are FFV1 in Matroska. Trials that ask again for a CRF already
encoded for that clip and encoder reuse its features (vmaf-tune would encode it again and get the same); the time
budget is raised from vmaf-tune's 300 s so all 30 trials run on a loaded box.

Reported (one JSON document): per encoder and target, how often the verify encode accepted the proxy's answer
(|predicted - verified| <= tolerance); per encoder and CRF band (kit.model.consumer.CRF_BANDS), the share of the
proxy's predictions within the tolerance of the true VMAF (the teacher's mean over the encode, from the same libvmaf
log) over every distinct encode the trials queried; the same per clip; and every run and encode.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit.infra.proc import run_process  # noqa: E402  (the stand-ins import this module: kept light)
from kit.media.argv import (  # noqa: E402
    COMMON,
    INTERMEDIATE_CODEC,
    build_count_argv,
    build_score_argv,
    build_window_scores_argv,
)
from kit.media.decode import parse_probe  # noqa: E402
from kit.media.libvmaf import TEACHER_MODEL  # noqa: E402
from kit.model.consumer import CRF_BANDS, TOLERANCE, crf_band  # noqa: E402

VMAFTUNE_SRC = "tools/vmaf-tune/src"
LEDGER_ENV = "FAST_RECOMMEND_LEDGER"  # where the vmaf stand-in appends one line per scoring
SCORE_TIMEOUT_S = 900.0
FPS = 25
# clips the demo (kit/media/demo.py) does not hold: other lavfi sources, blurred, grained, panned
CLIPS: dict[str, str] = {
    "zoneplate": f"zoneplate=s=640x360:r={FPS}:kx2=60:ky2=60:kt=8:kxt=2,gblur=sigma=0.8",
    "cellgrain": f"cellauto=s=640x360:r={FPS}:rule=110:seed=5:random_fill_ratio=0.4,gblur=sigma=1.2,"
                 "noise=alls=10:allf=t+u:all_seed=3",
    "chartpan": "colorchart=preset=reference:patch_size=128x128,scale=1280:720,noise=alls=8:allf=t+u:all_seed=9,"
                "crop=640:360:x='300+250*sin(t)':y='180+160*cos(0.7*t)'",
    "rgbhue": f"rgbtestsrc=s=640x360:r={FPS},hue=h=40*t,gblur=sigma=2,noise=alls=14:allf=t:all_seed=2",
    "scene": f"color=c=0x4a6fa5:s=640x360:r={FPS},geq=lum='clip(60+0.35*Y+40*lt(hypot(X-(120+180*T),Y-200),60)*"
             "(1-hypot(X-(120+180*T),Y-200)/90)+25*sin(X/37+2*T)*gt(Y,250),0,255)':cb='128+30*(Y-180)/180':"
             "cr='140-20*lt(hypot(X-(120+180*T),Y-200),60)',gblur=sigma=0.7,noise=alls=7:allf=t+u:all_seed=4",
}
# docs/vmaf-tune.md's fix, as (file, what upstream has, what it becomes): libvmaf's name first, the bare one after
FEATURE_NAME_FIX = (
    ("tools/vmaf-tune/src/vmaftune/score.py", "block = pooled.get(name)",
     'block = pooled.get(f"integer_{name}", pooled.get(name))'),
    ("tools/vmaf-tune/src/vmaftune/cli.py", "block = pooled.get(key) or {}",
     'block = pooled.get(f"integer_{key}") or pooled.get(key) or {}'),
    ("tools/vmaf-tune/src/vmaftune/cli.py", "if key in metrics:\n                vals.append(float(metrics[key]))",
     'name = f"integer_{key}" if f"integer_{key}" in metrics else key\n'
     "            if name in metrics:\n                vals.append(float(metrics[name]))"),
)


# --- the stand-ins: run by vmaf-tune as `vmaf` and `ffprobe` ------------------------------------------------------
def geometry(ffmpeg: str, path: Path) -> tuple[int, int, str, str]:
    """(width, height, rate "num/den", pix_fmt) of a clip's first video stream, as the kit probes one."""
    res = run_process(build_count_argv(ffmpeg, path), timeout_s=120)
    return parse_probe(res.stderr)


def vmaf_cli(ffmpeg: str, argv: list[str]) -> int:
    """libvmaf's CLI as vmaftune.score.build_vmaf_command calls it, done by the kit's scoring command (ffmpeg's
    libvmaf filter; its JSON is the CLI's, libvmaf/src/output.c), plus one ledger line: the kit's means of the log."""
    if "--help" in argv:  # vmaftune.score_backend asks which backends there are: the CPU's alone
        print("vmaf stand-in (bench/fast_recommend.py): --backend cpu")
        return 0
    ap = argparse.ArgumentParser(prog="vmaf")
    for flag in ("--reference", "--distorted", "--pixel_format", "--model", "--output", "--backend"):
        ap.add_argument(flag, default="")
    for flag in ("--width", "--height", "--bitdepth", "--frame_skip_ref", "--frame_cnt"):
        ap.add_argument(flag, type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if (a.model, a.pixel_format, a.bitdepth, a.json) != (f"version={TEACHER_MODEL}", "420", 8, True):
        print(f"vmaf stand-in: scores {TEACHER_MODEL}, 4:2:0 8-bit, to JSON only: {argv}", file=sys.stderr)
        return 2
    width, height, fps, _ = geometry(ffmpeg, Path(a.reference))
    if (width, height) != (a.width, a.height):
        print(f"vmaf stand-in: {a.reference} is {width}x{height}, not {a.width}x{a.height}", file=sys.stderr)
        return 2
    window = (0, a.frame_cnt or 1_000_000)  # --frame_cnt: at most that many frames of each
    argv = build_score_argv(ffmpeg, a.distorted, ["-i", a.reference], width, height, "yuv420p", a.output, 1, fps=fps,
                            window=window)
    if a.frame_skip_ref:  # the reference from that frame on, the encode from its first (bench/bench_sampling.py)
        skipped = (a.frame_skip_ref, a.frame_skip_ref + (a.frame_cnt or 1_000_000))
        argv = build_window_scores_argv(ffmpeg, [a.distorted], ["-i", a.reference], [skipped], width, height,
                                        "yuv420p", [a.output], 1, fps=fps)
    res = run_process(argv, timeout_s=SCORE_TIMEOUT_S)
    if res.returncode != 0:
        print(res.stderr_tail, file=sys.stderr)
        return 1
    from kit.media.libvmaf import parse_vmaf_log

    log = parse_vmaf_log(Path(a.output))
    line = {"distorted": a.distorted, "frames": log.n_frames, "vmaf": float(log.vmaf.mean()),
            "features": log.features.mean(axis=0).tolist()}
    with open(os.environ[LEDGER_ENV], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
    return 0


def ffprobe_cli(ffmpeg: str, argv: list[str]) -> int:
    """ffprobe as vmaftune.predictor_features._probe_video_geometry calls it, and nothing else."""
    if "stream=width,height,r_frame_rate" not in argv or "json" not in argv:
        print(f"ffprobe stand-in: answers vmaf-tune's geometry query only: {argv}", file=sys.stderr)
        return 1
    width, height, fps, _ = geometry(ffmpeg, Path(argv[-1]))
    print(json.dumps({"streams": [{"width": width, "height": height, "r_frame_rate": fps}]}))
    return 0


def stand_in(tool: str, ffmpeg: str, argv: list[str]) -> int:
    return {"vmaf": vmaf_cli, "ffprobe": ffprobe_cli}[tool](ffmpeg, argv)


def write_stand_ins(bin_dir: Path, ffmpeg: str) -> None:
    bin_dir.mkdir(parents=True)
    for tool in ("vmaf", "ffprobe"):
        script = bin_dir / tool
        script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                          f"from fast_recommend import stand_in\n"
                          f"raise SystemExit(stand_in({tool!r}, {ffmpeg!r}, sys.argv[1:]))\n")
        script.chmod(0o755)


# --- the scratch tree: vmaf-tune with the fix, the kit's proxy, the clips -----------------------------------------
def fix_feature_names(tree: Path) -> list[dict[str, str]]:
    """Apply FEATURE_NAME_FIX to the scratch copy; each anchor must be there exactly once."""
    done = []
    for rel, old, new in FEATURE_NAME_FIX:
        text = (tree / rel).read_text()
        if text.count(old) != 1:
            raise SystemExit(f"error: {rel} holds {text.count(old)} times {old!r}, not once: upstream changed; "
                             "hint: read its feature lookup again and update FEATURE_NAME_FIX")
        (tree / rel).write_text(text.replace(old, new))
        done.append({"file": rel, "was": old, "now": new})
    return done


def install_proxy(export: Path, tree: Path) -> dict[str, Any]:
    """The export's fr_regressor_v2.onnx where vmaftune.proxy looks for it (model/tiny/ above its file)."""
    import hashlib

    onnx, card = export / "fr_regressor_v2.onnx", export / "fr_regressor_v2.json"
    if not (onnx.is_file() and card.is_file()):
        raise SystemExit(f"error: {export} holds no fr_regressor_v2.onnx and .json; "
                         "hint: give a PROMOTEd run's 05_bundle/exports/vmaftune")
    (tree / "model/tiny").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx, tree / "model/tiny/fr_regressor_v2.onnx")
    doc = json.loads(card.read_text())
    return {"export": str(export), "sha256": hashlib.sha256(onnx.read_bytes()).hexdigest(),
            "card_sha256": doc.get("sha256"), "seed": doc.get("seed"), "verdict": doc.get("gate", {}).get("verdict"),
            "corpus": {k: doc.get("corpus", {}).get(k) for k in ("sha256", "rows", "sources", "encoders")},
            "teacher": doc.get("teacher", {}).get("model"), "crf_coverage": doc.get("crf_coverage"),
            "unseen_encoders": doc.get("unseen_encoders", {})}


def render_clips(ffmpeg: str, dest: Path, names: Iterable[str], seconds: float) -> dict[str, Path]:
    """Each clip rendered losslessly (FFV1 in Matroska: vmaf-tune decodes containers, and reads .y4m as raw)."""
    dest.mkdir(parents=True)
    out = {}
    for name in names:
        path = dest / f"{name}.mkv"
        res = run_process([ffmpeg, *COMMON, "-f", "lavfi", "-i", CLIPS[name], "-t", str(seconds), "-r", str(FPS),
                           "-pix_fmt", "yuv420p", *INTERMEDIATE_CODEC, str(path)], timeout_s=300)
        if res.returncode != 0:
            raise SystemExit(f"error: rendering {name}: {res.stderr_tail}")
        out[name] = path
    return out


# --- one clip and encoder: vmaf-tune's loop per target ------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    tree: str
    bin_dir: str
    ffmpeg: str
    clip: str
    path: str
    encoder: str
    targets: tuple[float, ...]
    trials: int
    budget_s: int
    ledger: str


class Recorder:
    """Watches vmaf-tune's loop without changing it: the sample extractor's encodes (memoised per CRF, with the
    true VMAF from the stand-in's ledger line) and each proxy prediction (fast._proxy_score, wrapped)."""

    def __init__(self, fast: ModuleType, ledger: Path) -> None:
        self.ledger, self.samples, self.predicted, self.trials = ledger, {}, {}, []  # type: ignore[var-annotated]
        lo, hi, original = fast.DEFAULT_CRF_LO, fast.DEFAULT_CRF_HI, fast._proxy_score

        def recorded(features: list[float], *, encoder: str, preset_norm: float, crf_norm: float) -> float:
            out = original(features, encoder=encoder, preset_norm=preset_norm, crf_norm=crf_norm)
            crf = round(lo + crf_norm * (hi - lo))
            self.predicted[crf] = float(out)
            self.trials.append(crf)
            return out
        self.restore = lambda: setattr(fast, "_proxy_score", original)
        fast._proxy_score = recorded

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.ledger.read_text().splitlines()] if self.ledger.exists() else []

    def extractor(self, extract: Callable[[Path, int, str], tuple[list[float], float]]) -> Callable[..., Any]:
        def memoised(src: Path, crf: int, encoder: str) -> tuple[list[float], float]:
            if crf not in self.samples:
                before = len(self.lines())
                features, kbps = extract(src, crf, encoder)
                (scored,) = self.lines()[before:]
                self.samples[crf] = {"fed": list(features), "kbps": kbps, **scored}
            return list(self.samples[crf]["fed"]), self.samples[crf]["kbps"]
        return memoised


def run_group(g: Group) -> dict[str, Any]:
    """fast_recommend for each target on one clip and encoder, in this (worker) process."""
    os.environ["PATH"] = f"{g.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"  # `ffprobe`, looked up by name
    os.environ[LEDGER_ENV] = g.ledger
    sys.path.insert(0, str(Path(g.tree) / VMAFTUNE_SRC))
    import vmaftune.fast as fast
    import vmaftune.proxy as proxy

    model = proxy._resolve_model_path()
    assert model == Path(g.tree) / "model/tiny/fr_regressor_v2.onnx", model  # the kit's export, not another
    rec = Recorder(fast, Path(g.ledger))
    vmaf_bin = str(Path(g.bin_dir) / "vmaf")
    extractor = rec.extractor(fast._build_production_sample_extractor(ffmpeg_bin=g.ffmpeg, vmaf_bin=vmaf_bin))
    runner = fast._build_production_encode_runner(ffmpeg_bin=g.ffmpeg, vmaf_bin=vmaf_bin)
    runs = []
    for target in g.targets:  # a worker may run several groups: the wrapper comes off after this one
        rec.trials.clear()
        got = fast.fast_recommend(Path(g.path), target, encoder=g.encoder, n_trials=g.trials, time_budget_s=g.budget_s,
                                  sample_extractor=extractor, encode_runner=runner)
        at_pick = rec.samples[got["recommended_crf"]]
        runs.append({"clip": g.clip, "encoder": g.encoder, "target": target,
                     **{k: got[k] for k in ("recommended_crf", "predicted_vmaf", "verify_vmaf", "proxy_verify_gap",
                                            "n_trials")},
                     "accepted": got["proxy_verify_gap"] <= fast.DEFAULT_PROXY_TOLERANCE,
                     "flagged": "FLAG" in got["notes"], "crfs_queried": sorted(set(rec.trials)),
                     "verify_minus_target": got["verify_vmaf"] - target,
                     "verify_minus_trial": got["verify_vmaf"] - at_pick["vmaf"]})
        print(f"{g.clip} {g.encoder} target {target}: CRF {got['recommended_crf']}, proxy "
              f"{got['predicted_vmaf']:.2f}, verify {got['verify_vmaf']:.2f}", file=sys.stderr, flush=True)
    encodes = [{"clip": g.clip, "encoder": g.encoder, "crf": crf, "predicted": rec.predicted[crf],
                "vmaf": s["vmaf"], "miss": abs(rec.predicted[crf] - s["vmaf"]), "frames": s["frames"],
                "fed_minus_kit_features": max(abs(a - b) for a, b in zip(s["fed"], s["features"], strict=True))}
               for crf, s in sorted(rec.samples.items())]
    rec.restore()
    return {"runs": runs, "encodes": encodes, "tolerance": fast.DEFAULT_PROXY_TOLERANCE}


# --- figures --------------------------------------------------------------------------------------------------------
def misses(rows: list[dict[str, Any]], tolerance: float) -> dict[str, Any]:
    got = [r["miss"] for r in rows]
    within = sum(m <= tolerance for m in got)
    return {"n": len(got), "within": within, "share": within / len(got) if got else None,
            "median_miss": statistics.median(got) if got else None, "max_miss": max(got) if got else None}


def summarise(runs: list[dict[str, Any]], encodes: list[dict[str, Any]], tolerance: float) -> dict[str, Any]:
    encoders = sorted({r["encoder"] for r in runs})
    accepted = {e: {str(t): f"{sum(r['accepted'] for r in rs)} of {len(rs)}"
                    for t in sorted({r['target'] for r in runs})
                    for rs in [[r for r in runs if r["encoder"] == e and r["target"] == t]]} for e in encoders}
    bands = [f"{lo}-{hi}" for lo, hi in CRF_BANDS]
    per_band = {e: {b: misses([x for x in encodes if x["encoder"] == e and crf_band(x["crf"]) == b], tolerance)
                    for b in [*bands]} | {"all": misses([x for x in encodes if x["encoder"] == e], tolerance)}
                for e in encoders}
    per_clip = {e: {c: misses([x for x in encodes if x["encoder"] == e and x["clip"] == c], tolerance)
                    for c in sorted({x["clip"] for x in encodes})} for e in encoders}
    return {"accepted": accepted, "queried_encodes": per_band, "queried_encodes_per_clip": per_clip,
            "largest_fed_minus_kit_features": max(x["fed_minus_kit_features"] for x in encodes),
            "largest_verify_minus_trial": max(abs(r["verify_minus_trial"]) for r in runs)}


# --- the command ----------------------------------------------------------------------------------------------------
def missing_python() -> str | None:
    if importlib.util.find_spec("optuna") is None:
        return "optuna (fast_recommend imports it: vmaf-tune's [fast] extra; pip install -e '.[upstream]')"
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime (vmaftune.proxy runs the model with it)"
    return None


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", type=Path, required=True, help="a work tree or git directory of lusoris/vmaf")
    ap.add_argument("--export", type=Path, required=True, help="a PROMOTEd run's 05_bundle/exports/vmaftune")
    ap.add_argument("--encoders", default="libx264,libx265")
    ap.add_argument("--targets", default="80,90,95")
    ap.add_argument("--clips", default=",".join(CLIPS), help=f"of {', '.join(CLIPS)}")
    ap.add_argument("--seconds", type=float, default=2.0, help="each clip's length")
    ap.add_argument("--trials", type=int, default=30, help="fast_recommend's n_trials (its default: 30)")
    ap.add_argument("--time-budget", type=int, default=3600, help="fast_recommend's time_budget_s (its default: 300)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="clip-and-encoder groups run at once")
    ap.add_argument("--ffmpeg", help="ffmpeg with libvmaf (the kit's by default)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    return ap.parse_args()


def prepare(args: argparse.Namespace, scratch: Path) -> tuple[list[Group], dict[str, Any]]:
    """The scratch tree, the stand-ins, the clips; the groups to run and what the report says of them."""
    from check_upstream import git, upstream_tree  # pandas and the verdict: not for the stand-ins

    from kit.media.ffmpeg import resolve_ffmpeg

    given = args.upstream.resolve()
    tree = upstream_tree(given, scratch)
    commit = git(given, "rev-parse", "HEAD").decode().strip() if tree != given else "a work tree"
    info = {"upstream": {"given": str(given), "commit": commit}, "patch": fix_feature_names(tree),
            "model": install_proxy(args.export.resolve(), tree)}
    ffmpeg = str(resolve_ffmpeg(args.ffmpeg).path)
    write_stand_ins(scratch / "bin", ffmpeg)
    clips = render_clips(ffmpeg, scratch / "clips", args.clips.split(","), args.seconds)
    targets = tuple(float(t) for t in args.targets.split(","))
    groups = [Group(str(tree), str(scratch / "bin"), ffmpeg, name, str(path), encoder, targets, args.trials,
                    args.time_budget, str(scratch / f"ledger-{name}-{encoder}.jsonl"))
              for encoder in args.encoders.split(",") for name, path in clips.items()]
    info |= {"ffmpeg": ffmpeg, "clips": {n: {"lavfi": CLIPS[n], "seconds": args.seconds, "fps": FPS,
                                             "size": "640x360"} for n in clips},
             "settings": {k: v for k, v in asdict(groups[0]).items() if k in ("targets", "trials", "budget_s")}}
    return groups, info


def main() -> int:
    args = parse_args()
    lacking = missing_python()
    if lacking:
        print(json.dumps({"ran": False, "missing": lacking}, indent=2))
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="fast-recommend-"))  # outside the repository
    started, load_before = time.time(), os.getloadavg()
    try:
        groups, info = prepare(args, scratch)
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            done = list(pool.map(run_group, groups))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    runs = [r for d in done for r in d["runs"]]
    encodes = [x for d in done for x in d["encodes"]]
    tolerance = done[0]["tolerance"]
    assert tolerance == TOLERANCE, (tolerance, TOLERANCE)  # vmaf-tune's and the kit's gate's are one figure
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    report = {"ran": True, "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)), "scratch": str(scratch),
              "kept": args.keep, "load_average": {"start": load_before, "end": os.getloadavg()},
              "wall_s": time.time() - started, "cpu_s": sum(u.ru_utime + u.ru_stime for u in usage),
              "tolerance": tolerance, **info, "stand_ins": STAND_INS,
              "summary": summarise(runs, encodes, tolerance), "runs": runs, "encodes": encodes}
    print(json.dumps(report, indent=2, default=str))
    return 0


STAND_INS = {"vmaf": "libvmaf's CLI is not on this box (nor in any package here): an executable that scores as the "
                     "kit does (ffmpeg's libvmaf filter, vmaf_v0.6.1, the kit's scoring command) and writes the JSON "
                     "where vmaf-tune's --output asks; libvmaf's CLI itself reads only .y4m/.yuv, not the .mp4 "
                     "vmaf-tune hands it",
             "ffprobe": "not on this box: answers vmaf-tune's one query (width, height, r_frame_rate) from the kit's "
                        "probe of the clip"}

if __name__ == "__main__":
    raise SystemExit(main())
