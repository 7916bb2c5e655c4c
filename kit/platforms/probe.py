"""The encoder probe: a real test encode with the corpus's exact flags and device arguments, decoded back and counted
(a 10-bit one too with `--encode-depth source`), cached per ffmpeg build and host unless transient or signal-ended."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from kit.errors import PrereqError, ToolError
from kit.events import HINT_MARK
from kit.infra.ended import Ended, Kind
from kit.infra.files import disk_full_at, sha256_json
from kit.infra.host import cache_tree
from kit.infra.invocation import kit_cli, kit_command
from kit.infra.proc import CAP_FIX, STOPPED_FIX, LogFn, ProcResult, ended_by, ended_of, run_process
from kit.infra.records import Record, keep, omit_none
from kit.infra.rules import SECONDS, Off, Real
from kit.infra.shown import Spelled, spelled_path
from kit.infra.tree import LockBusy, Tree
from kit.media.argv import (
    build_decode_argv,
    build_encode_argv,
    build_query_argv,
    build_render_argv,
    build_score_argv,
)
from kit.media.cache import CACHE_LOCK_WAIT_S
from kit.media.decode import parse_probe
from kit.media.ffmpeg import FFmpegInfo, interruption, parse_frame_count, parse_pix_fmts, telling_line
from kit.media.libvmaf import parse_vmaf_log
from kit.media.pixfmt import ENC_PIX_FMTS
from kit.platforms.detect import HwSetup, hw_setup
from kit.platforms.encoders import EncoderSpec, HwArgs, get_spec
from kit.platforms.grids import CqGrid
from kit.platforms.signals import HostSignals

PROBE_SIZE = "640x360"  # the demo corpus's size: above every hardware encoder's minimum
PROBE_FRAMES = 30
PROBE_TIMEOUT_S = 60.0  # one render, test encode, decode-back or libvmaf check
PAIR_FPS = "25"  # the rate of the test clips the probes render, and so of their scorings
PROBE_CQ = 25
VMAF_CHECK_SIZE = "176x144"  # the libvmaf check's smaller clip (libvmaf has no minimum size): fast on every run
VMAF_CHECK_FRAMES = 5
VMAF_CHECK_CQ = 30
CACHE_VERSION = 3  # raised when a cached result may no longer be read as it was written: every encoder probed again
TEN_BIT_FMT = ENC_PIX_FMTS[10]  # the 10-bit probe clip's format, and what a 10-bit encode must decode back as
# formats of frames already on a device: an encoder listing only these (VAAPI) takes whatever its upload sends
HW_FRAME_FORMATS = frozenset(("vaapi", "qsv", "cuda", "videotoolbox_vld", "d3d11", "d3d12", "vulkan", "drm_prime",
                              "opencl", "mediacodec", "amf"))

VA_PATTERN = r"No VA display|vaInitialize|VAAPI|libva"  # a VA-API failure: its fix depends on the GPU's vendor
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
    (VA_PATTERN,
     "the VA-API driver cannot open the render node: install intel-media-va-driver (iHD), export "
     "LIBVA_DRIVER_NAME=iHD, and check you are in the render/video group (in a container: --device /dev/dri)"),
    (r"MFX|libvpl|oneVPL",
     "no oneVPL runtime for this GPU: install libvpl2/libmfx-gen1 and intel-media-va-driver (iHD)"),
    (r"amfrt64|hardware device context \(AMF\)",
     "no AMD AMF runtime here: AMF needs an AMD GPU with AMD's driver (on Windows, Adrenalin installs "
     "amfrt64.dll); on Linux an AMD GPU encodes through VA-API (--encoders h264_vaapi,hevc_vaapi)"),
    (r"only on macOS", "run this encoder on a Mac"),
    (r"only on Linux and Windows", "run this encoder on a box with an NVIDIA GPU"),
    (r"render node", "no Intel/AMD GPU is visible: install its driver (in a container pass --device /dev/dri)"),
    (r"qscale not available",
     "VideoToolbox constant quality (-q:v) needs Apple silicon; this Mac cannot run it at a fixed quality"),
    (r"compression session|allow_sw", "no hardware VideoToolbox encoder here (a virtual machine?)"),
    (r"not in this ffmpeg build|hwaccel", "use an ffmpeg that has it: --ffmpeg PATH or `{kit} binaries stage`"),
)
# a test encode that says nothing of the encoder: the box's moment, never cached as the encoder's failure. How its
# child ended, typed (kit.infra.ended: the kit's own words are never read back to decide) ...
TRANSIENT_ENDS = frozenset({Kind.CRASHED, Kind.KILLED_OUTSIDE, Kind.STOPPED_OUTSIDE, Kind.NO_FRAMES_FOR,
                            Kind.TIMED_OUT, Kind.CAPPED, Kind.CANNOT_START})
# ... or what ffmpeg itself said (its output folder, the out-dir's, unwritable or full is the out-dir's: 2.4 cached
# `Error opening output files: Operation not permitted` and refused libx264 on every run after)
_TRANSIENT = re.compile(r"out of memory \(10\)|incompatible client key|temporarily|received signal|"
                        r"Error opening output.*(not permitted|Permission denied|Read-only|No space|quota)",
                        re.IGNORECASE)
# the ends whose fix is their own (the hint names it), not the encoder's nor a busier box's
OWN_FIX = {Kind.CAPPED: f"{CAP_FIX}: the test encode proved nothing of the encoder", Kind.STOPPED_OUTSIDE: STOPPED_FIX}


class ProbeInterrupted(PrereqError):
    """A probe's ffmpeg was ended by a signal: the probe proved nothing and nothing is cached."""

    retry_helps = True  # the same command runs the test again

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"the {what} was {why} before it finished, so it proved nothing (nothing was cached)",
                         hint="something outside the kit stopped that ffmpeg (a kill, a Ctrl-C sent to it "
                              "alone, the out-of-memory killer): rerun the same command and the test runs again")


