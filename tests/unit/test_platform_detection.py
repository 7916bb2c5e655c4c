"""Platform detection on faked signals (pure): families, render-node choice, device set-up,
provenance, the telling line of a failed probe, the probe cache, session caps."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from kit.infra.tree import Tree
from kit.media.argv import build_encode_argv
from kit.media.ffmpeg import FFmpegInfo, telling_line
from kit.platforms.detect import (
    auto_candidates,
    detect_families,
    family_rows,
    hw_setup,
    resolve_auto,
    role,
)
from kit.platforms.encoders import SPECS, build_hw_args, get_spec, parse_encoder_list, session_semaphores
from kit.platforms.grids import CqGrid
from kit.platforms.probe import ProbeCache, ProbeResult, cache_path, explain, probe_row
from kit.platforms.signals import (
    HostSignals,
    NvidiaGpu,
    RenderNode,
    list_render_nodes,
    parse_hwaccels,
    parse_nvidia_smi,
    parse_vainfo,
    query_nvidia_smi,
)

H100 = NvidiaGpu(0, "NVIDIA H100 80GB HBM3", "550.54.15")
INTEL_NODE = RenderNode("/dev/dri/renderD129", "0x8086", "i915", "Intel iHD driver for Intel(R) Gen Graphics - 24.1.0")
NVIDIA_NODE = RenderNode("/dev/dri/renderD128", "0x10de", "nvidia")
ALL_HWACCELS = ("cuda", "vaapi", "qsv", "drm", "opencl", "vulkan")

# captured from the bundled ffmpeg 9 on a box without a GPU (h264_nvenc)
NVENC_NO_DRIVER = """\
Stream mapping:
  Stream #0:0 -> #0:0 (rawvideo (native) -> h264 (h264_nvenc))
