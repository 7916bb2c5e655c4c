"""The one decode of a reference clip: its geometry (masters), its frame count and its identity (Fingerprint)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from kit.errors import InputError
from kit.infra.invocation import kit_command
from kit.infra.outside import NotANumber, read_rate, shown
from kit.infra.proc import ProcResult, run_process
from kit.infra.shown import Spelled, spelled_path
from kit.media.argv import build_fingerprint_argv, build_second_look_argv
from kit.media.ffmpeg import parse_frame_count, strip_log_prefix, telling_line
from kit.media.fingerprint import GRID_BYTES, Fingerprint
from kit.media.streams import dropped, no_video

MAX_FPS = 1000
DECODE_TIMEOUT_S = 300.0  # a whole decode of a long master
RAW_BYTES_PER_S = 20e6  # the slowest a .y4m/.yuv fingerprint pass is allowed to go before it times out
MAX_FINGERPRINT_FRAMES = 180_000  # thumbnails held in memory at once (276 MB): 100 minutes at 30 fps
THUMBS_MAX_BYTES = MAX_FINGERPRINT_FRAMES * GRID_BYTES

# Pixel formats the kit accepts: (chroma width divisor, chroma height divisor, bytes per sample).
PIX_FMTS: dict[str, tuple[int, int, int]] = {
    "yuv420p": (2, 2, 1), "yuv422p": (2, 1, 1), "yuv444p": (1, 1, 1),
    "yuv420p10le": (2, 2, 2), "yuv422p10le": (2, 1, 2), "yuv444p10le": (1, 1, 2),
    "yuv420p12le": (2, 2, 2), "yuv422p12le": (2, 1, 2), "yuv444p12le": (1, 1, 2),
    "gray": (0, 0, 1), "gray10le": (0, 0, 2),
}
Geometry = tuple[int, int, str, str, int]  # width, height, fps "num/den", pix_fmt, frames

STREAM_LINE = re.compile(r"Stream #0:\d+.*?: Video: .*")
# the hash muxer's one line (written to pipe:2, so among ffmpeg's log lines)
HASH_LINE = re.compile(r"^SHA256=([0-9a-f]{64})\s*$", re.MULTILINE)


def parse_probe(stderr: str) -> tuple[int, int, str, str]:
    """(width, height, fps, pix_fmt) of a decode's first video stream, the size as decoded (a phone's rotation)."""
    lines = [m.group(0) for m in STREAM_LINE.finditer(stderr)]
    if not lines:
        raise ValueError("no video stream")
    line = lines[0]
    decoded = next((ln for ln in lines[1:] if "wrapped_avframe" in ln), line)
    size = re.search(r",\s*(\d{2,5})x(\d{2,5})", decoded) or re.search(r",\s*(\d{2,5})x(\d{2,5})", line)
    fps = re.search(r"(\d+(?:\.\d+)?)(k?) fps", line) or re.search(r"(\d+(?:\.\d+)?)(k?) tbr", line)
    # at -loglevel verbose (a second look) the codec is followed by its reference frames: "h264, 1 reference frame"
    pix = re.search(r"Video: [^,]+, (?:\d+ reference frames?(?: \([^)]*\))?, )?([a-z0-9]+)[(,]", line)
    if not (size and fps and pix):
        raise ValueError(f"cannot parse {line!r}")
    rate = float(fps.group(1)) * (1000 if fps.group(2) else 1)
    known = {23.98: "24000/1001", 29.97: "30000/1001", 59.94: "60000/1001", 47.95: "48000/1001"}
    return int(size[1]), int(size[2]), known.get(round(rate, 2)) or parse_fps(repr(rate)), pix.group(1)


def parse_fps(text: str) -> str:
    """The one reader of a rate: "num/den" from "25", "29.97", "30000/1001" or "25:1"; ValueError otherwise."""
    try:
        frac = read_rate(text)
    except NotANumber as exc:
        raise NotANumber(f"frame rate {shown(text)}: {exc}") from None
    if not 0 < frac <= MAX_FPS:
        raise ValueError(f"frame rate {shown(text)} is not in (0, {MAX_FPS}]")
    return f"{frac.numerator}/{frac.denominator}"


# Lines of a decode's output side (the null muxer, the encoder), which say nothing about the file
_OUTPUT_SIDE = re.compile(r"^\[(null|out#|vost#|enc:|vf#|hash|rawvideo)")
_ERROR_LINE = re.compile(r"\[(error|fatal|panic)\] ?(.*)$")
# a packet the demuxer marked damaged: -xerror stops on it, except on one read while ffmpeg probes the streams
_CORRUPT_PACKET = re.compile(r"\[warning\] (Packet corrupt \(stream = \d+, dts = [^)]*\))")
_DEMUXER = re.compile(r"Input #0, (.+?), from ")  # the demuxer's name, which its own lines are prefixed with
# an input's closing line at -loglevel verbose: how many frames its decoder gave
_DECODED = re.compile(r"Input stream #(\d+):\d+ \(video\): \d+ packets read \(\d+ bytes\); (\d+) frames decoded")


def demuxer_damage(stderr: str, decoder_too: bool = True) -> str:
    """The first error a decode logged on its input side or packet its demuxer marked corrupt, "" for none (a demuxer
    resyncs: a strict decode can exit 0 with frames missing); without `decoder_too`, the demuxer's alone."""
    demuxer = _DEMUXER.search(stderr)
    own = ("[in#", f"[{demuxer.group(1)} @") if demuxer else ("[in#",)
    for line in stderr.splitlines():
        if not decoder_too and not line.strip().startswith(own):
            continue
        m = _ERROR_LINE.search(line)
        if m and not _OUTPUT_SIDE.match(line.strip()):
            return strip_log_prefix(m.group(2)) or line.strip()
        if corrupt := _CORRUPT_PACKET.search(line):
            return corrupt.group(1)
    return ""