def run_probe(argv: list[str], what: str, log: LogFn | None) -> ProcResult:
    """run_process for a probe command (PROBE_TIMEOUT_S); a signal that ended it raises ProbeInterrupted."""
    res = run_process(argv, timeout_s=PROBE_TIMEOUT_S, log=log)
    if why := interruption(res):
        if log is not None:
            log(f"  {what} was {why}: not a result, nothing cached")
        raise ProbeInterrupted(what, why)
    return res


def retest_command(name: str, ffmpeg: str) -> str:
    """The command that test-encodes `name` again with this ffmpeg and replaces its cached result."""
    return kit_command("detect", "--refresh", "--encoders", name, "--ffmpeg", ffmpeg)


@dataclass(frozen=True)
class ProbeResult(Record):
    """One encoder's test encode: cached per ffmpeg build and host, recorded in prereqs.json."""

    LENIENT = True  # cache entries of older kits lack the later keys

    name: str
    available: bool
    reason: str  # success: what was proven; failure: the most telling line (ffmpeg's words: withheld where sent)
    # measured encode speed (frames / wall seconds, start-up included)
    fps: float | None = field(default=None, metadata=keep(Off(Real(0))))
    device: str = ""
    hint: str = ""
    seconds: float = field(default=0.0, metadata=keep(SECONDS))
    hw: HwArgs = field(default_factory=HwArgs)
    cached: bool = False
    retest: str = ""  # a cached failure: the command that tests it again
    # why it was test-encoded now, not read from the cache (Prober.why_tested)
    tested: str | None = omit_none()
    # how its child ended where that decides (a kill, a stop, a limit: kit.infra.ended.Kind's name), None otherwise
    ended: str | None = omit_none()

    @property
    def end(self) -> Kind | None:
        return Kind.__members__.get(self.ended) if self.ended is not None else None

    @property
    def cached_note(self) -> str:
        """For a failure read from the cache: where it came from and how to test again."""
        if self.available or not self.cached:
            return ""
        return "cached from an earlier test encode" + (f"; test it again with `{self.retest}`" if self.retest else "")

    @property
    def transient(self) -> bool:
        return not self.available and (self.end in TRANSIENT_ENDS or bool(_TRANSIENT.search(self.reason)))

    @property
    def failure(self) -> str:
        """e.g. "NVENC unavailable: Cannot load libcuda.so.1"."""
        engine = get_spec(self.name).traits.engine or self.name
        return f"{engine} unavailable: {self.reason}"


