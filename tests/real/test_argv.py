"""Command builders (compared exactly) and the filter-path escaping, proven on real ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from kit.media.argv import (
    SECOND_LOOK,
    STRICT_DECODE,
    build_encode_argv,
    build_fingerprint_argv,
    build_intermediate_argv,
    build_open_argv,
    build_query_argv,
    build_render_argv,
    build_scale_filter,
    build_score_argv,
    build_second_look_argv,
    build_shared_decode_argv,
    build_shared_graph,
    build_verify_argv,
    build_window_encodes_argv,
    build_window_scores_argv,
    decoded_ref_input,
)
from kit.media.libvmaf import FEATURES, Teacher, build_libvmaf_graph, escape_filter_value, parse_vmaf_log
from kit.media.teachers import teacher_of
from kit.platforms.encoders import build_hw_args, get_spec
from tests.conftest import render
from tests.kitfiles import write_tiny_model


def test_libx264_encode_argv_is_exact() -> None:
    argv = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], get_spec("libx264"), 25, "out.h264", threads=2)
    assert argv == ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", "-i", "ref.y4m", "-map", "0:v:0", "-an",
                    "-sn", "-dn", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset",
                    "medium", "-crf", "25", "-threads", "2", "-f", "h264", "out.h264"]


def test_shared_decode_argv_is_each_jobs_encode_fed_by_split() -> None:
    """Each output carries exactly what build_encode_argv gives that job after its input (kit.corpus.shared)."""
    x264, x265 = get_spec("libx264"), get_spec("libx265")
    argv = build_shared_decode_argv("ffmpeg", ["-i", "m.mp4"], [(x264, 25, "a.h264"), (x265, 31, "b.hevc")],
                                    ref_pix_fmt="yuv420p10le", ref_out="ref.tmp", threads=1)
    assert argv == ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", "-i", "m.mp4", "-filter_complex",
                    "[0:v:0]split=3[e0][e1][r];[r]format=yuv420p10le[ref]",
                    "-map", "[e0]", "-an", "-sn", "-dn", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-c:v",
                    "libx264", "-preset", "medium", "-crf", "25", "-threads", "1", "-f", "h264", "a.h264",
                    "-map", "[e1]", "-an", "-sn", "-dn", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-c:v",
                    "libx265", "-preset", "medium", "-crf", "31", "-x265-params", "log-level=error", "-threads", "1",
                    "-f", "hevc", "b.hevc", "-map", "[ref]", "-fps_mode", "passthrough", "-c:v", "rawvideo",
                    "-f", "nut", "ref.tmp"]
    for (spec, cq, out), start in (((x264, 25, "a.h264"), 11), ((x265, 31, "b.hevc"), 31)):
        own = build_encode_argv("ffmpeg", ["-i", "m.mp4"], spec, cq, out, threads=1)
        assert argv[start:start + len(own) - 9] == own[9:]  # after its `-map 0:v:0`, the job's own encode
    no_ref = build_shared_decode_argv("ffmpeg", ["-i", "m.mp4"], [(x264, 25, "a.h264")])
    assert no_ref[7:9] == ["-filter_complex", "[0:v:0]split=1[e0]"] and no_ref[-1] == "a.h264"
    assert decoded_ref_input("r.nut", [("color_range", "pc"), ("colorspace", "bt709")]) == [
        "-color_range", "pc", "-colorspace", "bt709", "-i", "r.nut"]


def test_window_argvs_are_exact() -> None:
    """The consumer's samplings (kit.corpus.samples): one decode split into each window's own encode (the job's
    encoder arguments after its trim, the window starting at time 0), and one scoring of every window's encode
    against its frames of the reference, decoded once; a hardware encoder's upload chain after the trim."""
    x264 = get_spec("libx264")
    argv = build_window_encodes_argv("ffmpeg", ["-i", "m.mp4"], x264, 25, [(0, 5), (20, 25)], ["a.h264", "b.h264"],
                                     threads=1)
    assert argv == ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", "-i", "m.mp4", "-filter_complex",
                    "[0:v:0]split=2[w0][w1];[w0]trim=start_frame=0:end_frame=5,setpts=PTS-STARTPTS[e0];"
                    "[w1]trim=start_frame=20:end_frame=25,setpts=PTS-STARTPTS[e1]",
                    "-map", "[e0]", "-an", "-sn", "-dn", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-c:v",
                    "libx264", "-preset", "medium", "-crf", "25", "-threads", "1", "-f", "h264", "a.h264",
                    "-map", "[e1]", "-an", "-sn", "-dn", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-c:v",
                    "libx264", "-preset", "medium", "-crf", "25", "-threads", "1", "-f", "h264", "b.h264"]
    own = build_encode_argv("ffmpeg", ["-i", "m.mp4"], x264, 25, "a.h264", threads=1)
    assert argv[11:11 + len(own) - 9] == own[9:]  # after its `-map [e0]`, the job's own encode
    nvenc = build_window_encodes_argv("ffmpeg", ["-i", "m.mp4"], get_spec("h264_nvenc"), 25, [(0, 5)], ["a.h264"],
                                      hw_init=["-init_hw_device", "cuda"], hw_filter="hwupload_cuda")
    assert nvenc[5:10] == ["-init_hw_device", "cuda", "-i", "m.mp4", "-filter_complex"]
    assert nvenc[10].endswith("setpts=PTS-STARTPTS,hwupload_cuda[e0]") and "-pix_fmt" not in nvenc
    score = build_window_scores_argv("ffmpeg", ["a.h264", "b.h264"], ["-i", "r.y4m"], [(0, 5), (20, 25)], 640, 360,
                                     "yuv420p", ["/tmp/a.json", "/tmp/b.json"], 2, fps="25")
    assert score[:17] == ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", "-threads", "2", "-i", "a.h264",
                          "-threads", "2", "-i", "b.h264", "-threads", "2", "-i", "r.y4m"]
    assert score[17:] == ["-filter_complex",
                          "[2:v]split=2[w0][w1];"
                          "[w0]trim=start_frame=0:end_frame=5,settb=1/25,setpts=N,format=yuv420p[ref0];"
                          "[0:v]settb=1/25,setpts=N,scale=640:360,format=yuv420p[dis0];"
                          "[dis0][ref0]libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:log_path=/tmp/a.json:"
                          "n_threads=2:shortest=1;"
                          "[w1]trim=start_frame=20:end_frame=25,settb=1/25,setpts=N,format=yuv420p[ref1];"
                          "[1:v]settb=1/25,setpts=N,scale=640:360,format=yuv420p[dis1];"
                          "[dis1][ref1]libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:log_path=/tmp/b.json:"
                          "n_threads=2:shortest=1", "-f", "null", "-"]


