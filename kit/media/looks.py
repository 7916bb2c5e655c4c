"""How long a look at a reference clip may go without progress, by the clip's own size (Budget, never a fixed time,
never its whole length), in ffmpeg's own time, and what a look stopped there becomes: the clip left out of this run in
the box's words, with ffmpeg's last words and the command that reads the file anyway, never kept as the clip's
refusal: the next run looks again (docs/design/robustness.md, "Bounded looks").

The passes each kind of look makes (LOOK_PASSES) are measured by bench/bench_looks.py. A refusal a look gives for what
the file's bytes decide is an InputError naming the clip, which discovery leaves out and kit.media.cache keeps per file
version."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path, PurePath
from typing import Literal, NamedTuple

from kit.errors import InputError, ToolError
from kit.infra import scratch
from kit.infra.ended import Ended, moment_of_end
from kit.infra.files import name_beside
from kit.infra.invocation import kit_command
from kit.infra.proc import STOPPED_CAUSE, ProcResult, TimedOut, lines_not_kept, run_process
from kit.infra.shown import Spelled, heard
from kit.media.ffmpeg import (
    CAPPED_FIX,
    box_short_of,
    end_of,
    how_it_ended,
    how_it_stopped,
    outputs_whole,
    telling_line,
)
from kit.media.fingerprint import GRID_BYTES
from kit.media.streams import FIRST, Film

MAX_FINGERPRINT_FRAMES = 180_000  # thumbnails held in memory at once (276 MB): 100 minutes at 30 fps
THUMBS_MAX_BYTES = MAX_FINGERPRINT_FRAMES * GRID_BYTES

# A look's budget: a multiple of a plain decode of the clip (`ffmpeg -i CLIP -map 0:v:0 -f null -`), that decode priced
# at PLAIN_DECODE_PX_PER_S, the slowest the kit expects of a box, plus LOOK_START_S; never a fixed time (a whole film
# outruns any, and a hung decoder outlives it). Measured (bench/bench_looks.py, 2 cores at a load average of 11 to 14):
# a plain decode ran at 66 (HEVC 4K 10-bit) to 1,022 (opencv-doc's Megamind.avi) Mpx/s, h264 1080p at 126, so the
# price is 8x below the slowest. A look's multiple (LOOK_PASSES) is its cost in plain decodes at that price, at least
# 2.5x the most measured on that box (the copy's check, 7x: it ran 87 s for vtest.avi with its copy at a load of 17).
PLAIN_DECODE_PX_PER_S = 8e6  # 1080p at about 4 frames a second
LOOK_START_S = 30.0  # ffmpeg's start and its open of the file (at most 5 MB read: its probesize) on a loaded box
Look = Literal["strict", "second", "third", "copy", "check", "pictures"]
LOOK_PASSES: dict[Look, float] = {
    "strict": 2,  # the first look: a decode, each pixel hashed, each frame's thumbnail (measured up to 0.58)
    "second": 2,  # the second look (kit.media.decode): the same outputs (measured up to 0.75: HEVC 4K 10-bit)
    "third": 2,  # the third: the same
    "copy": 4,  # a first look writing the lossless copy too, an FFV1 encode (measured up to 0.47)
    "check": 6,  # the copy decoded again and hashed: FFV1 decodes slower than most codecs (measured up to 0.85)
    "pictures": 2,  # a .y4m/.yuv read as it is, hashed and thumbnailed: the strict look's outputs, no decode
}
LOOK_DOING: dict[Look, str] = {
    "strict": "decoding it strictly", "second": "decoding it as it plays, on a second look",
    "third": "decoding it as it plays, on a third look", "copy": "making its lossless copy",
    "check": "checking its lossless copy", "pictures": "reading its pictures",
}
# a look that writes each frame's thumbnail as it goes is stuck when none comes for LOOK_START_S and this many frames
# at its price: a decoder's frame threads and reordering hold back a few frames (16 threads, 16 B-frames at most)
STALL_FRAMES = 64
READ_BYTES_PER_S = 1e6  # the slowest a file is read (a network share): where ffmpeg gives no duration, packets counted
STDERR_WORDS = 25  # the last lines of a look that timed out, where its telling words are looked for
LINES_KEPT_BYTES = 4096  # of a look's stdout whose lines are only its progress (a count's line per packet)


class Budget(NamedTuple):
    """How long each look at one clip may run: LOOK_START_S, and its LOOK_PASSES plain decodes of `pixels` (frames x
    width x height) at PLAIN_DECODE_PX_PER_S; `size` says the clip's size in the refusal of a look past it."""

    pixels: float
    frame_pixels: float  # width x height
    size: str  # "455 frames of 640x480"

    def seconds(self, look: Look) -> float:
        return LOOK_START_S + LOOK_PASSES[look] * self.pixels / PLAIN_DECODE_PX_PER_S

    def stall_s(self, look: Look) -> float:
        """How long a look writing each frame's thumbnail may go without one (STALL_FRAMES frames' worth)."""
        return LOOK_START_S + LOOK_PASSES[look] * STALL_FRAMES * self.frame_pixels / PLAIN_DECODE_PX_PER_S

    def rule(self, look: Look) -> str:
        """How seconds(look) was reached, in words."""
        return (f"{LOOK_PASSES[look]:g} plain decodes of its {self.size} at {PLAIN_DECODE_PX_PER_S / 1e6:g} Mpx/s, "
                f"the slowest the kit allows, and {LOOK_START_S:.0f} s")


