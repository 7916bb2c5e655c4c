"""What a master holds beside the picture the kit reads, from the stream list ffmpeg prints as it opens the file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# one line per stream of input #0, before `Stream mapping:` (the outputs are listed after it)
_STREAM = re.compile(r"Stream #0:(\d+)[^:\n]*: (Video|Audio|Subtitle|Data|Attachment): ([^\n]*)")
_PIX_FMT = re.compile(r"^[^,]+, ([a-z0-9]+)[(,]")
ALPHA = re.compile(r"^(?:yuva|gbrap|ya(?:8|16)|rgba|bgra|argb|abgr)", re.ASCII)
HDR_TRANSFERS = ("smpte2084", "arib-std-b67")  # PQ, HLG: ffmpeg's names, as its stream line prints them
HDR_SIDE_DATA = {"Mastering display metadata": "mastering display metadata",
                 "Content light level metadata": "content light level metadata"}
ATTACHED = "(attached pic)"
SIZE_ON_LINE = re.compile(r",\s*(\d{1,5})x(\d{1,5})(?=,| \[| \()")  # a stream line's picture size


@dataclass(frozen=True)
class InputStream:
    index: int  # #0:N
    kind: str  # Video, Audio, Subtitle, Data, Attachment
    detail: str  # the rest of ffmpeg's line: codec, pixel format and colours, size, rates

    @property
    def picture(self) -> bool:
        """A video stream of moving pictures: not a cover picture (an audio file's artwork)."""
        return self.kind == "Video" and ATTACHED not in self.detail

    @property
    def pix_fmt(self) -> str:
        m = _PIX_FMT.search(self.detail)
        return m.group(1) if m else ""

    @property
    def codec(self) -> str:
        return self.detail.split(",")[0].split(" (")[0].strip()


def input_streams(stderr: str) -> list[InputStream]:
    """The streams of input #0 as ffmpeg listed them on opening it, in order."""
    head = stderr.split("Stream mapping:", 1)[0]
    return [InputStream(int(m[1]), m[2], m[3]) for m in _STREAM.finditer(head)]


# the demuxers of a still picture (or an animation of pictures), whatever the file is named
STILL_DEMUXERS = re.compile(r"^(image2|\w+_pipe|gif|apng|webp_pipe|jpegxl_anim)$")
_DEMUXER = re.compile(r"Input #0, (.+?), from ")  # the demuxer's name, which its own lines are prefixed with


def demuxer(stderr: str) -> str | None:
    """The demuxer ffmpeg opened its first input with (`mov,mp4,m4a,3gp,3g2,mj2`, `png_pipe`); None if none."""
    found = _DEMUXER.search(stderr)
    return found[1] if found is not None else None


def picture_words(reader: str) -> str:
    """What a file ffmpeg reads with a picture's demuxer (`reader`) is, in the words discovery and the decode say."""
    return f"not a video: a picture (ffmpeg reads it as {reader})"


def still_picture(stderr: str) -> str | None:
    """The demuxer ffmpeg read a picture with (`png_pipe`), where the file it opened is one; else None."""
    return name if (name := demuxer(stderr)) is not None and STILL_DEMUXERS.match(name) else None


def no_video(stderr: str) -> str | None:
    """What a file ffmpeg opened holds instead of a video stream (`only audio`); None if it has one or did not open."""
    if "Input #0" not in stderr:
        return None
    streams = input_streams(stderr)
    if any(s.picture for s in streams):
        return None
    kinds = [("an attached picture" if s.kind == "Video" else s.kind.lower()) for s in streams]
    if not kinds:
        return "no stream at all"
    unique = list(dict.fromkeys(kinds))
    return "only " + (" and ".join(unique) if len(unique) <= 2 else ", ".join(unique[:-1]) + " and " + unique[-1])


# the codecs of still pictures: a stream of one (a cover saved as a video track of its own, `-disposition
# attached_pic` into Matroska) is less the film than a stream of as many frames in a codec of moving pictures
STILL_CODECS = frozenset({"png", "bmp", "tiff", "webp", "gif", "qoi", "jpegxl", "pam", "ppm", "pgm", "pbm", "sgi",
                          "targa", "pcx", "xbm", "xpm", "photocd"})
# a video stream of at least this share of the film's frames could be the film as well (a stereo pair's other eye, an
# alternate angle, a proxy): the kit reads one and says which, never silently. A cover or a thumbnail track holds far
# fewer: one frame, or one every second of a 24 fps film (1/24)
FILM_SHARE = 0.5


@dataclass(frozen=True)
class Film:
    """Which of a master's video streams the kit reads as its film, decided once as the file is opened (choose_film,
    from ffmpeg's stream list and each stream's frames counted) and carried to every command that reads the file (its
    looks, the lossless copy, the encodes, libvmaf, the independent check, the consumer's samples, the fixes printed):
    no command chooses again. `place`: among the file's video streams (`-map 0:v:<place>`); `frames`: each video
    stream's frames as counted (its packets), by place, where more than one could be the film (empty where one alone
    could: nothing was counted); `rivals`: the places of the other streams that could each be the film too."""

    place: int = 0
    frames: tuple[int, ...] = ()
    rivals: tuple[int, ...] = ()

    @property
    def spec(self) -> str | None:
        """The stream specifier for an argv builder (kit.media.argv): None for the first, which the builders map as
        they always did; `v:K` for another."""
        return f"v:{self.place}" if self.place else None

    @property
    def mapped(self) -> str:
        """`0:v:K`, as `-map` takes it."""
        return f"0:v:{self.place}"


FIRST = Film()  # a file of one video stream (a .y4m, a .yuv, the kit's own lossless copy), or one the kit did not open


def film_candidates(stderr: str) -> list[int]:
    """The places among input #0's video streams of those that could be its film: every one but an attached picture
    (a cover its muxer flagged as one)."""
    return [k for k, s in enumerate(s for s in input_streams(stderr) if s.kind == "Video") if s.picture]


def _pixels(stream: InputStream) -> int:
    size = SIZE_ON_LINE.search(stream.detail)
    return int(size[1]) * int(size[2]) if size else 0


def choose_film(stderr: str, frames: Sequence[int] = ()) -> Film:
    """The film of the file ffmpeg opened (its stream list, `stderr`): the one video stream that is not an attached
    picture, or (`frames`: each video stream's frames counted, by place) the one of the most frames, then of a codec of
    moving pictures, then of the larger picture, then the first: never a cover or a thumbnail track beside a film,
    whatever its flags, codec or place. The others of at least FILM_SHARE of its frames are its rivals, said."""
    video = [s for s in input_streams(stderr) if s.kind == "Video"]
    places = film_candidates(stderr)
    if len(places) <= 1:
        return Film(places[0] if places else 0)
    if len(frames) != len(video):
        raise ValueError(f"{len(places)} video streams could be the film: their frames are counted first")

    def rank(k: int) -> tuple[int, bool, int, int]:
        return frames[k], video[k].codec not in STILL_CODECS, _pixels(video[k]), -k

    film = max(places, key=rank)
    rivals = tuple(k for k in places if k != film and frames[k] > 1 and frames[k] >= FILM_SHARE * frames[film])
    return Film(film, tuple(frames), rivals)


def _frames(film: Film, place: int) -> str:
    n = film.frames[place]
    return f"{n:,} frame{'s' if n != 1 else ''}"


def _size(stream: InputStream) -> str:
    size = SIZE_ON_LINE.search(stream.detail)
    return f"{size[1]}x{size[2]}" if size else "no size"


def other_streams(video: list[InputStream], film: Film) -> str:
    """The note naming the video streams not read beside the film (`video`: input #0's video streams), each said as
    what it is: an attached picture, a still picture, or (counted) its frames."""
    first = video[min(film.place, len(video) - 1)]

    def what(k: int, s: InputStream) -> str:
        if not s.picture:
            return " (a still picture)"
        if film.frames:
            return f" ({_frames(film, k)}, {s.codec} {_size(s)})"
        return " (a still picture)" if s.codec in STILL_CODECS else ""

    others = ", ".join(f"#0:{s.index}{what(k, s)}" for k, s in enumerate(video) if s is not first)
    if film.frames:
        which = f"the film (#0:{first.index}, {_frames(film, film.place)})"
    else:
        which = f"the {'first video stream' if first is video[0] else 'video stream of moving pictures'} " \
                f"(#0:{first.index})"
    return f"{len(video) - 1} more video stream(s) ({others}) not used: only {which} is encoded and scored"


def why_film(stderr: str, film: Film, rival: int) -> str:
    """Why `film` was read rather than its `rival` (a place), in words: what of choose_film's order told them apart."""
    video = [s for s in input_streams(stderr) if s.kind == "Video"]
    if film.frames[film.place] != film.frames[rival]:
        return "the one of more frames"
    a, b = video[film.place], video[rival]
    if (a.codec in STILL_CODECS) != (b.codec in STILL_CODECS):
        return f"the one in a codec of moving pictures ({a.codec}; the other's is {b.codec})"
    if _pixels(a) != _pixels(b):
        return "the one of the larger picture"
    return "the first of them"


def dropped(stderr: str, film: Film) -> tuple[str, ...]:
    """What of the master the corpus does not keep, one phrase each (empty for a plain 8/10-bit video); `film`: the
    video stream read (choose_film)."""
    video = [s for s in input_streams(stderr) if s.kind == "Video"]
    if not video:
        return ()
    first, notes = video[min(film.place, len(video) - 1)], []
    if ALPHA.match(first.pix_fmt):
        notes.append(f"its alpha channel ({first.pix_fmt}) is dropped: the encodes and their scores see the colour "
                     "planes only")
    if len(video) > 1:
        notes.append(other_streams(video, film))
    for rival in film.rivals:
        other = video[rival]
        notes.append(f"#0:{first.index} and #0:{other.index} could each be the film ({_frames(film, film.place)} of "
                     f"{_size(first)}, {_frames(film, rival)} of {_size(other)}): the kit reads #0:{first.index}, "
                     f"{why_film(stderr, film, rival)}")
    hdr = [f"transfer {t}" for t in HDR_TRANSFERS if re.search(rf"\b{t}\b", first.detail)]
    hdr += [name for line, name in HDR_SIDE_DATA.items() if line in stderr]
    if hdr:
        notes.append(f"its HDR tags ({', '.join(hdr)}) are not kept: the corpus has no column for them, and "
                     "vmaf_v0.6.1 scores the pictures as SDR")
    return tuple(notes)