[h264_nvenc @ 0x55abf1368e00] Cannot load libcuda.so.1
[vost#0:0/h264_nvenc @ 0x55abf13682c0] [enc:h264_nvenc @ 0x55abf1368d40] Error while opening encoder - maybe \
incorrect parameters such as bit_rate, rate, width or height.
[vf#0:0 @ 0x55abf136b1c0] Error sending frames to consumers: Operation not permitted
[vf#0:0 @ 0x55abf136b1c0] Task finished with error code: -1 (Operation not permitted)
[vost#0:0/h264_nvenc @ 0x55abf13682c0] [enc:h264_nvenc @ 0x55abf1368d40] Could not open encoder before EOF
[out#0/h264 @ 0x55abf1367700] Nothing was written into output file, because at least one of its streams received \
no packets.
frame=    0 fps=0.0 q=0.0 Lsize=       0KiB time=N/A bitrate=N/A speed=N/A elapsed=0:00:00.00
Conversion failed!
"""
# what NVENC says on a data-centre GPU without an NVENC engine (H100/A100)
NVENC_NO_ENGINE = """\
[h264_nvenc @ 0x5581] OpenEncodeSessionEx failed: unsupported device (2): (no details)
[h264_nvenc @ 0x5581] No capable devices found
[vost#0:0/h264_nvenc @ 0x5580] Error while opening encoder - maybe incorrect parameters such as bit_rate, rate, \
width or height.
Conversion failed!
"""
# captured: QSV/VAAPI device init on a node that is no VA display
VA_NO_DISPLAY = """\
[VAAPI @ 0x55c8985a0f40] No VA display found for device /dev/dri/renderD129.
Device creation failed: -22.
Failed to set value 'vaapi=va:/dev/dri/renderD129' for option 'init_hw_device': Invalid argument
Error parsing global options: Invalid argument
"""
# captured: h264_qsv with system frames and no Intel runtime
QSV_NO_RUNTIME = """\
[h264_qsv @ 0x55bd2bc72c80] Error creating a MFX session: -9.
[vost#0:0/h264_qsv @ 0x55bd2bc72100] [enc:h264_qsv @ 0x55bd2bc72b40] Error while opening encoder - maybe incorrect \
parameters such as bit_rate, rate, width or height.
Conversion failed!
"""


def signals(**kw: object) -> HostSignals:
    base: dict[str, object] = {"system": "linux", "machine": "x86_64", "cpu": "Test CPU 9000",
                               "hwaccels": ALL_HWACCELS, "encoders": tuple(SPECS)}
    return HostSignals(**{**base, **kw})  # type: ignore[arg-type]


def keys(sig: HostSignals) -> list[str]:
    return [f.key for f in detect_families(sig)]


# --- families ----------------------------------------------------------------------------


def test_plain_cpu_box_uses_libx264_and_offers_the_other_software_encoders() -> None:
    sig = signals()
    fams = detect_families(sig)
    assert keys(sig) == ["cpu"]
    assert auto_candidates(fams) == ("libx264",)
    assert role("libx265", fams) == "opt-in" and role("h264_nvenc", fams) == "not detected"
    assert hw_setup(get_spec("libx264"), sig).device == "Test CPU 9000"


@pytest.mark.parametrize(("system", "label"), [("linux", "NVIDIA (Linux)"), ("windows", "NVIDIA (Windows)")])
def test_nvidia_family_from_nvidia_smi(system: str, label: str) -> None:
    sig = signals(system=system, gpus=(H100,), nvidia_smi="ok")
    fams = detect_families(sig)
    assert keys(sig) == ["nvidia", "cpu"] and fams[0].label == label
    assert auto_candidates(fams) == ("h264_nvenc", "hevc_nvenc", "av1_nvenc", "libx264")
    setup = hw_setup(get_spec("hevc_nvenc"), sig)
    assert setup.device == "NVIDIA H100 80GB HBM3 (driver 550.54.15)" and not setup.missing
    assert setup.args.init == () and setup.args.filter == ""  # NVENC uploads system frames itself


def test_data_centre_gpu_whose_nvenc_fails_ends_as_nvenc_unavailable_not_a_crash() -> None:
    fams = detect_families(signals(gpus=(H100,), nvidia_smi="ok"))
    results = {n: False for n in ("h264_nvenc", "hevc_nvenc", "av1_nvenc")} | {"libx264": True}
    assert resolve_auto(fams, results) == ("libx264",)
    assert resolve_auto(fams, results | {"hevc_nvenc": True}) == ("hevc_nvenc", "libx264")
    reason = telling_line(NVENC_NO_ENGINE)
    assert reason == "OpenEncodeSessionEx failed: unsupported device (2): (no details)"
    failed = ProbeResult("h264_nvenc", False, reason, hint=explain(reason))
    assert failed.failure.startswith("NVENC unavailable: OpenEncodeSessionEx failed: unsupported device")
    row = probe_row(failed)
    assert row[:2] == ["h264_nvenc", "no"] and "no NVENC engine" in row[2]


def test_mixed_nvidia_gpus_are_named_honestly() -> None:
    sig = signals(gpus=(H100, NvidiaGpu(1, "NVIDIA RTX 4090", "550.54.15")), nvidia_smi="ok")
    assert hw_setup(get_spec("h264_nvenc"), sig).device.startswith("first NVENC-capable of NVIDIA H100")
    two = signals(gpus=(H100, NvidiaGpu(1, H100.name, H100.driver)), nvidia_smi="ok")
    assert hw_setup(get_spec("h264_nvenc"), two).device == "2x NVIDIA H100 80GB HBM3 (driver 550.54.15)"


def test_failing_nvidia_smi_is_no_family_but_a_hinted_row() -> None:
    sig = signals(nvidia_smi="nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the "
                             "NVIDIA driver.")
    assert keys(sig) == ["cpu"]
    (row,) = [r for r in family_rows(sig, detect_families(sig)) if r[0] == "nvidia"]
    assert row[1] == "warn" and "couldn't communicate" in row[2] and "hint:" in row[2]


def test_intel_with_two_render_nodes_uses_the_discovered_intel_one() -> None:
    sig = signals(render_nodes=(NVIDIA_NODE, INTEL_NODE), gpus=(H100,), nvidia_smi="ok")
    assert keys(sig) == ["nvidia", "intel", "cpu"]
    for name in ("h264_qsv", "hevc_vaapi"):
        setup = hw_setup(get_spec(name), sig)
        assert "vaapi=va:/dev/dri/renderD129" in setup.args.init, setup
        assert setup.device.startswith("/dev/dri/renderD129 (Intel i915, VA driver Intel iHD")
    # the other way round: Intel on renderD128, never a hard-coded renderD129
    swapped = signals(render_nodes=(RenderNode("/dev/dri/renderD128", "0x8086", "xe"),
                                    RenderNode("/dev/dri/renderD129", "0x1002", "amdgpu")))
    argv = build_encode_argv("ffmpeg", ["-i", "r.y4m"], get_spec("h264_qsv"), 25, "o.h264",
                             hw_init=hw_setup(get_spec("h264_qsv"), swapped).args.init)
    assert "vaapi=va:/dev/dri/renderD128" in argv and not any("renderD129" in a for a in argv)
    # VAAPI prefers Intel, else takes AMD
    amd_only = signals(render_nodes=(RenderNode("/dev/dri/renderD130", "0x1002", "amdgpu"),))
    assert keys(amd_only) == ["cpu"]
    assert "vaapi=va:/dev/dri/renderD130" in hw_setup(get_spec("h264_vaapi"), amd_only).args.init
    assert hw_setup(get_spec("h264_qsv"), amd_only).missing.startswith("no Intel render node under /dev/dri")


def test_intel_family_defaults_and_libva_advice() -> None:
    sig = signals(render_nodes=(INTEL_NODE,))
    fams = detect_families(sig)
    assert fams[0].label == "Intel (Linux)" and fams[0].defaults == ("h264_qsv", "hevc_qsv", "av1_qsv")
    assert role("av1_vaapi", fams) == "opt-in"
    rows = {r[0]: r for r in family_rows(sig, fams)}
    assert "LIBVA_DRIVER_NAME unset" in rows["intel gpu"][2] and "LIBVA_DRIVER_NAME=iHD" in rows["intel gpu"][2]
    i965 = family_rows(signals(render_nodes=(INTEL_NODE,), libva_driver_name="i965"), fams)
    assert any("i965 cannot drive QSV" in r[2] for r in i965)
    # a node whose vendor sysfs does not tell counts as Intel when its VA driver is Intel's
    unknown = signals(render_nodes=(RenderNode("/dev/dri/renderD128"),), libva_driver_name="iHD")
    assert keys(unknown) == ["intel", "cpu"]


def test_render_node_encoders_need_the_ffmpeg_hwaccel() -> None:
    sig = signals(render_nodes=(INTEL_NODE,), hwaccels=("vaapi",))
    assert hw_setup(get_spec("h264_qsv"), sig).missing == "this ffmpeg build has no qsv hwaccel"
    assert not hw_setup(get_spec("h264_vaapi"), sig).missing


@pytest.mark.parametrize(("machine", "chip"), [("arm64", "Apple M2 Pro"), ("x86_64", "Intel(R) Core(TM) i9-9880H")])
def test_macos(machine: str, chip: str) -> None:
    sig = signals(system="darwin", machine=machine, cpu=chip, hwaccels=("videotoolbox",))
    fams = detect_families(sig)
    assert keys(sig) == ["macos", "cpu"] and fams[0].label == f"macOS ({machine})"
    assert auto_candidates(fams) == ("h264_videotoolbox", "hevc_videotoolbox", "libx264")
    setup = hw_setup(get_spec("hevc_videotoolbox"), sig)
    assert setup.device == f"Apple VideoToolbox ({chip})" and setup.args.init == () and not setup.missing
    assert "Linux /dev/dri" in hw_setup(get_spec("h264_qsv"), sig).missing
    assert hw_setup(get_spec("h264_nvenc"), sig).missing
    (row,) = [r for r in family_rows(sig, fams) if r[0] == "macos"]
    assert ("Apple silicon" in row[2]) == (machine == "x86_64")


def test_videotoolbox_is_refused_off_macos_without_running_anything() -> None:
    assert hw_setup(get_spec("h264_videotoolbox"), signals()).missing == "VideoToolbox exists only on macOS"


# --- signal parsers and gatherers --------------------------------------------------------------


def test_parse_nvidia_smi_and_vainfo_and_hwaccels() -> None:
    assert parse_nvidia_smi("0, NVIDIA H100 80GB HBM3, 550.54.15\n1, NVIDIA A10, 550.54.15\n") == (
        H100, NvidiaGpu(1, "NVIDIA A10", "550.54.15"))
    assert parse_nvidia_smi("No devices were found\n") == ()
    text = ("libva info: VA-API version 1.20.0\nlibva info: Trying to open /usr/lib/x86_64-linux-gnu/dri/iHD_drv_"
            "video.so\nvainfo: VA-API version: 1.20 (libva 2.12.0)\nvainfo: Driver version: Intel iHD driver for "
            "Intel(R) Gen Graphics - 24.1.0 ()\nvainfo: Supported profile and entrypoints\n")
    assert parse_vainfo(text) == "Intel iHD driver for Intel(R) Gen Graphics - 24.1.0 ()"
    assert parse_hwaccels("Hardware acceleration methods:\ncuda\nvaapi\nqsv\n\n") == ("cuda", "vaapi", "qsv")


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_query_nvidia_smi_answers_fails_or_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ok = _script(tmp_path / "ok", 'echo "0, NVIDIA H100 80GB HBM3, 550.54.15"\n')
    assert query_nvidia_smi(ok) == ((H100,), "ok")
    bad = _script(tmp_path / "bad", "echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
                                    "driver.\"\nexit 9\n")
    gpus, status = query_nvidia_smi(bad)
    assert gpus == () and status.startswith("nvidia-smi failed: NVIDIA-SMI has failed")
    hung = _script(tmp_path / "hung", "exec sleep 30\n")
    assert query_nvidia_smi(hung, timeout_s=0.5)[1] == "nvidia-smi: hung timed out after 0.5 s"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert query_nvidia_smi() == ((), "")  # no binary, no signal


def test_render_nodes_are_enumerated_with_vendor_and_driver(tmp_path: Path) -> None:
    dev, sys_drm = tmp_path / "dev", tmp_path / "sys"
    dev.mkdir()
    for name, vendor, driver in (("renderD129", "0x8086", "i915"), ("renderD128", "0x10de", "nvidia"),
                                 ("renderD1000", "", "")):
        (dev / name).touch()
        if vendor:
            device = sys_drm / name / "device"
            device.mkdir(parents=True)
            (device / "vendor").write_text(vendor + "\n")
            (tmp_path / "drivers" / driver).mkdir(parents=True)
            os.symlink(tmp_path / "drivers" / driver, device / "driver")
    (dev / "card0").touch()
    nodes = list_render_nodes(dev, sys_drm)
    assert [Path(n.path).name for n in nodes] == ["renderD128", "renderD129", "renderD1000"]
    assert nodes[1] == RenderNode(str(dev / "renderD129"), "0x8086", "i915")
    assert nodes[2].vendor == "" and list_render_nodes(tmp_path / "none", sys_drm) == ()


# --- builders, telling lines, cache, caps ------------------------------------------------------


def test_hw_args_are_exact() -> None:
    assert build_hw_args(get_spec("h264_qsv"), "/dev/dri/renderD130").init == (
        "-init_hw_device", "vaapi=va:/dev/dri/renderD130", "-init_hw_device", "qsv=qs@va", "-filter_hw_device", "qs")
    assert build_hw_args(get_spec("h264_qsv"), "/x").filter == "format=nv12,hwupload=extra_hw_frames=64"
    assert build_hw_args(get_spec("av1_vaapi"), "/dev/dri/renderD128").init == (
        "-init_hw_device", "vaapi=va:/dev/dri/renderD128", "-filter_hw_device", "va")
    for name in ("h264_nvenc", "h264_videotoolbox", "libx265"):
        assert build_hw_args(get_spec(name)).init == () and build_hw_args(get_spec(name)).filter == ""
    argv = build_encode_argv("ffmpeg", ["-i", "r.y4m"], get_spec("hevc_qsv"), 30, "o.hevc",
                             hw_init=build_hw_args(get_spec("hevc_qsv"), "/dev/dri/renderD128").init,
                             hw_filter="format=nv12,hwupload=extra_hw_frames=64")
    assert argv == ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", "-init_hw_device",
                    "vaapi=va:/dev/dri/renderD128", "-init_hw_device", "qsv=qs@va", "-filter_hw_device", "qs",
                    "-i", "r.y4m", "-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough", "-vf",
                    "format=nv12,hwupload=extra_hw_frames=64", "-c:v", "hevc_qsv", "-preset", "medium",
                    "-global_quality", "30", "-f", "hevc", "o.hevc"]
    assert get_spec("av1_vaapi").quality_args(120) == ["-rc_mode", "CQP", "-global_quality", "120"]


def test_telling_line_and_hints_on_captured_stderr() -> None:
    assert telling_line(NVENC_NO_DRIVER) == "Cannot load libcuda.so.1"
    assert "libcuda" in explain("Cannot load libcuda.so.1")
    assert telling_line(VA_NO_DISPLAY) == "No VA display found for device /dev/dri/renderD129."
    assert "LIBVA_DRIVER_NAME=iHD" in explain(telling_line(VA_NO_DISPLAY))
    # an AMD GPU's VA-API failure: Mesa's radeonsi, not Intel's iHD (issue 41)
    amd = explain(telling_line(VA_NO_DISPLAY), "/dev/dri/renderD128 (AMD amdgpu, VA driver default)")
    assert "radeonsi" in amd and "iHD" not in amd and "intel" not in amd.lower()
    assert "iHD" in explain(telling_line(VA_NO_DISPLAY), "/dev/dri/renderD129 (Intel i915, VA driver default)")
    assert telling_line(QSV_NO_RUNTIME) == "Error creating a MFX session: -9."
    assert "oneVPL" in explain("Error creating a MFX session: -9.")
    assert telling_line("something odd\nConversion failed!\n") == "something odd"
    assert telling_line("") == ""


def test_probe_cache_keeps_results_per_build_and_driver_but_not_transient_ones(tmp_path: Path, tree: Tree) -> None:
    info = FFmpegInfo("/x/ffmpeg", "test", "9.0", "9.0+abc", True, ("libx264",))
    sig = signals(gpus=(H100,), nvidia_smi="ok")
    path = cache_path(info, sig, tmp_path)
    newer_driver = signals(gpus=(NvidiaGpu(0, H100.name, "560.1"),), nvidia_smi="ok")
    assert cache_path(info, newer_driver, tmp_path) != path
    assert cache_path(FFmpegInfo("/x/ffmpeg", "test", "9.0", "9.0+def", True, ()), sig, tmp_path) != path
    cache = ProbeCache(tree, path)
    good = ProbeResult("libx264", True, "ok", 120.5, "Test CPU 9000")
    busy = ProbeResult("h264_nvenc", False, "OpenEncodeSessionEx failed: out of memory (10): (no details)")
    cache.put("a", good)
    cache.put("b", busy)
    again = ProbeCache(tree, path)
    assert again.get("a") == ProbeResult("libx264", True, "ok", 120.5, "Test CPU 9000", cached=True)
    assert again.get("b") is None and busy.transient


def test_two_runs_probing_into_one_probe_cache_keep_each_other_s_results(tmp_path: Path, tree: Tree) -> None:
    """Two runs on one box (two out-dirs at once, a cluster's shared cache) open the probe cache before either has
    probed; each wrote the file from what it had read, so the later write dropped the other's result and the next
    run probed that encoder again. Each change is now made to the file as it is, under its lock; a `detect --refresh`
    (forget) drops only its encoder's results."""
    info = FFmpegInfo("/x/ffmpeg", "test", "9.0", "9.0+abc", True, ("libx264", "libx265"))
    path = cache_path(info, signals(), tmp_path / "fresh")  # its folder not made yet
    first, second = ProbeCache(tree, path), ProbeCache(tree, path)
    x264 = ProbeResult("libx264", True, "ok", 120.5, "Test CPU 9000")
    x265 = ProbeResult("libx265", True, "ok", 40.0, "Test CPU 9000")
    first.put("libx264|a", x264)
    second.put("libx265|a", x265)
    again = ProbeCache(tree, path)
    assert again.get("libx264|a") == replace(x264, cached=True)
    assert again.get("libx265|a") == replace(x265, cached=True)
    assert second.get("libx264|a") == replace(x264, cached=True)  # what it wrote back, it holds
    first.forget("libx265")  # it never held libx265's result: nothing to drop, the file left as it is
    second.forget("libx264")
    assert set(ProbeCache(tree, path).names()) == {"libx265"}


def test_hardware_session_caps_are_shared_per_family() -> None:
    sems = session_semaphores(["h264_nvenc", "hevc_nvenc", "av1_nvenc", "h264_qsv", "libx264"])
    assert sems["h264_nvenc"] is sems["hevc_nvenc"] is sems["av1_nvenc"]  # NVENC's limit is per GPU
    assert sems["h264_qsv"] is not sems["h264_nvenc"] and "libx264" not in sems
    held = [sems["h264_nvenc"].acquire(blocking=False) for _ in range(4)]
    assert held == [True] * get_spec("h264_nvenc").session_cap + [False]


def test_auto_is_a_sentinel_only_alone() -> None:
    assert parse_encoder_list("auto") == ("auto",)
    with pytest.raises(Exception, match="mixes 'auto'"):
        parse_encoder_list("auto,libx264")


class FakeProber:
    """Stands in for the real test encode: the names in `working` pass."""

    def __init__(self, working: set[str]) -> None:
        self.working, self.asked = working, []  # type: list[str]

    def probe(self, name: str) -> ProbeResult:
        self.asked.append(name)
        ok = name in self.working
        reason = "ok" if ok else "Cannot load libcuda.so.1"
        return ProbeResult(name, ok, reason, 100.0 if ok else None, hint="" if ok else explain(reason))


def test_resolve_encoders_auto_probes_defaults_and_skips_those_outside_the_grid() -> None:
    from kit.platforms.resolve import resolve_encoders

    fams = detect_families(signals(render_nodes=(INTEL_NODE,), gpus=(H100,), nvidia_smi="ok"))
    prober = FakeProber({"libx264", "hevc_nvenc"})
    resolved, results, skipped = resolve_encoders(("auto",), CqGrid((0, 25)), fams, prober)  # type: ignore[arg-type]
    assert resolved == ("hevc_nvenc", "libx264") and len(results) == 4
    assert prober.asked == ["h264_nvenc", "hevc_nvenc", "av1_nvenc", "libx264"]  # QSV's range starts at 1
    assert [r[0] for r in skipped] == ["h264_qsv", "hevc_qsv", "av1_qsv"]
    assert skipped[0][2] == "--cqs value 0 is outside its range 1..51"


def test_resolve_encoders_refuses_a_named_encoder_that_fails() -> None:
    from kit.errors import PrereqError
    from kit.platforms.resolve import resolve_encoders

    fams = detect_families(signals())
    with pytest.raises(PrereqError) as err:
        resolve_encoders(("libx264", "h264_nvenc", "av1_nvenc"), (25,), fams, FakeProber({"libx264"}))  # type: ignore[arg-type]
    assert err.value.message == ("encoder h264_nvenc does not work on this box: Cannot load libcuda.so.1 "
                                 "(1 more requested encoder(s) failed too)")
    assert "drop h264_nvenc from --encoders" in err.value.hint and "NVIDIA driver" in err.value.hint


def test_a_test_encode_is_judged_by_how_its_child_ended_never_by_the_words_of_its_reason(tmp_path: Path) -> None:
    """Whether a failed test encode is the moment's (not cached, `retry`) and whether its fix is its own (a cap, a stop
    from outside) follow the typed end (kit.infra.ended.Kind), not the kit's words read back from its reason: a reason
    that carries those words with another end (or none) is not taken for it, and every end decides alike whatever
    the reason says."""
    from kit.infra.ended import Kind
    from kit.infra.proc import TimedOut, ended_of
    from kit.platforms.detect import HwSetup
    from kit.platforms.encoders import HwArgs
    from kit.platforms.probe import OWN_FIX, TRANSIENT_ENDS, probe_encoder
    from kit.platforms.resolve import refuse

    worded = "test encode: ffmpeg was stopped by a signal from outside for 9 s, ran past KIT_TIMEOUT_S, timed out"
    for end in (None, *Kind):
        for reason in (worded, "test encode failed: Invalid argument"):
            r = ProbeResult("libx265", False, reason, ended=end.name if end is not None else None)
            assert r.transient == (end in TRANSIENT_ENDS), (end, reason)
            way = refuse(r, 0).hint
            assert ("less busy" in way) == (end in TRANSIENT_ENDS and end not in OWN_FIX), (end, reason, way)
    for stopped, capped, stalled, kind in ((True, False, False, Kind.STOPPED_OUTSIDE),
                                           (False, True, False, Kind.CAPPED), (False, False, True, Kind.NO_FRAMES_FOR),
                                           (False, False, False, Kind.TIMED_OUT)):
        timed = TimedOut("ffmpeg timed out", "", "", 9.0, "", stalled, stopped=stopped, capped=capped)
        assert ended_of(timed) is not None and ended_of(timed).kind is kind  # type: ignore[union-attr]
    # a program that cannot start, end to end: typed, not cached, its reason the kit's words
    failed = probe_encoder(str(tmp_path / "no-ffmpeg"), get_spec("libx264"), HwSetup(HwArgs(), "cpu"),
                           tmp_path / "clip.y4m", tmp_path, 25)
    assert failed.end is Kind.CANNOT_START and failed.transient