def budget_of(frames: int, width: int, height: int) -> Budget:
    """The looks' budget of a clip of `frames` frames of `width` x `height`."""
    return Budget(frames * width * height, width * height, f"{frames:,} frames of {width}x{height}")


class LookCutShort(InputError):
    """A look KIT_TIMEOUT_S stopped before the clip's own budget: another cap may read it (never kept as the clip's).
    `moment`: the moment that left it out (kit.infra.ended.MOMENTS), typed from how its ffmpeg ended."""

    moment: str | None = None

    def __init__(self, message: str, hint: str = "", end: Ended | None = None) -> None:
        super().__init__(message, hint)
        if (moment := moment_of_end(end)) is not None:
            self.moment = moment


# what a look's muxers write to stderr (pipe:2) among ffmpeg's log lines: the framehash muxer's line of each frame
# (kit.media.argv.FRAME_HASHES: stream 0, dts, pts, duration, size, md5) and the hash muxer's one SHA256= line. Each is
# written whole (-flush_packets 1; the hash at the end), but not under the logger's lock, and ffmpeg's logger writes a
# log line in parts (its level, its context, its message) from another thread: under load a muxer's line lands inside a
# log line ("[info]   Stream #4:0" + the frame's line + ": Video: ffv1 ..."). So each is found wherever it starts (a
# look maps one stream, so its frame lines are stream 0's; four numbers and an md5 are no log line's words). Seen: one
# run in three of two workers on a 36-frame MJPEG (a frame's md5 lost), and an HDV stream's copy refused for colour
# tags its log line no longer said whole
FRAME_LINE = re.compile(r"0,(?: +-?\d+,){4} +([0-9a-f]{32})[ \t]*$", re.MULTILINE)
# the same line's pts (its third number), in the time base of the framehash muxer's header line (`#tb 0: 1/1000`,
# written once, whole, before the first frame's line: kit.media.decode.times_of)
FRAME_PTS = re.compile(r"0, +-?\d+, +(-?\d+),(?: +-?\d+,){2} +[0-9a-f]{32}[ \t]*$", re.MULTILINE)
TIME_BASE_LINE = re.compile(r"#tb 0: (\d+)/(\d+)")
_MUXED_WHOLE = re.compile(r"(?:0,(?: +-?\d+,){4} +[0-9a-f]{32}|SHA256=[0-9a-f]{64})[ \t]*\n?")


def muxed_lines_last(stderr: str) -> str:
    """`stderr` with each line a muxer wrote (each frame's md5, the pictures' sha256) taken out of wherever it landed,
    in order, after the log: every log line whole again for the parsers that read it (a stream's colour tags, the
    frames decoded, a decoder's words)."""
    lines = [m.group(0).rstrip() + "\n" for m in _MUXED_WHOLE.finditer(stderr)]
    if not lines:
        return stderr
    log = _MUXED_WHOLE.sub("", stderr)
    return log + ("" if not log or log.endswith("\n") else "\n") + "".join(lines)