VA_AMD_HINT = ("the VA-API driver cannot open the render node: install Mesa's VA-API driver (mesa-va-drivers, "
               "radeonsi), export LIBVA_DRIVER_NAME=radeonsi, and check you are in the render/video group (in a "
               "container: --device /dev/dri)")


def explain(reason: str, device: str = "", end: Kind | None = None) -> str:
    """The fix for a test encode's failure: its end's own (`end`, typed), else by what ffmpeg said; `device` picks the
    VA-API driver of its vendor (AMD: radeonsi, else iHD)."""
    if end in OWN_FIX:
        return OWN_FIX[end]
    for pattern, hint in _HINTS:
        if re.search(pattern, reason, re.IGNORECASE):
            if pattern == VA_PATTERN and " (AMD " in device:
                return VA_AMD_HINT
            return hint.replace("{kit}", kit_cli())
    return ""


def render_probe_clip(ffmpeg: str, dest: Path, size: str = PROBE_SIZE, frames: int = PROBE_FRAMES,
                      log: LogFn | None = None, pix_fmt: str = "yuv420p") -> Path:
    """A small synthetic y4m clip to test-encode and score."""
    res = run_probe(build_render_argv(ffmpeg, f"testsrc2=s={size}:r={PAIR_FPS}", dest, frames=frames, pix_fmt=pix_fmt),
                    "test clip render", log)
    if res.returncode != 0:
        raise PrereqError(f"ffmpeg cannot render a test clip: {telling_line(res.stderr)}",
                          hint="the ffmpeg in use is broken; pass another with --ffmpeg PATH")
    return dest


def _failed(spec: EncoderSpec, setup: HwSetup, reason: str, seconds: float = 0.0,
            ended: Ended | None = None) -> ProbeResult:
    end = ended.kind if ended is not None else None
    return ProbeResult(spec.name, False, reason, None, setup.device, explain(reason, setup.device, end),
                       round(seconds, 3), setup.args, ended=end.name if end is not None else None)


def ten_bit_refusal(spec: EncoderSpec, listed: tuple[str, ...]) -> str:
    """Why `spec` cannot encode 10-bit with this ffmpeg; "" when only a test encode can tell."""
    if not spec.pix_fmt_10bit:
        return spec.no_10bit or f"{spec.name} has no 10-bit encode"
    system = [f for f in listed if f not in HW_FRAME_FORMATS]
    if system and spec.pix_fmt_10bit not in system:
        return (f"this ffmpeg's {spec.name} takes no 10-bit input (it lists {' '.join(system)}; "
                f"{spec.pix_fmt_10bit} is not among them)")
    return ""


