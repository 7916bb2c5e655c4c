"""Host families, render-node choice, device set-up and provenance: pure functions of the frozen HostSignals. A family
only nominates encoders; a real test encode decides (kit.platforms.probe)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kit.errors import assert_never
from kit.events import HINT_MARK
from kit.infra.records import Record
from kit.platforms.encoders import SPECS, EncoderSpec, HwArgs, build_hw_args
from kit.platforms.signals import AMD_VENDOR, NVIDIA_VENDOR, HostSignals, RenderNode, VideoController

INTEL_VENDOR = "0x8086"
VENDOR_NAMES = {INTEL_VENDOR: "Intel", AMD_VENDOR: "AMD", NVIDIA_VENDOR: "NVIDIA"}

# each hardware family's encoders, in table order; AMF's are opt-in: the model's codec vocabulary has no slot for it
NVENC_DEFAULTS, QSV_DEFAULTS, VAAPI_OPT_IN, VT_DEFAULTS, AMF_OPT_IN = (
    tuple(name for name, spec in SPECS.items() if spec.family == family)
    for family in ("nvenc", "qsv", "vaapi", "videotoolbox", "amf"))
CPU_DEFAULTS = ("libx264",)
CPU_OPT_IN = ("libx265", "libsvtav1")


@dataclass(frozen=True)
class HostFamily(Record):
    key: str  # nvidia | intel | amd | macos | cpu
    label: str  # e.g. "NVIDIA (Linux)"
    # the signal that nominated it: a device's name, what nvidia-smi said, LIBVA_DRIVER_NAME's value (the system's
    # words: sent made of their typed forms, kit.bundle.sent.shown_prereqs)
    evidence: str
    defaults: tuple[str, ...]
    opt_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class HwSetup:
    """What a test encode or corpus job of one encoder needs on this host."""

    args: HwArgs
    device: str  # the hardware that encodes, for row provenance
    missing: str = ""  # why it cannot even be tried here ("" when it can)


def gpu_summary(sig: HostSignals) -> str:
    """The NVIDIA GPU(s) as one provenance string."""
    names = list(dict.fromkeys(g.name for g in sig.gpus))
    if not names:
        return ""
    driver = sig.gpus[0].driver
    if len(names) == 1:
        count = f"{len(sig.gpus)}x " if len(sig.gpus) > 1 else ""
        return f"{count}{names[0]} (driver {driver})"
    # NVENC's default device is the first capable GPU; with mixed GPUs say so
    return f"first NVENC-capable of {', '.join(names)} (driver {driver})"


def intel_node(sig: HostSignals) -> RenderNode | None:
    """The first Intel render node; a node of unknown vendor counts when its VA driver is Intel's."""
    intel = (n for n in sig.render_nodes if n.vendor == INTEL_VENDOR)
    says_intel = (n for n in sig.render_nodes if not n.vendor and any(
        tag in (n.va_driver or sig.libva_driver_name).lower() for tag in ("intel", "ihd", "i965")))
    return next(intel, None) or next(says_intel, None)


def adapter_label(gpu: VideoController) -> str:
    return f"{gpu.name} (driver {gpu.driver or '?'})"


def amd_gpu(sig: HostSignals) -> VideoController | None:
    """The first AMD graphics adapter Windows lists (by PCI vendor, else by its maker's name)."""
    return next((c for c in sig.video_controllers if c.vendor == AMD_VENDOR), None) or next(
        (c for c in sig.video_controllers if not c.vendor and "advanced micro devices" in c.maker.lower()), None)


