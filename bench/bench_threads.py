"""What the kit's `-threads 1` pin on x264 moves in the consumer's share (issue 76, item 5).

    python bench/bench_threads.py --export EXPORT --clips DIR [--cqs 10,24,38,51] [--window 5] [--jobs 2]

The kit pins libx264 to one thread (its rows must not depend on --jobs: x264's output depends on its thread count);
vmaf-tune does not pin it, so its encodes use x264's own count (1.5 x the box's cores). For each clip of DIR longer
than the window, at each cq, both ways (`-threads 1` and no pin): the whole clip encoded and scored (what vmaf-tune's
verify encode measures) and its first --window s encoded on their own as vmaf-tune's chunk (`-t` on the input side)
and scored; the export (EXPORT: a PROMOTEd run's 05_bundle/exports/vmaftune folder, its fr_regressor_v2.onnx) fed
the window's mean canonical-6 as vmaf-tune feeds it. Printed (one JSON document): per encode both ways the teacher of
the whole clip, the window's prediction and whether it is within the tolerance; the share each way; the largest
moves. Encodes use the kit's own x264 arguments (-preset medium -crf N) and libvmaf with the kit's teacher.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit.bundle.vmaftune import v2_rows  # noqa: E402
from kit.infra.proc import run_process  # noqa: E402
from kit.media.ffmpeg import imageio_binary  # noqa: E402
from kit.media.libvmaf import parse_vmaf_log  # noqa: E402
from kit.model.consumer import CRF_RANGE, TOLERANCE  # noqa: E402
from kit.model.runtime import session  # noqa: E402

PINS = {"threads 1 (the kit)": ["-threads", "1"], "no pin (vmaf-tune)": []}


def scored(ffmpeg: str, clip: Path, cq: int, pin: list[str], seconds: float, work: Path) -> tuple[float, list[float]]:
    """Encode `clip` (its first `seconds` s, or all of it for 0) with x264 at `cq`, score it against the same frames:
    (the mean VMAF, the mean canonical-6)."""
    cut = ["-t", f"{seconds:g}"] if seconds else []
    tag = f"{clip.stem}-{cq}-{len(pin)}-{seconds:g}"
    enc, log = work / f"{tag}.mkv", work / f"{tag}.json"
    run_process([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *cut, "-i", clip, "-map", "0:v:0", "-an",
                 "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "medium", "-crf", str(cq), *pin, enc],
                timeout_s=3600)
    run_process([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", enc, *cut, "-i", clip, "-lavfi",
                 "[0:v]setpts=PTS-STARTPTS[d];[1:v]format=yuv420p,setpts=PTS-STARTPTS[r];"
                 f"[d][r]libvmaf=log_fmt=json:log_path={log}:n_threads=1", "-f", "null", "-"], timeout_s=3600)
    parsed = parse_vmaf_log(log)
    return float(np.mean(parsed.vmaf)), [float(x) for x in parsed.features.mean(axis=0)]  # FEATURES' order


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--export", type=Path, required=True)
    ap.add_argument("--clips", type=Path, required=True)
    ap.add_argument("--cqs", default="10,24,38,51")
    ap.add_argument("--window", type=float, default=5.0)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    ffmpeg = str(imageio_binary() or 'ffmpeg')
    model = session(args.export / "fr_regressor_v2.onnx")
    cqs = [int(c) for c in args.cqs.split(",")]
    clips = sorted(p for p in args.clips.iterdir() if p.is_file())
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as td:
        work = Path(td)
        tasks = [(clip, cq, way, seconds) for clip in clips for cq in cqs for way in PINS for seconds in
                 (0.0, args.window)]
        with ThreadPoolExecutor(args.jobs) as pool:
            done = list(pool.map(lambda t: scored(ffmpeg, t[0], t[1], PINS[t[2]], t[3], work), tasks))
    found = dict(zip(tasks, done, strict=True))
    rows = []
    for clip in clips:
        for cq in cqs:
            row: dict[str, object] = {"clip": clip.name, "cq": cq}
            for way in PINS:
                teacher, _ = found[(clip, cq, way, 0.0)]
                window_teacher, feats = found[(clip, cq, way, args.window)]
                (pred,) = model.run(None, {"input": v2_rows(np.array([feats], np.float32), np.array(["libx264"]),
                                                            np.array([cq]), CRF_RANGE)})
                p = float(np.clip(np.asarray(pred).reshape(-1)[0], 0, 100))
                row[way] = {"teacher": teacher, "window_teacher": window_teacher, "predicted": p,
                            "within": abs(p - teacher) <= TOLERANCE}
            rows.append(row)
    share = {way: float(np.mean([r[way]["within"] for r in rows])) for way in PINS}  # type: ignore[index]
    moves = {what: [abs(r[a][what] - r[b][what]) for r in rows]  # type: ignore[index]
             for what in ("teacher", "window_teacher", "predicted") for a, b in [tuple(PINS)]}
    print(json.dumps({"encodes": len(rows), "share": share, "changed": sum(
        r[a]["within"] != r[b]["within"] for r in rows for a, b in [tuple(PINS)]),  # type: ignore[index]
        "mean_move": {k: float(np.mean(v)) for k, v in moves.items()},
        "max_move": {k: float(np.max(v)) for k, v in moves.items()}, "cores": os.cpu_count(), "rows": rows},
        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