def probe_encoder(ffmpeg: str, spec: EncoderSpec, setup: HwSetup, clip: Path, work: Path, cq: int,
                  log: LogFn | None = None, decodes_as: str = "") -> ProbeResult:
    """One real test encode of `clip` with the corpus's flags; `decodes_as`: the format it must decode back as."""
    out = work / f"probe_{spec.name}.{spec.container}"
    out.unlink(missing_ok=True)
    argv = build_encode_argv(ffmpeg, ["-i", spelled_path(clip)], spec, cq, out, hw_init=setup.args.init,
                             hw_filter=setup.args.filter)
    try:
        res = run_probe(argv, f"{spec.name} test encode", log)
    except ToolError as exc:  # cannot start, or timed out: not cached (transient); ProbeInterrupted is no ToolError
        return _failed(spec, setup, f"test encode: {exc.message}", PROBE_TIMEOUT_S, ended_of(exc))
    if res.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        if disk_full_at(out):  # the out-dir's disk, not the encoder: said as the folder's (kit.cli.guard), once
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(out))
        # how it ended (kit.infra.ended: what the lead is sent), then what ffmpeg said (the box's: explain reads it)
        ended = ended_by(res.returncode) if res.returncode else Ended(Kind.NOT_WRITTEN)
        said = telling_line(res.stderr)
        return _failed(spec, setup, f"test encode failed: {ended}" + (f": {said}" if said else ""), res.elapsed_s,
                       ended)
    try:
        frames, decoded = decode_back(ffmpeg, out, f"{spec.name} test encode's decode-back", log)
    except ToolError as exc:
        return _failed(spec, setup, f"decoding the test encode back: {exc.message}", PROBE_TIMEOUT_S, ended_of(exc))
    if frames != PROBE_FRAMES:
        return _failed(spec, setup, f"the test encode decodes to {frames} frames, not {PROBE_FRAMES}", res.elapsed_s)
    if decodes_as and decoded != decodes_as:
        return _failed(spec, setup, f"the {spec.pix_fmt} test encode decodes as {decoded}, not {decodes_as}: "
                                    "the encoder does not keep 10 bit", res.elapsed_s)
    fps = round(PROBE_FRAMES / max(res.elapsed_s, 1e-3), 1)
    what = f"{spec.pix_fmt} test encode decoded back as {decoded}" if decodes_as else "test encode decoded back"
    return ProbeResult(spec.name, True, f"{PROBE_SIZE} {what}, {PROBE_FRAMES} frames exact",
                       fps, setup.device, "", round(res.elapsed_s, 3), setup.args)


def decode_back(ffmpeg: str, path: Path, what: str, log: LogFn | None) -> tuple[int, str]:
    """(frames, pixel format) an encoded file decodes to: (-1, "") when it does not, the format "" when unsaid."""
    res = run_probe(build_decode_argv(ffmpeg, path), what, log)
    try:
        frames = parse_frame_count(res.stderr) if res.returncode == 0 else -1
    except ValueError:
        frames = -1
    if frames < 0:
        return -1, ""
    with contextlib.suppress(ValueError):
        return frames, parse_probe(res.stderr)[3]
    return frames, ""


def cache_path(info: FFmpegInfo, sig: HostSignals, root: Path) -> Path:
    """One file per (ffmpeg build, host signals): a new driver, GPU or render node means new probes."""
    key = sha256_json({"v": CACHE_VERSION, "ffmpeg": info.build, "path": info.path, "host": sig.to_json()})
    return root / "probes" / f"{key[:20]}.json"


def entry_key(spec: EncoderSpec, setup: HwSetup, cq: int, clip_pix_fmt: str = "") -> str:
    """The exact probe command (without temp paths), so a changed flag means a new probe."""
    argv = build_encode_argv("ffmpeg", ["-i", "probe.y4m"], spec, cq, "out", hw_init=setup.args.init,
                             hw_filter=setup.args.filter)
    facts: list[object] = [argv, PROBE_SIZE, PROBE_FRAMES, setup.device]
    if clip_pix_fmt:  # the 10-bit probe: another clip, and the decoded format is checked
        facts.append(clip_pix_fmt)
    return f"{spec.name}|{sha256_json(facts)[:16]}"