def detect_families(sig: HostSignals) -> tuple[HostFamily, ...]:
    """The families this host belongs to, hardware first; CPU always."""
    found = []
    if sig.gpus and sig.system in ("linux", "windows"):
        found.append(HostFamily("nvidia", f"NVIDIA ({sig.system.title()})", f"nvidia-smi: {gpu_summary(sig)}",
                                NVENC_DEFAULTS))
    if sig.system == "linux" and (node := intel_node(sig)) is not None:
        found.append(HostFamily("intel", "Intel (Linux)", node_label(node, sig), QSV_DEFAULTS, VAAPI_OPT_IN))
    if sig.system == "windows" and (gpu := amd_gpu(sig)) is not None:
        runtime = f"AMF runtime {sig.amf_runtime}" if sig.amf_runtime else "no AMF runtime (amfrt64.dll) found"
        found.append(HostFamily("amd", "AMD (Windows)", f"{adapter_label(gpu)}; {runtime}", (), AMF_OPT_IN))
    if sig.system == "darwin":
        found.append(HostFamily("macos", f"macOS ({sig.machine})", sig.cpu, VT_DEFAULTS))
    return (*found, HostFamily("cpu", "CPU", sig.cpu, CPU_DEFAULTS, CPU_OPT_IN))


def role(name: str, families: Sequence[HostFamily]) -> str:
    """default | opt-in | not detected: how this host's families see an encoder."""
    if any(name in f.defaults for f in families):
        return "default"
    if any(name in f.opt_in for f in families):
        return "opt-in"
    return "not detected"


def auto_candidates(families: Sequence[HostFamily]) -> tuple[str, ...]:
    """What `--encoders auto` probes: every detected family's defaults, libx264 last."""
    names = [n for f in families if f.key != "cpu" for n in f.defaults]
    return tuple(dict.fromkeys([*names, *CPU_DEFAULTS]))


def resolve_auto(families: Sequence[HostFamily], available: Mapping[str, bool]) -> tuple[str, ...]:
    """The defaults that passed their test encode, plus libx264."""
    return tuple(n for n in auto_candidates(families) if available.get(n) or n in CPU_DEFAULTS)


def node_label(node: RenderNode, sig: HostSignals) -> str:
    vendor = VENDOR_NAMES.get(node.vendor, node.vendor or "unknown vendor")
    va = node.va_driver or (f"LIBVA_DRIVER_NAME={sig.libva_driver_name}" if sig.libva_driver_name else "default")
    return f"{node.path} ({vendor} {node.driver or 'driver ?'}, VA driver {va})"


def nodes_seen(sig: HostSignals) -> str:
    return ", ".join(f"{n.path} ({VENDOR_NAMES.get(n.vendor, n.vendor or '?')})" for n in sig.render_nodes)


def _render_node_setup(spec: EncoderSpec, sig: HostSignals) -> HwSetup:
    if sig.system != "linux":
        return HwSetup(HwArgs(), "", f"the kit drives {spec.traits.engine} through a Linux /dev/dri render node")
    # VA-API: Intel first, then AMD, then any node of unknown vendor; never NVIDIA's (no VA encode)
    by_vendor = (node for wanted in (INTEL_VENDOR, AMD_VENDOR) for node in sig.render_nodes if node.vendor == wanted)
    node = intel_node(sig) if spec.family == "qsv" else next(by_vendor, None) or intel_node(sig) or next(
        (n for n in sig.render_nodes if not n.vendor), None)
    needs = ("vaapi", "qsv") if spec.family == "qsv" else ("vaapi",)
    lacking = [h for h in needs if sig.hwaccels and h not in sig.hwaccels]
    if node is None:
        seen = nodes_seen(sig)
        want = "Intel" if spec.family == "qsv" else "usable"
        return HwSetup(HwArgs(), "", f"no {want} render node under /dev/dri" + (f" (found {seen})" if seen else ""))
    if lacking:
        return HwSetup(HwArgs(), node_label(node, sig), f"this ffmpeg build has no {'/'.join(lacking)} hwaccel")
    return HwSetup(build_hw_args(spec, node.path), node_label(node, sig))


