#!/usr/bin/env python3
"""The teacher at every frame rate: the kit's mean VMAF per source against libvmaf run by hand.

For clips at 10, 12, 15, 23.976, 24, 25, 26.78 (a phone's variable rate), 29.97, 50, 59.94 and 120 fps (H.264
masters, 640x360, 3 s, made here), the corpus step at one CRF (`--cqs 10` by default, native size) is run with its
shared decode, with `KIT_SHARED_DECODE=0`, and (`--baseline-kit PATH`, a checkout of another version) by that kit;
then each clip is encoded by hand the same way and scored by hand: both decoded to raw frames and libvmaf run on
the two raw files (raw frames carry no timestamps, so frame i meets frame i). Prints one row per clip: its rate and
each way's mean teacher score.

    python bench/bench_rates.py [--work bench/work/rates] [--cq 10] [--baseline-kit /tmp/kit-1.0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from common import ROOT

from kit.media.ffmpeg import imageio_binary
from kit.media.refs import source_name

S = "s=640x360"
CLIPS = {  # name: (lavfi source at its rate, output options): eleven contents, none a copy of another
    "street_10fps": (f"testsrc2={S}:r=10", ()),
    "cctv_12fps": (f"smptehdbars={S}:r=12,noise=alls=24:allf=t:all_seed=5", ()),
    "small_15fps": (f"mandelbrot={S}:r=15", ()),
    "anime_23976": (f"life={S}:r=24000/1001:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00:seed=4", ()),
    "film_24fps": (f"gradients={S}:r=24:speed=0.2:n=5:seed=2", ()),
    "pal_25fps": (f"perlin={S}:r=25:octaves=8:persistence=0.8:tscale=15:random_mode=seed:random_seed=11", ()),
    "phone_vfr": (f"sierpinski={S}:r=60:type=triangle:jump=1:seed=7,select='not(eq(mod(n\\,9)\\,1)+"
                  "eq(mod(n\\,9)\\,5))'", ("-fps_mode", "passthrough")),
    "ntsc_2997": (f"mandelbrot={S}:r=30000/1001:start_scale=0.5:end_scale=0.0005:maxiter=2000:inner=period", ()),
    "sport_50fps": (f"colorspectrum={S}:r=50:type=all,rotate=a=0.3*t:c=black:ow=640:oh=360", ()),
    "game_5994": (f"cellauto={S}:r=60000/1001:rule=110:random_seed=3", ()),
    "slowmo_120fps": (f"zoneplate={S}:r=120:ku=512:kv=100:kt2=8", ()),
}
SECONDS = 3


def ff(ffmpeg: str, *args: str) -> None:
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "fatal", "-y", *args], check=True)


def make_clips(ffmpeg: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (lavfi, opts) in CLIPS.items():
        dest = folder / f"{name}.mp4"
        if not dest.is_file():
            ff(ffmpeg, "-f", "lavfi", "-i", lavfi, "-t", str(SECONDS), *opts, "-c:v", "libx264", "-crf", "12",
               "-pix_fmt", "yuv420p", str(dest))


def kit_means(kit_root: Path, refs: Path, out: Path, cq: int, env: dict[str, str]) -> dict[str, float]:
    """Each source's mean teacher score from the corpus step of the kit at `kit_root`."""
    full = {**os.environ, "PYTHONPATH": str(kit_root), "KIT_CACHE_DIR": str(out.parent / "cache"), **env}
    for step in ("prereqs", "corpus"):
        res = subprocess.run([sys.executable, "-m", "kit", "step", step, "--ref-dir", str(refs), "--out-dir", str(out),
                              "--box-id", "rates", "--encoders", "libx264", "--cqs", str(cq), "--scales", "native"],
                             cwd=kit_root, env=full, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-2000:]
    table = pq.read_table(out / "02_corpus" / "shard.parquet", columns=["src", "vmaf"]).to_pandas()
    return table.groupby("src")["vmaf"].mean().to_dict()


def by_hand(ffmpeg: str, clip: Path, work: Path, cq: int) -> float:
    """The mean teacher score of the clip's x264 encode at `cq`, every step by hand on raw frames."""
    work.mkdir(parents=True, exist_ok=True)
    enc, ref, dis, log = work / "enc.h264", work / "ref.yuv", work / "dis.yuv", work / "vmaf.json"
    ff(ffmpeg, "-i", str(clip), "-map", "0:v:0", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-c:v", "libx264",
       "-preset", "medium", "-crf", str(cq), "-threads", "1", "-f", "h264", str(enc))
    for src, dest in ((clip, ref), (enc, dis)):
        ff(ffmpeg, "-i", str(src), "-map", "0:v:0", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-f",
           "rawvideo", str(dest))
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "640x360"]
    ff(ffmpeg, *raw, "-i", str(dis), *raw, "-i", str(ref), "-lavfi", f"libvmaf=log_fmt=json:log_path={log}",
       "-f", "null", "-")
    frames = json.loads(log.read_text())["frames"]
    return sum(f["metrics"]["vmaf"] for f in frames) / len(frames)


def rate_of(ffmpeg: str, clip: Path) -> str:
    res = subprocess.run([ffmpeg, "-hide_banner", "-i", str(clip)], capture_output=True, text=True)
    line = next(ln for ln in res.stderr.splitlines() if "Video:" in ln)
    return next(part.strip() for part in line.split(",") if part.strip().endswith("fps"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "rates")
    parser.add_argument("--cq", type=int, default=10)
    parser.add_argument("--baseline-kit", type=Path, help="a checkout of another kit version, run side by side")
    args = parser.parse_args()
    ffmpeg, work = str(imageio_binary()), args.work.resolve()
    refs = work / "refs"
    make_clips(ffmpeg, refs)
    columns = {"kit": kit_means(ROOT, refs, work / "out-shared", args.cq, {}),
               "KIT_SHARED_DECODE=0": kit_means(ROOT, refs, work / "out-own", args.cq, {"KIT_SHARED_DECODE": "0"})}
    if args.baseline_kit:
        columns["baseline kit"] = kit_means(args.baseline_kit.resolve(), refs, work / "out-baseline", args.cq, {})
    columns["libvmaf by hand"] = {name: by_hand(ffmpeg, refs / f"{name}.mp4", work / "hand" / name, args.cq)
                                  for name in CLIPS}
    print(f"mean teacher VMAF per source, libx264 CRF {args.cq}, native size")
    print("| source | rate | " + " | ".join(columns) + " |")
    print("|---|---|" + "---:|" * len(columns))
    for name in CLIPS:
        src = source_name(Path(name))  # the kit names a source without its rate token (`street_10fps` -> `street`)
        cells = " | ".join(f"{col.get(src, col.get(name, float('nan'))):.2f}" for col in columns.values())
        print(f"| {name} | {rate_of(ffmpeg, refs / f'{name}.mp4')} | {cells} |")


if __name__ == "__main__":
    main()