def test_windows_encoded_and_scored_at_once_are_each_scored_alone(ffmpeg: str, tmp_path: Path) -> None:
    """Two windows of a real clip, encoded by one process and scored by another, give each window's frames what
    libvmaf gives the same encode scored alone against the same frames of the clip (its motion from its own first
    frame: the first frame's is 0)."""
    ref = render(ffmpeg, "testsrc2=s=176x144:r=25", tmp_path / "ref.y4m", frames=30)
    windows, encodes = [(2, 8), (20, 26)], [tmp_path / "a.h264", tmp_path / "b.h264"]
    subprocess.run(build_window_encodes_argv(ffmpeg, ["-i", str(ref)], get_spec("libx264"), 40, windows, encodes,
                                             threads=1), check=True, capture_output=True)
    logs = [tmp_path / "a.json", tmp_path / "b.json"]
    subprocess.run(build_window_scores_argv(ffmpeg, encodes, ["-i", str(ref)], windows, 176, 144, "yuv420p", logs, 1,
                                            fps="25"), check=True, capture_output=True)
    for (first, end), enc, log in zip(windows, encodes, logs, strict=True):
        alone = tmp_path / f"alone-{first}.json"
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(enc), "-i", str(ref), "-lavfi",
                        f"[0:v]settb=1/25,setpts=N[d];[1:v]trim=start_frame={first}:end_frame={end},settb=1/25,"
                        f"setpts=N[r];[d][r]libvmaf=log_fmt=json:log_path={alone}", "-f", "null", "-"], check=True)
        mine, plain = parse_vmaf_log(log), parse_vmaf_log(alone)
        assert mine.n_frames == plain.n_frames == end - first
        assert np.array_equal(mine.vmaf, plain.vmaf) and np.array_equal(mine.features, plain.features)
        assert mine.features[0, FEATURES.index("motion2")] == 0