def hw_setup(spec: EncoderSpec, sig: HostSignals) -> HwSetup:
    """Device args and provenance for `spec` on this host (render node discovered, never assumed)."""
    match spec.family:
        case "qsv" | "vaapi":
            return _render_node_setup(spec, sig)
        case "nvenc":
            missing = "NVENC exists only on Linux and Windows" if sig.system == "darwin" else ""
            return HwSetup(build_hw_args(spec), gpu_summary(sig) or "NVIDIA GPU (not listed by nvidia-smi)", missing)
        case "amf" if sig.system != "windows":
            return HwSetup(HwArgs(), "", "the kit drives AMF on Windows (on Linux an AMD GPU encodes through VA-API: "
                                         "--encoders h264_vaapi,hevc_vaapi)")
        case "amf":
            if (gpu := amd_gpu(sig)) is None:
                listed = ", ".join(c.name for c in sig.video_controllers) or "none"
                return HwSetup(HwArgs(), "", f"no AMD graphics adapter (Windows lists: {listed})")
            return HwSetup(build_hw_args(spec), adapter_label(gpu))
        case "videotoolbox":
            missing = "" if sig.system == "darwin" else "VideoToolbox exists only on macOS"
            return HwSetup(build_hw_args(spec), "" if missing else f"Apple VideoToolbox ({sig.cpu})", missing)
        case "x264" | "x265" | "svtav1":
            return HwSetup(build_hw_args(spec), sig.cpu)
        case _:
            assert_never(spec.family)


LIBVA_ADVICE = ("if QSV fails, install intel-media-va-driver (iHD) and export LIBVA_DRIVER_NAME=iHD "
                "(the legacy i965 driver has no QSV)")


def _intel_rows(sig: HostSignals) -> list[list[str]]:
    node = intel_node(sig) if sig.system == "linux" else None
    if node is None:
        return [["intel gpu", "skip", f"no Intel render node (found {nodes_seen(sig)})"]] if sig.render_nodes else []
    env = sig.libva_driver_name
    if env.lower() == "i965":  # the hint last: a terminal shows it under the table (kit.events.split_hint)
        advice = f"LIBVA_DRIVER_NAME=i965{HINT_MARK}i965 cannot drive QSV; install intel-media-va-driver and use iHD"
    elif not env:
        advice = f"LIBVA_DRIVER_NAME unset{HINT_MARK}{LIBVA_ADVICE}"
    else:
        advice = f"LIBVA_DRIVER_NAME={env}"
    return [["intel gpu", "ok", f"{node_label(node, sig)}; QSV is decided by the test encode; {advice}"]]


def family_rows(sig: HostSignals, families: Sequence[HostFamily]) -> list[list[str]]:
    """Prereqs rows for the detected families, with hints."""
    labels = ", ".join(f"{f.label} (defaults {', '.join(f.defaults)})" for f in families)
    rows = [["platform", "ok", f"{sig.system}-{sig.machine}; families: {labels}"]]
    if sig.gpus:
        rows.append(["nvidia", "ok", f"{gpu_summary(sig)} via nvidia-smi; NVENC is decided by the test encode"])
    elif sig.nvidia_smi not in ("", "ok"):
        rows.append(["nvidia", "warn", f"{sig.nvidia_smi}{HINT_MARK}NVENC needs a loaded NVIDIA driver; "
                                       "`nvidia-smi` must list the GPU"])
    rows += _intel_rows(sig)
    if sig.system == "windows" and (gpu := amd_gpu(sig)) is not None:
        rows.append(["amd gpu", "ok", f"{adapter_label(gpu)}, AMF runtime {sig.amf_runtime}; AMF is decided by the "
                                      "test encode; opt-in (--encoders h264_amf,...): the models have no codec slot "
                                      "for AMF yet"] if sig.amf_runtime else
                    ["amd gpu", "warn", f"{adapter_label(gpu)} but no amfrt64.dll in System32 - hint: install AMD's "
                                        "Adrenalin driver, which ships the AMF runtime"])
    if sig.system == "darwin":
        note = "" if sig.machine == "arm64" else (" (Intel Mac: VideoToolbox constant quality -q:v needs Apple "
                                                  "silicon, so the test encode is expected to refuse it)")
        rows.append(["macos", "ok", f"{sig.cpu}, {sig.system}-{sig.machine}; VideoToolbox is decided by the test "
                                    "encode" + note])
    return rows
