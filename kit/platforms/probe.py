"""The encoder probe: a real test encode, decoded back and frame-counted.

The probe encodes a small rendered clip with exactly the pixel format,
rate-control flags and device arguments the corpus will use, within a
timeout, and measures the encode speed. A failure keeps the most telling line
of ffmpeg's stderr plus a hint. Results are cached per ffmpeg build and host
signals (drivers, devices) in kit.host.cache_dir(); transient failures (a
timeout, busy NVENC sessions) are not cached.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from kit.commands import build_encode_argv
from kit.errors import PrereqError, ToolError
from kit.ffmpeg import FFmpegInfo, strip_log_prefix, telling_line  # noqa: F401 - re-exported
from kit.fsio import read_json, sha256_json, write_json
from kit.host import cache_dir
from kit.platforms.detect import ENGINE_NAMES, HwSetup, hw_setup
from kit.platforms.encoders import EncoderSpec, HwArgs, get_spec
from kit.platforms.signals import HostSignals
from kit.proc import LogFn, run_process
from kit.refs import decoded_frame_count

PROBE_SIZE = "640x360"  # the demo corpus's size: above every hardware encoder's minimum
PROBE_FRAMES = 30
PROBE_TIMEOUT_S = 60.0
PROBE_CQ = 25
CACHE_VERSION = 1

# known causes -> what to do (like ffmpeg-quality-metrics' libvmaf hints)
_HINTS: tuple[tuple[str, str], ...] = (
    (r"libcuda|cuInit|CUDA_ERROR_NO_DEVICE",
     "no usable NVIDIA driver (libcuda) here: NVENC needs an NVIDIA GPU with its driver loaded"),
    (r"unsupported device|No capable devices found|No NVENC capable",
     "this GPU has no NVENC engine (data-centre GPUs such as A100/H100 lack it): use the CPU encoders"),
    (r"nvenc API version|minimum required Nvidia driver",
     "the NVIDIA driver is older than this ffmpeg's NVENC API: update the driver"),
    (r"out of memory \(10\)|incompatible client key",
     "all NVENC sessions are busy (consumer GPUs cap concurrent encodes): retry when other encodes finish"),
    (r"No VA display|vaInitialize|VAAPI|libva",
     "the VA-API driver cannot open the render node: install intel-media-va-driver (iHD), export "
     "LIBVA_DRIVER_NAME=iHD, and check you are in the render/video group (in a container: --device /dev/dri)"),
    (r"MFX|libvpl|oneVPL",
     "no oneVPL runtime for this GPU: install libvpl2/libmfx-gen1 and intel-media-va-driver (iHD)"),
    (r"only on macOS", "run this encoder on a Mac"),
    (r"only on Linux and Windows", "run this encoder on a box with an NVIDIA GPU"),
    (r"render node", "no Intel/AMD GPU is visible: install its driver (in a container pass --device /dev/dri)"),
    (r"qscale not available",
     "VideoToolbox constant quality (-q:v) needs Apple silicon; this Mac cannot run it at a fixed quality"),
    (r"compression session|allow_sw", "no hardware VideoToolbox encoder here (a virtual machine?)"),
    (r"not in this ffmpeg build|hwaccel", "use an ffmpeg that has it: --ffmpeg PATH or `ensemble-kit binaries stage`"),
)
_TRANSIENT = re.compile(r"out of memory \(10\)|incompatible client key|timed out|cannot start|temporarily",
                        re.IGNORECASE)


@dataclass(frozen=True)
class ProbeResult:
    name: str
    available: bool
    reason: str  # success: what was proven; failure: the most telling line
    fps: float | None = None  # measured encode speed (frames / wall seconds, start-up included)
    device: str = ""
    hint: str = ""
    seconds: float = 0.0
    hw: HwArgs = field(default_factory=HwArgs)
    cached: bool = False

    @property
    def transient(self) -> bool:
        return not self.available and bool(_TRANSIENT.search(self.reason))

    @property
    def failure(self) -> str:
        """e.g. "NVENC unavailable: Cannot load libcuda.so.1"."""
        engine = ENGINE_NAMES.get(get_spec(self.name).family, self.name)
        return f"{engine} unavailable: {self.reason}"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "available": self.available, "reason": self.reason, "fps": self.fps,
                "device": self.device, "hint": self.hint, "seconds": self.seconds, "hw": self.hw.to_json(),
                "cached": self.cached}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> ProbeResult:
        fps = d.get("fps")
        return cls(str(d["name"]), bool(d["available"]), str(d["reason"]),
                   None if fps is None else float(fps), str(d.get("device", "")),  # type: ignore[arg-type]
                   str(d.get("hint", "")), float(d.get("seconds", 0.0)),  # type: ignore[arg-type]
                   HwArgs.from_json(d.get("hw")), bool(d.get("cached", False)))  # type: ignore[arg-type]


def explain(reason: str) -> str:
    for pattern, hint in _HINTS:
        if re.search(pattern, reason, re.IGNORECASE):
            return hint
    return ""


def render_probe_clip(ffmpeg: str, dest: Path, size: str = PROBE_SIZE, frames: int = PROBE_FRAMES,
                      log: LogFn | None = None) -> Path:
    """A small synthetic y4m clip to test-encode and score."""
    res = run_process([ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-y", "-f", "lavfi", "-i",
                       f"testsrc2=s={size}:r=25", "-frames:v", str(frames), "-pix_fmt", "yuv420p",
                       "-f", "yuv4mpegpipe", dest], timeout_s=PROBE_TIMEOUT_S, log=log)
    if res.returncode != 0:
        raise PrereqError(f"ffmpeg cannot render a test clip: {telling_line(res.stderr)}",
                          hint="the ffmpeg in use is broken; pass another with --ffmpeg PATH")
    return dest


def _failed(spec: EncoderSpec, setup: HwSetup, reason: str, seconds: float = 0.0) -> ProbeResult:
    return ProbeResult(spec.name, False, reason, None, setup.device, explain(reason), round(seconds, 3), setup.args)


def probe_encoder(ffmpeg: str, spec: EncoderSpec, setup: HwSetup, clip: Path, work: Path, cq: int,
                  timeout_s: float = PROBE_TIMEOUT_S, log: LogFn | None = None) -> ProbeResult:
    """One real test encode of `clip` (PROBE_FRAMES frames) with the corpus's flags and device args."""
    if setup.missing:
        return _failed(spec, setup, setup.missing)
    out = work / f"probe_{spec.name}.{spec.container}"
    out.unlink(missing_ok=True)
    argv = build_encode_argv(ffmpeg, ["-i", str(clip)], spec, cq, out, hw_init=setup.args.init,
                             hw_filter=setup.args.filter)
    try:
        res = run_process(argv, timeout_s=timeout_s, log=log)
    except ToolError as exc:
        return _failed(spec, setup, f"test encode: {exc.message}", timeout_s)
    if res.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        return _failed(spec, setup, telling_line(res.stderr) or f"ffmpeg exit {res.returncode}", res.elapsed_s)
    frames = decoded_frame_count(out, ffmpeg, timeout_s, log)
    if frames != PROBE_FRAMES:
        return _failed(spec, setup, f"the test encode decodes to {frames} frames, not {PROBE_FRAMES}", res.elapsed_s)
    fps = round(PROBE_FRAMES / max(res.elapsed_s, 1e-3), 1)
    return ProbeResult(spec.name, True, f"{PROBE_SIZE} test encode decoded back, {PROBE_FRAMES} frames exact",
                       fps, setup.device, "", round(res.elapsed_s, 3), setup.args)