def test_a_ladder_rungs_argvs_are_exact() -> None:
    """A rung's copy is downscaled before the encoder's format conversion (or its upload chain); the scoring brings
    the encode back to the reference's size with the named upscaler; a shared decode scales once per rung."""
    x264 = get_spec("libx264")
    scale = build_scale_filter(320, 180, "lanczos")
    assert scale == "scale=320:180:flags=lanczos"
    argv = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], x264, 25, "out.h264", threads=1, scale=scale)
    assert argv[argv.index("-fps_mode") + 2:argv.index("-c:v")] == ["-vf", scale, "-pix_fmt", "yuv420p"]
    qsv = get_spec("h264_qsv")
    hw = build_hw_args(qsv, "/dev/dri/renderD128")
    on_gpu = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], qsv, 25, "out.h264", hw_init=hw.init, hw_filter=hw.filter,
                               scale=scale)
    assert on_gpu[on_gpu.index("-vf") + 1] == "scale=320:180:flags=lanczos,format=nv12,hwupload=extra_hw_frames=64"
    score = build_score_argv("ffmpeg", "d.h264", ["-i", "r.y4m"], 640, 360, "yuv420p", "/tmp/v.json", 1,
                             upscaler="spline", fps="24000/1001")
    graph = score[score.index("-lavfi") + 1]
    assert "[0:v]settb=1001/24000,setpts=N,scale=640:360:flags=spline,format=yuv420p[dis]" in graph
    shared = build_shared_decode_argv("ffmpeg", ["-i", "m.mp4"], [(x264, 25, "a.h264"), (x264, 31, "b.h264"),
                                                                 (x264, 37, "c.h264")],
                                      ref_pix_fmt="yuv420p", ref_out="ref.tmp", threads=1, scales=["", scale, scale])
    assert shared[shared.index("-filter_complex") + 1] == (
        "[0:v:0]split=3[e0][s0][r];[s0]scale=320:180:flags=lanczos,split=2[e1][e2];"
        "[r]format=yuv420p[ref]")
    assert [shared[i + 1] for i, a in enumerate(shared) if a == "-map"] == ["[e0]", "[e1]", "[e2]", "[ref]"]
    assert build_shared_graph(["", ""]) == "[0:v:0]split=2[e0][e1]"


def test_a_rung_encoded_and_scored_by_the_real_ffmpeg(ffmpeg: str, tmp_path: Path) -> None:
    """The shared downscale makes the same bitstream as the rung's own encode, and the scoring at the reference's
    size scores every frame."""
    ref = tmp_path / "ref.y4m"
    render(ffmpeg, "testsrc2=s=176x144:r=25", ref, frames=6)
    x264, scale = get_spec("libx264"), build_scale_filter(88, 72, "lanczos")
    own, shared = tmp_path / "own.h264", tmp_path / "shared.h264"
    subprocess.run(build_encode_argv(ffmpeg, ["-i", str(ref)], x264, 30, own, threads=1, scale=scale), check=True,
                   capture_output=True)
    both = [(x264, 30, shared), (x264, 40, tmp_path / "o.h264")]
    subprocess.run(build_shared_decode_argv(ffmpeg, ["-i", str(ref)], both, threads=1, scales=[scale, scale]),
                   check=True, capture_output=True)
    assert own.read_bytes() == shared.read_bytes()
    log = tmp_path / "v.json"
    res = subprocess.run(build_score_argv(ffmpeg, own, ["-i", str(ref)], 176, 144, "yuv420p", log, 1, fps="25"),
                         capture_output=True)
    assert res.returncode == 0, res.stderr[-400:]
    vlog = parse_vmaf_log(log)
    assert vlog.n_frames == 6 and 0 <= vlog.vmaf.min() < 100


