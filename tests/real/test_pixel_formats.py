"""The teacher is right for every pixel format a decoder can give (issue 74, item 2).

The class is ffmpeg's own: every pixel format `ffmpeg -pix_fmts` lists as a conversion input that is not a hardware
surface (232 with the kit's ffmpeg 9.0.2), read here from the kit's ffmpeg, never from a hand list. For each:

* its conversion (test_every_format_converts_as_ffmpeg_does_by_itself): a real clip's frames given in that format (an
  ffmpeg source filter stands for the decoder, so no format is left out for want of a file that holds it) are scored
  by the kit's command, by its independent check's, and by a plain `ffmpeg -i ENCODE -i REF -lavfi libvmaf` that names
  no format, frame by frame. The kit's scores are the plain command's, except where the kit scores a reference in its
  own format on purpose (kit.media.pixfmt.LIBVMAF_PIX_FMTS): there the plain command given the encode in that format
  gives them, and the difference to the bare plain command is measured (docs/design/pixel-formats.md keeps it);
* its file (test_every_format_a_file_holds_scores_through_the_kit): a real clip converted by ffmpeg into a file that
  decodes as that format (raw video in NUT, or FFV1, FFV1's kin or MJPEG where NUT cannot say it), found by trying so
  the list is ffmpeg's, run through the kit as the corpus step runs its jobs (the shared decode and each job's own,
  the independent check on every clip): the clip keeps its decoder's format, its rows are libvmaf's by hand on every
  frame of the kit's own encode (made again by its recorded command), and the shared decode's rows and encode are each
  job's own.

gem-doc's homer.avi (a cartoon in Indeo 3, 4:1:0: the issue's clip) goes through the kit whole in every tier. The fast
tier runs a cut of each matrix (CUT and RUN_CUT, few frames); the suite every format too (wide).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kit.corpus.jobs import REF_OWN, REF_SHARED, Ladder
from kit.corpus.shared import OWN_DECODE_PIX_FMTS
from kit.media.argv import build_score_argv
from kit.media.cache import Sha256Cache
from kit.media.discovery import discover
from kit.media.libvmaf import escape_filter_value, parse_vmaf_log
from kit.media.pixfmt import ENC_PIX_FMTS, LIBVMAF_PIX_FMTS, converted_on_purpose, score_pix_fmt
from kit.media.refs import Clip
from tests.publicclips import fetched_or_skip, load_manifest
from tests.real.test_teacher_truth import kit_rows

FPS = "25"
SIZE = (96, 64)  # small: the class is large; the clip's own detail scaled down with area averaging
# the fast tier's cut: the 4:1:0 and a member of each family a decoder gives (4:1:1, 4:4:0, full range, gray
# deeper than 8 bits, packed and paletted RGB, planar GBR, semi-planar, 4:4:4 at 12 bits scored on purpose in its own
# format)
CUT = ("yuv410p", "yuv411p", "yuv440p", "yuvj422p", "gray10le", "rgb24", "pal8", "gbrp12le", "nv12", "yuv444p12le")
# through the kit, the fast tier's cut of it: beside homer.avi (4:1:0, read through the kit's copy), a full-range
# camera's read through its copy, gray deeper than 8 bits, a palette, and 4:4:4 at 12 bits scored on purpose in its
# own format
RUN_CUT = ("yuvj422p", "gray10le", "pal8", "yuv444p12le")
CUT_FRAMES, RELEASE_FRAMES = 6, 12
TOLERANCE = 0.01  # libvmaf prints six decimals; the same pictures give the same score
# how a format is put in a file, in order: raw video in NUT (its tags name most formats), then codecs that keep what
# NUT cannot name (FFV1 and FFV1's kin, PNG in QuickTime); full range 4:2:0, 4:2:2, 4:4:4 come only from a JPEG decoder
WAYS = ((".nut", ("-c:v", "rawvideo")), (".mkv", ("-c:v", "ffv1")), (".mkv", ("-c:v", "ffvhuff")),
        (".mov", ("-c:v", "png")), (".avi", ("-c:v", "mjpeg")))


def pix_fmt_flags(ffmpeg: str) -> dict[str, str]:
    """`ffmpeg -pix_fmts`: each format's flags (I input, O output of a conversion, H hardware, P palette,
    B bitstream)."""
    out = subprocess.run([ffmpeg, "-hide_banner", "-pix_fmts"], capture_output=True, text=True, check=True).stdout
    table = out.split("\n-----\n", 1)[1]  # below the legend, whose lines begin as the table's do (`I.... = ...`)
    return {m[2]: m[1] for m in re.finditer(r"^([I.][O.][H.][P.][B.]) +(\S+)", table, re.MULTILINE)}


def software_formats(ffmpeg: str) -> list[str]:
    """Every pixel format the kit's ffmpeg converts from (`I`) that is not a hardware surface (`H`), in its order."""
    return [name for name, flags in pix_fmt_flags(ffmpeg).items() if flags[0] == "I" and flags[2] != "H"]


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(argv, capture_output=True, text=True)
    assert res.returncode == 0, (argv, res.stderr[-1500:])
    return res


