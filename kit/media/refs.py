"""Reference clips: per-clip geometry and content identity (kit.media.discovery finds them in --ref-dir).

`.y4m` describes itself; `.yuv` takes its geometry from the file name
(`Name_1920x1080_25fps[_10bit][_422].yuv`, or Netflix-style `Name_25fps.yuv`
with the --width/--height defaults) or from a `Name.json` sidecar; `.mp4`,
`.mkv` and `.mov` masters are probed with ffmpeg. Geometry is per clip.

What every job would fail on is refused here, before any encode: an odd width
or height (every encode is 4:2:0), a zero size or rate, a master whose demuxer
skipped damaged data. A variable-frame-rate master is accepted: its decoded
frames are encoded as they are (kit.media.argv).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from kit.errors import InputError
from kit.infra.files import read_json_object, sha256_stream, write_json
from kit.infra.locks import LockBusy, locked
from kit.infra.nofollow import NotRegular, make_folder, open_for_reading
from kit.infra.proc import run_process
from kit.media.argv import build_decode_argv
from kit.media.ffmpeg import parse_frame_count, strip_log_prefix, telling_line

CLIP_EXTS = (".y4m", ".yuv", ".mp4", ".mkv", ".mov")
DECODE_TIMEOUT_S = 300.0  # a whole decode of a long master
CACHE_LOCK_WAIT_S = 10.0  # another run writing sha256.json holds it for milliseconds

# Pixel formats the kit accepts: (chroma width divisor, chroma height divisor, bytes per sample).
PIX_FMTS: dict[str, tuple[int, int, int]] = {
    "yuv420p": (2, 2, 1), "yuv422p": (2, 1, 1), "yuv444p": (1, 1, 1),
    "yuv420p10le": (2, 2, 2), "yuv422p10le": (2, 1, 2), "yuv444p10le": (1, 1, 2),
    "yuv420p12le": (2, 2, 2), "yuv422p12le": (2, 1, 2), "yuv444p12le": (1, 1, 2),
    "gray": (0, 0, 1), "gray10le": (0, 0, 2),
}
Y4M_MAX_FRAME_HEADER = 256  # "FRAME" and its optional parameters, up to the newline
Y4M_COLORSPACES = {
    "420jpeg": "yuv420p", "420paldv": "yuv420p", "420mpeg2": "yuv420p", "420": "yuv420p",
    "422": "yuv422p", "444": "yuv444p", "mono": "gray",
    "420p10": "yuv420p10le", "422p10": "yuv422p10le", "444p10": "yuv444p10le",
    "420p12": "yuv420p12le", "422p12": "yuv422p12le", "444p12": "yuv444p12le", "mono10": "gray10le",
}
MAX_DIMENSION = 16384  # larger than any encoder the kit drives accepts
MAX_FPS = 1000
# The Netflix Public Dataset names its distorted encodes <name>_<quality>_<height>_<bitrate>.yuv
NETFLIX_DISTORTED = re.compile(r"_\d+_\d+_\d+$")
GEOMETRY_TOKEN = re.compile(
    r"_(\d+x\d+|\d+(?:\.\d+)?fps|\d+bit|420|422|444|yuv4\d\dp(?:1[02]le)?)(?=_|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Clip:
    path: str
    src: str
    kind: str  # y4m | yuv | master
    width: int
    height: int
    fps: str  # exact rational as "num/den"
    pix_fmt: str
    n_frames: int
    sha256: str
    # the file's (size, mtime_ns, inode) when it was hashed: a clip re-exported during the run differs
    stamp: tuple[int, int, int] = (0, 0, 0)

    def changed_on_disk(self) -> str:
        """Why the file is no longer the one hashed at discovery; "" while it is (or nothing was recorded)."""
        if self.stamp == (0, 0, 0):
            return ""
        try:
            now = file_stamp(Path(self.path))
        except OSError as exc:
            return f"it can no longer be read ({exc.strerror or exc})"
        if now == self.stamp:
            return ""
        if now[0] != self.stamp[0]:
            return f"its size went from {self.stamp[0]} to {now[0]} bytes"
        return "its modification time changed" if now[1] != self.stamp[1] else "another file replaced it"

    @property
    def fps_float(self) -> float:
        return float(Fraction(self.fps))

    def input_args(self) -> list[str]:
        """ffmpeg input options that read this clip, ending with `-i PATH`."""
        if self.kind == "yuv":
            return ["-f", "rawvideo", "-pix_fmt", self.pix_fmt, "-s", f"{self.width}x{self.height}",
                    "-framerate", self.fps, "-i", self.path]
        return ["-i", self.path]


def file_stamp(p: Path) -> tuple[int, int, int]:
    st = p.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino


def open_clip(path: Path) -> BinaryIO:
    """Open a reference clip to read it: never blocks on a named pipe put in its place, and refuses anything
    but a regular file (a link is followed: a ref-dir of links to the clips is usual)."""
    try:
        return open_for_reading(path)
    except NotRegular as exc:
        raise InputError(f"{path}: {exc.what} now, not a clip file (it was replaced while the kit read the folder)",
                         hint="put the clip back, or remove the entry from --ref-dir") from None


def clip_sha256(path: Path) -> str:
    with open_clip(path) as fh:
        return sha256_stream(fh)


def frame_bytes(width: int, height: int, pix_fmt: str) -> int:
    if pix_fmt not in PIX_FMTS:
        raise InputError(f"unsupported pixel format {pix_fmt}",
                         hint="use one of " + ", ".join(sorted(PIX_FMTS)))
    cw, ch, bps = PIX_FMTS[pix_fmt]
    luma = width * height
    chroma = 0 if cw == 0 else 2 * (-(-width // cw)) * (-(-height // ch))
    return (luma + chroma) * bps


def source_name(path: Path) -> str:
    """The clip name without geometry tokens: `Tennis_1920x1080_24fps.yuv` -> `Tennis`."""
    name = GEOMETRY_TOKEN.sub("", path.stem)
    return name or path.stem


def parse_fps(text: str) -> str:
    """An exact frame rate "num/den" from "25", "29.97", "30000/1001" or "25:1"; ValueError otherwise."""
    try:
        frac = Fraction(text.strip().replace(":", "/"))
    except ZeroDivisionError:
        raise ValueError(f"frame rate {text!r} divides by zero") from None
    if not 0 < frac <= MAX_FPS:
        raise ValueError(f"frame rate {text!r} is not in (0, {MAX_FPS}]")
    return f"{frac.numerator}/{frac.denominator}"


def check_geometry(path: Path, width: int, height: int, pix_fmt: str) -> None:
    """Refuse a size no job could encode: zero, huge, or odd (every encode is 4:2:0, which needs even sizes)."""
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise InputError(f"{path}: size {width}x{height} is not a picture size (1..{MAX_DIMENSION} each way)",
                         hint="fix the size in the file name, sidecar or y4m header")
    if pix_fmt not in PIX_FMTS:
        raise InputError(f"{path}: unsupported pixel format {pix_fmt}",
                         hint="use one of " + ", ".join(sorted(PIX_FMTS)))
    if width % 2 or height % 2:
        odd = " and ".join(n for n, v in (("width", width), ("height", height)) if v % 2)
        even = f"{width - width % 2}:{height - height % 2}"
        raise InputError(f"{path}: {width}x{height} has an odd {odd}; every encode is 4:2:0, which needs even sizes "
                         "(encoders refuse it)",
                         hint=f"crop it to an even size, e.g. ffmpeg -i {path.name} -vf crop={even}:0:0 -c:v ffv1 "
                              f"{path.stem}_even.mkv (cropping keeps the score honest; scaling would not)")


# --- content identity -------------------------------------------------------------------


def _valid_entry(key: str, value: str) -> bool:
    """A sha256 entry is 64 hex digits; a master's is its [w, h, fps, pix_fmt, frames] as JSON."""
    if not key.startswith(("master|", "master2|")):
        return re.fullmatch(r"[0-9a-f]{64}", value) is not None
    try:
        w, h, fps, pix, n = json.loads(value)
    except (ValueError, TypeError):
        return False
    return (all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h, n))
            and isinstance(fps, str) and isinstance(pix, str))


