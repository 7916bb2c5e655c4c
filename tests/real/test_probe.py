"""Encoder specs and probes against the real bundled ffmpeg: every option a spec uses
exists, the software encoders really encode, the hardware probes fail cleanly and
fast on a box without the hardware (even with a fake nvidia-smi on PATH)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kit.infra.tree import Tree
from kit.media.argv import build_encode_argv
from kit.media.ffmpeg import describe
from kit.platforms.detect import hw_setup
from kit.platforms.encoders import SPECS, get_spec
from kit.platforms.probe import PROBE_FRAMES, Prober
from kit.platforms.signals import HostSignals, RenderNode, VideoController, list_render_nodes
from tests import pace
from tests.conftest import run_kit

NO_GPU_HERE = shutil.which("nvidia-smi") is None and not Path("/dev/dri").exists()
needs_no_gpu = pytest.mark.skipif(not NO_GPU_HERE, reason="needs a box without a GPU (nvidia-smi or /dev/dri is here)")
# a failing hardware probe takes well under a second; generous, in the box's own time (tests/pace.py)
FAIL_FAST_S = 10.0
H100_SMI = '#!/bin/sh\necho "0, NVIDIA H100 80GB HBM3, 550.54.15"\n'


def _help(ffmpeg: str, topic: str) -> str:
    res = subprocess.run([ffmpeg, "-hide_banner", "-h", topic], capture_output=True, text=True, check=True)
    return res.stdout


@functools.cache
def cli_and_generic_options(ffmpeg: str) -> tuple[frozenset[str], frozenset[str]]:
    """(ffmpeg's own options, the generic AVCodecContext options) from `ffmpeg -h full`."""
    head, _, rest = _help(ffmpeg, "full").partition("AVCodecContext AVOptions:")
    generic = rest.split("AVOptions:")[0]
    usage = re.findall(r"\s-(\w+) infile", head)  # `-i` is named only in the usage line
    return (frozenset([*usage, *re.findall(r"^-([\w-]+)", head, re.MULTILINE)]),
            frozenset(re.findall(r"^\s+-([\w-]+)\s+<", generic, re.MULTILINE)))


def private_options(ffmpeg: str, encoder: str) -> dict[str, set[str]]:
    """The encoder's private options from `ffmpeg -h encoder=NAME`, each with its named constants."""
    options: dict[str, set[str]] = {}
    current = ""
    for line in _help(ffmpeg, f"encoder={encoder}").splitlines():
        if m := re.match(r"^  -([\w-]+)\s+<", line):
            current = m.group(1)
            options[current] = set()
        elif (m := re.match(r"^ {5}(\S+)\s", line)) and current:
            options[current].add(m.group(1))
    return options


def option_pairs(argv: list[str]) -> list[tuple[str, str]]:
    """(option name without stream specifier, following token) for every option in argv."""
    pairs = []
    for i, tok in enumerate(argv[1:], start=1):
        if m := re.fullmatch(r"-([A-Za-z][\w-]*)(?::\w+)?", tok):
            pairs.append((m.group(1), argv[i + 1] if i + 1 < len(argv) else ""))
    return pairs


def fake_intel_signals(ffmpeg: str) -> HostSignals:
    info = describe(Path(ffmpeg), "test")
    return HostSignals("linux", "x86_64", "cpu", render_nodes=(RenderNode("/dev/dri/renderD128", "0x8086", "i915"),),
                       encoders=info.encoders, hwaccels=("vaapi", "qsv"))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_option_of_every_spec_exists_in_the_real_ffmpeg(ffmpeg: str, name: str) -> None:
    spec = get_spec(name)
    if name not in describe(Path(ffmpeg), "test").encoders:
        pytest.skip(f"{name} is not in this ffmpeg build ({ffmpeg})" +
                    ("; VideoToolbox's encoders ship only in macOS builds" if "videotoolbox" in name else ""))
    setup = hw_setup(spec, fake_intel_signals(ffmpeg))
    argv = build_encode_argv(ffmpeg, ["-i", "ref.y4m"], spec, 25, "out", hw_init=setup.args.init,
                             hw_filter=setup.args.filter, threads=2)
    cli, generic = cli_and_generic_options(ffmpeg)
    private = private_options(ffmpeg, name)
    assert private, f"ffmpeg printed no private options for {name}"
    for opt, value in option_pairs(argv):
        known = opt in private or opt in generic or opt in cli or (opt.startswith("no") and opt[2:] in cli)
        assert known, f"{name}: ffmpeg has no option -{opt}"
        if private.get(opt) and not re.fullmatch(r"-?\d+(\.\d+)?", value):
            assert value in private[opt], f"{name}: -{opt} {value} is not one of {sorted(private[opt])}"
    encoder_part = argv[argv.index("-c:v") + 2: argv.index("-f", argv.index("-c:v"))]
    for opt, _ in option_pairs(["ffmpeg", *encoder_part]):  # rate control: the encoder's or a codec option
        assert opt in private or opt in generic or opt == "q", f"{name}: -{opt} is no encoder option"


@pytest.fixture(scope="module")
def prober(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Prober:
    info = describe(Path(ffmpeg), "test")
    sig = HostSignals("linux", "x86_64", "Test CPU", encoders=info.encoders, hwaccels=("cuda", "vaapi", "qsv"))
    work = tmp_path_factory.mktemp("probe")
    return Prober(info, sig, Tree.open(work), work, refresh=True)


@pytest.mark.parametrize("name", ["libx264", "libx265", "libsvtav1"])
def test_software_encoders_really_encode_through_the_probe(prober: Prober, name: str) -> None:
    result = prober.probe(name)
    assert result.available, result
    assert result.fps is not None and result.fps > 0 and result.device == "Test CPU"
    assert f"{PROBE_FRAMES} frames exact" in result.reason
    spec = get_spec(name)
    assert (prober.work / f"probe_{name}.{spec.container}").stat().st_size > 0


def test_probe_commands_go_to_the_log_and_a_cached_answer_says_where_it_came_from(ffmpeg: str, tmp_path: Path,
                                                                                  tree: Tree) -> None:
    info = describe(Path(ffmpeg), "test")
    sig = HostSignals("linux", "x86_64", "Logged CPU", encoders=info.encoders)  # a host no other test probed
    first: list[str] = []
    assert Prober(info, sig, tree, tmp_path / "a", log=first.append).probe("libx264").available
    assert any(ln.startswith("$ ") and "-c:v libx264" in ln for ln in first)  # the test encode, runnable by hand
    again: list[str] = []
    result = Prober(info, sig, tree, tmp_path / "b", log=again.append).probe("libx264")
    assert result.cached and len(again) == 1
    assert again[0].startswith("libx264: probe result from the cache ") and "(works: " in again[0]


@needs_no_gpu
@pytest.mark.parametrize("name", ["h264_nvenc", "hevc_nvenc", "av1_nvenc"])
def test_nvenc_probe_fails_cleanly_and_fast_with_the_real_reason(prober: Prober, name: str) -> None:
    with pace.ticking() as clock:
        result = prober.probe(name)
    assert clock.seconds() < FAIL_FAST_S
    # how it ended, typed (what the lead is sent: kit.infra.ended), then ffmpeg's telling line (the box's)
    assert not result.available and re.fullmatch(r"test encode failed: exit code \d+: Cannot load libcuda\.so\.1",
                                                  result.reason), result.reason
    assert "option" not in result.reason.lower()  # the flags parsed; only the hardware is missing
    assert result.failure == f"NVENC unavailable: {result.reason}" and "NVIDIA driver" in result.hint


@needs_no_gpu
def test_qsv_and_vaapi_probes_open_the_discovered_node_and_fail_cleanly(ffmpeg: str, tmp_path: Path) -> None:
    dev, sys_drm = tmp_path / "dri", tmp_path / "sys"
    dev.mkdir()
    for name, vendor in (("renderD128", "0x10de"), ("renderD129", "0x8086")):
        (dev / name).touch()  # not a device: ffmpeg must say so, not crash
        (sys_drm / name / "device").mkdir(parents=True)
        (sys_drm / name / "device" / "vendor").write_text(vendor)
    info = describe(Path(ffmpeg), "test")
    sig = HostSignals("linux", "x86_64", "cpu", render_nodes=list_render_nodes(dev, sys_drm), encoders=info.encoders,
                      hwaccels=("vaapi", "qsv"))
    prober = Prober(info, sig, Tree.open(tmp_path), tmp_path / "work", refresh=True)
    for name in ("h264_qsv", "hevc_qsv", "av1_qsv", "h264_vaapi", "hevc_vaapi", "av1_vaapi"):
        with pace.ticking() as clock:
            result = prober.probe(name)
        assert clock.seconds() < FAIL_FAST_S, name
        assert not result.available, name
        # the Intel node was discovered (never the NVIDIA one, never a hard-coded name) and really opened:
        # ffmpeg's own complaint about it is the reason (no VA display, or no libva on a GPU-less box)
        assert result.hw.init[1] == f"vaapi=va:{dev / 'renderD129'}", result.hw
        assert re.search(r"VA display|libva", result.reason), (name, result.reason)
        assert "LIBVA_DRIVER_NAME" in result.hint


@pytest.fixture()
def fake_smi_path(tmp_path: Path) -> str:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "nvidia-smi").write_text(H100_SMI)
    (bindir / "nvidia-smi").chmod(0o755)
    return f"{bindir}{os.pathsep}{os.environ['PATH']}"


@needs_no_gpu
def test_detect_json_with_a_fake_nvidia_smi(fake_smi_path: str, tmp_path: Path) -> None:
    env = {"PATH": fake_smi_path, "KIT_CACHE_DIR": str(tmp_path / "cache")}
    with pace.ticking() as clock:
        res = run_kit("detect", "--json", env=env, timeout=300)
        elapsed = clock.seconds()
        ratio = clock.pace()  # the box's pace over the run: what the kit's wall figures of it are worth
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    by_name = {e["name"]: e for e in report["encoders"]}
    assert set(by_name) == set(SPECS)
    assert [f["key"] for f in report["families"]] == ["nvidia", "cpu"]
    assert report["host"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    for name in ("libx264", "libx265", "libsvtav1"):
        assert by_name[name]["available"] and by_name[name]["fps"] > 0, by_name[name]
    for name in ("h264_nvenc", "hevc_nvenc", "av1_nvenc"):
        entry = by_name[name]
        assert not entry["available"] and entry["fps"] is None
        assert re.fullmatch(r"test encode failed: exit code \d+: Cannot load libcuda\.so\.1", entry["reason"])
        assert entry["role"] == "default" and entry["family"] == "NVIDIA"
        assert entry["device"] == "NVIDIA H100 80GB HBM3 (driver 550.54.15)"
        assert entry["seconds"] * ratio < FAIL_FAST_S, (entry["seconds"], ratio)
    for name in ("h264_qsv", "hevc_qsv", "av1_qsv", "h264_vaapi", "hevc_vaapi", "av1_vaapi"):
        assert not by_name[name]["available"] and "render node under /dev/dri" in by_name[name]["reason"]
    assert report["auto_encoders"] == ["libx264"]
    assert elapsed < 120, elapsed
    again = json.loads(run_kit("detect", "--json", env=env).stdout)
    assert {e["name"]: e["cached"] for e in again["encoders"]}["libx265"] is True  # cached per build and driver


def test_detect_table_names_family_availability_and_why(tmp_path: Path) -> None:
    res = run_kit("detect", "--encoders", "libx264,h264_nvenc", env={"KIT_CACHE_DIR": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    header = next(ln for ln in lines if ln.startswith("family"))
    assert re.split(r"\s{2,}", header.strip()) == ["family", "encoder", "role", "available", "fps", "why"]
    x264 = next(ln for ln in lines if " libx264 " in ln)
    assert x264.startswith("CPU") and " yes " in x264 and "frames exact" in x264
    if NO_GPU_HERE:
        nvenc = next(ln for ln in lines if " h264_nvenc " in ln)
        assert " no " in nvenc and re.search(r"NVENC unavailable: test encode failed: exit code \d+: Cannot load "
                                             r"libcuda\.so\.1", nvenc)
    assert lines[-1].startswith("--encoders auto on this box: ") and "libx264" in lines[-1]


@needs_no_gpu
@pytest.mark.parametrize("name", ["h264_amf", "hevc_amf", "av1_amf"])
def test_amf_probe_on_an_amd_windows_box_without_the_runtime_fails_cleanly_and_fast(ffmpeg: str, tmp_path: Path,
                                                                                    name: str) -> None:
    """The AMD family's signals (captured Windows adapters), the real ffmpeg's AMF encoder, no AMF runtime here:
    the flags parse, the runtime is missing, and the probe says so with the hint, within moments."""
    info = describe(Path(ffmpeg), "test")
    sig = HostSignals("windows", "x86_64", "cpu", encoders=info.encoders,
                      video_controllers=(VideoController("AMD Radeon RX 7800 XT", "0x1002", "AMD", "31.0.24033.1003"),))
    with pace.ticking() as clock:
        result = Prober(info, sig, Tree.open(tmp_path), tmp_path, refresh=True).probe(name)
    assert clock.seconds() < FAIL_FAST_S
    assert not result.available and re.fullmatch(r"test encode failed: exit code \d+: DLL libamfrt64\.so\.1 failed "
                                                  r"to open", result.reason), result
    assert result.failure == f"AMF unavailable: {result.reason}" and "AMD's driver" in result.hint
    assert result.device == "AMD Radeon RX 7800 XT (driver 31.0.24033.1003)"