def test_quality_mapping_per_family() -> None:
    assert get_spec("h264_nvenc").quality_args(30) == ["-rc", "vbr", "-cq", "30", "-b:v", "0"]
    assert get_spec("hevc_qsv").quality_args(30) == ["-global_quality", "30"]
    assert get_spec("h264_vaapi").quality_args(30) == ["-rc_mode", "CQP", "-qp", "30"]
    # VideoToolbox's cq is its own -q:v (1..100, higher is better): the value the encoder receives
    assert get_spec("h264_videotoolbox").quality_args(40) == ["-q:v", "40", "-realtime", "0"]
    assert get_spec("h264_videotoolbox").quality_args(100) == ["-q:v", "100", "-realtime", "0"]
    assert get_spec("hevc_videotoolbox").quality_args(1) == ["-q:v", "1", "-realtime", "0"]
    assert get_spec("libsvtav1").quality_args(40) == ["-crf", "40"]


def test_score_argv_puts_distorted_first_and_sets_threads() -> None:
    argv = build_score_argv("ffmpeg", "d.h264", ["-i", "r.y4m"], 640, 360, "yuv420p", "/tmp/v.json", 3, fps="25")
    assert argv[:12] == ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", "-threads", "3", "-i", "d.h264",
                         "-threads", "3", "-i"]
    graph = argv[argv.index("-lavfi") + 1]
    assert graph == ("[0:v]settb=1/25,setpts=N,scale=640:360:flags=bicubic,format=yuv420p[dis];"
                     "[1:v]settb=1/25,setpts=N,format=yuv420p[ref];"
                     "[dis][ref]libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:log_path=/tmp/v.json:n_threads=3:shortest=1")


def test_score_argv_of_another_teacher_is_exact() -> None:
    """Another model than vmaf_v0.6.1 gets the canonical six's extractors beside it; a model file's path is escaped
    a third time, for libvmaf's own model string (backslash, quote, colon and =), then as every filter value."""
    neg = build_score_argv("ffmpeg", "d.h264", ["-i", "r.y4m"], 640, 360, "yuv420p", "/tmp/v.json", 3,
                           teacher=Teacher("vmaf_v0.6.1neg"), fps="25")
    assert neg[neg.index("-lavfi") + 1].endswith(
        "[dis][ref]libvmaf=model=version=vmaf_v0.6.1neg:feature=name=adm|name=vif|name=motion:log_fmt=json:"
        "log_path=/tmp/v.json:n_threads=3:shortest=1")
    model = Teacher("m", "/x/a b:c'd=e.json", "0" * 64)
    assert model.model_option() == r"path=/x/a b\:c\'d\=e.json"
    graph = build_libvmaf_graph(640, 360, "yuv420p", "/tmp/v.json", 3, model, fps="25")
    assert graph.endswith(r"[dis][ref]libvmaf=model=path=/x/a b\\\\\\:c\\\\\\\'d\\\\=e.json"
                          ":feature=name=adm|name=vif|name=motion:log_fmt=json:log_path=/tmp/v.json:n_threads=3"
                          ":shortest=1")


