"""How vmaf-tune's fast path samples a clip, and what other samplings would give it, on whole real clips (issue 70).

    python bench/bench_sampling.py --upstream UPSTREAM --export EXPORT --clips DIR [--encoders libx264]
        [--targets 70,80,85,90,95] [--grid 10,18,26,34,42,51] [--samplings first,centre,spread-1s,spread-0.5s]
        [--window 5] [--trials 30] [--rounds 2] [--jobs N] [--ffmpeg FFMPEG] [--keep]

UPSTREAM and EXPORT as for bench/fast_recommend.py (a lusoris/vmaf work tree or git directory, copied blob by blob
into a scratch folder outside this repository with the feature-name fix docs/vmaf-tune.md asks for; a PROMOTEd run's
05_bundle/exports/vmaftune, whose fr_regressor_v2.onnx vmaf-tune's proxy runs); DIR a folder of whole clips (any
container ffmpeg reads; each is copied losslessly to FFV1 in Matroska, 4:2:0 8-bit as vmaf-tune encodes and scores,
so its input-side `-ss` lands on the frame asked for). Needs Optuna (`pip install -e '.[upstream]'`).

Each sampling is a sample extractor of vmaf-tune's own seams (`(src, crf, encoder) -> (canonical-6, kbps)`):
`first` is vmaf-tune's `_build_production_sample_extractor` as it is (its chunk: `-ss 0 -t 5`, scored from frame 0
for int(5 x fps) frames); the others run vmaf-tune's `EncodeRequest`/`run_encode` once per window of
kit.corpus.samplings (the centre 5 s; 5 x 1 s and 10 x 0.5 s spread over the clip) with `sample_clip_start_s` set
to the window, as vmaf-tune's seam allows and never does, each window its own encode, and score the windows in one
process, each against its int(seconds x fps) frames of the clip from `frame_skip_ref` on (what a ScoreRequest of
each asks of the `vmaf` stand-in, the same scoring, without a Python stand-in a window), the six means pooled over
the windows' frames. The verify encode is vmaf-tune's `_build_production_encode_runner` as it is: the whole clip.

Reported per sampling (one JSON document; `table` the lines to read):
* share: over the --grid CRFs of every clip, the proxy fed the sampling's features against the whole clip's VMAF
  (the verify encode's), within vmaf-tune's DEFAULT_PROXY_TOLERANCE; per CRF band and per clip too;
* accepted: vmaf-tune's real `fast_recommend` (TPE, its seams, the sampling's extractor, the verify encode) at each
  target, how often the verify encode accepts the proxy's pick (|predicted - verified| <= the tolerance);
* cost: a trial's encodes (windows), frames, and this box's wall and CPU seconds to encode and score them (the
  children's rusage, each round), beside a trial on the whole clip; --rounds times over the grid, each round's
  figures given (the predictions must be the same every round).
Trials that ask again for a CRF already sampled reuse its features, and a verify encode of a CRF already verified
reuses its score (vmaf-tune would encode them again and get the same).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fast_recommend import (  # noqa: E402
    LEDGER_ENV,
    STAND_INS,
    VMAFTUNE_SRC,
    fix_feature_names,
    geometry,
    install_proxy,
    missing_python,
    write_stand_ins,
)

from kit.corpus.samplings import SAMPLINGS, VMAFTUNE_WINDOW_S, sampling  # noqa: E402
from kit.infra.proc import run_process  # noqa: E402
from kit.media.argv import COMMON, INTERMEDIATE_CODEC  # noqa: E402
from kit.model.consumer import CRF_BANDS, TOLERANCE, crf_band  # noqa: E402

Extract = Callable[[Path, int, str], tuple[list[float], float]]


@dataclass(frozen=True)
class Group:
    tree: str
    bin_dir: str
    ffmpeg: str
    clip: str
    path: str
    encoder: str
    samplings: tuple[str, ...]
    window_s: float
    grid: tuple[int, ...]
    targets: tuple[float, ...]
    trials: int
    rounds: int
    ledger: str


def children_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def windowed_extractor(fast: Any, ffmpeg: str, windows: tuple[tuple[int, int], ...], fps: float) -> Extract:
    """vmaf-tune's sample seam with its chunk's start set: one EncodeRequest (input-side -ss, -t) per window, each
    its own encode by vmaf-tune's run_encode; the windows then scored in one process, each against its frames of
    the clip (what a ScoreRequest with frame_skip_ref and frame_cnt asks of the stand-in, the same scoring, without
    a Python stand-in a window), the six means pooled over the frames scored."""
    from vmaftune import CANONICAL6_FEATURES
    from vmaftune.encode import EncodeRequest, bitrate_kbps, run_encode
    from vmaftune.predictor_features import _probe_video_geometry

    from kit.media.argv import build_window_scores_argv
    from kit.media.libvmaf import FEATURES, parse_vmaf_log

    class Cfg:
        ffprobe_bin = "ffprobe"

    probed: dict[Path, tuple[int, int, float, str]] = {}  # once a clip (vmaf-tune's extractor probes a trial)

    def extract(src: Path, crf: int, encoder: str) -> tuple[list[float], float]:
        if src not in probed:
            probed[src] = (*_probe_video_geometry(src, Cfg(), subprocess.run), geometry(ffmpeg, src)[2])
        width, height, rate, rate_text = probed[src]
        with tempfile.TemporaryDirectory(prefix="bench-sampling-") as td:
            encoded, scored, size, seconds = [], [], 0, 0.0
            for k, (first, end) in enumerate(windows):
                dist = Path(td) / f"w{k}.mp4"
                start_s, length_s = first / fps, (end - first) / fps
                enc = run_encode(EncodeRequest(source=src, width=width, height=height, pix_fmt="yuv420p",
                                               framerate=rate, encoder=encoder, preset="medium", crf=crf, output=dist,
                                               sample_clip_seconds=length_s, sample_clip_start_s=start_s,
                                               source_is_container=True), ffmpeg_bin=ffmpeg)
                if enc.exit_status != 0:
                    raise RuntimeError(f"window {k}: encode failed: {enc.stderr_tail[-300:]}")
                count = int(length_s * rate)  # as vmaf-tune's extractor counts its chunk's frames (frame_cnt)
                encoded.append(dist)
                scored.append((first, first + count))
                size, seconds = size + enc.encode_size_bytes, seconds + length_s
            logs = [Path(td) / f"w{k}.json" for k in range(len(windows))]
            res = run_process(build_window_scores_argv(ffmpeg, encoded, ["-i", str(src)], scored, width, height,
                                                       "yuv420p", logs, 1, fps=rate_text), timeout_s=3600)
            if res.returncode != 0:
                raise RuntimeError(f"scoring failed: {res.stderr_tail[-300:]}")
            feats = np.concatenate([parse_vmaf_log(log).features for log in logs])
        means = feats.mean(axis=0)
        return [float(means[FEATURES.index(f)]) for f in CANONICAL6_FEATURES], bitrate_kbps(size, seconds)

    return extract


class Sampled:
    """One sampling's extractor, memoised per CRF, each fresh call timed (wall and the children's CPU)."""

    def __init__(self, extract: Extract, encodes: int) -> None:
        self.extract, self.encodes, self.features, self.costs = extract, encodes, {}, []  # type: ignore[var-annotated]

    def timed(self, src: Path, crf: int, encoder: str) -> tuple[list[float], float]:
        wall, cpu = time.monotonic(), children_cpu()
        got = self.extract(src, crf, encoder)
        self.costs.append((time.monotonic() - wall, children_cpu() - cpu))
        return got

    def __call__(self, src: Path, crf: int, encoder: str) -> tuple[list[float], float]:
        if crf not in self.features:
            self.features[crf] = self.timed(src, crf, encoder)
        return self.features[crf]


def run_group(g: Group) -> dict[str, Any]:
    """Every sampling of one clip and encoder: the grid (each round), then fast_recommend at each target."""
    os.environ["PATH"] = f"{g.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"  # `ffprobe`, looked up by name
    os.environ[LEDGER_ENV] = g.ledger
    sys.path.insert(0, str(Path(g.tree) / VMAFTUNE_SRC))
    import vmaftune.fast as fast
    import vmaftune.proxy as proxy

    assert proxy._resolve_model_path() == Path(g.tree) / "model/tiny/fr_regressor_v2.onnx"  # the kit's export
    vmaf_bin, src = str(Path(g.bin_dir) / "vmaf"), Path(g.path)
    width, height, rate, _ = geometry(g.ffmpeg, src)
    num, _, den = rate.partition("/")
    fps = float(num) / float(den or 1)
    n_frames = frame_count(g.ffmpeg, src)
    verify = memoised_verify(fast._build_production_encode_runner(ffmpeg_bin=g.ffmpeg, vmaf_bin=vmaf_bin))
    truth = {crf: verify(src, g.encoder, crf, "cpu") for crf in g.grid}
    lo, hi = fast.DEFAULT_CRF_LO, fast.DEFAULT_CRF_HI
    out: dict[str, Any] = {"clip": g.clip, "encoder": g.encoder, "frames": n_frames, "fps": fps,
                           "size": f"{width}x{height}", "truth": truth, "samplings": {}}
    for name in g.samplings:
        windows = sampling(name).windows(n_frames, fps, g.window_s)
        extract = fast._build_production_sample_extractor(ffmpeg_bin=g.ffmpeg, vmaf_bin=vmaf_bin) \
            if name == "first" else windowed_extractor(fast, g.ffmpeg, windows, fps)
        rounds = []
        for _ in range(g.rounds):  # the grid's trials, timed afresh each round
            mine = Sampled(extract, len(windows))
            predicted = {crf: float(fast._proxy_score(mine(src, crf, g.encoder)[0], encoder=g.encoder,
                                                      preset_norm=0.5, crf_norm=(crf - lo) / (hi - lo)))
                         for crf in g.grid}
            rounds.append({"predicted": predicted, "wall_s": [c[0] for c in mine.costs],
                           "cpu_s": [c[1] for c in mine.costs]})
        assert all(r["predicted"] == rounds[0]["predicted"] for r in rounds), rounds  # the same every round
        runs = []
        for target in g.targets:
            got = fast.fast_recommend(src, target, encoder=g.encoder, n_trials=g.trials, time_budget_s=36_000,
                                      sample_extractor=mine, encode_runner=verify)
            runs.append({"target": target, "crf": got["recommended_crf"], "predicted": got["predicted_vmaf"],
                         "verified": got["verify_vmaf"], "gap": got["proxy_verify_gap"],
                         "accepted": got["proxy_verify_gap"] <= fast.DEFAULT_PROXY_TOLERANCE})
        out["samplings"][name] = {"windows": [list(w) for w in windows], "rounds": rounds, "runs": runs,
                                  "trial_encodes": len(windows),
                                  "trial_frames": sum(end - first for first, end in windows)}
        print(f"{g.clip} {name}: grid and {len(g.targets)} targets done", file=sys.stderr, flush=True)
    return out


def memoised_verify(runner: Callable[[Path, str, int, str], tuple[float, float]]
                    ) -> Callable[[Path, str, int, str], tuple[float, float]]:
    """vmaf-tune's verify encode (the whole clip), once per CRF."""
    done: dict[tuple[str, int], tuple[float, float]] = {}

    def verify(src: Path, encoder: str, crf: int, backend: str) -> tuple[float, float]:
        if (encoder, crf) not in done:
            done[encoder, crf] = runner(src, encoder, crf, backend)
        return done[encoder, crf]

    return verify


