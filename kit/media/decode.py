"""Every look at a reference clip but a lossless copy's (kit.media.containers): its open, its one strict decode
(geometry, frame count, identity: Fingerprint), and the second and third looks where that stops, which use the clip
where ffmpeg plays it whole and leave it out where ffmpeg's own words flag a damaged picture, naming the frame.

What ffmpeg says of a clip's pictures is decided here (LOOKS: the strict decode, then the looks as ffmpeg plays it),
never on a frame count alone."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path, PurePath
from typing import NamedTuple

from kit.errors import InputError, ToolError
from kit.infra.outside import NotANumber, read_rate, shown
from kit.infra.proc import ProcResult, lines_not_kept
from kit.infra.shown import Spelled, heard, spelled_path
from kit.media.argv import (
    AS_PLAYED,
    SECOND_LOOK,
    STRICT_DECODE,
    build_count_argv,
    build_fingerprint_argv,
    build_frames_count_argv,
    build_headers_argv,
    build_open_argv,
    build_second_look_argv,
)
from kit.media.ffmpeg import how_it_ended, parse_duration, parse_frame_count, strip_log_prefix, telling_line
from kit.media.fingerprint import GRID_BYTES, Fingerprint, FrameTimes, Repeats
from kit.media.looks import (
    FRAME_LINE,
    FRAME_PTS,
    LOOK_START_S,
    MAX_FINGERPRINT_FRAMES,
    READ_BYTES_PER_S,
    THUMBS_MAX_BYTES,
    TIME_BASE_LINE,
    Budget,
    Look,
    budget_of,
    convert_command,
    last_words,
    look,
    run_look,
)
from kit.media.streams import (
    FIRST,
    SIZE_ON_LINE,
    Film,
    choose_film,
    demuxer,
    dropped,
    film_candidates,
    input_streams,
    no_video,
    picture_words,
    still_picture,
)

MAX_FPS = 1000

# Pixel formats of the .y4m and .yuv clips the kit reads by their frames' size: (chroma width divisor, chroma height
# divisor, bytes per sample). A master keeps the format its decoder gives (kit.media.pixfmt.score_pix_fmt).
PIX_FMTS: dict[str, tuple[int, int, int]] = {
    "yuv420p": (2, 2, 1), "yuv422p": (2, 1, 1), "yuv444p": (1, 1, 1),
    "yuv420p10le": (2, 2, 2), "yuv422p10le": (2, 1, 2), "yuv444p10le": (1, 1, 2),
    "yuv420p12le": (2, 2, 2), "yuv422p12le": (2, 1, 2), "yuv444p12le": (1, 1, 2),
    "yuv420p16le": (2, 2, 2), "yuv422p16le": (2, 1, 2), "yuv444p16le": (1, 1, 2),
    "gray": (0, 0, 1), "gray10le": (0, 0, 2),
}
Geometry = tuple[int, int, str, str, int]  # width, height, fps "num/den", pix_fmt, frames

STREAM_LINE = re.compile(r"Stream #0:\d+.*?: Video: .*")
# the hash muxer's one line (written to pipe:2, so among ffmpeg's log lines; a look puts it after the log:
# kit.media.looks.muxed_lines_last)
HASH_LINE = re.compile(r"SHA256=([0-9a-f]{64})[ \t]*$", re.MULTILINE)



def video_line(stderr: str, video: int = 0) -> str | None:
    """The stream line of input #0's video stream `video` (its place among them: kit.media.streams.Film), as
    `Video: CODEC, ...`; None where there is none."""
    found = [s for s in input_streams(stderr) if s.kind == "Video"]
    return f"Video: {found[video].detail}" if len(found) > video else None


def parse_probe(stderr: str, video: int = 0) -> tuple[int, int, str, str]:
    """(width, height, fps, pix_fmt) of a decode's video stream `video` (the first, or the film's place), the
    size as decoded (a phone's rotation)."""
    lines = [m.group(0) for m in STREAM_LINE.finditer(stderr)]
    line = video_line(stderr, video)
    if not lines or line is None:
        raise ValueError("no video stream")
    decoded = next((ln for ln in lines[1:] if "wrapped_avframe" in ln), line)
    # any size, 2x2 too (the refusal of a picture under the least size says why; a parse failure would not), whole:
    # ffmpeg follows it with a comma, " [SAR" or " (coded", so a line cut inside it ("64x4" of 64x48) is not read
    size = SIZE_ON_LINE.search(decoded) or SIZE_ON_LINE.search(line)
    rates = [m for word in ("fps", "tbr") if (m := re.search(rf"(\d+(?:\.\d+)?)(k?) {word}", line))]
    # the first a video can have: a DV file's average rate reads "60k fps" (its time base), its tbr the true 25
    fps = next((m for m in rates if float(m.group(1)) * (1000 if m.group(2) else 1) <= MAX_FPS), None)
    # at -loglevel verbose (a second look) the codec is followed by its reference frames: "h264, 1 reference frame"
    pix = re.search(r"Video: [^,]+, (?:\d+ reference frames?(?: \([^)]*\))?, )?([a-z0-9_]+)[(,]", line)
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
# an input's closing line at -loglevel verbose: the packets its video stream gave, the frames its decoder made of them,
# and the packets it could not decode
_DECODED = re.compile(r"Input stream #\d+:\d+ \(video\): (\d+) packets read \(\d+ bytes\); (\d+) frames decoded; "
                      r"(\d+) decode errors")
# a decoder's own words on a picture it damaged, most telling first: error resilience's concealment of it, then a
# macroblock it could not decode; ffmpeg's flag on a frame its decoder marked damaged (what -xerror stops on) last
_DAMAGE_WORDS = (re.compile(r"concealing \d+ DC, \d+ AC, \d+ MV errors in \w frame"),
                 re.compile(r"error while decoding MB \d+ \d+"))
CORRUPT_FRAME = "corrupt decoded frame"


# a demuxer's error on what no picture holds (a DV file whose timecode pack is missing or unreadable: its metadata,
# which the kit does not read; the file decodes whole under -xerror)
_NOT_PICTURES = re.compile(r"Detected timecode is invalid")


def demuxer_damage(stderr: str, decoder_too: bool = True) -> str:
    """The first error a decode logged on its input side or packet its demuxer marked corrupt, "" for none (a demuxer
    resyncs: a strict decode can exit 0 with frames missing); without `decoder_too`, the demuxer's alone."""
    name = demuxer(stderr)  # its own lines are prefixed with its name
    own = ("[in#", f"[{name} @") if name else ("[in#",)
    for line in stderr.splitlines():
        if not decoder_too and not line.strip().startswith(own):
            continue
        m = _ERROR_LINE.search(line)
        if m and not _OUTPUT_SIDE.match(line.strip()) and not _NOT_PICTURES.search(line):
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
    frames = len(thumbs) // GRID_BYTES
    return Fingerprint(hashes[0], build_signature(thumbs), frames, repeats_of(res.stderr, frames),
                       times_of(res.stderr, frames))


def repeats_of(stderr: str, frames: int) -> Repeats | None:
    """Which of the `frames` decoded pictures repeat the one before, from each one's md5 line; None where the lines
    kept are not one per frame (a clip so long that its stderr's middle was not kept: kit.infra.proc)."""
    hashes = FRAME_LINE.findall(stderr)
    return Repeats.of(hashes) if len(hashes) == frames else None


def times_of(stderr: str, frames: int) -> FrameTimes | None:
    """Each of the `frames` decoded pictures' time, from its md5 line's pts and the framehash header's time base; None
    where the lines kept are not one per frame, or no header says the time base."""
    ticks = [int(pts) for pts in FRAME_PTS.findall(stderr)]
    base = TIME_BASE_LINE.search(stderr)
    if len(ticks) != frames or base is None or not int(base.group(1)) or not int(base.group(2)):
        return None
    return FrameTimes.of(ticks, Fraction(int(base.group(1)), int(base.group(2))))


class Opened(NamedTuple):
    """What opening a file tells before its decode: its rate, the decoder's pixel format, its looks' budget, and which
    of its video streams is its film (kit.media.streams.Film: not a cover's, not a thumbnail track's), which every
    look after reads."""

    fps: str
    pix_fmt: str
    budget: Budget
    film: Film

    @property
    def stream(self) -> str | None:
        return self.film.spec


def open_clip_streams(path: Path, ffmpeg: str) -> Opened:
    """Open `path` with ffmpeg, decoding nothing (within LOOK_START_S: ffmpeg reads at most its probesize, 5 MB), and
    choose its film (kit.media.streams.choose_film: where several video streams could be, each one's frames counted
    first, count_frames); InputError naming it when it holds no video or none ffmpeg reads, or does not open in that
    time."""
    # no film is chosen yet: a fix printed for an open that stalls converts the first video stream
    res = run_look(path, build_open_argv(ffmpeg, path), LOOK_START_S, "opening it", film=FIRST)
    refuse_no_video(path, res.stderr)
    try:
        film = choose_film(res.stderr, count_frames(path, ffmpeg) if len(film_candidates(res.stderr)) > 1 else ())
    except ValueError as exc:  # the count saw other streams than the open did: the file changed between the two
        raise InputError(f"{path}: its video streams changed while the kit read it ({exc})",
                         hint="run the same command again once nothing writes the file", retry_helps=True) from exc
    try:
        width, height, fps, pix_fmt = parse_probe(res.stderr, film.place)
    except ValueError:
        raise InputError(Spelled(PurePath(path), ": not a readable video",
                                 heard(telling_line(res.stderr), [PurePath(path)], lead=" (", trail=")")),
                         hint="check the file plays, or remove it from --ref-dir") from None
    frames = round(parse_duration(res.stderr) * float(Fraction(fps)))
    if frames < 1:  # a container that gives no duration (a live recording's .webm): its packets counted
        frames = count_packets(path, ffmpeg, film)
    return Opened(fps, pix_fmt, budget_of(frames, width, height), film)


# an input's closing line at -loglevel verbose, of each stream a copy read: the packets its demuxer gave
_PACKETS_READ = re.compile(r"Input stream #0:(\d+) \(video\): (\d+) packets read")


def count_frames(path: Path, ffmpeg: str) -> tuple[int, ...]:
    """Each video stream's frames (its packets, read to nowhere, decoding nothing: build_frames_count_argv), by its
    place among them, however long that takes while a packet comes within LOOK_START_S and a MB's read at
    READ_BYTES_PER_S; InputError naming the file where ffmpeg does not count them all."""
    # no film is chosen yet: a fix printed for a count that stalls converts the first video stream
    res = run_look(path, build_frames_count_argv(ffmpeg, path), math.inf, "counting the frames of its video streams",
                   stall_s=LOOK_START_S + 1e6 / READ_BYTES_PER_S, lines=True, film=FIRST)
    counted = {int(index): int(n) for index, n in _PACKETS_READ.findall(res.stderr)}
    video = [s.index for s in input_streams(res.stderr) if s.kind == "Video"]
    if res.returncode != 0 or not video or any(index not in counted for index in video):
        raise InputError(f"{path}: ffmpeg cannot count the frames of its {len(video)} video streams "
                         f"({telling_line(res.stderr) or 'it printed no count'}), so the kit cannot tell which is "
                         "its film", hint="check the file plays, or remove it from --ref-dir")
    return tuple(counted[index] for index in video)


# the codecs that only code a picture losslessly, as ffmpeg's stream line names them
LOSSLESS_CODECS = frozenset({"ffv1", "huffyuv", "ffvhuff", "utvideo", "magicyuv", "png", "apng", "rawvideo", "v210",
                             "v410", "r210", "r10k", "v308", "v408", "yuv4", "y41p", "zlib", "lagarith", "qtrle",
                             "ljpeg", "jpegls", "qoi"})
_TRACED = re.compile(r"^\[trace_headers @ [^\]]*\]\s+\d+\s+([\w.]+)(?:\[[^\]]*\])*\s+[01]+ = (-?\d+)", re.MULTILINE)


def lossless_coding(path: Path, ffmpeg: str, film: Film) -> str:
    """How a master's first picture says it was coded losslessly (`ffv1, a lossless codec`; `H.264 at QP 0 with its
    transform bypassed`), or "" when it is not, or cannot be told: one look at its first packet's headers
    (build_headers_argv), which decodes nothing; of its `film` (a cover before it, a still picture, was traced
    instead)."""
    try:
        res = run_look(path, build_headers_argv(ffmpeg, path, film.spec), LOOK_START_S,
                       "reading its first picture's headers", film=film)
    except (InputError, ToolError):  # a clip that cannot be read so is judged by its bitrate, as before
        return ""
    streams = [s for s in input_streams(res.stderr) if s.kind == "Video"]
    codec = streams[film.place].detail.split(" ", 1)[0].rstrip(",") if film.place < len(streams) else ""
    if codec in LOSSLESS_CODECS:
        return f"{codec}, a lossless codec"
    fields: dict[str, int] = {}
    for name, value in _TRACED.findall(res.stderr):
        fields.setdefault(name, int(value))  # the first picture's
    return traced_lossless(codec, fields)


def traced_lossless(codec: str, fields: dict[str, int]) -> str:
    """Whether the traced headers of a picture of `codec` code it losslessly, said as that; "" otherwise."""
    if codec == "h264" and fields.get("qpprime_y_zero_transform_bypass_flag") == 1 and \
            fields.get("pic_init_qp_minus26", 0) + fields.get("slice_qp_delta", 0) == -26:
        return "H.264 at QP 0 with its transform bypassed (lossless)"
    if codec == "hevc" and fields.get("transquant_bypass_enabled_flag") == 1:
        return "HEVC with its transform and quantisation bypassed (lossless)"
    if codec in ("vp9", "av1") and fields.get("base_q_idx") == 0 and not any(
            v for k, v in fields.items() if k.startswith("delta_q_") and k.endswith(".delta_coded")):
        return f"{codec.upper()} at quantiser index 0 (lossless)"
    return ""


def count_packets(path: Path, ffmpeg: str, film: Film) -> int:
    """The packets of its `film`, read to nowhere (no decode), however long that takes while it counts one on within
    LOOK_START_S and a MB's read at READ_BYTES_PER_S; 0 when ffmpeg counts none."""
    res = run_look(path, build_count_argv(ffmpeg, path, progress=True, stream=film.spec), math.inf,
                   "counting its packets", stall_s=LOOK_START_S + 1e6 / READ_BYTES_PER_S, frames=True, film=film)
    try:
        return parse_frame_count(res.stderr) if res.returncode == 0 else 0
    except ValueError:
        return 0


class MasterDecode(NamedTuple):
    """What the one strict decode of a master tells (notes: what of it the corpus does not keep,
    kit.media.streams.dropped, and how a second or third look read it; `film`: which of its video streams it read,
    kit.media.streams.Film)."""

    geometry: Geometry
    identity: Fingerprint
    dropped: tuple[str, ...]
    film: Film


# a master's looks, in order, each where the one before stopped (looks_again): the strict decode, the file as ffmpeg
# plays it stopped by a damaged picture, and as a player plays it
LOOKS: tuple[tuple[Look, tuple[str, ...]], ...] = (("strict", STRICT_DECODE), ("second", SECOND_LOOK),
                                                   ("third", AS_PLAYED))


def decode_master(path: Path, ffmpeg: str) -> MasterDecode:
    """A master's geometry and fingerprint from one strict decode, or from the looks after it where it stopped."""
    opened = open_clip_streams(path, ffmpeg)
    earlier: list[ProcResult] = []
    for kind, checks in LOOKS:
        argv = (build_fingerprint_argv(ffmpeg, ["-i", spelled_path(path)], checks=checks, count=True,
                                       stream=opened.stream)
                if kind == "strict" else build_second_look_argv(ffmpeg, path, opened.fps, checks, opened.stream))
        res = look(path, argv, opened.budget, kind, opened.film)
        if not looks_again(res, earlier):
            break
        earlier.append(res)
    return read_master_decode(path, res, earlier, opened.film)


def looks_again(res: ProcResult, earlier: Sequence[ProcResult]) -> bool:
    """Whether a master's look `res` (after `earlier` ones) is followed by the next: a strict decode of a file holding
    a video stream that stopped (anywhere: on damage, or on what ffmpeg then plays past, a stray slice before the first
    picture, a last frame whose timestamp steps back); a second look stopped ahead of its first picture by a packet its
    decoder cannot decode (no picture flagged: the third look says whether ffmpeg plays the rest whole)."""
    if res.returncode == 0 or STREAM_LINE.search(res.stderr) is None or no_video(res.stderr) is not None:
        return False
    if not earlier:
        return True
    counts = _DECODED.search(res.stderr)  # none where ffmpeg died before its closing lines: refused as it is
    return len(earlier) == 1 and CORRUPT_FRAME not in res.stderr and counts is not None and counts.group(2) == "0"


class Played(NamedTuple):
    """A look's video input as its closing lines count it (-loglevel verbose)."""

    packets: int  # read
    frames: int  # its decoder made of them
    errors: int  # packets its decoder could not decode
    flagged: int  # pictures it flagged damaged (each a `corrupt decoded frame` line)


def played(stderr: str) -> Played:
    """What a second or third look's closing lines count of its video input; ValueError where they are missing."""
    counts = _DECODED.search(stderr)
    if counts is None:
        raise ValueError("the decode printed no count of its packets and frames")
    packets, frames, errors = (int(n) for n in counts.groups())
    return Played(packets, frames, errors, stderr.count(CORRUPT_FRAME))


def decoder_damage(stderr: str) -> str:
    """A decoder's own words on a picture it damaged (_DAMAGE_WORDS), "" when it said none."""
    return next((m.group(0) for words in _DAMAGE_WORDS if (m := words.search(stderr))), "")


def damage_words(stderr: str) -> str:
    """A decoder's own words on the picture it damaged (_DAMAGE_WORDS), else ffmpeg's flag's."""
    return decoder_damage(stderr) or CORRUPT_FRAME


def where_it_stopped(stderr: str) -> str:
    """Why a second look stopped, in ffmpeg's words, naming the frame: the first picture its decoder flagged damaged
    (the frames decoded before it are its index), or the packet it could not decode."""
    frames = played(stderr).frames
    if CORRUPT_FRAME in stderr:
        return (f"frame {frames} is damaged: ffmpeg conceals it ('{damage_words(stderr)}') and plays on, and the "
                "frames predicted from it, up to the next key picture, carry the damage")
    said = demuxer_damage(stderr) or telling_line(stderr)
    if frames:  # the same words as a strict decode's (read_master_decode): the frames it gave before it stopped
        return f"decoding failed after frame {frames}: {said}; ffmpeg plays on without that picture"
    return f"decoding failed before its first frame: {said}"


def played_whole(earlier: Sequence[ProcResult], res: ProcResult) -> tuple[str, ...]:
    """The notes of a master a second or third look (`res`, after `earlier`) found ffmpeg plays whole; ValueError
    saying where it does not, in ffmpeg's words, naming the frame where the look can."""
    if res.returncode != 0 and len(earlier) == 1:  # -xerror stopped it: on a damaged picture, or a packet
        raise ValueError(where_it_stopped(res.stderr))
    if len(earlier) == 2:  # nothing stopped the third look: its closing lines say what it met
        refuse_third_look(res)
    if words := decoder_damage(res.stderr):  # concealed, and not flagged (-xerror stops on the flag alone): a damaged
        # first picture of a stream with B-frames is not output, and each frame ffmpeg plays is predicted from it
        raise ValueError(f"a picture is damaged: ffmpeg conceals it ('{words}') and plays on, and the frames "
                         "predicted from it, up to the next key picture, carry the damage")
    counts = played(res.stderr)
    stopped = demuxer_damage(earlier[0].stderr) or telling_line(earlier[0].stderr)
    ahead = (": ffmpeg cannot decode one packet ahead of its first picture, then" if len(earlier) == 2
             else ", but ffmpeg")
    notes = [f"its strict decode stopped ('{stopped}'){ahead} plays every picture whole, none flagged damaged: the kit "
             "reads it as ffmpeg plays it"]
    if (none := counts.packets - counts.frames) > 0:
        notes.append(f"{none} of its {counts.packets} video packets {'gives' if none == 1 else 'give'} no picture: "
                     f"the {counts.frames} frames ffmpeg plays are the clip's")
    return tuple(notes)


def refuse_third_look(res: ProcResult) -> None:
    """ValueError, in ffmpeg's words, where a third look did not play every picture whole after the one packet ahead
    of its first picture that the second look met: another packet it could not decode, or a picture it flagged."""
    counts = played(res.stderr)
    if lines := lines_not_kept(res.stderr):  # the lines flagging pictures may be among those left out
        raise ValueError(f"ffmpeg said {lines:,} lines more while it played it than the kit keeps, so the kit "
                         f"cannot tell its pictures whole (its last words: '{last_words(res.stderr)}')")
    if res.returncode != 0 or counts.flagged or counts.errors > 1:
        raise ValueError(f"ffmpeg cannot decode a packet ahead of its first picture, then {counts.errors - 1} more "
                         f"packets and flags {counts.flagged} pictures damaged"
                         + (f" ('{damage_words(res.stderr)}')" if counts.flagged else ""))


def refuse_no_video(path: Path, stderr: str) -> None:
    """Refuse a file ffmpeg opened that holds no video stream (kit.media.streams.no_video), naming what it holds."""
    if (holds := no_video(stderr)) is not None:
        raise InputError(f"{path}: not a video: it has no video stream ({holds})",
                         hint="a reference clip is a video: remove this file from --ref-dir, or put the video it "
                              "belongs with there instead")


def read_master_decode(path: Path, res: ProcResult, earlier: Sequence[ProcResult], film: Film) -> MasterDecode:
    """What a strict, counting decode of `path`'s `film` tells, or (`earlier`: the looks before it, the strict decode
    first) a second or third look's; InputError naming the file when it holds no video, did not decode to its end (a
    second look: the frame where ffmpeg flags damage), or its demuxer skipped damaged data."""
    refuse_no_video(path, res.stderr)
    try:
        notes = played_whole(earlier, res) if earlier else ()
        if res.returncode != 0:
            counts = re.findall(r"frame=\s*(\d+)", res.stderr)
            where = f" after frame {counts[-1]}" if counts else ""
            raise ValueError(f"decoding failed{where}: {demuxer_damage(res.stderr) or telling_line(res.stderr)}")
        width, height, fps, pix_fmt = parse_probe(res.stderr, film.place)
        refuse_size_change(path, res.stderr, (width, height), film.place)
        n_frames = parse_frame_count(res.stderr)
        if n_frames <= 1 and (reader := still_picture(res.stderr)) is not None:  # a cover saved as thumb.mp4
            raise InputError(f"{path}: {picture_words(reader)}",
                             hint="a reference clip is a video: remove this picture from --ref-dir")
        if damage := demuxer_damage(res.stderr, decoder_too=not earlier):
            raise InputError(Spelled(PurePath(path), ": damaged container: the demuxer skipped data",
                                     heard(damage, [PurePath(path)], lead=" (", trail=")"),
                                     f"; only {n_frames} frames decode, so every job would fail on frame counts"),
                             hint="copy or re-export the clip again, or remove it from --ref-dir")
        identity = parse_fingerprint(res)
    except ValueError as exc:
        raise InputError(Spelled(PurePath(path), ": not a readable video", heard(str(exc), [PurePath(path)], lead=" (",
                                                                                trail=")")),
                         hint=unreadable_hint(path, res.stderr, film)) from exc
    return MasterDecode((width, height, fps, pix_fmt, n_frames), identity, (*notes, *dropped(res.stderr, film)), film)


# ffmpeg's line where a decoded picture's parameters differ from those its filters were made for: it scales (and
# converts) every later picture to the first ones' (its `-autoscale` default), so what the kit would score is no
# longer the file's pictures
# ffmpeg 9 follows the size with ", unspecified alpha", 7 ends the line with it: a size is whole before a comma or the
# line's end (a line cut at the end of what was kept has none)
_RECONFIGURED = re.compile(r"Reconfiguring filter graph because video parameters changed to .*?, "
                           r"(\d{1,5})x(\d{1,5})(?=,|\r?\n)")


def refuse_size_change(path: Path, stderr: str, decoded: tuple[int, int], video: int = 0) -> None:
    """InputError naming the clip when its pictures change size mid-stream (`decoded`: the size of its first, as the
    decode's output gives it, turned for a phone's rotation; `video`: the stream read). ffmpeg's line where it makes
    its filters again says the decoder's size, before any turn: each is held to the first picture's as its decoder
    gave it (a turned clip's turned back), so a change to the turned size is one too."""
    line = video_line(stderr, video)
    header = SIZE_ON_LINE.search(line) if line else None
    own = (int(header[1]), int(header[2])) if header else decoded  # the stream's size as opened, before a rotation
    turned = own != decoded and own == decoded[::-1]  # a display matrix's quarter turn: its output is the stream's
    first = (decoded[1], decoded[0]) if turned else decoded
    for m in _RECONFIGURED.finditer(stderr):
        if (int(m[1]), int(m[2])) != first:
            raise InputError(f"{path}: its pictures change size mid-stream ({first[0]}x{first[1]} to {m[1]}x{m[2]}"
                             f"{', as its decoder gives them before their display turn' if turned else ''}): ffmpeg "
                             "would scale the later ones to the first size, so what would be scored is not the file's "
                             "pictures",
                             hint="cut it into one clip per size where the size changes (ffmpeg's showinfo filter "
                                  "prints each picture's size), or remove it from --ref-dir")


def unreadable_hint(path: Path, stderr: str, film: Film) -> str:
    """The fix of a master that does not decode whole: where it has a video stream, the lossless copy ffmpeg plays of
    its `film`."""
    if STREAM_LINE.search(stderr) is None:
        return "check the file plays, or remove it from --ref-dir"
    return Spelled("re-export or copy it again from its source; or, to use it as a player shows it, move it out of "
                   "--ref-dir and use in its place the lossless copy of what ffmpeg plays of it (its damage "
                   "concealed), made with the kit's ffmpeg: ", convert_command(path, film))


def decode_pictures(path: Path, input_args: Sequence[str], ffmpeg: str, budget: Budget) -> Fingerprint:
    """The fingerprint of a .y4m/.yuv clip (read by `input_args`): one ffmpeg pass over the file, within `budget`."""
    res = look(path, build_fingerprint_argv(ffmpeg, input_args), budget, "pictures", FIRST)
    hint = "check the clip plays, or remove it from --ref-dir"
    if res.returncode != 0:  # how it ended (the kit's words, sent), then what ffmpeg said (the box's alone)
        how, said, _ = how_it_ended(res)
        raise InputError(Spelled(PurePath(path), f": cannot fingerprint its pictures (ffmpeg {how}",
                                 *((heard(said, [PurePath(path)], lead=": "),) if said else ()), ")"), hint=hint)
    try:
        identity = parse_fingerprint(res)
        if identity.frames != (frames := round(budget.pixels / budget.frame_pixels)):  # its output cut short
            raise ValueError(f"the decode gave {identity.frames} frames' thumbnails, the clip holds {frames}")
        return identity
    except ValueError as exc:  # the kit's words of what it read (parse_fingerprint's)
        raise InputError(Spelled(PurePath(path), f": cannot fingerprint its pictures ({exc})"), hint=hint) from exc
