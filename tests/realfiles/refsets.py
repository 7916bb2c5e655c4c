"""What the realfiles tier puts in --ref-dir, and what a plain decode makes of each file there.

A folder is made of three kinds of file, each with what the kit must do with it (`Expect`):
* the public clips (tests/publicclips.py), whole, copied from the cache; some under an odd name a person gives
  (bytes that are not UTF-8, a line break and quotes, leading dashes, 241 bytes);
* files made here from a public clip as a person's own material would be: a phone's portrait clip (the stream as
  recorded, a display matrix that turns it upright), an interlaced broadcast transport stream (MPEG-2, top field
  first, PAL);
* the synthetic cases of tests/real beside them, never instead of them: a stray slice ahead of the first picture,
  damage in the first picture and mid-stream (tests/real/test_stray_slice.py's streams), and the rates, depths and
  chroma of tests/real/test_teacher_truth.py's matrix (10-bit, 4:2:2, 120 fps, a variable rate, interlaced);
the files of issue 91 (a cut of two frames, too short for a LOSO fold; a phone clip whose pictures change to its
turned size; a DV file whose timecode ffmpeg calls invalid, which it decodes whole), and a file that is not video (a
note), and a hidden file, which the kit passes over.

What a plain decode makes of each file (`plain_look`) is what the tier holds the kit to: a file ffmpeg plays whole is
used, with every frame ffmpeg gives and at the size it gives them (a rotated clip upright).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.publicclips import PublicClip, frames_of, plain_decode

# the kinds of file and what the kit must do with each (tests/realfiles/test_realfiles.py checks them)
USED = "used"  # ffmpeg plays it whole: the kit uses it, every frame (issue 67, item 1)
NOT_VIDEO = "not-video"  # named, and said to hold no video (item 2)
DAMAGED = "damaged"  # ffmpeg reports damaged pictures: never used whole in silence (item 3)
LEFT_OUT = "left-out"  # what one clip is that no run can use (too short, its size changing): left out, named with
# its reason, the run going on (issue 91, item 2)

# the names a person gives, each to a public clip: (the clip, the name it has in --ref-dir)
NOT_UTF8 = "caf\udce9 g1.avi"  # os.fsencode: b"caf\xe9 g1.avi", Latin-1 as older NAS and camera cards write it
ODD_NAMES = {
    "g1.avi": NOT_UTF8,
    "g2.avi": "g2 \"quoted\" it's\nnext line.avi",  # a line break and both quotes
    "Force_constante.avi": "--force constante.avi",  # a name that reads as a flag
    "Principe_inertie.avi": "Principe_inertie_" + "très_long_" * 20 + ".avi",  # 241 bytes of a 255-byte limit
}


@dataclass(frozen=True)
class Expect:
    """A file of the tier's --ref-dir: what the kit must do with it, and what a plain decode makes of it."""

    name: str  # as os.listdir gives it (os.fsdecode: a byte that is not UTF-8 is a surrogate)
    expect: str
    plain_frames: int
    plain_size: tuple[int, int]  # the decoded frames' width and height (a rotated clip's upright); (0, 0): no video
    origin: str  # the public clip it is or is made from ("" for a synthetic one)
    manifest_frames: int = -1  # a public clip's frames as its manifest says (-1: not a public clip)
    reason: str = ""  # LEFT_OUT: a pattern its reason must hold


def plain_look(ffmpeg: str, path: Path) -> tuple[int, tuple[int, int]]:
    """(the frames a plain decode gives, their size): `ffmpeg -i FILE -map 0:v:0? -f null -` as a person runs it. The
    size is the output stream's, after what ffmpeg applies by default (a display matrix's rotation)."""
    res = plain_decode(ffmpeg, path)
    # the output stream's line; its pixel format's words may hold parentheses: "yuv420p(tv, top coded first (swapped))"
    size = re.search(r"Output #0.*?Video: wrapped_avframe, \w+(?:\((?:[^()]|\([^()]*\))*\))?, (\d+)x(\d+)", res.stderr,
                     re.DOTALL)
    return frames_of(res.stderr), (int(size[1]), int(size[2])) if size else (0, 0)


def run_ffmpeg(argv: list[str]) -> None:
    res = subprocess.run(argv, capture_output=True, text=True, errors="replace")
    assert res.returncode == 0, (argv, res.stderr[-1500:])


def portrait(ffmpeg: str, source: Path, dest: Path) -> Path:
    """A phone held upright: the clip's stream as it was recorded, in an .mp4 whose display matrix turns it 90°."""
    run_ffmpeg([ffmpeg, "-hide_banner", "-y", "-display_rotation", "90", "-i", str(source), "-map", "0", "-c", "copy",
                str(dest)])
    return dest


def broadcast(ffmpeg: str, source: Path, dest: Path) -> Path:
    """A PAL broadcast's transport stream of the clip: MPEG-2 coded as interlaced fields, top field first, GOPs of
    12 with two B-frames, MPEG-1 Layer II audio, as a DVB channel sends 720x576 at 25 frames a second (the pictures
    are the progressive clip's, each coded as two fields, as a broadcast carries a film)."""
    run_ffmpeg([ffmpeg, "-hide_banner", "-y", "-i", str(source), "-map", "0:v:0", "-map", "0:a:0?", "-vf",
                "setfield=tff", "-c:v", "mpeg2video", "-q:v", "3", "-g", "12", "-bf", "2", "-flags", "+ilme+ildct",
                "-pix_fmt", "yuv420p", "-c:a", "mp2", "-b:a", "192k", "-f", "mpegts", str(dest)])
    return dest