class ProbeCache:
    """The probe results of one (ffmpeg build, host): a damaged file or entry reads as absent, said by `damaged`."""

    def __init__(self, tree: Tree, path: Path) -> None:
        self.tree, self.path = tree, path
        data, why = tree.read_json_object(path)
        # said in the step log, the cache's path shown in its sent twin (kit.infra.shown): never formatted into text
        self.damaged: Spelled | None = None if why in ("", "missing") else Spelled(
            "the probe cache ", path, f" is {why}: it is rebuilt")
        self.found = why != "missing"  # the file was there (damaged or not)
        self._data: dict[str, object] = data or {}

    def get(self, key: str) -> ProbeResult | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        try:
            hit = ProbeResult.from_json(entry)
        except (KeyError, TypeError, ValueError):
            self.damaged = Spelled(f"the cached probe of {key.split('|')[0]} in ", self.path,
                                   " is damaged: probed again")
            return None
        return None if hit.transient else replace(hit, cached=True)  # a transient one is not cached: test again

    def holds(self, key: str) -> bool:
        return key in self._data

    def names(self) -> set[str]:
        """The encoders it holds a result of (any test encode)."""
        return {k.split("|")[0] for k in self._data}

    def forget(self, name: str) -> None:
        """Drop every cached result of encoder `name` (any cq, any depth): `detect --refresh` re-tests it."""
        if any(k.split("|")[0] == name for k in self._data):
            self._save(lambda data: {k: v for k, v in data.items() if k.split("|")[0] != name})

    def put(self, key: str, result: ProbeResult) -> None:
        if not result.transient:
            entry = result.to_json()
            self._save(lambda data: {**data, key: entry})

    def _save(self, change: Callable[[dict[str, object]], dict[str, object]]) -> None:
        """`change` made to the file as it is now, read again under its lock, so that what another run on this box
        probed meanwhile (two out-dirs at once, a cluster's shared cache) stays; this cache then holds the same.
        A cache that cannot be written or locked only costs a probe later."""
        self._data = change(self._data)
        lock = self.path.with_name(f".{self.path.name}.lock")
        with contextlib.suppress(OSError, LockBusy), self.tree.lock(lock, wait_s=CACHE_LOCK_WAIT_S, tidy=True):
            data, _ = self.tree.read_json_object(self.path)  # damaged or missing: rebuilt from this change
            self._data = change(data or {})
            self.tree.write_json(self.path, self._data)