def decoded_format(ffmpeg: str, path: Path) -> str:
    """The format ffmpeg's decoder gives the file's video in (what ffprobe's pix_fmt says, from the same line)."""
    said = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    m = re.search(r"Video: [^,]+, ([a-z0-9_]+)[(,]", said)
    return m[1] if m else ""


@pytest.fixture(scope="module")
def public(ffmpeg: str) -> dict[str, Path]:
    """The real clips: opencv-doc's box.mp4 (the source of every format) and gem-doc's homer.avi (4:1:0, whole)."""
    manifest = load_manifest()
    return fetched_or_skip([manifest.clip("box.mp4"), manifest.clip("homer.avi")], manifest)


def source(ffmpeg: str, public: dict[str, Path], folder: Path, frames: int) -> Path:
    """box.mp4's first `frames` pictures at SIZE and FPS, 4:4:4 at 16 bits (every format's chroma made from full
    chroma; the area averaging of the downscale gives the deeper formats samples an 8-bit clip does not hold)."""
    dest = folder / "source.mkv"
    if not dest.exists():
        run([ffmpeg, "-hide_banner", "-y", "-i", str(public["box.mp4"]), "-map", "0:v:0", "-vf",
             f"scale={SIZE[0]}:{SIZE[1]}:flags=area,setpts=N/({FPS}*TB)", "-r", FPS, "-frames:v", str(frames),
             "-pix_fmt", "yuv444p16le", "-c:v", "ffv1", str(dest)])
    return dest


def encode(ffmpeg: str, ref: list[str], dest: Path, pix_fmt: str) -> Path | None:
    """The reference encoded as the kit encodes it (libx264, `pix_fmt`): a plain encode, which keeps its range. None
    where ffmpeg cannot make the reference's frames (a format its converters do not write, `-pix_fmts` without O)."""
    res = subprocess.run([ffmpeg, "-hide_banner", "-y", *ref, "-pix_fmt", pix_fmt, "-c:v", "libx264", "-crf", "30",
                          "-threads", "1", "-f", "h264", str(dest)], capture_output=True, text=True)
    if res.returncode != 0 and "Impossible to convert between the formats" in res.stderr:
        return None
    assert res.returncode == 0, (ref, res.stderr[-1500:])
    return dest


def scores(log: Path) -> np.ndarray:
    return np.array([f["metrics"]["vmaf"] for f in json.loads(log.read_text())["frames"]])


def plain(ffmpeg: str, enc: Path, ref: list[str], log: Path, dist_format: str = "", fps: str = FPS) -> np.ndarray:
    """`ffmpeg -r FPS -i ENCODE REF -lavfi libvmaf`: no format named, ffmpeg converts by itself (`dist_format`: the
    encode given in it, the reference still left to ffmpeg)."""
    to = f"[0:v]format={dist_format}[d];[d]" if dist_format else "[0:v]"
    run([ffmpeg, "-hide_banner", "-r", fps, "-i", str(enc), *ref, "-lavfi",
         f"{to}[1:v]libvmaf=log_fmt=json:log_path={escape_filter_value(str(log))}", "-f", "null", "-"])
    return scores(log)