# the whole tier's files made from a public clip: {name: (the clip, how)}
MADE_FROM = {"realshort_portrait.mp4": ("realshort.mp4", portrait),
             "balle-jbart_broadcast.ts": ("balle-jbart.mp4", broadcast)}


def synthetic_damage(ffmpeg: str, folder: Path) -> dict[str, str]:
    """A camera's H.264 streams made here as tests/real/test_stray_slice.py makes them: a stray slice ahead of the
    first picture (ffmpeg reports it, then plays every frame: used); bytes flipped mid-stream (left out today); and
    bytes flipped in the first picture of a stream with B-frames, which ffmpeg conceals ('concealing 300 DC, 300 AC,
    300 MV errors in I frame') while the strict decode stops before any frame and the second look's two decodes count
    alike (46 = 46), one of them reporting '1 decode errors': the clip issue 67 found used in silence. {file name: what
    the kit must do with it}."""
    from tests.conftest import render
    from tests.real.test_stray_slice import damaged_mid_stream, h264, mp4, nal_type, nal_units, with_stray_slice

    clean = h264(ffmpeg, folder / "clean.h264")
    render(ffmpeg, "testsrc2=s=320x240:r=25", folder / "bframes.h264", frames=48, fmt="h264",
           extra=("-c:v", "libx264", "-bf", "2", "-g", "250", "-x264-params", "log=-1"))
    bframes = (folder / "bframes.h264").read_bytes()
    first = bytearray(bframes)
    idr = next(u for u in nal_units(bframes) if nal_type(bframes, u) == 5)
    for k in range(idr[0] + 300, idr[0] + 308):  # inside the first picture's slice data, past its header
        first[k] ^= 0x5A
    made = {"stray_slice.mp4": (with_stray_slice(clean), USED),
            "damaged_first_picture.mp4": (bytes(first), DAMAGED),
            "damaged_mid_stream.mp4": (damaged_mid_stream(clean), DAMAGED)}
    for name, (stream, _) in made.items():
        mp4(ffmpeg, stream, folder / name)
    for raw in ("clean.h264", "bframes.h264"):
        (folder / raw).unlink()
    return {name: what for name, (_, what) in made.items()}


# tests/real/test_teacher_truth.py's matrix cases the tier puts beside the real files (128x72, 14 frames; 20 VFR),
# under the names they have there: deep_10bit and deep_422_10bit both reduce to the source name "deep" (a clip's name
# without its tokens of size, rate and depth), which 2.1 refused as two clips of one name, ending the run; each is used,
# named by its file (kit.media.discovery.distinct_sources)
MATRIX_CASES = ("rate_120.mp4", "phone_vfr.mkv", "deep_10bit.mkv", "wide_422.mov", "deep_422_10bit.mkv",
                "interlaced.mkv")


def synthetic_matrix(ffmpeg: str, folder: Path) -> dict[str, str]:
    from tests.real.test_teacher_truth import MATRIX, make_clip

    for case in (c for c in MATRIX if c.name in MATRIX_CASES):
        make_clip(ffmpeg, folder, case, (128, 72, 1))
    return dict.fromkeys(MATRIX_CASES, USED)


def moment_cases(ffmpeg: str, folder: Path, paths: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """Issue 91's files: {file name: (what the kit must do with it, the pattern its reason holds)}."""
    from tests.real.test_one_clip_never_loses_the_run import dv_bad_timecode, turned_size_change

    run_ffmpeg([ffmpeg, "-hide_banner", "-y", "-i", str(paths["box.mp4"]), "-frames:v", "2", "-c:v", "libx264",
                str(folder / "box_two_frames.mp4")])  # a person's cut of two frames of a real clip
    turned_size_change(folder / "turned_resized.mp4", ffmpeg)
    dv_bad_timecode(folder / "dv_timecode.dv", ffmpeg)
    return {"box_two_frames.mp4": (LEFT_OUT, r"2 frame\(s\); a LOSO fold needs at least 8 frames per source"),
            "turned_resized.mp4": (LEFT_OUT, r"its pictures change size mid-stream \(176x144 to 144x176"),
            "dv_timecode.dv": (USED, "")}


def fill(ffmpeg: str, folder: Path, clips: list[PublicClip], paths: dict[str, Path]) -> list[Expect]:
    """The tier's --ref-dir: each file, and what a plain decode makes of it."""
    folder.mkdir(parents=True)
    copied = {ODD_NAMES.get(clip.name, clip.name): clip for clip in clips}  # the public clips, whole, as they are
    for name, clip in copied.items():
        shutil.copyfile(paths[clip.name], folder / name)
    kinds = {name: clip.expect for name, clip in copied.items()}
    for name, (source, make) in MADE_FROM.items():
        make(ffmpeg, paths[source], folder / name)
        kinds[name] = USED
    kinds.update(synthetic_matrix(ffmpeg, folder))
    (folder / "notes.txt").write_text("clips from the Debian packages; box.mp4 from opencv's tutorial\n")
    kinds["notes.txt"] = NOT_VIDEO
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))  # hidden: passed over, not named
    kinds.update(synthetic_damage(ffmpeg, folder))
    moments = moment_cases(ffmpeg, folder, paths)
    kinds.update({name: what for name, (what, _) in moments.items()})
    expects = []
    for name, expect in sorted(kinds.items()):
        frames, size = plain_look(ffmpeg, folder / name)
        clip = copied.get(name)
        origin = clip.name if clip else MADE_FROM[name][0] if name in MADE_FROM else ""
        expects.append(Expect(name, expect, frames, size, origin, clip.frames if clip else -1,
                              moments.get(name, ("", ""))[1]))
    return expects
