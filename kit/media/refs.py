"""Reference clips: discovery, per-clip geometry, content identity.

`.y4m` describes itself; `.yuv` takes its geometry from the file name
(`Name_1920x1080_25fps[_10bit][_422].yuv`, or Netflix-style `Name_25fps.yuv`
with the --width/--height defaults) or from a `Name.json` sidecar; `.mp4`,
`.mkv` and `.mov` masters are probed with ffmpeg. Geometry is per clip.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from kit.errors import InputError
from kit.infra.files import read_json_object, sha256_file, write_json
from kit.infra.proc import LogFn, run_process
from kit.media.argv import build_decode_argv
from kit.media.ffmpeg import parse_frame_count, telling_line

CLIP_EXTS = (".y4m", ".yuv", ".mp4", ".mkv", ".mov")
DECODE_TIMEOUT_S = 300.0  # a whole decode of a long master

# Pixel formats the kit accepts: (chroma width divisor, chroma height divisor, bytes per sample).
PIX_FMTS: dict[str, tuple[int, int, int]] = {
    "yuv420p": (2, 2, 1), "yuv422p": (2, 1, 1), "yuv444p": (1, 1, 1),
    "yuv420p10le": (2, 2, 2), "yuv422p10le": (2, 1, 2), "yuv444p10le": (1, 1, 2),
    "yuv420p12le": (2, 2, 2), "yuv422p12le": (2, 1, 2), "yuv444p12le": (1, 1, 2),
    "gray": (0, 0, 1), "gray10le": (0, 0, 2),
}
Y4M_COLORSPACES = {
    "420jpeg": "yuv420p", "420paldv": "yuv420p", "420mpeg2": "yuv420p", "420": "yuv420p",
    "422": "yuv422p", "444": "yuv444p", "mono": "gray",
    "420p10": "yuv420p10le", "422p10": "yuv422p10le", "444p10": "yuv444p10le",
    "420p12": "yuv420p12le", "422p12": "yuv422p12le", "444p12": "yuv444p12le", "mono10": "gray10le",
}
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

    @property
    def fps_float(self) -> float:
        return float(Fraction(self.fps))

    def input_args(self) -> list[str]:
        """ffmpeg input options that read this clip, ending with `-i PATH`."""
        if self.kind == "yuv":
            return ["-f", "rawvideo", "-pix_fmt", self.pix_fmt, "-s", f"{self.width}x{self.height}",
                    "-framerate", self.fps, "-i", self.path]
        return ["-i", self.path]


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
    """An exact frame rate "num/den" from "25", "29.97", "30000/1001" or "25:1"."""
    frac = Fraction(text.strip().replace(":", "/"))
    if frac <= 0:
        raise ValueError(text)
    return f"{frac.numerator}/{frac.denominator}"


# --- content identity -------------------------------------------------------------------


def _valid_entry(key: str, value: str) -> bool:
    """A sha256 entry is 64 hex digits; a master's is its [w, h, fps, pix_fmt, frames] as JSON."""
    if not key.startswith("master|"):
        return re.fullmatch(r"[0-9a-f]{64}", value) is not None
    try:
        w, h, fps, pix, n = json.loads(value)
    except (ValueError, TypeError):
        return False
    return (all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h, n))
            and isinstance(fps, str) and isinstance(pix, str))