def test_every_teacher_scores_with_real_libvmaf_and_the_canonical_six_do_not_move(ffmpeg: str,
                                                                                    tmp_path: Path) -> None:
    """NEG, 4K and a model file (the tests' own, in a folder whose name holds a space, a quote, a colon, a comma and
    an =) each score through the real ffmpeg; the canonical six they log are vmaf_v0.6.1's to the last digit (the
    proxy's inputs do not depend on the teacher), while the scores are each model's own."""
    ref = render(ffmpeg, "testsrc2=s=176x144:r=25", tmp_path / "ref.y4m", frames=4)
    enc = tmp_path / "enc.h264"
    subprocess.run(build_encode_argv(ffmpeg, ["-i", str(ref)], get_spec("libx264"), 40, enc), check=True,
                   capture_output=True)
    model = write_tiny_model(tmp_path / "it's a dir: odd=, yes" / "tiny model.json")
    logs = {}
    for name, teacher in (("default", Teacher("vmaf_v0.6.1")), ("neg", Teacher("vmaf_v0.6.1neg")),
                          ("4k", Teacher("vmaf_4k_v0.6.1")), ("file", teacher_of(str(model)))):
        log = tmp_path / f"{name}.json"
        subprocess.run(build_score_argv(ffmpeg, enc, ["-i", str(ref)], 176, 144, "yuv420p", log, 1, teacher=teacher,
                                        fps="25"), check=True, capture_output=True)
        logs[name] = parse_vmaf_log(log)
    for name in ("neg", "4k", "file"):
        assert (logs[name].features == logs["default"].features).all(), name
    assert (logs["neg"].vmaf < logs["default"].vmaf).all()  # no enhancement gain to add
    assert (logs["4k"].vmaf > logs["default"].vmaf).all()  # the 4K model's viewer sees less of the damage
    assert not (logs["file"].vmaf == logs["default"].vmaf).any() and (logs["file"].vmaf >= 0).all()


def test_vmaf_v1s_four_features_score_beside_any_teacher_with_real_libvmaf(ffmpeg: str, tmp_path: Path) -> None:
    """--inputs canonical6+v1: the four extractors with v1's options, each logged under the key its options spell
    (kit.media.libvmaf.EXTRA_KEYS), on a pair of the demo's size; the teacher's scores and the canonical six do
    not move."""
    ref = render(ffmpeg, "testsrc2=s=640x360:r=25", tmp_path / "ref.y4m", frames=3)
    enc = tmp_path / "enc.h264"
    subprocess.run(build_encode_argv(ffmpeg, ["-i", str(ref)], get_spec("libx264"), 40, enc), check=True,
                   capture_output=True)
    logs = {}
    for extra in (False, True):
        log = tmp_path / f"{extra}.json"
        argv = build_score_argv(ffmpeg, enc, ["-i", str(ref)], 640, 360, "yuv420p", log, 1, extra=extra, fps="25")
        assert ("name=cambi" in argv[argv.index("-lavfi") + 1]) is extra
        subprocess.run(argv, check=True, capture_output=True)
        logs[extra] = parse_vmaf_log(log, extra)
    assert logs[False].extra is None and logs[True].extra is not None
    assert logs[True].extra.shape == (3, 4) and np.isfinite(logs[True].extra).all()
    assert (logs[True].extra[:, 1] > 0).all()  # SpEED's chroma term measures something at this size
    assert (logs[True].vmaf == logs[False].vmaf).all() and (logs[True].features == logs[False].features).all()


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
    graph = build_libvmaf_graph(176, 144, "yuv420p", log, 1, fps="25")
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(ref), "-i", str(ref), "-lavfi", graph,
                    "-f", "null", "-"], check=True)
    parsed = parse_vmaf_log(log)
    assert parsed.n_frames == 3 and parsed.features.shape == (3, len(FEATURES))
    assert (parsed.vmaf > 95).all()  # identical inputs score (nearly) perfectly