# how many times a look is taken while another thread cuts its outputs' lines (1 in 150 at a load of 4: three tries
# leave about 1 in 3 million)
LOOK_TRIES = 3


def run_look(path: Path, argv: list[str], timeout_s: float, doing: str, *, film: Film, thumbnails: bool = False,
             lines: bool = False, rule: str = "", stall_s: float | None = None, frames: bool = False,
             writes: bool = False) -> ProcResult:
    """One look at `path`'s `film` (what a fix it prints converts: kit.media.streams.Film) (`thumbnails`: its stdout
    kept, up to THUMBS_MAX_BYTES; `lines`: its stdout's lines its progress, a count's line per packet, not kept;
    `stall_s`: how long it may go without one, or, `frames`, without a frame counted on in its `-progress` lines;
    `timeout_s`, math.inf where it has a stall, an open's few seconds where it has none), both in its own time
    (kit.infra.clock.OwnTime). A look
    stopped at its limit, killed from outside, or failed on what the box ran short of is the moment's: the clip is
    left out of this run, never kept as its refusal (LookCutShort), and the next run looks again. A look whose
    outputs' stream lines another of ffmpeg's threads cut (kit.media.ffmpeg.outputs_whole) is taken again, up to
    LOOK_TRIES times: what the kit reads in them (a copy's colour tags, a turned phone clip's size) is then read whole,
    never guessed from the file's own line. A full disk stops the run (ToolError), but where the look `writes` a file
    (the lossless copy: its caller names the folder)."""
    for attempt in range(1, LOOK_TRIES + 1):
        try:
            res = run_process(argv, timeout_s=timeout_s, capture_stdout=thumbnails or lines,
                              stdout_max_bytes=THUMBS_MAX_BYTES if thumbnails else LINES_KEPT_BYTES, stall_s=stall_s,
                              frames=frames)
        except TimedOut as exc:
            raise look_refusal(path, doing, rule, timeout_s, exc, film) from None
        short = box_short_of(res.stderr) if res.returncode != 0 else None
        if short is not None and short.disk and not writes:  # the box's: the run stops
            raise ToolError(Spelled(PurePath(path), f": ffmpeg failed (exit {res.returncode}) on a full disk {doing}"),
                            hint="free space on the disk that is full (the kit's cache, the temporary folder: "
                                 f"{scratch.said_temp_folder()}, or the out-dir), then run the same command again: "
                                 "nothing is kept of this look",
                            stderr_tail=res.stderr_tail)
        # a full disk where the look writes a file (its lossless copy) is its caller's to say, naming the folder
        if res.killed_by is not None or (short is not None and not short.disk):
            how, said, again = how_it_ended(res)
            last = (heard(said, [PurePath(path)], lead="; its last words: '", trail="'"),) if said else ()
            message = Spelled(PurePath(path), f": ffmpeg {how} {doing}", *last)
            if again:  # never kept as the clip's refusal (a LookCutShort): the next run looks again
                raise LookKilled(message, hint="not the file's fault: the same command again looks at it again",
                                 end=end_of(res))
            raise InputError(message, hint=Spelled("the kit's ffmpeg crashes on this file: if the file plays "
                                                   "elsewhere, use in its place a lossless copy of it made by that "
                                                   "player; or remove it from --ref-dir"))
        res = dataclasses.replace(res, stderr=muxed_lines_last(res.stderr))
        # a log the kit kept only part of (a child's first 64 KiB and last 4 MiB) may lack a line no thread cut
        if outputs_whole(res.stderr) or lines_not_kept(res.stderr) or attempt == LOOK_TRIES:
            return res
    raise AssertionError("the last try is returned")


class LookKilled(LookCutShort):
    """A look killed from outside the kit (a kill, the system out of memory), or failed on what the box ran short of
    (a full disk, its memory): the clip is left out of this run only, and the same command looks at it again."""

    retry_helps = True


class LookStalled(LookCutShort):
    """A look that showed no progress for its stall (or ran past an open's few seconds), in its own time: never kept
    as the clip's refusal (a box short of memory, a stalled disk or share holds a look so too), and the same command
    looks at it again."""

    retry_helps = True