class Sha256Cache:
    """sha256 of clip bytes, cached by (absolute path, size, mtime_ns)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._data: dict[str, str] = {}
        if path is not None:  # the kit's own cache, checked, not trusted: a damaged entry is computed again
            data, _ = read_json_object(path)
            self._data = {k: v for k, v in (data or {}).items() if isinstance(v, str) and _valid_entry(k, v)}

    @staticmethod
    def _key(p: Path) -> str:
        st = p.stat()
        return f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}"

    def get(self, p: Path) -> str:
        key = self._key(p)
        if key not in self._data:
            self._data[key] = sha256_file(p)
            self._save()
        return self._data[key]

    def master_geometry(self, p: Path, ffmpeg: str) -> tuple[int, int, str, str, int]:
        """A master's probe (a whole strict decode) once per file version, not on every plan."""
        key = "master|" + self._key(p)
        if key not in self._data:
            self._data[key] = json.dumps(master_geometry(p, ffmpeg))
            self._save()
        w, h, fps, pix, n = json.loads(self._data[key])
        return int(w), int(h), str(fps), str(pix), int(n)

    def _save(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
                write_json(self.path, self._data)


# --- per-kind geometry --------------------------------------------------------------------


def parse_y4m_header(path: Path) -> tuple[int, int, str, str, int]:
    """(width, height, fps, pix_fmt, header length) of a y4m file."""
    with open(path, "rb") as fh:
        head = fh.read(512)
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
    width, height, fps, pix_fmt, header = parse_y4m_header(path)
    per_frame = frame_bytes(width, height, pix_fmt) + len(b"FRAME\n")
    body = path.stat().st_size - header
    if body <= 0 or body % per_frame:
        raise InputError(
            f"{path}: truncated y4m ({body} bytes after the header is not a whole number of "
            f"{per_frame}-byte frames)",
            hint="the file was cut short; copy it again or drop it from --ref-dir")
    return width, height, fps, pix_fmt, body // per_frame


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


def yuv_geometry(path: Path, defaults: YuvDefaults) -> tuple[int, int, str, str]:
    sidecar = path.with_suffix(".json")
    try:
        if sidecar.is_file():
            meta = json.loads(sidecar.read_text())
            return (int(meta["width"]), int(meta["height"]), parse_fps(str(meta["fps"])),
                    str(meta.get("pix_fmt", "yuv420p")))
        if m := YUV_FULL.search(path.stem):
            return int(m[1]), int(m[2]), parse_fps(m[3]), yuv_pix_fmt(m[4], m[5])
        if (m := YUV_SIZE_ONLY.search(path.stem)) and defaults.fps:
            return int(m[1]), int(m[2]), parse_fps(defaults.fps), yuv_pix_fmt(m[3], m[4])
        if m := YUV_FPS_ONLY.search(path.stem):
            return *defaults.size, parse_fps(m[1]), yuv_pix_fmt(m[2], m[3])
        if defaults.width and defaults.height and defaults.fps:
            return defaults.width, defaults.height, parse_fps(defaults.fps), "yuv420p"
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: cannot read its geometry ({exc})",
                         hint="name it Name_WxH_FPSfps.yuv or give a Name.json sidecar "
                              '{"width":..,"height":..,"fps":..,"pix_fmt":..}') from exc
    raise InputError(f"{path}: cannot tell its geometry from the name",
                     hint="name it Name_1920x1080_25fps.yuv (or Name_25fps.yuv with --width/--height), "
                          "add a Name.json sidecar with width, height, fps and pix_fmt, "
                          "or give all of --width, --height and --fps")


STREAM_LINE = re.compile(r"Stream #0:\d+.*?: Video: .*")


def parse_probe(stderr: str) -> tuple[int, int, str, str]:
    """(width, height, fps, pix_fmt) of the first video stream in `ffmpeg -i` output."""
    line = next((m.group(0) for m in STREAM_LINE.finditer(stderr)), None)
    if line is None:
        raise ValueError("no video stream")
    size = re.search(r",\s*(\d{2,5})x(\d{2,5})", line)
    fps = re.search(r"(\d+(?:\.\d+)?)(k?) fps", line) or re.search(r"(\d+(?:\.\d+)?)(k?) tbr", line)
    pix = re.search(r"Video: [^,]+, ([a-z0-9]+)[(,]", line)
    if not (size and fps and pix):
        raise ValueError(f"cannot parse {line!r}")
    rate = float(fps.group(1)) * (1000 if fps.group(2) else 1)
    known = {23.98: "24000/1001", 29.97: "30000/1001", 59.94: "60000/1001", 47.95: "48000/1001"}
    return int(size[1]), int(size[2]), known.get(round(rate, 2), parse_fps(repr(rate))), pix.group(1)


def decoded_frame_count(path: Path, ffmpeg: str, timeout_s: float = DECODE_TIMEOUT_S, log: LogFn | None = None) -> int:
    """Decode a file to nowhere and count its frames; -1 when it does not decode."""
    res = run_process(build_decode_argv(ffmpeg, path), timeout_s=timeout_s, log=log)
    try:
        return parse_frame_count(res.stderr) if res.returncode == 0 else -1
    except ValueError:
        return -1


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
    if pix_fmt not in PIX_FMTS:
        pix_fmt = "yuv420p10le" if "10" in pix_fmt else "yuv420p"
    return width, height, fps, pix_fmt, n_frames


# --- discovery ----------------------------------------------------------------------------