def test_10_bit_encode_argvs_are_exact() -> None:
    """--encode-depth source: the same flags, the encoder's 10-bit input format (its profile follows)."""
    head = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y"]
    body = ["-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough"]
    x265 = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], get_spec("libx265").at_bits(10), 25, "out.hevc", threads=1)
    assert x265 == [*head, "-i", "ref.y4m", *body, "-pix_fmt", "yuv420p10le", "-c:v", "libx265", "-preset", "medium",
                    "-crf", "25", "-x265-params", "log-level=error", "-threads", "1", "-f", "hevc", "out.hevc"]
    x264 = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], get_spec("libx264").at_bits(10), 25, "out.h264")
    assert x264 == [*head, "-i", "ref.y4m", *body, "-pix_fmt", "yuv420p10le", "-c:v", "libx264", "-preset", "medium",
                    "-crf", "25", "-f", "h264", "out.h264"]
    svt = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], get_spec("libsvtav1").at_bits(10), 40, "out.obu")
    assert svt == [*head, "-i", "ref.y4m", *body, "-pix_fmt", "yuv420p10le", "-c:v", "libsvtav1", "-preset", "7",
                   "-crf", "40", "-svtav1-params", "lp=1", "-f", "obu", "out.obu"]
    nvenc = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], get_spec("hevc_nvenc").at_bits(10), 30, "out.hevc")
    assert nvenc == [*head, "-i", "ref.y4m", *body, "-pix_fmt", "p010le", "-c:v", "hevc_nvenc", "-preset", "p5",
                     "-tune", "hq", "-rc", "vbr", "-cq", "30", "-b:v", "0", "-f", "hevc", "out.hevc"]
    av1_nv = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], get_spec("av1_nvenc").at_bits(10), 30, "out.obu")
    assert av1_nv[av1_nv.index("-pix_fmt"):av1_nv.index("-c:v") + 2] == ["-pix_fmt", "p010le", "-c:v", "av1_nvenc"]
    qsv10 = get_spec("hevc_qsv").at_bits(10)
    hw = build_hw_args(qsv10, "/dev/dri/renderD128")
    qsv = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], qsv10, 30, "out.hevc", hw_init=hw.init, hw_filter=hw.filter)
    assert qsv == [*head, "-init_hw_device", "vaapi=va:/dev/dri/renderD128", "-init_hw_device", "qsv=qs@va",
                   "-filter_hw_device", "qs", "-i", "ref.y4m", *body,
                   "-vf", "format=p010le,hwupload=extra_hw_frames=64", "-c:v", "hevc_qsv", "-preset", "medium",
                   "-global_quality", "30", "-f", "hevc", "out.hevc"]
    vaapi10 = get_spec("av1_vaapi").at_bits(10)
    assert build_hw_args(vaapi10, "/dev/dri/renderD129").filter == "format=p010le,hwupload"
    # 8 bit: as before
    assert build_hw_args(get_spec("av1_vaapi"), "/dev/dri/renderD129").filter == "format=nv12,hwupload"
    vt = build_encode_argv("ffmpeg", ["-i", "ref.y4m"], get_spec("hevc_videotoolbox").at_bits(10), 50, "out.hevc")
    assert vt[vt.index("-pix_fmt"):vt.index("-f")] == ["-pix_fmt", "p010le", "-c:v", "hevc_videotoolbox", "-q:v", "50",
                                                       "-realtime", "0"]


def test_render_argv_of_a_10_bit_probe_clip() -> None:
    assert build_render_argv("ffmpeg", "testsrc2=s=64x64:r=25", "c.y4m", frames=3, pix_fmt="yuv420p10le") == [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=25",
        "-frames:v", "3", "-pix_fmt", "yuv420p10le", "-strict", "-1", "-f", "yuv4mpegpipe", "c.y4m"]
    assert "-strict" not in build_render_argv("ffmpeg", "testsrc2", "c.y4m", frames=3)  # 8 bit: as before
    assert build_query_argv("ffmpeg", "-h", "encoder=libx264") == ["ffmpeg", "-hide_banner", "-h", "encoder=libx264"]


