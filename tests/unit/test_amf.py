"""AMD AMF, added as a change inside platforms/: detection on captured Windows output, device set-up,
the quality argv, and the prereqs rows (the probe against the real ffmpeg is in tests/real/test_probe.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.media.argv import build_encode_argv
from kit.media.ffmpeg import telling_line
from kit.platforms.detect import auto_candidates, detect_families, family_rows, hw_setup, role
from kit.platforms.encoders import FAMILIES, SPECS, get_spec
from kit.platforms.probe import explain
from kit.platforms.signals import HostSignals, VideoController, amf_runtime, parse_video_controllers

# `powershell -NoProfile -NonInteractive -Command "Get-CimInstance -ClassName Win32_VideoController |
# Select-Object Name,AdapterCompatibility,DriverVersion,PNPDeviceID | ConvertTo-Csv -NoTypeInformation"`
# as Windows PowerShell 5.1 prints it (CRLF), on a desktop with an AMD card beside the CPU's Intel graphics and
# a remote-desktop adapter
WINDOWS_ADAPTERS = (
    '"Name","AdapterCompatibility","DriverVersion","PNPDeviceID"\r\n'
    '"AMD Radeon RX 7800 XT","Advanced Micro Devices, Inc.","31.0.24033.1003",'
    '"PCI\\VEN_1002&DEV_747E&SUBSYS_E321174B&REV_C8\\6&2C74A2F4&0&00000019"\r\n'
    '"Intel(R) UHD Graphics 770","Intel Corporation","31.0.101.4502",'
    '"PCI\\VEN_8086&DEV_4680&SUBSYS_86941043&REV_0C\\3&11583659&0&10"\r\n'
    '"Microsoft Remote Display Adapter","Microsoft","10.0.22621.2506","SWD\\REMOTEDISPLAYENUM\\RDPIDD_INDIRECTDISPLAY"'
    '\r\n'
)
# PowerShell 7 writes the same without -NoTypeInformation; 5.1 without it adds a #TYPE line; a BOM may lead
WINDOWS_TYPE_LINE = "\ufeff#TYPE Selected.Microsoft.Management.Infrastructure.CimInstance\r\n" + WINDOWS_ADAPTERS
# an older Radeon whose PNPDeviceID is not PCI (a virtual machine's passthrough): found by its maker's name
NO_PCI = '"Name","AdapterCompatibility","DriverVersion","PNPDeviceID"\n"Radeon (TM) RX 480 Graphics",' \
         '"Advanced Micro Devices, Inc.","27.20.20913.2000","ROOT\\DISPLAY\\0000"\n'
# captured from the bundled ffmpeg 9 on this Linux box (no AMF runtime): `-c:v h264_amf`
AMF_NO_RUNTIME = """\
Stream mapping:
  Stream #0:0 -> #0:0 (rawvideo (native) -> h264 (h264_amf))