def parse_fingerprint(res: ProcResult) -> Fingerprint:
    """The fingerprint a build_fingerprint_argv decode printed; ValueError if it is not all there."""
    from kit.media.signature import build_signature  # numpy: only when a clip is fingerprinted

    hashes = HASH_LINE.findall(res.stderr)
    if len(hashes) != 1:
        raise ValueError("the decode printed no pixel hash")
    thumbs = res.stdout
    if len(thumbs) > THUMBS_MAX_BYTES:  # the reader kept the first bytes and a note of what it left out
        raise ValueError(f"more than {MAX_FINGERPRINT_FRAMES} frames: too long to fingerprint")
    if not thumbs or len(thumbs) % GRID_BYTES:
        raise ValueError(f"the decode wrote {len(thumbs)} bytes of thumbnails, not whole frames "
                         "(a decode cut short)")
    return Fingerprint(hashes[0], build_signature(thumbs), len(thumbs) // GRID_BYTES)


class MasterDecode(NamedTuple):
    """What the one strict decode of a master tells (dropped: kit.media.streams.dropped)."""

    geometry: Geometry
    identity: Fingerprint
    dropped: tuple[str, ...] = ()


def decode_master(path: Path, ffmpeg: str) -> MasterDecode:
    """A master's geometry and fingerprint from one strict decode (or a second look where it stopped at once)."""
    argv = build_fingerprint_argv(ffmpeg, ["-i", spelled_path(path)], strict=True, count=True)
    res = run_process(argv, timeout_s=DECODE_TIMEOUT_S, capture_stdout=True, stdout_max_bytes=THUMBS_MAX_BYTES)
    if second := stopped_before_first_frame(res):  # decoded again: used when every frame ffmpeg plays is undamaged
        res = run_process(build_second_look_argv(ffmpeg, path), timeout_s=2 * DECODE_TIMEOUT_S, capture_stdout=True,
                          stdout_max_bytes=THUMBS_MAX_BYTES)
    return read_master_decode(path, res, second)


def stopped_before_first_frame(res: ProcResult) -> bool:
    """Did a strict decode of a file holding a video stream fail before it gave a frame?"""
    counts = re.findall(r"frame=\s*(\d+)", res.stderr)
    return (res.returncode != 0 and (not counts or counts[-1] == "0") and STREAM_LINE.search(res.stderr) is not None
            and no_video(res.stderr) is None)


def played_whole(stderr: str, undamaged: int) -> int:
    """The frames ffmpeg plays in a second look when they are as many as `undamaged`, else ValueError."""
    played = {int(k): int(n) for k, n in _DECODED.findall(stderr)}
    if 1 not in played:
        raise ValueError("the decode printed no frame count")
    if played[1] != undamaged:
        raise ValueError(f"{played[1] - undamaged} of the {played[1]} frames ffmpeg plays are damaged "
                         f"({demuxer_damage(stderr) or telling_line(stderr)})")
    return played[1]


def refuse_no_video(path: Path, stderr: str) -> None:
    """Refuse a file ffmpeg opened that holds no video stream (kit.media.streams.no_video), naming what it holds."""
    if (holds := no_video(stderr)) is not None:
        raise InputError(f"{path} has no video stream ({holds})",
                         hint="a reference clip is a video: remove this file from --ref-dir, or put the video it "
                              "belongs with there instead")


def read_master_decode(path: Path, res: ProcResult, second: bool = False) -> MasterDecode:
    """What a strict, counting decode of `path` tells (`second`: a second look); InputError naming the file when it
    holds no video, did not decode to its end, or its demuxer skipped damaged data."""
    refuse_no_video(path, res.stderr)
    try:
        if res.returncode != 0:
            counts = re.findall(r"frame=\s*(\d+)", res.stderr)
            where = f" after frame {counts[-1]}" if counts and not second else ""
            raise ValueError(f"decoding failed{where}: {demuxer_damage(res.stderr) or telling_line(res.stderr)}")
        width, height, fps, pix_fmt = parse_probe(res.stderr)
        identity = parse_fingerprint(res) if second else None
        n_frames = played_whole(res.stderr, identity.frames) if identity else parse_frame_count(res.stderr)
        if damage := demuxer_damage(res.stderr, decoder_too=not second):
            raise InputError(f"{path}: damaged container: the demuxer skipped data ({damage}); only {n_frames} "
                             "frames decode, so every job would fail on frame counts",
                             hint="copy or re-export the clip again, or remove it from --ref-dir")
        identity = identity or parse_fingerprint(res)
    except ValueError as exc:
        raise InputError(f"{path}: not a readable video ({exc})", hint=unreadable_hint(path, res.stderr)) from exc
    if pix_fmt not in PIX_FMTS:
        pix_fmt = "yuv420p10le" if "10" in pix_fmt else "yuv420p"
    return MasterDecode((width, height, fps, pix_fmt, n_frames), identity, dropped(res.stderr))


def unreadable_hint(path: Path, stderr: str) -> str:
    """The fix of a master that does not decode whole: where it has a video stream, the lossless copy ffmpeg plays."""
    if STREAM_LINE.search(stderr) is None:
        return "check the file plays, or remove it from --ref-dir"
    return Spelled("if it plays, move it out of --ref-dir and use in its place the lossless copy of what ffmpeg plays "
                   "of it (its damage concealed), made with the kit's ffmpeg: ", convert_command(path))


def convert_command(path: Path) -> str:
    """The command that converts a video into a lossless FFV1 .mkv beside it (an .mkv's: `<name>-ffv1.mkv`)."""
    source = path.absolute()
    dest = source.with_suffix(".mkv") if source.suffix != ".mkv" else source.with_name(f"{source.stem}-ffv1.mkv")
    return kit_command("ffmpeg", "-i", source, "-map", "0:v:0", "-an", "-c:v", "ffv1", dest)


def decode_pictures(path: Path, input_args: Sequence[str], ffmpeg: str) -> Fingerprint:
    """The fingerprint of a .y4m/.yuv clip (read by `input_args`): one ffmpeg pass over the file."""
    timeout_s = max(DECODE_TIMEOUT_S, path.stat().st_size / RAW_BYTES_PER_S)
    res = run_process(build_fingerprint_argv(ffmpeg, input_args), timeout_s=timeout_s, capture_stdout=True,
                      stdout_max_bytes=THUMBS_MAX_BYTES)
    try:
        if res.returncode != 0:
            raise ValueError(f"ffmpeg failed: {telling_line(res.stderr)}")
        return parse_fingerprint(res)
    except ValueError as exc:
        raise InputError(f"{path}: cannot fingerprint its pictures ({exc})",
                         hint="check the clip plays, or remove it from --ref-dir") from exc