class Sha256Cache:
    """sha256 of clip bytes (and masters' probes), cached by (absolute path, size, mtime_ns).

    The file may be shared by runs going at once (one cache, several out-dirs): an entry computed here is
    written under the file's lock, merged into what the file holds by then, so no run drops another's.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._data = self._read()

    def _read(self) -> dict[str, str]:
        """The file's entries, checked, not trusted: a damaged entry is left out (and computed again)."""
        if self.path is None:
            return {}
        data, _ = read_json_object(self.path)
        return {k: v for k, v in (data or {}).items() if isinstance(v, str) and _valid_entry(k, v)}

    @staticmethod
    def _key(p: Path) -> str:
        st = p.stat()
        return f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}"

    def get(self, p: Path) -> str:
        key = self._key(p)
        if key not in self._data:
            self._add(key, clip_sha256(p))
        return self._data[key]

    def master_geometry(self, p: Path, ffmpeg: str) -> tuple[int, int, str, str, int]:
        """A master's probe (a whole strict decode) once per file version, not on every plan."""
        key = "master2|" + self._key(p)  # master2: probes that also check for demuxer damage
        if key not in self._data:
            self._add(key, json.dumps(master_geometry(p, ffmpeg)))
        w, h, fps, pix, n = json.loads(self._data[key])
        return int(w), int(h), str(fps), str(pix), int(n)

    def _add(self, key: str, value: str) -> None:
        """Keep the entry, and write it into the file: re-read under the lock, so what others wrote stays."""
        self._data[key] = value
        if self.path is None:
            return
        lock = self.path.with_name(f".{self.path.name}.lock")
        with contextlib.suppress(OSError, LockBusy):  # a cache that cannot be written only costs time
            make_folder(self.path.parent)
            with locked(lock, wait_s=CACHE_LOCK_WAIT_S, tidy=True):
                merged = {**self._read(), key: value}
                write_json(self.path, merged)
            for k, v in merged.items():  # what the other runs found is known here too from now on
                self._data.setdefault(k, v)