def kit_scored(ffmpeg: str, enc: Path, ref: list[str], pix_fmt: str, log: Path) -> np.ndarray:
    run(build_score_argv(ffmpeg, enc, ref, SIZE[0], SIZE[1], pix_fmt, log, 1, fps=FPS))
    return parse_vmaf_log(log).vmaf


def convert_one(ffmpeg: str, src: Path, enc_fmt: str, pix_fmt: str, work: Path) -> tuple[float, float, float] | None:
    """(the kit against the truth, the independent check against the truth, the bare plain command against the kit)
    for a reference given in `pix_fmt`, encoded as the kit encodes it in `enc_fmt`: the truth is the plain command,
    given the encode in the kit's format where the kit converts on purpose. None where ffmpeg makes no frames in
    `pix_fmt` (a format no converter writes: only a decoder gives it)."""
    ref = ["-f", "lavfi", "-i", f"movie={escape_filter_value(str(src))},format={pix_fmt}"]
    enc = encode(ffmpeg, ref, work / f"{pix_fmt}-{enc_fmt}.h264", enc_fmt)
    if enc is None:
        return None
    scored_in = score_pix_fmt(pix_fmt, enc_fmt)
    kit = kit_scored(ffmpeg, enc, ref, scored_in, work / f"{pix_fmt}-kit.json")
    check = kit_scored(ffmpeg, enc, ref, "", work / f"{pix_fmt}-check.json")
    bare = plain(ffmpeg, enc, ref, work / f"{pix_fmt}-plain.json")
    on_purpose = converted_on_purpose(pix_fmt, enc_fmt)
    truth = plain(ffmpeg, enc, ref, work / f"{pix_fmt}-given.json", scored_in) if on_purpose else bare
    assert len(kit) == len(truth) == len(check) == len(bare), pix_fmt

    def worst(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.max(np.abs(a - b)))
    return worst(kit, truth), worst(check, truth), worst(kit, bare)


def convert_all(ffmpeg: str, public: dict[str, Path], folder: Path, formats: list[str], frames: int,
                enc_fmt: str) -> dict[str, tuple[float, float, float] | None]:
    folder.mkdir(exist_ok=True)
    src = source(ffmpeg, public, folder, frames)
    return {f: convert_one(ffmpeg, src, enc_fmt, f, folder) for f in formats}


def check_conversions(ffmpeg: str, got: dict[str, tuple[float, float, float] | None], enc_fmt: str) -> None:
    """Every format the kit's ffmpeg makes frames in scored as ffmpeg converts it by itself; every other is one its
    converters do not write (no O in `-pix_fmts`: only a decoder gives it, and swscale reads it as it reads any)."""
    found = {f: w for f, w in got.items() if w is not None}
    flags = pix_fmt_flags(ffmpeg)
    assert all(flags[f][1] != "O" for f, w in got.items() if w is None), got
    wrong = {f: w for f, w in found.items() if w[0] > TOLERANCE or w[1] > TOLERANCE}
    assert not wrong, f"scored against a {enc_fmt} encode, not as ffmpeg converts by itself: {wrong}"
    # where the kit does not convert on purpose, it is the bare plain command itself
    assert all(w[2] <= TOLERANCE for f, w in found.items() if not converted_on_purpose(f, enc_fmt)), found
    print(f"\nagainst a {enc_fmt} encode: pix_fmt, kit - truth, check - truth, kit - bare plain (on purpose only)")
    for f, (kit, check, bare) in found.items():
        print(f"  {f:16s} {kit:.6f} {check:.6f} {bare:.6f}{'  on purpose' if converted_on_purpose(f, enc_fmt) else ''}")
    if none := [f for f, w in got.items() if w is None]:
        print(f"  no converter writes {len(none)} format(s), only a decoder gives them: {' '.join(none)}")


def converted_before_libvmaf(ffmpeg: str, pix_fmt: str) -> bool:
    """Whether ffmpeg converts frames in `pix_fmt` before its libvmaf filter takes them."""
    said = run([ffmpeg, "-hide_banner", "-v", "verbose", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=5", "-frames:v", "2",
                "-lavfi", f"[0:v]format={pix_fmt},split[a][b];[a][b]libvmaf", "-f", "null", "-"]).stderr
    return "and the filter 'Parsed_libvmaf" in said


