"""The host signals detection decides on, gathered once by `gather_signals`: a missing tool is no signal, no error."""

from __future__ import annotations

import io
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kit.errors import ToolError
from kit.infra.host import cpu_name, platform_tag
from kit.infra.proc import run_process, tail_lines
from kit.infra.records import Record, keep
from kit.infra.rules import COUNT
from kit.media.ffmpeg import FFmpegInfo, ask_binary

SIGNAL_TIMEOUT_S = 10.0  # nvidia-smi, vainfo and sysctl answer well within a second when healthy
DEV_DRI = Path("/dev/dri")
SYS_DRM = Path("/sys/class/drm")
NVIDIA_VENDOR = "0x10de"
AMD_VENDOR = "0x1002"
# Windows: the graphics adapters as CSV (one query, answered from WMI in well under a second)
VIDEO_CONTROLLER_QUERY = ("Get-CimInstance -ClassName Win32_VideoController | Select-Object Name,AdapterCompatibility,"
                          "DriverVersion,PNPDeviceID | ConvertTo-Csv -NoTypeInformation")


@dataclass(frozen=True)
class NvidiaGpu(Record):
    index: int = field(metadata=keep(COUNT))
    name: str
    driver: str


@dataclass(frozen=True)
class RenderNode(Record):
    path: str  # e.g. /dev/dri/renderD128, as enumerated (never assumed)
    vendor: str = ""  # PCI vendor id from sysfs: 0x8086 Intel, 0x1002 AMD, 0x10de NVIDIA; "" unknown
    driver: str = ""  # kernel driver: i915, xe, amdgpu, nvidia
    va_driver: str = ""  # vainfo's "Driver version" on this node; "" when vainfo is absent or fails


@dataclass(frozen=True)
class VideoController(Record):
    """A graphics adapter as Windows lists it (Win32_VideoController)."""

    name: str  # e.g. AMD Radeon RX 7800 XT
    vendor: str = ""  # PCI vendor id from its PNPDeviceID (PCI\VEN_1002&...): 0x1002 AMD; "" when not PCI
    maker: str = ""  # AdapterCompatibility: "Advanced Micro Devices, Inc."
    driver: str = ""  # DriverVersion, e.g. 31.0.24033.1003


@dataclass(frozen=True)
class HostSignals(Record):
    LENIENT = True  # prereqs.json of an older kit lacks the later signals (the Windows adapters)

    system: str  # linux | darwin | windows
    machine: str  # x86_64 | arm64
    cpu: str  # CPU name; on macOS the chip (Apple M2 Pro)
    gpus: tuple[NvidiaGpu, ...] = ()
    nvidia_smi: str = ""  # "" no nvidia-smi | "ok" | why it failed (its words: sent as `failed`)
    render_nodes: tuple[RenderNode, ...] = ()
    libva_driver_name: str = ""  # the LIBVA_DRIVER_NAME environment variable (sent as a driver of a list, or `other`)
    encoders: tuple[str, ...] = ()  # `ffmpeg -encoders` (video)
    hwaccels: tuple[str, ...] = ()  # `ffmpeg -hwaccels`
    video_controllers: tuple[VideoController, ...] = ()  # Windows only
    amf_runtime: str = ""  # Windows: the AMF runtime DLL AMD's driver installs, when present


def _ask(argv: list[str], timeout_s: float = SIGNAL_TIMEOUT_S) -> tuple[int, str]:
    """(exit code, stdout + stderr) of a short query; ToolError when it cannot run in time."""
    res = run_process(argv, timeout_s=timeout_s, capture_stdout=True)
    return res.returncode, res.stdout.decode("utf-8", "replace") + "\n" + res.stderr


def _answer(argv: list[str]) -> tuple[int, str]:
    """_ask's answer, or (-1, "") when the query cannot run in time: a query that fails is no signal."""
    try:
        return _ask(argv)
    except ToolError:
        return -1, ""


