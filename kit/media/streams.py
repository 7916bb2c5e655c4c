"""What a master holds beside the picture the kit reads, from the stream list ffmpeg prints as it opens the file."""

from __future__ import annotations

import re
from dataclasses import dataclass

# one line per stream of input #0, before `Stream mapping:` (the outputs are listed after it)
_STREAM = re.compile(r"Stream #0:(\d+)[^:\n]*: (Video|Audio|Subtitle|Data|Attachment): ([^\n]*)")
_PIX_FMT = re.compile(r"^[^,]+, ([a-z0-9]+)[(,]")
ALPHA = re.compile(r"^(?:yuva|gbrap|ya(?:8|16)|rgba|bgra|argb|abgr)", re.ASCII)
HDR_TRANSFERS = ("smpte2084", "arib-std-b67")  # PQ, HLG: ffmpeg's names, as its stream line prints them
HDR_SIDE_DATA = {"Mastering display metadata": "mastering display metadata",
                 "Content light level metadata": "content light level metadata"}
ATTACHED = "(attached pic)"


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
# attached_pic` into Matroska) is the film's only where the file holds no other video
STILL_CODECS = frozenset({"png", "bmp", "tiff", "webp", "gif", "qoi", "jpegxl", "pam", "ppm", "pgm", "pbm", "sgi",
                          "targa", "pcx", "xbm", "xpm", "photocd"})


def chosen_video(stderr: str) -> int:
    """Which of input #0's video streams the kit reads, by its place among them (`-map 0:v:K`): the first of moving
    pictures in a codec of moving pictures; else the first not an attached picture (a cover); 0 where none is."""
    video = [s for s in input_streams(stderr) if s.kind == "Video"]
    for fits in (lambda s: s.picture and s.codec not in STILL_CODECS, lambda s: s.picture):
        if (found := next((k for k, s in enumerate(video) if fits(s)), None)) is not None:
            return found
    return 0


def video_spec(k: int) -> str | None:
    """The stream specifier of input #0's video stream `k` for an argv builder (kit.media.argv): None for the first,
    which the builders map as they always did."""
    return f"v:{k}" if k else None


def dropped(stderr: str, chosen: int = 0) -> tuple[str, ...]:
    """What of the master the corpus does not keep, one phrase each (empty for a plain 8/10-bit video); `chosen`: the
    video stream read (chosen_video)."""
    video = [s for s in input_streams(stderr) if s.kind == "Video"]
    if not video:
        return ()
    first, notes = video[min(chosen, len(video) - 1)], []
    if ALPHA.match(first.pix_fmt):
        notes.append(f"its alpha channel ({first.pix_fmt}) is dropped: the encodes and their scores see the colour "
                     "planes only")
    if len(video) > 1:
        others = ", ".join(f"#0:{s.index}" + (" (a still picture)" if not s.picture or s.codec in STILL_CODECS else "")
                           for s in video if s is not first)
        which = "first video stream" if first is video[0] else "video stream of moving pictures"
        notes.append(f"{len(video) - 1} more video stream(s) ({others}) not used: only the {which} "
                     f"(#0:{first.index}) is encoded and scored")
    hdr = [f"transfer {t}" for t in HDR_TRANSFERS if re.search(rf"\b{t}\b", first.detail)]
    hdr += [name for line, name in HDR_SIDE_DATA.items() if line in stderr]
    if hdr:
        notes.append(f"its HDR tags ({', '.join(hdr)}) are not kept: the corpus has no column for them, and "
                     "vmaf_v0.6.1 scores the pictures as SDR")
    return tuple(notes)