def test_a_10_bit_encode_scores_against_its_10_bit_reference_with_real_libvmaf(ffmpeg: str, tmp_path: Path) -> None:
    """Both inputs are converted to the reference's format (here yuv420p10le, nothing to convert) and libvmaf
    reads them at 10 bit: the 10-bit encode keeps more of the reference than an 8-bit one at the same crf."""
    ref = render(ffmpeg, "testsrc2=s=176x144:r=25", tmp_path / "ref.y4m", frames=6, pix_fmt="yuv420p10le",
                 extra=("-strict", "-1"))
    scores = {}
    for bits in (8, 10):
        enc = tmp_path / f"enc{bits}.hevc"
        spec = get_spec("libx265").at_bits(bits)
        subprocess.run(build_encode_argv(ffmpeg, ["-i", str(ref)], spec, 30, enc, threads=1), check=True,
                       capture_output=True)
        log = tmp_path / f"vmaf{bits}.json"
        res = subprocess.run(build_score_argv(ffmpeg, enc, ["-i", str(ref)], 176, 144, "yuv420p10le", log, 1, fps="25"),
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-2000:]
        parsed = parse_vmaf_log(log)
        assert parsed.n_frames == 6
        scores[bits] = float(parsed.vmaf.mean())
    assert 60 < scores[8] <= 100 and 60 < scores[10] <= 100, scores
    assert scores[10] >= scores[8] - 1.0, scores  # never markedly worse for keeping the depth


# each frame's md5 and time (in the stream's own time base), a line each among the log lines, written whole
FRAME_MD5S = ["-c:v", "rawvideo", "-enc_time_base:v", "demux", "-f", "framehash", "-hash", "md5", "-flush_packets",
              "1", "pipe:2"]
# the frames' md5 lines of a renumbering look: each frame at its own time, made to rise
RISING_TIMES = ["-vf", "setpts='if(isnan(PREV_OUTPTS),PTS,max(PTS,PREV_OUTPTS+1))'"]