def look_refusal(path: Path, doing: str, rule: str, timeout_s: float, stopped: TimedOut, film: Film) -> InputError:
    """The refusal of a clip whose look (`doing`) stalled or ran past its limit (`timeout_s`): never the clip's
    (LookCutShort, LookStalled), in the box's words; ffmpeg's last words and the command that reads its `film` anyway
    said after, for a look that stalls again and again."""
    stop = how_it_stopped(stopped)
    why = "" if stop.capped or stopped.stopped else \
        f", its limit ({STALL_FRAMES} frames' worth of its budget)" if stopped.stalled else \
        f", its limit ({rule or 'the time it may take'})"
    said = f" ({lines:,} lines not kept)" if (lines := lines_not_kept(stopped.stderr)) else ""
    last = last_words(stopped.stderr)
    # built from known parts (kit.infra.shown): the clip's path and the fix's paths shown in what the lead is sent,
    # ffmpeg's last words (naming the clip as it was given) the box's alone
    message = Spelled(PurePath(path), f": ffmpeg {stop.how} {doing}{why}",
                      *((heard(last, [PurePath(path)], lead="; its last words: '", trail=f"'{said}"),)
                        if last != "nothing" or said else ()),
                      f"; {stop.said}; {NOT_KEPT}")
    fix = Spelled("if the file plays, use in its place the lossless copy of what ffmpeg plays of it, made with the "
                  "kit's ffmpeg: ", convert_command(path, film))
    if stop.capped:
        return LookCutShort(message, hint=Spelled(f"{CAPPED_FIX}; or, ", fix), end=stopped.ended)
    if stopped.stopped:  # no fix of the file's: nothing of it held the look
        return LookStalled(message, hint=f"the same command again looks at it again: {STOPPED_CAUSE}",
                           end=stopped.ended)
    return LookStalled(message, hint=Spelled("the same command again looks at it again; should it stall there again, "
                                             "ffmpeg's decoder is stuck on the file: ", fix), end=stopped.ended)


NOT_KEPT = "not kept as the clip's refusal: the next run looks at it again"


def last_words(stderr: str) -> str:
    """The telling line (kit.media.ffmpeg.telling_line) of ffmpeg's last STDERR_WORDS lines: what it was saying when
    it was stopped (a loop repeats it), not what it said as it started."""
    return telling_line("\n".join(stderr.splitlines()[-STDERR_WORDS:])) or "nothing"


def look(path: Path, argv: list[str], budget: Budget, kind: Look, film: Film) -> ProcResult:
    """run_look for a decode of `path`'s `film` writing the fingerprint's thumbnails, however long it takes while a
    frame's thumbnail comes within `budget`'s stall for `kind` (the copy's writes its copy too)."""
    return run_look(path, argv, math.inf, LOOK_DOING[kind], film=film, thumbnails=True, rule=budget.rule(kind),
                    stall_s=budget.stall_s(kind), writes=kind == "copy")


def convert_command(path: Path, film: Film = FIRST) -> str:
    """The command that converts a video into a lossless FFV1 .mkv beside it (an .mkv's: `<name>-ffv1.mkv`): its
    `film` (kit.media.streams.Film: a cover or a thumbnail track beside it passed over; the first video stream of a
    file of one, or of one whose film is not chosen yet)."""
    source = path.absolute()
    dest = name_beside(source, source.stem, "-ffv1.mkv" if source.suffix.lower() == ".mkv" else ".mkv")
    return kit_command("ffmpeg", "-i", source, "-map", film.mapped, "-an", "-c:v", "ffv1", dest)


def stream_copy_command(path: Path, place: int) -> str:
    """The command that copies a file's video stream `place` (`-map 0:v:<place>`) alone, as it is, into an .mkv
    beside it (`<name>-v<place>.mkv`): a file whose film is that stream, for a file of video streams that could each
    be the film (kit.media.streams.Film.rivals)."""
    source = path.absolute()
    return kit_command("ffmpeg", "-i", source, "-map", f"0:v:{place}", "-c", "copy",
                       name_beside(source, f"{source.stem}-v{place}", ".mkv"))