# --- per-kind geometry --------------------------------------------------------------------


def parse_y4m_header(path: Path) -> tuple[int, int, str, str, int]:
    """(width, height, fps, pix_fmt, header length) of a y4m file."""
    with open_clip(path) as fh:
        head = fh.read(4096)
    nl = head.find(b"\n")
    if not head.startswith(b"YUV4MPEG2 ") or nl < 0:
        raise InputError(f"{path}: not a y4m file (no YUV4MPEG2 header)",
                         hint="re-export the clip as y4m, or rename it to its real extension")
    fields = head[:nl].decode("ascii", "replace").split()[1:]
    tags = {f[0]: f[1:] for f in fields if f}
    try:
        width, height = int(tags["W"]), int(tags["H"])
        fps = parse_fps(tags.get("F", "25:1").replace(":", "/"))
    except (KeyError, ValueError, ZeroDivisionError) as exc:
        raise InputError(f"{path}: malformed y4m header {head[:nl]!r}",
                         hint="re-export the clip with ffmpeg -f yuv4mpegpipe") from exc
    colorspace = tags.get("C", "420jpeg").split("XYSCSS")[0]
    if colorspace not in Y4M_COLORSPACES:
        raise InputError(f"{path}: unsupported y4m colour space C{colorspace}",
                         hint="convert it to 4:2:0, 4:2:2 or 4:4:4 at 8, 10 or 12 bit")
    return width, height, fps, Y4M_COLORSPACES[colorspace], nl + 1