def parse_nvidia_smi(text: str) -> tuple[NvidiaGpu, ...]:
    """GPUs from `nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader`."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and parts[0].isdigit() and parts[-1]:
            gpus.append(NvidiaGpu(int(parts[0]), ", ".join(parts[1:-1]), parts[-1]))
    return tuple(gpus)


def query_nvidia_smi(exe: str | None = None, timeout_s: float = SIGNAL_TIMEOUT_S) -> tuple[tuple[NvidiaGpu, ...], str]:
    """(GPUs, status): status "" without nvidia-smi, "ok", or why it failed."""
    exe = exe or shutil.which("nvidia-smi")
    if not exe:
        return (), ""
    argv = [exe, "--query-gpu=index,name,driver_version", "--format=csv,noheader,nounits"]
    try:
        code, text = _ask(argv, timeout_s)
    except ToolError as exc:
        return (), f"nvidia-smi: {exc.message}"
    gpus = parse_nvidia_smi(text)
    if code != 0 or not gpus:
        return (), f"nvidia-smi failed: {tail_lines(text, 1).strip() or f'exit {code}'}"
    return gpus, "ok"


def _node_number(path: Path) -> int:
    m = re.search(r"(\d+)$", path.name)
    return int(m.group(1)) if m else 1 << 30


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _driver_name(link: Path) -> str:
    return Path(os.path.realpath(link)).name if link.exists() else ""


def list_render_nodes(dev_dri: Path = DEV_DRI, sys_drm: Path = SYS_DRM) -> tuple[RenderNode, ...]:
    """Every /dev/dri/renderD* in numeric order, with its PCI vendor and kernel driver from sysfs."""
    try:
        found = sorted(dev_dri.glob("renderD*"), key=_node_number)
    except OSError:
        return ()
    return tuple(RenderNode(str(p), _read_text(sys_drm / p.name / "device" / "vendor"),
                            _driver_name(sys_drm / p.name / "device" / "driver")) for p in found)


def parse_vainfo(text: str) -> str:
    m = re.search(r"Driver version:\s*(.+)", text)
    return m.group(1).strip() if m else ""


def with_va_drivers(nodes: tuple[RenderNode, ...]) -> tuple[RenderNode, ...]:
    """Each node with the VA driver vainfo opens it with, except NVIDIA's (its VA shim cannot encode)."""
    if not (exe := shutil.which("vainfo")):
        return nodes
    return tuple(n if n.vendor == NVIDIA_VENDOR else RenderNode(n.path, n.vendor, n.driver, parse_vainfo(
        _answer([exe, "--display", "drm", "--device", n.path])[1])) for n in nodes)


def parse_video_controllers(text: str) -> tuple[VideoController, ...]:
    """Adapters from PowerShell's `... | ConvertTo-Csv` of Win32_VideoController (VIDEO_CONTROLLER_QUERY)."""
    import csv  # on Windows alone

    lines = [ln for ln in text.lstrip("\ufeff").splitlines() if ln.strip() and not ln.startswith("#TYPE")]
    found = []
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        name, maker, driver = ((row.get(k) or "").strip() for k in ("Name", "AdapterCompatibility", "DriverVersion"))
        vendor = re.search(r"VEN_([0-9A-Fa-f]{4})", row.get("PNPDeviceID") or "")
        if name:
            found.append(VideoController(name, f"0x{vendor.group(1).lower()}" if vendor else "", maker, driver))
    return tuple(found)


def query_video_controllers() -> tuple[VideoController, ...]:
    exe = shutil.which("powershell") or shutil.which("pwsh")
    if not exe:
        return ()
    code, text = _answer([exe, "-NoProfile", "-NonInteractive", "-Command", VIDEO_CONTROLLER_QUERY])
    return parse_video_controllers(text) if code == 0 else ()


def amf_runtime(system_root: str | None = None) -> str:
    """The AMF runtime (amfrt64.dll in System32, installed by AMD's driver), or "" when missing."""
    root = Path(system_root or os.environ.get("SYSTEMROOT") or r"C:\Windows")
    dll = root / "System32" / "amfrt64.dll"
    return str(dll) if dll.is_file() else ""


def parse_hwaccels(text: str) -> tuple[str, ...]:
    """Method names listed after `Hardware acceleration methods:` by `ffmpeg -hwaccels`."""
    _, _, rest = text.partition("Hardware acceleration methods:")
    return tuple(ln.strip() for ln in rest.splitlines() if re.fullmatch(r"\s*\w+\s*", ln))


def ffmpeg_hwaccels(info: FFmpegInfo, kept: bool) -> tuple[str, ...]:
    """`ffmpeg -hwaccels`' methods; none when it does not answer (no signal)."""
    try:
        return parse_hwaccels(ask_binary(Path(info.path), "-hwaccels", kept))
    except ToolError:
        return ()


def host_cpu(system: str) -> str:
    """The CPU name; on macOS the chip from sysctl (platform.processor() only says "arm")."""
    if system == "darwin":
        code, text = _answer(["sysctl", "-n", "machdep.cpu.brand_string"])
        if code == 0 and text.strip():
            return text.strip().splitlines()[0]
    return cpu_name()


def gather_signals(info: FFmpegInfo, kept: bool = True) -> HostSignals:
    """Every signal of this host, gathered once (a few short queries; ffmpeg's answer kept per version of it in the
    kit's cache where `kept`: kit.media.ffmpeg.ask_binary)."""
    system, _, machine = platform_tag().partition("-")
    gpus, smi = query_nvidia_smi() if system in ("linux", "windows") else ((), "")
    nodes = with_va_drivers(list_render_nodes()) if system == "linux" else ()
    windows = system == "windows"
    return HostSignals(system=system, machine=machine, cpu=host_cpu(system), gpus=gpus, nvidia_smi=smi,
                       render_nodes=nodes, libva_driver_name=os.environ.get("LIBVA_DRIVER_NAME", ""),
                       encoders=info.encoders,
                       hwaccels=ffmpeg_hwaccels(info, kept),
                       video_controllers=query_video_controllers() if windows else (),
                       amf_runtime=amf_runtime() if windows else "")