# --- cache ---------------------------------------------------------------------------------


def cache_path(info: FFmpegInfo, sig: HostSignals, root: Path | None = None) -> Path:
    """One file per (ffmpeg build, host signals): a new driver, GPU or render node means new probes."""
    key = sha256_json({"v": CACHE_VERSION, "ffmpeg": info.build, "path": info.path, "host": sig.to_json()})
    return (root or cache_dir()) / "probes" / f"{key[:20]}.json"


def entry_key(spec: EncoderSpec, setup: HwSetup, cq: int) -> str:
    """The exact probe command (without temp paths), so a changed flag means a new probe."""
    argv = build_encode_argv("ffmpeg", ["-i", "probe.y4m"], spec, cq, "out", hw_init=setup.args.init,
                             hw_filter=setup.args.filter)
    return f"{spec.name}|{sha256_json([argv, PROBE_SIZE, PROBE_FRAMES, setup.device])[:16]}"


class ProbeCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._data: dict[str, dict[str, object]] = dict(read_json(path)) if path.is_file() else {}
        except (OSError, ValueError, TypeError):
            self._data = {}

    def get(self, key: str) -> ProbeResult | None:
        entry = self._data.get(key)
        if not isinstance(entry, dict):
            return None
        try:
            hit = ProbeResult.from_json(entry)
        except (KeyError, TypeError, ValueError):
            return None
        return replace(hit, cached=True)

    def put(self, key: str, result: ProbeResult) -> None:
        if result.transient:
            return
        self._data[key] = result.to_json()
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            write_json(self.path, self._data)


class Prober:
    """Probes encoders against one ffmpeg on one host; renders its test clip once, lazily."""

    def __init__(self, info: FFmpegInfo, sig: HostSignals, work: Path, cq: int = PROBE_CQ,
                 refresh: bool = False, timeout_s: float = PROBE_TIMEOUT_S, log: LogFn | None = None) -> None:
        self.info, self.sig, self.work, self.cq = info, sig, work, cq
        self.refresh, self.timeout_s, self.log = refresh, timeout_s, log
        self.cache = ProbeCache(cache_path(info, sig))
        self._clip: Path | None = None

    def clip(self) -> Path:
        if self._clip is None:
            self.work.mkdir(parents=True, exist_ok=True)
            self._clip = render_probe_clip(self.info.path, self.work / "probe.y4m", log=self.log)
        return self._clip

    def probe(self, name: str) -> ProbeResult:
        spec = get_spec(name)
        setup = hw_setup(spec, self.sig)
        if setup.missing:
            return _failed(spec, setup, setup.missing)
        if name not in self.info.encoders:
            return _failed(spec, setup, f"{name} is not in this ffmpeg build ({self.info.version}, {self.info.source})")
        key = entry_key(spec, setup, self.cq)
        hit = None if self.refresh else self.cache.get(key)
        if hit is not None:
            if self.log is not None:  # no command runs: say where the answer came from
                self.log(f"{name}: probe result from the cache {self.cache.path} "
                         f"({'works' if hit.available else 'fails'}: {hit.reason})")
            return hit
        result = probe_encoder(self.info.path, spec, setup, self.clip(), self.work, self.cq, self.timeout_s,
                               self.log)
        self.cache.put(key, result)
        return result


def probe_row(result: ProbeResult) -> list[str]:
    """A prereqs row (check, result, detail) for one probed encoder."""
    if result.available:
        cached = ", cached" if result.cached else ""
        return [result.name, "ok", f"{result.fps:.0f} fps test encode decoded back frame-exact on {result.device}"
                                   f"{cached}"]
    hint = f" - hint: {result.hint}" if result.hint else ""
    return [result.name, "no", f"{result.failure}{hint}"]