def y4m_geometry(path: Path) -> tuple[int, int, str, str, int]:
    """Geometry and frame count; walks every FRAME header, whose optional parameters are legal."""
    width, height, fps, pix_fmt, header = parse_y4m_header(path)
    check_geometry(path, width, height, pix_fmt)
    picture, size, at, n = frame_bytes(width, height, pix_fmt), path.stat().st_size, header, 0
    with open_clip(path) as fh:
        while at < size:
            fh.seek(at)
            head = fh.read(Y4M_MAX_FRAME_HEADER)
            nl = head.find(b"\n")
            if not head.startswith(b"FRAME") or nl < 0 or head[5:6] not in (b" ", b"\n"):
                raise InputError(f"{path}: malformed y4m: frame {n} does not start with a FRAME line "
                                 f"(at byte {at}: {head[:16]!r})",
                                 hint="the header's size or colour space does not match the frames, or the file "
                                      "is damaged; re-export it with ffmpeg -f yuv4mpegpipe")
            at += nl + 1 + picture
            if at > size:
                raise InputError(
                    f"{path}: truncated y4m (frame {n} has {size - (at - picture)} of its {picture} bytes)",
                    hint="the file was cut short; copy it again or drop it from --ref-dir")
            n += 1
    return width, height, fps, pix_fmt, n


YUV_FULL = re.compile(r"_(\d+)x(\d+)_(\d+(?:\.\d+)?)fps(?:_(\d+)bit)?(?:_(420|422|444))?$", re.IGNORECASE)
YUV_SIZE_ONLY = re.compile(r"_(\d+)x(\d+)(?:_(\d+)bit)?(?:_(420|422|444))?$", re.IGNORECASE)
YUV_FPS_ONLY = re.compile(r"_(\d+(?:\.\d+)?)fps(?:_(\d+)bit)?(?:_(420|422|444))?$", re.IGNORECASE)


@dataclass(frozen=True)
class YuvDefaults:
    """--width/--height/--fps: the geometry a .yuv name leaves out.

    Netflix-style `Name_25fps.yuv` takes the size (1920x1080 unless given); a name
    with a size but no rate takes --fps; a bare `Name.yuv` is accepted only when
    all three were given, so a wrong guess cannot pass silently.
    """

    width: int | None = None
    height: int | None = None
    fps: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.width or 1920, self.height or 1080


def yuv_pix_fmt(bits: str | None, chroma: str | None) -> str:
    depth = int(bits or 8)
    if depth not in (8, 10, 12):
        raise ValueError(f"{depth}-bit")
    fmt = f"yuv{chroma or '420'}p"
    return fmt if depth == 8 else f"{fmt}{depth}le"


def whole(value: object) -> int:
    """A sidecar's width or height: a whole number (1920 or "1920"), never 1920.5 or true."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or int(float(value)) != float(value):
        raise ValueError(f"{value!r} is not a whole number")
    return int(float(value))


def is_netflix_distorted(path: Path) -> bool:
    """`Name_20_288_375.yuv`: a distorted encode of the Netflix Public Dataset's dis/ folder, not a reference."""
    return (path.suffix.lower() == ".yuv" and not path.with_suffix(".json").is_file()
            and NETFLIX_DISTORTED.search(path.stem) is not None and GEOMETRY_TOKEN.search(path.stem) is None)


def yuv_geometry(path: Path, defaults: YuvDefaults) -> tuple[int, int, str, str]:
    sidecar = path.with_suffix(".json")
    try:
        if sidecar.is_file():
            meta = json.loads(sidecar.read_text())
            return (whole(meta["width"]), whole(meta["height"]), parse_fps(str(meta["fps"])),
                    str(meta.get("pix_fmt", "yuv420p")))
        if m := YUV_FULL.search(path.stem):
            return int(m[1]), int(m[2]), parse_fps(m[3]), yuv_pix_fmt(m[4], m[5])
        if (m := YUV_SIZE_ONLY.search(path.stem)) and defaults.fps:
            return int(m[1]), int(m[2]), parse_fps(defaults.fps), yuv_pix_fmt(m[3], m[4])
        if m := YUV_FPS_ONLY.search(path.stem):
            return *defaults.size, parse_fps(m[1]), yuv_pix_fmt(m[2], m[3])
        if defaults.width and defaults.height and defaults.fps:
            return defaults.width, defaults.height, parse_fps(defaults.fps), "yuv420p"
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise InputError(f"{path}: cannot read its geometry ({exc})",
                         hint="name it Name_WxH_FPSfps.yuv or give a Name.json sidecar "
                              '{"width":..,"height":..,"fps":..,"pix_fmt":..}') from exc
    raise InputError(f"{path}: cannot tell its geometry from the name",
                     hint="name it Name_1920x1080_25fps.yuv (or Name_25fps.yuv with --width/--height), "
                          "add a Name.json sidecar with width, height, fps and pix_fmt, "
                          "or give all of --width, --height and --fps")