[AMF @ 0x7f64c8054400] DLL libamfrt64.so.1 failed to open
[h264_amf @ 0x55e2c01672c0] Failed to create  hardware device context (AMF) : Unknown error occurred
[vost#0:0/h264_amf @ 0x55e2c0166380] [enc:h264_amf @ 0x55e2c0166dc0] Error while opening encoder - maybe incorrect \
parameters such as bit_rate, rate, width or height.
Conversion failed!
"""


def windows(adapters: str = WINDOWS_ADAPTERS, runtime: str = r"C:\Windows\System32\amfrt64.dll") -> HostSignals:
    return HostSignals("windows", "x86_64", "AMD Ryzen 9 7900X", video_controllers=parse_video_controllers(adapters),
                       amf_runtime=runtime, encoders=tuple(SPECS))


def test_windows_adapters_are_parsed_from_powershell_csv() -> None:
    found = parse_video_controllers(WINDOWS_ADAPTERS)
    assert found == parse_video_controllers(WINDOWS_TYPE_LINE)
    assert [(c.name, c.vendor, c.driver) for c in found] == [
        ("AMD Radeon RX 7800 XT", "0x1002", "31.0.24033.1003"),
        ("Intel(R) UHD Graphics 770", "0x8086", "31.0.101.4502"),
        ("Microsoft Remote Display Adapter", "", "10.0.22621.2506")]
    assert found[0].maker == "Advanced Micro Devices, Inc."
    assert parse_video_controllers("") == () and parse_video_controllers("powershell: command not found") == ()


def test_an_amd_windows_box_offers_amf_as_opt_in_and_auto_stays_on_slotted_encoders() -> None:
    sig = windows()
    fams = {f.key: f for f in detect_families(sig)}
    assert list(fams) == ["amd", "cpu"]  # Intel graphics on Windows is no QSV family: the kit drives QSV on Linux
    amd = fams["amd"]
    assert amd.label == "AMD (Windows)" and amd.defaults == () and amd.opt_in == ("h264_amf", "hevc_amf", "av1_amf")
    assert amd.evidence \
        == "AMD Radeon RX 7800 XT (driver 31.0.24033.1003); AMF runtime C:\\Windows\\System32\\amfrt64.dll"
    assert auto_candidates(tuple(fams.values())) == ("libx264",)
    assert role("hevc_amf", tuple(fams.values())) == "opt-in"
    setup = hw_setup(get_spec("hevc_amf"), sig)
    assert setup.missing == "" and setup.device == "AMD Radeon RX 7800 XT (driver 31.0.24033.1003)"
    assert setup.args.init == () and setup.args.filter == ""  # AMF uploads system frames itself, as NVENC does
    assert detect_families(windows(NO_PCI))[0].evidence.startswith("Radeon (TM) RX 480 Graphics (driver 27.")


def test_amf_is_not_tried_where_it_cannot_work() -> None:
    linux = HostSignals("linux", "x86_64", "cpu")
    assert "on Linux an AMD GPU encodes through VA-API" in hw_setup(get_spec("h264_amf"), linux).missing
    intel_only = windows('"Name","AdapterCompatibility","DriverVersion","PNPDeviceID"\n"Intel(R) UHD Graphics 770",'
                         '"Intel Corporation","31.0.101.4502","PCI\\VEN_8086&DEV_4680"\n')
    assert hw_setup(get_spec("av1_amf"), intel_only).missing == \
        "no AMD graphics adapter (Windows lists: Intel(R) UHD Graphics 770)"
    assert [f.key for f in detect_families(intel_only)] == ["cpu"]


def test_prereqs_rows_name_a_missing_amf_runtime() -> None:
    rows = family_rows(windows(runtime=""), detect_families(windows(runtime="")))
    assert rows[-1][:2] == ["amd gpu", "warn"] and "install AMD's Adrenalin driver" in rows[-1][2]
    ok = family_rows(windows(), detect_families(windows()))
    assert ok[-1][:2] == ["amd gpu", "ok"] and "opt-in" in ok[-1][2]


def test_the_amf_runtime_is_found_in_system32(tmp_path: Path) -> None:
    assert amf_runtime(str(tmp_path)) == ""
    (tmp_path / "System32").mkdir()
    (tmp_path / "System32" / "amfrt64.dll").write_bytes(b"MZ")
    assert amf_runtime(str(tmp_path)) == str(tmp_path / "System32" / "amfrt64.dll")


@pytest.mark.parametrize(("name", "cq", "expected"), [
    ("h264_amf", 25, ["-rc", "cqp", "-qp_i", "25", "-qp_p", "25", "-qp_b", "25"]),
    ("hevc_amf", 31, ["-rc", "cqp", "-qp_i", "31", "-qp_p", "31"]),  # hevc_amf has no B-frames and no -qp_b
    ("av1_amf", 120, ["-rc", "cqp", "-qp_i", "120", "-qp_p", "120", "-qp_b", "120"]),
])
def test_amf_quality_argv_is_exact(name: str, cq: int, expected: list[str]) -> None:
    spec = get_spec(name)
    assert spec.quality_args(cq) == expected
    argv = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], spec, cq, "out", threads=4)
    assert argv[argv.index("-c:v"):argv.index("-f", argv.index("-c:v"))] == [
        "-c:v", name, "-usage", "transcoding", "-quality", "quality", *expected]  # no -threads: AMF is hardware
    assert argv[argv.index("-pix_fmt") + 1] == "nv12"


def test_every_family_has_its_traits_and_amf_failures_are_named_and_hinted() -> None:
    assert {s.family for s in SPECS.values()} == set(FAMILIES)
    first = {f: next(s for s in SPECS.values() if s.family == f) for f in FAMILIES}  # every family has a spec
    assert [first[f].traits.host for f in FAMILIES] == ["CPU", "CPU", "CPU", "NVIDIA", "Intel", "Intel", "macOS",
                                                        "AMD"]
    assert get_spec("av1_amf").cq_range == (0, 255) and get_spec("h264_amf").at_bits(8).pix_fmt == "nv12"
    assert get_spec("hevc_amf").at_bits(10).pix_fmt == "p010le"
    with pytest.raises(ValueError, match="h264_amf has no 10-bit encode"):
        get_spec("h264_amf").at_bits(10)
    assert telling_line(AMF_NO_RUNTIME) == "DLL libamfrt64.so.1 failed to open"
    assert "AMD's driver" in explain("DLL libamfrt64.so.1 failed to open")
    assert "AMD's driver" in explain("DLL amfrt64.dll failed to open")


def test_a_windows_controller_without_vendor_or_amd_name_is_not_amd() -> None:
    basic = VideoController("Basic Display", "", "Microsoft")
    sig = HostSignals("windows", "x86_64", "cpu", video_controllers=(basic,))
    assert [f.key for f in detect_families(sig)] == ["cpu"]
