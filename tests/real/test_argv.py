"""Command builders (compared exactly) and the filter-path escaping, proven on real ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kit.media.argv import build_encode_argv, build_score_argv
from kit.media.libvmaf import FEATURES, build_libvmaf_graph, escape_filter_value, parse_vmaf_log
from kit.platforms.encoders import get_spec
from tests.conftest import render


def test_libx264_encode_argv_is_exact() -> None:
    argv = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], get_spec("libx264"), 25, "out.h264", threads=2)
    assert argv == ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", "-i", "ref.y4m", "-map", "0:v:0", "-an",
                    "-sn", "-dn", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset",
                    "medium", "-crf", "25", "-threads", "2", "-f", "h264", "out.h264"]


def test_quality_mapping_per_family() -> None:
    assert get_spec("h264_nvenc").quality_args(30) == ["-rc", "vbr", "-cq", "30", "-b:v", "0"]
    assert get_spec("hevc_qsv").quality_args(30) == ["-global_quality", "30"]
    assert get_spec("h264_vaapi").quality_args(30) == ["-rc_mode", "CQP", "-qp", "30"]
    assert get_spec("h264_videotoolbox").quality_args(30) == ["-q:v", "40", "-realtime", "0"]
    assert get_spec("h264_videotoolbox").quality_args(0) == ["-q:v", "100", "-realtime", "0"]
    assert get_spec("hevc_videotoolbox").quality_args(51) == ["-q:v", "1", "-realtime", "0"]
    assert get_spec("libsvtav1").quality_args(40) == ["-crf", "40"]


def test_score_argv_puts_distorted_first_and_sets_threads() -> None:
    argv = build_score_argv("ffmpeg", "d.h264", ["-i", "r.y4m"], 640, 360, "yuv420p", "/tmp/v.json", 3)
    assert argv[:12] == ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", "-threads", "3", "-i", "d.h264",
                         "-threads", "3", "-i"]
    graph = argv[argv.index("-lavfi") + 1]
    assert graph == ("[0:v]settb=1/25,setpts=N,scale=640:360:flags=bicubic,format=yuv420p[dis];"
                     "[1:v]settb=1/25,setpts=N,format=yuv420p[ref];"
                     "[dis][ref]libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:log_path=/tmp/v.json:n_threads=3")


def test_escape_filter_value_levels() -> None:
    assert escape_filter_value("a b") == "a b"
    assert escape_filter_value("c:d") == "c\\\\:d"
    assert escape_filter_value("it's") == "it\\\\\\'s"
    assert escape_filter_value("x,y;[z]") == "x\\,y\\;\\[z\\]"


def test_log_path_with_space_quote_colon_and_comma_survives_real_ffmpeg(ffmpeg: str, tmp_path: Path) -> None:
    ref = render(ffmpeg, "testsrc2=s=176x144:r=25", tmp_path / "ref.y4m", frames=3)
    odd = tmp_path / "it's a dir: [v1], ok; yes"
    odd.mkdir()
    log = odd / "vmaf log.json"
    graph = build_libvmaf_graph(176, 144, "yuv420p", log, 1)
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(ref), "-i", str(ref), "-lavfi", graph,
                    "-f", "null", "-"], check=True)
    parsed = parse_vmaf_log(log)
    assert parsed.n_frames == 3 and parsed.features.shape == (3, len(FEATURES))
    assert (parsed.vmaf > 95).all()  # identical inputs score (nearly) perfectly