class Prober:
    """Probes encoders against one ffmpeg on one host; renders its test clip once, lazily."""

    def __init__(self, info: FFmpegInfo, sig: HostSignals, tree: Tree, work: Path, refresh: bool = False,
                 log: LogFn | None = None, grid: CqGrid | None = None) -> None:
        self.info, self.sig, self.tree, self.work = info, sig, tree, work
        self.grid = grid  # a run's --cqs: each encoder is tested at its own grid's first value
        self.refresh, self.log = refresh, log
        cache = cache_tree()
        self.cache = ProbeCache(cache, cache_path(info, sig, cache.root))
        self._clips: dict[str, Path] = {}

    def cq_of(self, name: str) -> int:
        """The quality an encoder's test encode is made at: its grid's first value in a run, else PROBE_CQ."""
        return self.grid.for_encoder(name)[0] if self.grid is not None else PROBE_CQ

    def clip(self, pix_fmt: str = "yuv420p") -> Path:
        if pix_fmt not in self._clips:
            self.tree.make_folder(self.work)
            name = "probe.y4m" if pix_fmt == "yuv420p" else f"probe_{pix_fmt}.y4m"
            self._clips[pix_fmt] = render_probe_clip(self.info.path, self.work / name, log=self.log, pix_fmt=pix_fmt)
        return self._clips[pix_fmt]

    def listed_pix_fmts(self, name: str) -> tuple[str, ...]:
        """The pixel formats this build's encoder `name` lists; () when it cannot be asked."""
        try:
            res = run_process(build_query_argv(self.info.path, "-h", f"encoder={name}"), timeout_s=PROBE_TIMEOUT_S,
                              log=self.log, capture_stdout=True)
        except ToolError:
            return ()
        return parse_pix_fmts(res.stdout.decode("utf-8", "replace")) if res.returncode == 0 else ()

    def _setup(self, name: str) -> tuple[EncoderSpec, HwSetup, ProbeResult | None]:
        """The encoder's spec and device set-up, and the failure when no test encode can run at all."""
        spec = get_spec(name)
        setup = hw_setup(spec, self.sig)
        if setup.missing:
            return spec, setup, _failed(spec, setup, setup.missing)
        if name not in self.info.encoders:
            return spec, setup, _failed(spec, setup, f"{name} is not in this ffmpeg build ({self.info.version}, "
                                                     f"{self.info.source})")
        return spec, setup, None

    def probe_10bit(self, name: str) -> ProbeResult:
        """Can `name` keep 10 bit here (`--encode-depth source`)? Its data, this build, then a 10-bit test encode."""
        spec, setup, unusable = self._setup(name)
        if unusable is not None:
            return unusable
        if not spec.pix_fmt_10bit:
            return _failed(spec, setup, ten_bit_refusal(spec, ()))
        spec10 = spec.at_bits(10)
        setup = hw_setup(spec10, self.sig)  # the upload chain of QSV/VAAPI carries the 10-bit format
        key = entry_key(spec10, setup, self.cq_of(name), TEN_BIT_FMT)
        why = self.why_tested(spec10, setup, key, TEN_BIT_FMT)
        if (hit := self._cached(key, f"{name} 10-bit")) is not None:
            return hit
        refusal = ten_bit_refusal(spec, self.listed_pix_fmts(name))
        if self.log is not None and not refusal:
            self.log(f"{name} 10-bit: test encode now: {why}")
        result = (_failed(spec10, setup, refusal) if refusal else
                  probe_encoder(self.info.path, spec10, setup, self.clip(TEN_BIT_FMT), self.work, self.cq_of(name),
                                log=self.log, decodes_as=TEN_BIT_FMT))
        self.cache.put(key, result)
        return result if refusal else replace(result, tested=why)

    def probe(self, name: str) -> ProbeResult:
        spec, setup, unusable = self._setup(name)
        if unusable is not None:
            return unusable
        key = entry_key(spec, setup, self.cq_of(name))
        if self.refresh:
            self.cache.forget(name)
        why = self.why_tested(spec, setup, key)  # before the cache is read: a damaged entry is dropped as it is
        if (hit := self._cached(key, name)) is not None:
            return hit if hit.available else replace(hit, retest=retest_command(name, self.info.path))
        if self.log is not None:
            self.log(f"{name}: test encode now: {why}")
        result = probe_encoder(self.info.path, spec, setup, self.clip(), self.work, self.cq_of(name), log=self.log)
        self.cache.put(key, result)
        return replace(result, tested=why)

    def why_tested(self, spec: EncoderSpec, setup: HwSetup, key: str, clip_pix_fmt: str = "") -> str:
        """Why encoder `spec` is test-encoded now rather than read from the cache, in words its prereqs row says
        (whatever the cache holds for `key`: when it holds a result that may be read, this is not said;
        `clip_pix_fmt`: the 10-bit probe's, entry_key's)."""
        name, cq = spec.name, self.cq_of(spec.name)
        if self.refresh:
            return "a new test encode was asked for (--refresh)"
        if not self.cache.found:
            return ("the probe cache holds no result for this ffmpeg build and host (a first run here, or a new "
                    "ffmpeg build, driver, GPU or render node)")
        if self.cache.damaged is not None:  # its path is the step log's, not this row's (prereqs.json is sent)
            return "the probe cache was damaged (the step log names it): it is rebuilt"
        if self.cache.holds(key):
            return "its cached result was a failure that may pass another time (tested again)"
        lo, hi = sorted(spec.cq_range)
        other = [q for q in range(lo, hi + 1) if q != cq and self.cache.holds(entry_key(spec, setup, q, clip_pix_fmt))]
        if other:
            return (f"the cache holds its test encode at cq {', '.join(map(str, other))}, not at cq {cq}: the first "
                    "value of this run's --cqs for it, which its test encode is made at")
        if name in self.cache.names():
            return "the cache holds another test encode of it (its flags or device differ from this kit's)"
        return "never tested with this ffmpeg build on this host"

    def recorded(self, name: str) -> ProbeResult | None:
        """What a test encode of `name` found, with nothing encoded; None when not tested yet here at this quality."""
        spec, setup, unusable = self._setup(name)
        return unusable if unusable is not None else self._cached(entry_key(spec, setup, self.cq_of(name)), name)

    def _cached(self, key: str, what: str) -> ProbeResult | None:
        """The cached result of `key` (none with `refresh`); no command runs, so the log says where it came from."""
        hit = None if self.refresh else self.cache.get(key)
        if self.cache.damaged is not None and self.log is not None:  # what reading the cache found damaged, first
            self.log(self.cache.damaged)
            self.cache.damaged = None
        if hit is not None and self.log is not None:
            self.log(Spelled(f"{what}: probe result from the cache ", self.cache.path,
                             f" ({'works' if hit.available else 'fails'}: {hit.reason})"))
        return hit