def probe_clip(path: Path, ffmpeg: str, sha: Callable[[Path], str],
               defaults: YuvDefaults = YuvDefaults(), cache: Sha256Cache | None = None) -> Clip:
    try:
        return _probe_clip(path, ffmpeg, sha, defaults, cache)
    except OSError as exc:  # unreadable, vanished: the user's file, not a bug
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})",
                         hint="check the file's permissions, or remove it from --ref-dir") from exc


def _probe_clip(path: Path, ffmpeg: str, sha: Callable[[Path], str], defaults: YuvDefaults,
                cache: Sha256Cache | None) -> Clip:
    ext = path.suffix.lower()
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)", hint="remove it from --ref-dir")
    if ext == ".y4m":
        w, h, fps, pix, n = y4m_geometry(path)
        kind = "y4m"
    elif ext == ".yuv":
        w, h, fps, pix = yuv_geometry(path, defaults)
        per_frame = frame_bytes(w, h, pix)
        size = path.stat().st_size
        if size % per_frame:
            raise InputError(
                f"{path}: {size} bytes is not a whole number of {w}x{h} {pix} frames "
                f"({per_frame} bytes each)",
                hint="fix the geometry in the name or sidecar, or replace the truncated file")
        n, kind = size // per_frame, "yuv"
    else:
        w, h, fps, pix, n = (cache.master_geometry(path, ffmpeg) if cache is not None
                             else master_geometry(path, ffmpeg))
        kind = "master"
    if n < 1:
        raise InputError(f"{path}: no frames", hint="remove it from --ref-dir")
    return Clip(str(path.resolve()), source_name(path), kind, w, h, fps, pix, n, sha(path))


def find_clip_files(ref_dir: Path) -> list[Path]:
    if not ref_dir.exists():
        raise InputError(f"--ref-dir {ref_dir} does not exist", hint="pass a folder of reference clips")
    if not ref_dir.is_dir():
        raise InputError(f"--ref-dir {ref_dir} is not a folder", hint="pass a folder of reference clips")
    if not os.access(ref_dir, os.R_OK | os.X_OK):
        raise InputError(f"--ref-dir {ref_dir} is not readable", hint=f"chmod u+rx {ref_dir}")
    files = sorted(p for p in ref_dir.iterdir() if p.is_file() and p.suffix.lower() in CLIP_EXTS)
    if not files:
        raise InputError(f"no reference clips in {ref_dir} (looked for {' '.join(CLIP_EXTS)})",
                         hint="put .y4m/.yuv/.mp4/.mkv/.mov clips there, or drop --ref-dir for the demo set")
    return files


def discover(ref_dir: Path, ffmpeg: str, sha_cache: Sha256Cache,
             defaults: YuvDefaults = YuvDefaults()) -> list[Clip]:
    """Every clip in ref_dir, checked; duplicates of one content are refused."""
    clips = [probe_clip(p, ffmpeg, sha_cache.get, defaults, sha_cache) for p in find_clip_files(ref_dir)]
    check_distinct(clips)
    return clips


def check_distinct(clips: list[Clip]) -> None:
    by_sha: dict[str, Clip] = {}
    by_src: dict[str, Clip] = {}
    for c in clips:
        if c.sha256 in by_sha:
            raise InputError(f"{c.path} and {by_sha[c.sha256].path} hold the same content",
                             hint="keep one of them: one piece of content must not sit on both sides of a fold")
        if c.src in by_src:
            raise InputError(f"{c.path} and {by_src[c.src].path} give the same source name {c.src!r}",
                             hint="rename one of them")
        by_sha[c.sha256] = c
        by_src[c.src] = c


def reference_clips(ref_dir: Path | None, ffmpeg: str, cache_folder: Path, defaults: YuvDefaults = YuvDefaults(),
                    demo_count: int | None = None, demo_seconds: float = 0.0) -> tuple[list[Clip], bool]:
    """(the reference set, is it the demo set): the clips of --ref-dir, else the embedded demo clips.

    Content hashes are cached in cache_folder/sha256.json; the demo set is rendered there once.
    """
    from kit.media.demo import DEMO_CLIPS, SECONDS, ensure_demo_set

    cache = Sha256Cache(cache_folder / "sha256.json")
    if ref_dir is not None:
        return discover(ref_dir, ffmpeg, cache, defaults), False
    folder = ensure_demo_set(cache_folder, ffmpeg, demo_count, seconds=demo_seconds or SECONDS)
    names = {c.name for c in DEMO_CLIPS[:demo_count]}
    return [c for c in discover(folder, ffmpeg, cache) if c.src in names], True
