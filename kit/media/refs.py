"""Reference clips and their geometry: `.y4m` describes itself, `.yuv` takes it from its name or a `Name.json` sidecar.
What every job would fail on is refused here, before any encode."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePath

from kit.errors import InputError
from kit.infra.files import name_beside
from kit.infra.invocation import kit_command
from kit.infra.outside import read_int, read_json
from kit.infra.shown import Spelled, Withheld, heard, spelled_path
from kit.infra.visible import utf8_text
from kit.media.cache import Stamp, open_clip, stamp_of
from kit.media.containers import DIRECT_EXTS, INTERMEDIATE_EXTS
from kit.media.decode import PIX_FMTS, parse_fps
from kit.media.libvmaf import MIN_SCORED_SIDE
from kit.media.looks import convert_command, stream_copy_command
from kit.media.streams import FIRST, Film

CLIP_EXTS = (".y4m", ".yuv", *DIRECT_EXTS, *INTERMEDIATE_EXTS)
Y4M_MAX_FRAME_HEADER = 256  # "FRAME" and its optional parameters, up to the newline
Y4M_COLORSPACES = {
    "420jpeg": "yuv420p", "420paldv": "yuv420p", "420mpeg2": "yuv420p", "420": "yuv420p",
    "422": "yuv422p", "444": "yuv444p", "mono": "gray",
    "420p10": "yuv420p10le", "422p10": "yuv422p10le", "444p10": "yuv444p10le",
    "420p12": "yuv420p12le", "422p12": "yuv422p12le", "444p12": "yuv444p12le", "mono10": "gray10le",
}
MAX_DIMENSION = 16384  # larger than any encoder the kit drives accepts
NETFLIX_DISTORTED = re.compile(r"_\d+_\d+_\d+$", re.ASCII)
GEOMETRY_TOKEN = re.compile(
    r"_(\d+x\d+|\d+(?:\.\d+)?fps|\d+bit|420|422|444|yuv4\d\dp(?:1[02]le)?)(?=_|$)", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class Clip:
    path: str
    src: str
    kind: str  # y4m | yuv | master (any container ffmpeg decodes: kit.media.containers)
    width: int
    height: int
    fps: str  # exact rational as "num/den"
    pix_fmt: str
    n_frames: int
    sha256: str
    stamp: Stamp = (0, 0, 0, 0)  # the file's when it was hashed: a clip rewritten during the run differs
    dropped: tuple[str, ...] = field(default=(), compare=False)  # what the corpus does not keep of the file
    read_path: str = ""  # what ffmpeg reads when it is not `path`: the lossless copy (kit.media.containers)
    read_tags: tuple[tuple[str, str], ...] = ()  # the colour tags given back to the copy as it is read (NUT keeps none)
    film: Film = FIRST  # which of the file's video streams is read (kit.media.streams.Film: a cover passed over)
    # how a master of a low bitrate says it was coded losslessly (kit.media.decode.lossless_coding; "" when it is not,
    # or was not asked: a master of an ordinary bitrate): such a one is not a heavily compressed reference
    lossless: str = field(default="", compare=False)

    def changed_on_disk(self) -> str:
        """Why the file is no longer the one hashed at discovery; "" while it is (or nothing was recorded)."""
        if not any(self.stamp):
            return ""
        try:
            now = stamp_of(Path(self.path).stat())
        except OSError as exc:
            return f"it can no longer be read ({exc.strerror or exc})"
        if now == self.stamp:
            return ""
        whys = (f"its size went from {self.stamp[0]} to {now[0]} bytes", "its modification time changed",
                "another file replaced it", "it was rewritten or changed in place (its status-change time moved)")
        return next(why for why, was, is_now in zip(whys, self.stamp, now, strict=True) if was != is_now)

    @property
    def fps_float(self) -> float:
        return float(Fraction(self.fps))

    def input_args(self) -> list[str]:
        """ffmpeg input options that read this clip, ending with `-i PATH` (its lossless copy's, when it has one, its
        colour tags given back: its frames are then the file's as ffmpeg plays it, tags and times)."""
        if self.kind == "yuv":
            return ["-f", "rawvideo", "-pix_fmt", self.pix_fmt, "-s", f"{self.width}x{self.height}",
                    "-framerate", self.fps, "-i", spelled_path(self.path)]
        if self.read_path:
            tags = (arg for option, name in self.read_tags for arg in (f"-{option}", name))
            return [*tags, "-i", spelled_path(self.read_path)]
        return ["-i", spelled_path(self.path)]

    @property
    def stream(self) -> str | None:
        """The video stream of what input_args reads, for an argv builder: None for the first (a lossless copy holds
        one), `v:K` where a cover's or a thumbnail track's stream comes before the film's (kit.media.streams.Film)."""
        return None if self.read_path else self.film.spec

    @property
    def own_stream(self) -> str | None:
        """The same of the clip's own file (own_input_args)."""
        return self.film.spec

    def own_input_args(self) -> list[str]:
        """ffmpeg input options that read the clip's own file, never its lossless copy (kit.corpus.oracle's check)."""
        return ["-i", spelled_path(self.path)] if self.read_path else self.input_args()


def film_fixes(clip: Clip) -> tuple[Spelled, ...]:
    """For a master of video streams that could each be its film (kit.media.streams.Film.rivals: the kit reads one,
    its note says which), how to read each other one instead, one line each."""
    path = Path(clip.path)
    return tuple(Spelled(PurePath(path), f": to read its video stream 0:v:{k} as the film instead, copy it alone, as "
                         "it is, with the kit's ffmpeg: ", stream_copy_command(path, k), "; then put that file in "
                         "--ref-dir in this one's place") for k in clip.film.rivals)


def frame_bytes(width: int, height: int, pix_fmt: str) -> int:
    """The bytes of one raw frame; `pix_fmt` is one of PIX_FMTS (check_geometry refused any other)."""
    cw, ch, bps = PIX_FMTS[pix_fmt]
    luma = width * height
    chroma = 0 if cw == 0 else 2 * (-(-width // cw)) * (-(-height // ch))
    return (luma + chroma) * bps


def source_name(path: Path) -> str:
    """The clip name without geometry tokens: `Tennis_1920x1080_24fps.yuv` -> `Tennis`; a byte that is not UTF-8
    written `\\xHH` (`caf\\xe9`: visible.utf8_text), so the name is text every file of the corpus can hold."""
    return utf8_text(GEOMETRY_TOKEN.sub("", path.stem) or path.stem)


def crop_command(path: Path, width: int, height: int, raw: tuple[str, ...] = (), film: Film = FIRST) -> str:
    """The command that crops a clip of odd size to the even size below it, losslessly, into `<name>_even.mkv`: its
    `film` (a master's: kit.media.streams.Film)."""
    even = f"{width - width % 2}:{height - height % 2}"
    return kit_command("ffmpeg", *raw, "-i", path.absolute(), "-map", film.mapped, "-an", "-vf", f"crop={even}:0:0",
                       "-c:v", "ffv1", name_beside(path.absolute(), path.stem, "_even.mkv"))


# the frames a LOSO fold needs of each source (kit.model.recipe reads it here): a clip with fewer is left out, and a
# fix that keeps its frames (a crop) is no fix for it
MIN_FRAMES_PER_SOURCE = 8


def check_geometry(path: Path, width: int, height: int, pix_fmt: str, raw: tuple[str, ...] = ()) -> None:
    """Refuse a size no job could encode or score (zero, huge, under libvmaf's MIN_SCORED_SIDE) or, for a .y4m or
    .yuv whose frames the kit reads by their size, a pixel format not in PIX_FMTS (`raw`: a .yuv's input); `pix_fmt`
    "" for a master (its decoder's format is what ffmpeg decodes it to: kit.media.pixfmt.score_pix_fmt). An odd size
    is check_even's, once the frames are counted."""
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise InputError(f"{path}: size {width}x{height} is not a picture size (1..{MAX_DIMENSION} each way)",
                         hint="fix the size in the file name, sidecar or y4m header")
    if width < MIN_SCORED_SIDE or height < MIN_SCORED_SIDE:
        small = " and ".join(n for n, v in (("width", width), ("height", height)) if v < MIN_SCORED_SIDE)
        verb = "are" if " and " in small else "is"
        raise InputError(f"{path}: {width}x{height} is too small for libvmaf to score: its {small} {verb} under "
                         f"{MIN_SCORED_SIDE} pixels, where libvmaf's ADM feature runs out of pyramid levels and "
                         "crashes (SIGSEGV) on the first job",
                         hint=f"remove it from --ref-dir: a reference must be at least {MIN_SCORED_SIDE}x"
                              f"{MIN_SCORED_SIDE} (a picture this small is no picture anyone watches)")
    if pix_fmt and pix_fmt not in PIX_FMTS:
        raise InputError(f"{path}: unsupported pixel format {pix_fmt}",
                         hint="use one of " + ", ".join(sorted(PIX_FMTS)))


def check_even(path: Path, width: int, height: int, frames: int, raw: tuple[str, ...] = (),
               film: Film = FIRST) -> None:
    """Refuse an odd size (every encode is 4:2:0), with the crop that fixes it only where the cropped clip passes the
    rules that judge it then: no side under MIN_SCORED_SIDE, at least MIN_FRAMES_PER_SOURCE frames (a crop keeps
    them). Where it would not, the clip is said as what the crop leaves it (too small, too short), with no crop.
    `raw`: a .yuv's input; `film`: a master's, which the crop maps."""
    if not (width % 2 or height % 2):
        return
    odd = " and ".join(n for n, v in (("width", width), ("height", height)) if v % 2)
    said = f"{path}: {width}x{height} has an odd {odd}; every encode is 4:2:0, which needs even sizes"
    even_w, even_h = width - width % 2, height - height % 2
    if min(even_w, even_h) < MIN_SCORED_SIDE:
        raise InputError(f"{said}, and cropped to {even_w}x{even_h} it is too small for libvmaf to score (under "
                         f"{MIN_SCORED_SIDE} pixels)",
                         hint=f"remove it from --ref-dir: a reference must be at least {MIN_SCORED_SIDE + 1}x"
                              f"{MIN_SCORED_SIDE + 1}")
    if frames < MIN_FRAMES_PER_SOURCE:  # said as too short (kit.steps.corpus_inputs.too_short's words)
        raise InputError(Spelled(PurePath(path), f": {frames} frame(s); a LOSO fold needs at least "
                                 f"{MIN_FRAMES_PER_SOURCE} frames per source"),
                         hint="use a longer cut of the clip, or remove it from --ref-dir")
    raise InputError(f"{said} (encoders refuse it)",
                     hint=Spelled("crop it to an even size with the kit's ffmpeg (cropping keeps the score "
                                  "honest; scaling would not): ", crop_command(path, width, height, raw, film)))


def y4m_geometry(path: Path) -> tuple[int, int, str, str, int]:
    """Geometry and frame count from the header; walks every FRAME header, whose optional parameters are legal."""
    with open_clip(path) as fh:
        head = fh.read(4096)
    nl = head.find(b"\n")
    if not head.startswith(b"YUV4MPEG2 ") or nl < 0:
        raise InputError(f"{path}: not a y4m file (no YUV4MPEG2 header)",
                         hint="re-export the clip as y4m, or rename it to its real extension")
    fields = head[:nl].decode("ascii", "replace").split()[1:]
    tags = {f[0]: f[1:] for f in fields if f}
    try:
        width, height = read_int(tags["W"]), read_int(tags["H"])
        fps = parse_fps(tags.get("F", "25:1").replace(":", "/"))
    except (KeyError, ValueError, ZeroDivisionError) as exc:
        raise InputError(Spelled(PurePath(path), ": malformed y4m header", Withheld(f" {head[:nl]!r}")),
                         hint="re-export the clip as y4m from its source") from exc
    colorspace = tags.get("C", "420jpeg").split("XYSCSS")[0]
    if colorspace not in Y4M_COLORSPACES:
        raise InputError(Spelled(PurePath(path), ": unsupported y4m colour space", heard(f" C{colorspace}", [])),
                         hint=Spelled("convert it losslessly into an .mkv, which the kit reads in any pixel format "
                                      "ffmpeg decodes (FFV1 keeps the pictures as they are), with the kit's ffmpeg: ",
                                      convert_command(path)))
    pix_fmt = Y4M_COLORSPACES[colorspace]
    check_geometry(path, width, height, pix_fmt)
    picture, size, at, n = frame_bytes(width, height, pix_fmt), path.stat().st_size, nl + 1, 0
    with open_clip(path) as fh:
        while at < size:
            fh.seek(at)
            head = fh.read(Y4M_MAX_FRAME_HEADER)
            nl = head.find(b"\n")
            if not head.startswith(b"FRAME") or nl < 0 or head[5:6] not in (b" ", b"\n"):
                raise InputError(Spelled(PurePath(path), f": malformed y4m: frame {n} does not start with a FRAME "
                                         f"line (at byte {at}", Withheld(f": {head[:16]!r}"), ")"),
                                 hint="the header's size or colour space does not match the frames, or the file "
                                      "is damaged; re-export it with ffmpeg -f yuv4mpegpipe")
            at += nl + 1 + picture
            if at > size:
                raise InputError(
                    f"{path}: truncated y4m (frame {n} has {size - (at - picture)} of its {picture} bytes)",
                    hint="the file was cut short; copy it again or drop it from --ref-dir")
            n += 1
    check_even(path, width, height, n)
    return width, height, fps, pix_fmt, n


# ASCII digits only (re.ASCII): `\d` alone also takes `٣` and full-width digits, which int() reads
YUV_FULL = re.compile(r"_(\d+)x(\d+)_(\d+(?:\.\d+)?)fps(?:_(\d+)bit)?(?:_(420|422|444))?$", re.IGNORECASE | re.ASCII)
YUV_SIZE_ONLY = re.compile(r"_(\d+)x(\d+)(?:_(\d+)bit)?(?:_(420|422|444))?$", re.IGNORECASE | re.ASCII)
YUV_FPS_ONLY = re.compile(r"_(\d+(?:\.\d+)?)fps(?:_(\d+)bit)?(?:_(420|422|444))?$", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class YuvDefaults:
    """--width/--height/--fps: the geometry a .yuv name leaves out (docs/collaborator.md: which each name takes)."""

    width: int | None = None
    height: int | None = None
    fps: str | None = None


def yuv_pix_fmt(bits: str | None, chroma: str | None) -> str:
    depth = read_int(bits or "8")
    if depth not in (8, 10, 12):
        raise ValueError(f"{depth}-bit")
    fmt = f"yuv{chroma or '420'}p"
    return fmt if depth == 8 else f"{fmt}{depth}le"


def whole(value: object) -> int:
    """A sidecar's width or height: a whole number (1920, 1920.0 or "1920"), never 1920.5, true or "١٩٢٠"."""
    if isinstance(value, str):
        return read_int(value)  # NotANumber, a ValueError, saying why not
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value != int(value):
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def is_netflix_distorted(path: Path) -> bool:
    """`Name_20_288_375.yuv`: a distorted encode of the Netflix Public Dataset's dis/ folder, not a reference."""
    return (path.suffix.lower() == ".yuv" and not path.with_suffix(".json").is_file()
            and NETFLIX_DISTORTED.search(path.stem) is not None and GEOMETRY_TOKEN.search(path.stem) is None)


def read_sidecar(sidecar: Path) -> dict[str, object]:
    """A .yuv clip's `Name.json`; ValueError naming it when it cannot be read or is no JSON object."""
    try:
        meta = read_json(sidecar)
    except (OSError, ValueError) as exc:  # JsonRefused is a ValueError
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"its sidecar {sidecar.name}: {why}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"its sidecar {sidecar.name} holds a JSON {type(meta).__name__}, not an object")
    return meta


def yuv_geometry(path: Path, defaults: YuvDefaults) -> tuple[int, int, str, str]:
    sidecar = path.with_suffix(".json")
    try:
        if sidecar.is_file():
            meta = read_sidecar(sidecar)
            return (whole(meta["width"]), whole(meta["height"]), parse_fps(str(meta["fps"])),
                    str(meta.get("pix_fmt", "yuv420p")))
        if m := YUV_FULL.search(path.stem):
            return read_int(m[1]), read_int(m[2]), parse_fps(m[3]), yuv_pix_fmt(m[4], m[5])
        if (m := YUV_SIZE_ONLY.search(path.stem)) and defaults.fps:
            return read_int(m[1]), read_int(m[2]), parse_fps(defaults.fps), yuv_pix_fmt(m[3], m[4])
        if m := YUV_FPS_ONLY.search(path.stem):
            return defaults.width or 1920, defaults.height or 1080, parse_fps(m[1]), yuv_pix_fmt(m[2], m[3])
        if defaults.width and defaults.height and defaults.fps:
            return defaults.width, defaults.height, parse_fps(defaults.fps), "yuv420p"
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise InputError(Spelled(PurePath(path), ": cannot read its geometry", Withheld(f" ({exc})")),
                         hint="name it Name_WxH_FPSfps.yuv or give a Name.json sidecar "
                              '{"width":..,"height":..,"fps":..,"pix_fmt":..}') from exc
    raise InputError(f"{path}: cannot tell its geometry from the name",
                     hint="name it Name_1920x1080_25fps.yuv (or Name_25fps.yuv with --width/--height), "
                          "add a Name.json sidecar with width, height, fps and pix_fmt, "
                          "or give all of --width, --height and --fps")