@pytest.mark.parametrize("formats", [pytest.param("cut", id="cut"),
                                     pytest.param("all", id="every-format", marks=pytest.mark.wide)])
def test_the_class_is_ffmpegs_and_libvmaf_takes_what_the_kit_scores_as_it_is(ffmpeg: str, formats: str) -> None:
    """The class is read from the kit's ffmpeg and holds each family the issue names; the formats the kit scores in
    their own format are those libvmaf takes as they are (ffmpeg converts every other: release, the whole class)."""
    every = software_formats(ffmpeg)
    assert len(every) >= 200, every
    named = ("yuv410p", "yuv411p", "yuv440p", "yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p", "yuvj411p", "gray",
             "gray9le", "gray10le", "gray12le", "gray14le", "gray16le", "rgb24", "bgr24", "rgba", "bgra", "argb",
             "abgr", "0rgb", "rgb48le", "rgb565le", "rgb555le", "pal8", "bgr8", "gbrp", "gbrp9le", "gbrp16le", "gbrap",
             "nv12", "nv21", "p010le", "p016le", "yuv444p9le", "yuv422p14le", "yuv420p16le")
    assert set(named) <= set(every) and set(CUT) <= set(every) and set(LIBVMAF_PIX_FMTS) <= set(every)
    flags = pix_fmt_flags(ffmpeg)  # frames are made here in each format a converter writes (O)
    others = [f for f in (CUT if formats == "cut" else every) if f not in LIBVMAF_PIX_FMTS and flags[f][1] == "O"]
    assert not [f for f in LIBVMAF_PIX_FMTS if converted_before_libvmaf(ffmpeg, f)]
    assert not [f for f in others if not converted_before_libvmaf(ffmpeg, f)]


@pytest.mark.parametrize("formats", [pytest.param("cut", id="cut"),
                                     pytest.param("all", id="every-format", marks=pytest.mark.wide)])
def test_every_format_converts_as_ffmpeg_does_by_itself(ffmpeg: str, public: dict[str, Path], tmp_path: Path,
                                                        formats: str) -> None:
    every = software_formats(ffmpeg)
    chosen = list(CUT) if formats == "cut" else every
    frames = CUT_FRAMES if formats == "cut" else RELEASE_FRAMES
    check_conversions(ffmpeg, convert_all(ffmpeg, public, tmp_path, chosen, frames, ENC_PIX_FMTS[8]), ENC_PIX_FMTS[8])
    # a reference deeper than 8 bits encoded at 10 (--encode-depth source): ffmpeg converts to the 10-bit encode's
    deep = [f for f in chosen if f in ("gray10le", "gbrp12le") or (formats == "all" and re.search(r"1[0-6]|9", f))]
    found = convert_all(ffmpeg, public, tmp_path / "10bit", deep, frames, ENC_PIX_FMTS[10]) if deep else {}
    check_conversions(ffmpeg, found, ENC_PIX_FMTS[10])


def made(ffmpeg: str, src: Path, folder: Path, pix_fmt: str) -> Path | None:
    """A file holding `src` in `pix_fmt` that decodes as it, by the first of WAYS that makes one; None if none does."""
    for ext, codec in WAYS:
        dest = folder / f"{pix_fmt}{ext}"
        res = subprocess.run([ffmpeg, "-hide_banner", "-v", "error", "-y", "-i", str(src), "-pix_fmt", pix_fmt,
                              *codec, str(dest)], capture_output=True, text=True)
        if res.returncode == 0 and decoded_format(ffmpeg, dest) == pix_fmt:
            return dest
        dest.unlink(missing_ok=True)
    return None


def remade_encode(ledger_argv: list[str], enc_bytes: int) -> Path:
    """The kit's own encode of a job made again by its recorded command (x264 on one thread: the same bytes)."""
    out = Path(ledger_argv[-1])
    out.parent.mkdir(parents=True, exist_ok=True)
    run(ledger_argv)
    assert out.stat().st_size == enc_bytes, (ledger_argv, out.stat().st_size, enc_bytes)
    return out