def frame_count(ffmpeg: str, path: Path) -> int:
    from kit.media.argv import build_count_argv
    from kit.media.ffmpeg import parse_frame_count

    return parse_frame_count(run_process(build_count_argv(ffmpeg, path), timeout_s=600).stderr)


# --- figures --------------------------------------------------------------------------------------------------------
def share(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    misses = [abs(p - t) for p, t in pairs]
    within = sum(m <= TOLERANCE for m in misses)
    return {"n": len(misses), "within": within, "share": within / len(misses) if misses else None,
            "median_miss": statistics.median(misses) if misses else None, "max_miss": max(misses, default=None)}


def summarise(groups: list[dict[str, Any]], names: tuple[str, ...], rounds: int) -> dict[str, Any]:
    out = {}
    for name in names:
        pairs = [(crf, g["samplings"][name]["rounds"][0]["predicted"][crf], g["truth"][crf][1], g)
                 for g in groups for crf in g["truth"]]
        per_band = {f"{lo}-{hi}": share([(p, t) for c, p, t, _ in pairs if crf_band(int(c)) == f"{lo}-{hi}"])
                    for lo, hi in CRF_BANDS}
        per_clip = {g["clip"]: share([(p, t) for _, p, t, h in pairs if h is g]) for g in groups}
        runs = [r for g in groups for r in g["samplings"][name]["runs"]]
        accepted = {str(t): f"{sum(r['accepted'] for r in runs if r['target'] == t)} of "
                            f"{sum(r['target'] == t for r in runs)}" for t in sorted({r["target"] for r in runs})}
        costs = [{"wall_s": statistics.mean(x for g in groups for x in g["samplings"][name]["rounds"][k]["wall_s"]),
                  "cpu_s": statistics.mean(x for g in groups for x in g["samplings"][name]["rounds"][k]["cpu_s"])}
                 for k in range(rounds)]
        out[name] = {"share": share([(p, t) for _, p, t, _ in pairs]), "per_band": per_band, "per_clip": per_clip,
                     "accepted": accepted, "trial_encodes": statistics.mean(
                         g["samplings"][name]["trial_encodes"] for g in groups),
                     "trial_frames": statistics.mean(g["samplings"][name]["trial_frames"] for g in groups),
                     "trial_cost_per_round": costs}
    return out


def table(summary: dict[str, Any], groups: list[dict[str, Any]], window_s: float) -> list[str]:
    whole = statistics.mean(g["frames"] for g in groups)
    lines = [f"within {TOLERANCE:g} of the whole clip's VMAF over the grid; verify accepts the pick; a trial's cost "
             f"(a trial on the whole clip encodes {whole:.0f} frames)"]
    for name, s in summary.items():
        bands = ", ".join(f"{b} {x['within']}/{x['n']}" for b, x in s["per_band"].items())
        cost = "; ".join(f"round {k + 1}: {c['wall_s']:.2f} s wall, {c['cpu_s']:.2f} s CPU"
                         for k, c in enumerate(s["trial_cost_per_round"]))
        accepted = ", ".join(f"{t}: {a}" for t, a in s["accepted"].items())
        lines.append(f"{sampling(name).words(window_s)}: {s['share']['within']}/{s['share']['n']} "
                     f"({(s['share']['share'] or 0):.1%}; {bands}); accepted {accepted}; "
                     f"{s['trial_encodes']:g} encode(s), {s['trial_frames']:.0f} frames a trial ({cost})")
    return lines


# --- the command ----------------------------------------------------------------------------------------------------
def lossless_copies(ffmpeg: str, folder: Path, dest: Path) -> dict[str, Path]:
    """Each clip of `folder` as FFV1 in Matroska, 4:2:0 8-bit (vmaf-tune encodes and scores so), every frame kept."""
    dest.mkdir(parents=True)
    out = {}
    for clip in sorted(p for p in folder.iterdir() if p.is_file()):
        path = dest / f"{clip.stem}.mkv"
        res = run_process([ffmpeg, *COMMON, "-i", str(clip), "-map", "0:v:0", "-fps_mode", "passthrough",
                           "-pix_fmt", "yuv420p", *INTERMEDIATE_CODEC, str(path)], timeout_s=1800)
        if res.returncode != 0:
            print(f"{clip.name} left out: ffmpeg could not copy it: {res.stderr_tail[-300:]}", file=sys.stderr)
            continue
        out[clip.stem] = path
    return out


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", type=Path, required=True, help="a work tree or git directory of lusoris/vmaf")
    ap.add_argument("--export", type=Path, required=True, help="a PROMOTEd run's 05_bundle/exports/vmaftune")
    ap.add_argument("--clips", type=Path, required=True, help="a folder of whole clips")
    ap.add_argument("--encoders", default="libx264")
    ap.add_argument("--targets", default="70,80,85,90,95")
    ap.add_argument("--grid", default="10,18,26,34,42,51", help="the CRFs every sampling is scored at")
    ap.add_argument("--samplings", default=",".join(s.name for s in SAMPLINGS))
    ap.add_argument("--window", type=float, default=VMAFTUNE_WINDOW_S, help="vmaf-tune's SAMPLE_CHUNK_SECONDS")
    ap.add_argument("--trials", type=int, default=30, help="fast_recommend's n_trials (its default: 30)")
    ap.add_argument("--rounds", type=int, default=2, help="times the grid's trials are timed")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="clips run at once")
    ap.add_argument("--ffmpeg", help="ffmpeg with libvmaf (the kit's by default)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    return ap.parse_args()


def main() -> int:
    from check_upstream import git, upstream_tree

    from kit.media.ffmpeg import resolve_ffmpeg

    args = parse_args()
    if lacking := missing_python():
        print(json.dumps({"ran": False, "missing": lacking}, indent=2))
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="bench-sampling-"))  # outside the repository
    started, load_before = time.time(), os.getloadavg()
    try:
        given = args.upstream.resolve()
        tree = upstream_tree(given, scratch)
        info = {"upstream": {"given": str(given), "commit": git(given, "rev-parse", "HEAD").decode().strip()
                             if tree != given else "a work tree"},
                "patch": fix_feature_names(tree), "model": install_proxy(args.export.resolve(), tree)}
        ffmpeg = str(resolve_ffmpeg(args.ffmpeg).path)
        write_stand_ins(scratch / "bin", ffmpeg)
        clips = lossless_copies(ffmpeg, args.clips.resolve(), scratch / "clips")
        names = tuple(args.samplings.split(","))
        groups = [Group(str(tree), str(scratch / "bin"), ffmpeg, name, str(path), encoder, names, args.window,
                        tuple(int(c) for c in args.grid.split(",")), tuple(float(t) for t in args.targets.split(",")),
                        args.trials, args.rounds, str(scratch / f"ledger-{name}-{encoder}.jsonl"))
                  for encoder in args.encoders.split(",") for name, path in clips.items()]
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            done = list(pool.map(run_group, groups))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    summary = summarise(done, names, args.rounds)
    report = {"ran": True, "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)), "scratch": str(scratch),
              "load_average": {"start": load_before, "end": os.getloadavg()}, "wall_s": time.time() - started,
              "cpu_s": sum(u.ru_utime + u.ru_stime for u in usage), "tolerance": TOLERANCE, "window_s": args.window,
              **info, "stand_ins": STAND_INS, "table": table(summary, done, args.window), "summary": summary,
              "groups": done}
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