def test_fingerprint_argv_is_exact() -> None:
    """One decode, four outputs: the frame count (null), the pixel hash (stderr), the thumbnails (stdout), each
    frame's md5 (stderr, a line each, written whole)."""
    each = ["-map", "0:v:0", "-fps_mode", "passthrough"]
    tail = [*each, "-c:v", "rawvideo", "-f", "hash", "-hash", "sha256", "pipe:2",
            *each, "-vf", "scale=32:32:flags=area,format=yuv420p", "-c:v", "rawvideo", "-f", "rawvideo", "pipe:1",
            *each, *FRAME_MD5S]
    assert build_fingerprint_argv("ffmpeg", ["-i", "m.mkv"], checks=STRICT_DECODE, count=True) == [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info", "-xerror", "-err_detect",
        "explode", "-i", "m.mkv", "-map", "0:v:0", "-f", "null", "-", *tail]
    assert build_fingerprint_argv("ffmpeg", ["-f", "rawvideo", "-i", "c.yuv"]) == [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-f", "rawvideo", "-i", "c.yuv", *tail]


def test_second_look_argv_is_exact() -> None:
    """A master whose strict decode stopped: the fingerprint's outputs from the file as ffmpeg plays it, stopped by a
    picture its decoder flags damaged (-xerror, never explode: with it ffmpeg 9 can loop for ever), each output
    renumbered (they keep no timestamps, so a muxer's complaint about the file's own stops nothing) but each frame's
    md5 line, whose times are the file's own made to rise (KEEP_TIMES, the lossless copy's)."""
    each = ["-map", "0:v:0", "-fps_mode", "passthrough"]
    clean = ["-vf", "settb=1001/30000,setpts=N"]
    assert build_second_look_argv("ffmpeg", "m.mp4", "30000/1001") == [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+verbose", "-xerror",
        "-i", "m.mp4", "-map", "0:v:0", *clean, "-f", "null", "-",
        *each, *clean, "-c:v", "rawvideo", "-f", "hash", "-hash", "sha256", "pipe:2",
        *each, "-vf", "settb=1001/30000,setpts=N,scale=32:32:flags=area,format=yuv420p", "-c:v", "rawvideo",
        "-f", "rawvideo", "pipe:1", *each, *RISING_TIMES, *FRAME_MD5S]
    assert "explode" not in SECOND_LOOK and "-xerror" in SECOND_LOOK


def test_lossless_copy_argvs_are_exact() -> None:
    """A container read through a lossless copy (kit.media.containers): opened, decoded strictly once into the
    fingerprint's outputs, renumbered at the clip's rate, and the FFV1 copy in NUT, each frame at its own time in the
    stream's own time base (a step back kept: each packet's decode time its number, far below), then the copy checked,
    renumbered."""
    assert build_open_argv("ffmpeg", "a.ts") == ["ffmpeg", "-hide_banner", "-nostdin", "-i", "a.ts"]
    clean = ["-vf", "settb=1001/30000,setpts=N"]
    each = ["-map", "0:v:0", "-fps_mode", "passthrough"]
    strict = ["-loglevel", "level+info", "-xerror", "-err_detect", "explode"]
    # the strict decode's checks, at -loglevel verbose (where ffmpeg prints the copy's chroma location)
    verbose = ["-loglevel", "level+verbose", "-xerror", "-err_detect", "explode"]
    assert build_intermediate_argv("ffmpeg", "a.ts", "copy.tmp", "30000/1001") == [
        "ffmpeg", "-y", "-hide_banner", "-nostdin", "-nostats", *verbose, "-i", "a.ts",
        "-map", "0:v:0", *clean, "-f", "null", "-",
        *each, *clean, "-c:v", "rawvideo", "-f", "hash", "-hash", "sha256", "pipe:2",
        *each, "-vf", "settb=1001/30000,setpts=N,scale=32:32:flags=area,format=yuv420p", "-c:v", "rawvideo",
        "-f", "rawvideo", "pipe:1", *each, *RISING_TIMES, *FRAME_MD5S,
        *each, "-vf", "setpts='if(isnan(PTS),if(isnan(PREV_OUTPTS),PTS,PREV_OUTPTS+1),PTS)'", "-enc_time_base:v",
        "demux", "-c:v", "ffv1", "-level", "3", "-bsf:v", "setts=dts=N-1099511627776", "-f", "nut", "copy.tmp"]
    second = build_intermediate_argv("ffmpeg", "a.ts", "copy.tmp", "30000/1001", checks=SECOND_LOOK)
    assert second[:9] == ["ffmpeg", "-y", "-hide_banner", "-nostdin", "-nostats", *SECOND_LOOK, "-i"]
    full = build_intermediate_argv("ffmpeg", "cam.avi", "copy.tmp", "24/1", full_range=True)
    assert full[-19:] == [*each, "-vf", "setpts='if(isnan(PTS),if(isnan(PREV_OUTPTS),PTS,PREV_OUTPTS+1),PTS)'",
                          "-enc_time_base:v", "demux", "-color_range", "pc", "-c:v", "ffv1", "-level", "3",
                          "-bsf:v", "setts=dts=N-1099511627776", "-f", "nut", "copy.tmp"]
    assert build_verify_argv("ffmpeg", "copy.mkv", "yuvj422p") == [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", *strict, "-progress", "pipe:1", "-i", "copy.mkv", "-map",
        "0:v:0", "-vf", "setpts=N",
        "-f", "null", "-", *each, "-vf", "setpts=N", "-pix_fmt", "yuvj422p", "-c:v", "rawvideo", "-f", "hash", "-hash",
        "sha256", "pipe:2"]