def through_the_kit(ffmpeg: str, refs: Path, out: Path) -> dict[str, dict]:
    """Every clip of `refs` through the kit: {file name: (its clip, its shared run's job, its own run's job)}."""
    clips = discover(refs, ffmpeg, Sha256Cache(None))
    out.mkdir()
    shared = kit_rows(ffmpeg, clips, out / "shared", True, Ladder())
    own = kit_rows(ffmpeg, clips, out / "own", False, Ladder())
    return {Path(got["clip"].path).name: {"clip": got["clip"], "shared": got, "own": own[job_id]}
            for job_id, got in shared.items()}


def check_through_the_kit(ffmpeg: str, jobs: dict[str, dict], wanted: dict[str, str], work: Path) -> dict[str, float]:
    """Each file's job against libvmaf by hand on every frame; {file: the largest difference}."""
    worst: dict[str, float] = {}
    for name, pix_fmt in wanted.items():
        got = jobs[name]
        clip: Clip = got["clip"]
        assert clip.pix_fmt == pix_fmt, (name, clip.pix_fmt)  # the decoder's format, as it gives it
        own, shared = got["own"], got["shared"]
        vmaf = np.array(own["rows"]["vmaf"])
        assert len(vmaf) == clip.n_frames and own["rows"]["pix_fmt"][0] == pix_fmt
        enc = remade_encode(own["ledger"].enc_argv, own["rows"]["enc_bytes"][0])
        enc_fmt = own["rows"]["enc_pix_fmt"][0]
        ref = ["-i", clip.path]  # the clip's own file, as a person scores it
        scored_in = score_pix_fmt(pix_fmt, enc_fmt)
        given = scored_in if converted_on_purpose(pix_fmt, enc_fmt) else ""
        hand = plain(ffmpeg, enc, ref, work / f"{name}.json", given, clip.fps)
        assert len(hand) == len(vmaf), name
        worst[name] = float(np.max(np.abs(vmaf - hand)))
        # the shared decode's encode and rows are each job's own; a 4:1:0 clip is decoded by each job (shared.py)
        assert shared["ledger"].reference == (REF_OWN if pix_fmt in OWN_DECODE_PIX_FMTS else REF_SHARED), name
        assert shared["rows"]["enc_bytes"][0] == own["rows"]["enc_bytes"][0], name
        assert np.max(np.abs(np.array(shared["rows"]["vmaf"]) - vmaf)) <= TOLERANCE, name
        for side in (own, shared):  # the independent check, on the clip's own file, agreed
            check = side["ledger"].oracle
            assert check is not None and check.passed and check.max_diff <= TOLERANCE, (name, check)
    assert max(worst.values()) <= TOLERANCE, worst
    print("\nthrough the kit: file, largest difference to libvmaf by hand")
    for name, w in worst.items():
        print(f"  {name:20s} {wanted[name]:14s} {w:.6f}")
    return worst


@pytest.mark.parametrize("formats", [pytest.param("cut", id="cut"),
                                     pytest.param("all", id="every-format", marks=pytest.mark.wide)])
def test_every_format_a_file_holds_scores_through_the_kit(ffmpeg: str, public: dict[str, Path], tmp_path: Path,
                                                          formats: str) -> None:
    chosen = list(RUN_CUT) if formats == "cut" else software_formats(ffmpeg)
    src = source(ffmpeg, public, tmp_path, CUT_FRAMES if formats == "cut" else RELEASE_FRAMES)
    refs = tmp_path / "refs"
    refs.mkdir()
    wanted = {"homer.avi": "yuv410p"}
    (refs / "homer.avi").write_bytes(public["homer.avi"].read_bytes())  # the cartoon, whole
    cannot: list[str] = []
    for pix_fmt in chosen:
        if (path := made(ffmpeg, src, refs, pix_fmt)) is None:
            cannot.append(pix_fmt)
        else:
            wanted[path.name] = pix_fmt
    # no file ffmpeg writes decodes as these (the ways tried: WAYS); the conversion test covers them
    assert not set(cannot) & set(CUT) and (formats == "cut" or len(wanted) > 150), cannot
    check_through_the_kit(ffmpeg, through_the_kit(ffmpeg, refs, tmp_path / "out"), wanted, tmp_path)
    if cannot:
        print(f"\nno file ffmpeg writes decodes as {len(cannot)} format(s): {' '.join(cannot)}")