def probe_row(result: ProbeResult) -> list[str]:
    """A prereqs row (check, result, detail) for one probed encoder."""
    if result.available:
        return [result.name, "ok", f"{result.fps:.0f} fps test encode decoded back frame-exact on {result.device}"
                                   f"{', cached' if result.cached else ''}"
                                   f"{f'; tested now: {result.tested}' if result.tested else ''}"]
    hints = "; ".join(h for h in (result.hint, result.cached_note) if h)
    return [result.name, "no", result.failure + (f"{HINT_MARK}{hints}" if hints else "")]


def probe_row_10bit(result: ProbeResult) -> list[str]:
    """A prereqs row for one encoder's 10-bit probe (--encode-depth source)."""
    if result.available:
        return [f"{result.name} 10-bit", "ok", f"{result.reason}{', cached' if result.cached else ''}"
                                               f"{f'; tested now: {result.tested}' if result.tested else ''}"]
    hint = f"{HINT_MARK}{result.hint}" if result.hint else ""
    return [f"{result.name} 10-bit", "no", f"keeps 8 bit only here: {result.reason}{hint}"]


def check_libvmaf(ffmpeg: str, work: Path, log: LogFn | None = None) -> str:
    """Encode a tiny clip with libx264 and score it with vmaf_v0.6.1; libvmaf's version, else a PrereqError."""
    ref = render_probe_clip(ffmpeg, work / "ref.y4m", VMAF_CHECK_SIZE, VMAF_CHECK_FRAMES, log=log)
    spec = get_spec("libx264")
    distorted = work / f"probe_libvmaf.{spec.container}"
    res = run_probe(build_encode_argv(ffmpeg, ["-i", spelled_path(ref)], spec, VMAF_CHECK_CQ, distorted),
                    "libvmaf check's libx264 encode", log)
    frames = -1
    if res.returncode == 0 and distorted.is_file():
        frames, _ = decode_back(ffmpeg, distorted, "libvmaf check's decode-back", log)
    if frames != VMAF_CHECK_FRAMES:
        why = (telling_line(res.stderr) or f"ffmpeg exit {res.returncode}" if res.returncode != 0
               else f"its test encode decodes to {frames} frames, not {VMAF_CHECK_FRAMES}")
        raise PrereqError(f"encoder libx264 does not work on this box: {why}",
                          hint="libx264 is the baseline every run needs: use an ffmpeg whose libx264 works "
                               f"(--ffmpeg PATH, or `{kit_command('binaries', 'stage')}`)")
    log_path = work / "probe vmaf.json"  # a space on purpose: path escaping is exercised on every box
    w, h = (int(v) for v in VMAF_CHECK_SIZE.split("x"))
    res = run_probe(build_score_argv(ffmpeg, distorted, ["-i", spelled_path(ref)], w, h, "yuv420p", log_path, 1,
                                     fps=PAIR_FPS), "libvmaf check's scoring", log)
    if res.returncode != 0 or not log_path.is_file():
        raise PrereqError(f"libvmaf failed to score a test pair: {telling_line(res.stderr)}",
                          hint="use an ffmpeg whose libvmaf has the built-in vmaf_v0.6.1 model (--ffmpeg PATH)")
    vlog = parse_vmaf_log(log_path)
    if vlog.n_frames != VMAF_CHECK_FRAMES or not (0 <= float(vlog.vmaf.mean()) <= 100):
        raise PrereqError(f"libvmaf scored {vlog.n_frames} of {VMAF_CHECK_FRAMES} test frames",
                          hint="use another ffmpeg build (--ffmpeg PATH)")
    return vlog.version