STREAM_LINE = re.compile(r"Stream #0:\d+.*?: Video: .*")


def parse_probe(stderr: str) -> tuple[int, int, str, str]:
    """(width, height, fps, pix_fmt) of the first video stream in the output of a decode to `-f null`.

    The size is the decoded one (the null output's `wrapped_avframe` stream) where it is printed: a
    phone recording's display matrix makes ffmpeg rotate a 1920x1080 stream to 1080x1920 frames, and
    those frames are what every job encodes and scores.
    """
    lines = [m.group(0) for m in STREAM_LINE.finditer(stderr)]
    if not lines:
        raise ValueError("no video stream")
    line = lines[0]
    decoded = next((ln for ln in lines[1:] if "wrapped_avframe" in ln), line)
    size = re.search(r",\s*(\d{2,5})x(\d{2,5})", decoded) or re.search(r",\s*(\d{2,5})x(\d{2,5})", line)
    fps = re.search(r"(\d+(?:\.\d+)?)(k?) fps", line) or re.search(r"(\d+(?:\.\d+)?)(k?) tbr", line)
    pix = re.search(r"Video: [^,]+, ([a-z0-9]+)[(,]", line)
    if not (size and fps and pix):
        raise ValueError(f"cannot parse {line!r}")
    rate = float(fps.group(1)) * (1000 if fps.group(2) else 1)
    known = {23.98: "24000/1001", 29.97: "30000/1001", 59.94: "60000/1001", 47.95: "48000/1001"}
    return int(size[1]), int(size[2]), known.get(round(rate, 2), parse_fps(repr(rate))), pix.group(1)


# Lines of a decode's output side (the null muxer, the encoder): a VFR master's timestamps make the
# null muxer complain of non-monotonic dts, which says nothing about the file.
_OUTPUT_SIDE = re.compile(r"^\[(null|out#|vost#|enc:|vf#)")
_ERROR_LINE = re.compile(r"\[(error|fatal|panic)\] ?(.*)$")


def demuxer_damage(stderr: str) -> str:
    """The first error a `-loglevel level+info` decode logged on its input side; "" when there was none.

    The strict decode (-xerror, -err_detect explode) stops on a damaged frame, but a demuxer resyncs
    over a damaged mkv cluster or mp4 box and the decode exits 0 with frames missing.
    """
    for line in stderr.splitlines():
        m = _ERROR_LINE.search(line)
        if m and not _OUTPUT_SIDE.match(line.strip()):
            return strip_log_prefix(m.group(2)) or line.strip()
    return ""


def master_geometry(path: Path, ffmpeg: str) -> tuple[int, int, str, str, int]:
    # decode the whole master strictly: a reference corrupt mid-stream must be refused, not
    # silently concealed (ffmpeg would otherwise patch over broken frames and go on)
    res = run_process(build_decode_argv(ffmpeg, path, strict=True), timeout_s=DECODE_TIMEOUT_S)
    try:
        if res.returncode != 0:
            counts = re.findall(r"frame=\s*(\d+)", res.stderr)
            where = f" after frame {counts[-1]}" if counts else ""
            raise ValueError(f"decoding failed{where}: {telling_line(res.stderr)}")
        width, height, fps, pix_fmt = parse_probe(res.stderr)
        n_frames = parse_frame_count(res.stderr)
    except ValueError as exc:
        raise InputError(f"{path}: not a readable video ({exc})",
                         hint="check the file plays, or remove it from --ref-dir") from exc
    if damage := demuxer_damage(res.stderr):
        raise InputError(f"{path}: damaged container: the demuxer skipped data ({damage}); only {n_frames} frames "
                         "decode, so every job would fail on frame counts",
                         hint="copy or re-export the clip again, or remove it from --ref-dir")
    if pix_fmt not in PIX_FMTS:
        pix_fmt = "yuv420p10le" if "10" in pix_fmt else "yuv420p"
    return width, height, fps, pix_fmt, n_frames
