"""A clip's Fingerprint record, its signature's layout and its pictures' repeats (Repeats), without numpy (the CLI's
import path reads it: `--help` and `status` stay light). kit.media.signature makes and compares signatures."""

from __future__ import annotations

import base64
import binascii
import re
import sys
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise

from kit.infra.records import Record, keep
from kit.infra.rules import COUNT

# t2: taken inside the bars found over the clip; t1 (still read from older manifests): the whole picture
VERSION = "t2"
READ_VERSIONS = ("t1", VERSION)
THUMB = 8  # the signature's thumbnail side (luma)
GRID = 32  # the side of the thumbnail the decode writes of every frame (luma; its chroma planes are GRID/2 a side)
POSITIONS = 24  # relative positions sampled (each a pair of consecutive frames)
LUMA = THUMB * THUMB
CHROMA = (THUMB // 2) ** 2  # what the chroma planes of a 4:2:0 8x8 thumbnail hold: the weight of a chroma mean
GRID_BYTES = GRID * GRID * 3 // 2  # one yuv420p GRID x GRID thumbnail as ffmpeg's rawvideo writes it
FRAME = LUMA + 2  # a frame in the signature: the luma samples, then the U and V means
FRAMES_BYTES = POSITIONS * 2 * FRAME
CROP_BYTES = 4  # t2: after the frames, the bars cropped (top, bottom, left, right), each in 1/255 of the side


def inflated(data: bytes, size: int) -> bytes:
    """`data` inflated, never past `size` + 1 bytes: a payload from a file another box sent (a manifest, a cache) that
    holds more is refused by its length check, never inflated whole (a few MB can hold tens of GB)."""
    return zlib.decompressobj().decompress(data, size + 1)


def _payload(text: str) -> tuple[str, bytes]:
    tag, _, body = text.partition(":")
    if tag not in READ_VERSIONS:
        raise ValueError(f"signature version {tag!r} is not {' or '.join(map(repr, READ_VERSIONS))}")
    size = FRAMES_BYTES + (CROP_BYTES if tag == VERSION else 0)
    try:
        raw = inflated(base64.b64decode(body.encode("ascii"), validate=True), size)
    except (ValueError, binascii.Error, zlib.error) as exc:
        raise ValueError(f"damaged signature ({exc})") from None
    if len(raw) != size:
        raise ValueError(f"signature holds {len(raw)} bytes, not {size}")
    return tag, raw


def signature_bytes(text: str) -> bytes:
    """The raw frames a signature holds (POSITIONS x 2 x FRAME bytes); ValueError if it is not one."""
    return _payload(text)[1][:FRAMES_BYTES]


def signature_crop(text: str) -> tuple[float, float, float, float]:
    """The share of each side (top, bottom, left, right) the signature left out as bars; zeros for a t1 one."""
    tag, raw = _payload(text)
    if tag != VERSION:
        return 0.0, 0.0, 0.0, 0.0
    top, bottom, left, right = (b / 255 for b in raw[FRAMES_BYTES:])
    return top, bottom, left, right


REPEATS_SHOWN = 12  # the first frames whose pattern (a new picture or a repeat) a clip's Repeats keeps
NEW, REPEAT = "n", "r"


@dataclass(frozen=True)
class Repeats(Record):
    """Which of a clip's decoded pictures are the picture before them, bit for bit: each frame's md5 from the one decode
    that fingerprints it (kit.media.argv.build_fingerprint_argv), never a second decode. A still clip, whose pictures
    all differ however little, repeats none (issue 74)."""

    frames: int = field(metadata=keep(COUNT))
    repeated: int = field(metadata=keep(COUNT))  # frames whose picture is the one before's (the first never is)
    runs: int = field(metadata=keep(COUNT))  # runs of such frames
    longest: int = field(metadata=keep(COUNT))  # the longest run
    first: str  # the first REPEATS_SHOWN frames, each NEW or REPEAT

    @classmethod
    def of(cls, hashes: Sequence[str]) -> Repeats:
        """From each decoded frame's hash, in order."""
        flags = [i > 0 and h == hashes[i - 1] for i, h in enumerate(hashes)]
        lengths: list[int] = []
        for i, repeat in enumerate(flags):
            if repeat:
                if i and flags[i - 1]:
                    lengths[-1] += 1
                else:
                    lengths.append(1)
        return cls(len(hashes), sum(flags), len(lengths), max(lengths, default=0),
                   "".join(REPEAT if f else NEW for f in flags[:REPEATS_SHOWN]))

    def as_list(self) -> list[object]:
        """The form the hash cache keeps it in (kit.media.cache); `from_list` reads it back."""
        return [self.frames, self.repeated, self.runs, self.longest, self.first]

    @classmethod
    def from_list(cls, values: Sequence[object]) -> Repeats:
        """ValueError unless `values` is as_list's form of a consistent record."""
        frames, repeated, runs, longest, first = values
        counts = [v for v in (frames, repeated, runs, longest) if isinstance(v, int) and not isinstance(v, bool)]
        if len(counts) != 4 or min(counts) < 0 or not (isinstance(first, str) and set(first) <= {NEW, REPEAT}):
            raise ValueError("not a clip's repeats")
        made = cls(counts[0], counts[1], counts[2], counts[3], first)
        if not (made.runs <= made.repeated < max(made.frames, 1) and made.longest <= made.repeated
                and (made.runs == 0) == (made.repeated == 0) and len(first) == min(made.frames, REPEATS_SHOWN)):
            raise ValueError("a clip's repeats that do not add up")
        return made


TIMES_VERSION = "d1"  # a FrameTimes' payload: zlib of the first tick and each step after it, little-endian int64


@dataclass(frozen=True)
class FrameTimes(Record):
    """Each decoded frame's presentation time, as ffmpeg plays the clip (the timeline an output `-t 5` cuts: the file's
    start at 0), in the stream's own time base: from the one decode that fingerprints it (the framehash muxer's pts at
    `-enc_time_base demux`, kit.media.argv.FRAME_HASHES), never a second decode. A consumer's window is the frames
    whose time is below its length (kit.corpus.samplings), whatever the header's rate says (issue 76)."""

    frames: int = field(metadata=keep(COUNT))
    time_base: str  # "num/den", the stream's
    ticks: str  # TIMES_VERSION ":" base64 of zlib of int64 [first tick, step, step, ...]: a constant step packs small

    @classmethod
    def of(cls, ticks: Sequence[int], time_base: Fraction) -> FrameTimes:
        """From each frame's pts in `time_base`, in the order the frames are decoded."""
        steps = array("q", [ticks[0], *(b - a for a, b in pairwise(ticks))])
        if sys.byteorder == "big":  # the payload is little-endian on every host
            steps.byteswap()
        body = base64.b64encode(zlib.compress(steps.tobytes(), 9)).decode("ascii")
        return cls(len(ticks), f"{time_base.numerator}/{time_base.denominator}", f"{TIMES_VERSION}:{body}")

    def tick_list(self) -> list[int]:
        """Each frame's pts, in time_base; ValueError where the payload is damaged or counts other frames."""
        tag, _, body = self.ticks.partition(":")
        if tag != TIMES_VERSION:
            raise ValueError(f"frame times of version {tag!r}, not {TIMES_VERSION!r}")
        try:
            raw = inflated(base64.b64decode(body.encode("ascii"), validate=True), 8 * self.frames)
        except (ValueError, binascii.Error, zlib.error) as exc:
            raise ValueError(f"damaged frame times ({exc})") from None
        steps = array("q")  # 8 bytes on every platform the kit runs on
        if len(raw) != 8 * self.frames:
            raise ValueError(f"frame times hold {len(raw) // 8} frames, not {self.frames}")
        steps.frombytes(raw)
        if sys.byteorder == "big":
            steps.byteswap()
        out, at = [], 0
        for step in steps:
            at += step
            out.append(at)
        return out

    def seconds(self) -> list[float]:
        """Each frame's time in seconds (a tick count over the time base: exact where the time is, 5.0 at 5 s);
        ValueError where the record is damaged (a manifest's is read as it was written: kit.infra.records)."""
        if re.fullmatch(r"[1-9]\d{0,17}/[1-9]\d{0,17}", self.time_base) is None:
            raise ValueError(f"frame times in time base {self.time_base!r}")
        num, _, den = self.time_base.partition("/")
        return [tick * int(num) / int(den) for tick in self.tick_list()]


@dataclass(frozen=True)
class Fingerprint(Record):
    """A clip's identity by its decoded pictures: their planes' sha256, signature (kit.media.signature) and count;
    and which of them repeat the one before, and each one's time (None where not measured: the decode's hash lines
    were not all kept)."""

    pixels_sha256: str
    signature: str
    frames: int
    repeats: Repeats | None = field(default=None, compare=False)
    times: FrameTimes | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if re.fullmatch(r"[0-9a-f]{64}", self.pixels_sha256) is None:
            raise ValueError(f"pixels_sha256 {self.pixels_sha256!r} is not 64 hex digits")
        if self.frames < 1:
            raise ValueError(f"a fingerprint of {self.frames} frames")
        signature_bytes(self.signature)  # refuses a damaged or foreign one
