"""Pure builders of every ffmpeg command line the kit runs: nothing else in the kit spells an ffmpeg argv. A path in
one is a `kit.infra.shown.Spelled` (its text, and the path it is), so the logged command shows it as the lead may
see it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from kit.infra.shown import program, spelled_path
from kit.media.fingerprint import GRID
from kit.media.ladder import UP_DEFAULT
from kit.media.libvmaf import DEFAULT_TEACHER, Teacher, build_libvmaf_graph, build_windows_graph, renumber

# -nostats drops the progress spam; the closing "frame=" report (the frame count) and errors are still printed
QUIET = ("-hide_banner", "-nostdin", "-nostats")
COMMON = (*QUIET, "-y")
# key=value progress blocks (frame=, fps=, progress=) on stdout twice a second, for the live bars
PROGRESS = ("-progress", "pipe:1")
# one output frame per decoded frame, none duplicated or dropped to reach a constant rate
PASSTHROUGH = ("-fps_mode", "passthrough")


class EncoderArgs(Protocol):
    """What an encode needs of an encoder spec (kit.platforms.encoders.EncoderSpec is one)."""

    @property
    def name(self) -> str: ...
    @property
    def pix_fmt(self) -> str: ...
    @property
    def preset(self) -> tuple[str, ...]: ...
    @property
    def extra(self) -> tuple[str, ...]: ...
    @property
    def container(self) -> str: ...
    def quality_args(self, cq: int) -> list[str]: ...
    def thread_args(self, threads: int) -> list[str]: ...


def build_encode_argv(
    ffmpeg: str,
    ref_input: Sequence[str],
    spec: EncoderArgs,
    cq: int,
    out_path: Path | str,
    *,
    hw_init: Sequence[str] = (),
    hw_filter: str = "",
    threads: int = 0,
    progress: bool = False,
    scale: str = "",
    stream: str | None = None,
) -> list[str]:
    """Encode the first video stream (`stream`: another one, `v:K`) with `spec` at `cq`, each decoded frame once;
    `scale` runs before `hw_filter`."""
    argv = [program(ffmpeg), *COMMON, *(PROGRESS if progress else ()), *hw_init, *ref_input, "-map",
            f"0:{stream or 'v:0'}", "-an",
            "-sn", "-dn", *PASSTHROUGH, *_vf(scale, hw_filter)]
    return argv + ([] if hw_filter else ["-pix_fmt", spec.pix_fmt]) + _encoded(spec, cq, threads, out_path)


def _encoded(spec: EncoderArgs, cq: int, threads: int, out_path: Path | str) -> list[str]:
    """An encode's output options, the file an elementary stream (its size is the bitstream's)."""
    return ["-c:v", spec.name, *spec.preset, *spec.quality_args(cq), *spec.extra, *spec.thread_args(threads),
            "-f", spec.container, spelled_path(out_path)]


def build_score_argv(
    ffmpeg: str,
    distorted: Path | str,
    ref_input: Sequence[str],
    width: int,
    height: int,
    pix_fmt: str,
    log_path: Path | str,
    n_threads: int,
    progress: bool = False,
    teacher: Teacher = DEFAULT_TEACHER,
    extra: bool = False,
    upscaler: str = UP_DEFAULT,
    *,
    fps: str,
    window: tuple[int, int] | None = None,
    stream: str | None = None,
) -> list[str]:
    """Score `distorted` against the reference (build_libvmaf_graph; `stream`: its video stream, `v:K`, where not the
    first), each decoder on the job's thread budget."""
    graph = build_libvmaf_graph(width, height, pix_fmt, log_path, n_threads, teacher, extra, upscaler, fps=fps,
                                window=window, ref_stream=stream)
    threads = ("-threads", str(n_threads))
    return [program(ffmpeg), *COMMON, *(PROGRESS if progress else ()), *threads, "-i", spelled_path(distorted),
            *threads, *ref_input, "-lavfi", graph, "-f", "null", "-"]


def build_window_encodes_argv(
    ffmpeg: str,
    ref_input: Sequence[str],
    spec: EncoderArgs,
    cq: int,
    windows: Sequence[tuple[int, int]],
    out_paths: Sequence[Path | str],
    *,
    hw_init: Sequence[str] = (),
    hw_filter: str = "",
    threads: int = 0,
    progress: bool = False,
    stream: str | None = None,
) -> list[str]:
    """One decode of the clip (`stream`: its video stream, `v:K`, where not the first) into an encode of each window
    (first frame, end frame), each output its own encoder with its own first frame and rate control, as a consumer
    encodes a sample chunk on its own (kit.corpus.samples)."""
    n = len(windows)
    graph = [f"[0:{stream or 'v:0'}]split={n}{''.join(f'[w{k}]' for k in range(n))}"]
    for k, (first, end) in enumerate(windows):
        # PTS-STARTPTS: the window starts at 0, as vmaf-tune's input-side -ss gives it (no rate is imposed)
        graph.append(f"[w{k}]trim=start_frame={first}:end_frame={end},setpts=PTS-STARTPTS"
                     f"{',' + hw_filter if hw_filter else ''}[e{k}]")
    argv = [program(ffmpeg), *COMMON, *(PROGRESS if progress else ()), *hw_init, *ref_input, "-filter_complex",
            ";".join(graph)]
    for k, out_path in enumerate(out_paths):
        pix_fmt = [] if hw_filter else ["-pix_fmt", spec.pix_fmt]
        argv += ["-map", f"[e{k}]", "-an", "-sn", "-dn", *PASSTHROUGH, *pix_fmt, *_encoded(spec, cq, threads, out_path)]
    return argv


def build_window_scores_argv(
    ffmpeg: str,
    encoded: Sequence[Path | str],
    ref_input: Sequence[str],
    windows: Sequence[tuple[int, int]],
    width: int,
    height: int,
    pix_fmt: str,
    log_paths: Sequence[Path | str],
    n_threads: int,
    teacher: Teacher = DEFAULT_TEACHER,
    *,
    fps: str,
    progress: bool = False,
    stream: str | None = None,
) -> list[str]:
    """Score each window's own encode against its frames of the reference (`stream`: its video stream, `v:K`, where
    not the first), decoded once (build_windows_graph)."""
    threads = ("-threads", str(n_threads))
    inputs = [arg for path in encoded for arg in (*threads, "-i", spelled_path(path))]
    graph = build_windows_graph(windows, width, height, pix_fmt, log_paths, n_threads, teacher, fps=fps,
                                ref_stream=stream)
    return [program(ffmpeg), *COMMON, *(PROGRESS if progress else ()), *inputs, *threads, *ref_input,
            "-filter_complex", graph, "-f", "null", "-"]


# the decoded reference as raw frames in NUT (any pixel format); its colour tags do not survive (parse_output_colour)
REF_FORMAT = (*PASSTHROUGH, "-c:v", "rawvideo", "-f", "nut")


def build_scale_filter(width: int, height: int, scaler: str) -> str:
    """A ladder rung's downscale: `scale=W:H:flags=NAME` (swscale's named scaler, kit.media.ladder.SCALERS)."""
    return f"scale={width}:{height}:flags={scaler}"


def build_shared_graph(scales: Sequence[str], ref_pix_fmt: str = "", stream: str | None = None) -> str:
    """The filtergraph of a shared decode of the first video stream (`stream`: another, `v:K`): encode i reads
    `[e<i>]`, each distinct downscale of `scales` ("" for none) runs once; with `ref_pix_fmt`, `[ref]` is the decoded
    frames converted to it."""
    rungs = list(dict.fromkeys(s for s in scales if s))
    top = [f"[e{i}]" for i, s in enumerate(scales) if not s] + [f"[s{k}]" for k in range(len(rungs))]
    top += ["[r]"] if ref_pix_fmt else []
    graph = f"[0:{stream or 'v:0'}]split={len(top)}{''.join(top)}"
    for k, scale in enumerate(rungs):
        mine = [f"[e{i}]" for i, s in enumerate(scales) if s == scale]
        graph += f";[s{k}]{scale},split={len(mine)}{''.join(mine)}"
    if ref_pix_fmt:
        graph += f";[r]format={ref_pix_fmt}[ref]"
    return graph


def build_shared_decode_argv(
    ffmpeg: str,
    ref_input: Sequence[str],
    encodes: Sequence[tuple[EncoderArgs, int, Path | str]],
    *,
    ref_pix_fmt: str = "",
    ref_out: Path | str = "",
    threads: int = 0,
    progress: bool = False,
    scales: Sequence[str] = (),
    stream: str | None = None,
) -> list[str]:
    """One decode (`stream`: of another video stream than the first, `v:K`) feeding several software encodes
    (build_encode_argv's outputs: the same bitstreams) and, with `ref_out`, the decoded reference in `ref_pix_fmt`
    (kit.corpus.shared)."""
    graph = build_shared_graph(list(scales) or [""] * len(encodes), ref_pix_fmt if ref_out else "", stream)
    argv = [program(ffmpeg), *COMMON, *(PROGRESS if progress else ()), *ref_input, "-filter_complex", graph]
    for i, (spec, cq, out_path) in enumerate(encodes):
        argv += ["-map", f"[e{i}]", "-an", "-sn", "-dn", *PASSTHROUGH, "-pix_fmt", spec.pix_fmt,
                 *_encoded(spec, cq, threads, out_path)]
    if ref_out:
        argv += ["-map", "[ref]", *REF_FORMAT, spelled_path(ref_out)]
    return argv


def decoded_ref_input(ref_path: Path | str, tags: Sequence[tuple[str, str]]) -> list[str]:
    """Input options reading a decoded reference (build_shared_decode_argv's `ref_out`), its colour tags given back."""
    return [*(arg for name, value in tags for arg in (f"-{name}", value)), "-i", spelled_path(ref_path)]


def build_render_argv(ffmpeg: str, lavfi: str, dest: Path | str, *, frames: int = 0, seconds: float = 0.0,
                      pix_fmt: str = "yuv420p") -> list[str]:
    """Render a lavfi source to a y4m file: `frames` frames, or `seconds` of it."""
    length = ["-frames:v", str(frames)] if frames else ["-t", str(seconds)]
    # y4m's deeper colour spaces (C420p10, ...) are an extension the muxer writes only when told
    strict = ["-strict", "-1"] if pix_fmt != "yuv420p" else []
    return [program(ffmpeg), *COMMON, "-f", "lavfi", "-i", lavfi, *length, "-pix_fmt", pix_fmt, *strict,
            "-f", "yuv4mpegpipe", spelled_path(dest)]


def build_count_argv(ffmpeg: str, path: Path | str, *, progress: bool = False, stream: str | None = None) -> list[str]:
    """Read the first video stream's packets (`stream`: another's, `v:K`) to nowhere, decoding nothing; the closing
    `frame=` line counts them."""
    return [program(ffmpeg), *QUIET, *(PROGRESS if progress else ()), "-i", spelled_path(path), "-map",
            f"0:{stream or 'v:0'}", "-c", "copy", "-f", "null", "-"]


def build_frames_count_argv(ffmpeg: str, path: Path | str) -> list[str]:
    """Read every video stream's packets to nowhere, decoding nothing: a line of each packet on stdout (framecrc: the
    look's progress, whichever stream it is of) and, at -loglevel verbose, a closing line of each input stream counting
    the packets read (kit.media.decode.count_frames)."""
    return [program(ffmpeg), *QUIET, "-loglevel", "level+verbose", "-i", spelled_path(path), "-map", "0:v", "-c",
            "copy", "-f", "framecrc", "pipe:1"]


def build_decode_argv(ffmpeg: str, path: Path | str) -> list[str]:
    """Decode the first video stream to nowhere; ffmpeg's closing `frame=` line counts the frames."""
    return [program(ffmpeg), *QUIET, "-i", spelled_path(path), "-map", "0:v:0", "-f", "null", "-"]


# every decoded frame as a GRID x GRID 4:2:0 thumbnail, each sample its block's average: fine enough to find bars
THUMBNAIL_FILTER = f"scale={GRID}:{GRID}:flags=area,format=yuv420p"
# a clip's first look (kit.media.decode): stopped by the first damaged frame, or a packet its decoder finds an error in
STRICT_DECODE = ("-loglevel", "level+info", "-xerror", "-err_detect", "explode")
# the second look, where the first one stopped: the file as ffmpeg plays it (no `-err_detect explode`: an error a
# decoder reports on data it then skips, as a player does, is no stop), stopped (-xerror) by the first picture its
# decoder flags damaged (`corrupt decoded frame`: concealed) or a packet it cannot decode. Never explode without
# -xerror: ffmpeg 9's h264 decoder then retries one packet for ever (opencv-doc's box.mp4, issue 67: 2.9 GB of
# `mmco: unref short failure` in 11 minutes); with -xerror every error returns. Verbose: its closing lines count
# each input's packets read, frames decoded and decode errors.
SECOND_LOOK = ("-loglevel", "level+verbose", "-xerror")
# the third look, where the second stopped on a packet its decoder cannot decode ahead of the first picture (a camera's
# stray slice relabelled IDR: `Invalid inter IDR frame`): the file as a player plays it, nothing stopping it, its
# closing lines counting the packets it could not decode and the pictures it flagged damaged
AS_PLAYED = ("-loglevel", "level+verbose")


def _vf(*filters: str) -> list[str]:
    """`-vf A,B` for the filters given ("" ones left out); nothing when none is."""
    chain = ",".join(f for f in filters if f)
    return ["-vf", chain] if chain else []


# each decoded frame's md5 as a line of its own among ffmpeg's log lines (the framehash muxer's `0, dts, pts, duration,
# size, md5`): which pictures repeat the one before, bit for bit (kit.media.fingerprint.Repeats); -flush_packets 1
# writes each line in one write, so no log line of another thread lands inside it. Its pts is the frame's time in the
# stream's own time base (-enc_time_base demux: an encoder's default, one over the header's rate, rounds a clip whose
# packets are 1/30 s apart under a 25 fps header onto 1/25 s ticks), which kit.media.fingerprint.FrameTimes keeps
FRAME_HASHES = ("-c:v", "rawvideo", "-enc_time_base:v", "demux", "-f", "framehash", "-hash", "md5", "-flush_packets",
                "1", "pipe:2")


def build_fingerprint_argv(ffmpeg: str, ref_input: Sequence[str], *, checks: Sequence[str] = (),
                           count: bool = False, renumber: str = "", stream: str | None = None) -> list[str]:
    """Decode the first video stream once into the clip's identity: `-f null` (`count`: size and frame count), the
    planes' `SHA256=` on stderr, thumbnails on stdout, each frame's md5 and time on stderr; `checks`: STRICT_DECODE or
    SECOND_LOOK (what stops it). `renumber` renumbers every output but the frames' md5 lines, whose times are the
    file's own, made to rise (RISING_TIMES: a muxer stops a strict look on a time that steps back). `stream`: another
    video stream than the first (`v:K`: a cover picture's stream before the film's)."""
    mapped = f"0:{stream or 'v:0'}"
    each = ["-map", mapped, *PASSTHROUGH]
    null = ["-map", mapped, *_vf(renumber), "-f", "null", "-"] if count else []
    return [program(ffmpeg), *QUIET, *checks, *ref_input, *null,
            *each, *_vf(renumber), "-c:v", "rawvideo", "-f", "hash", "-hash", "sha256", "pipe:2",
            *each, *_vf(renumber, THUMBNAIL_FILTER), "-c:v", "rawvideo", "-f", "rawvideo", "pipe:1",
            *each, *_vf(RISING_TIMES if renumber else ""), *FRAME_HASHES]


def build_second_look_argv(ffmpeg: str, path: Path | str, fps: str, checks: Sequence[str] = SECOND_LOOK,
                           stream: str | None = None) -> list[str]:
    """A master's second (or, `checks` AS_PLAYED, third) look into build_fingerprint_argv's outputs, each renumbered at
    `fps`: they keep no timestamps, so a muxer's complaint about the file's own (box.mp4's last frame steps back)
    stops nothing."""
    return build_fingerprint_argv(ffmpeg, ["-i", spelled_path(path)], checks=checks, count=True,
                                  renumber=renumber(fps), stream=stream)


def build_open_argv(ffmpeg: str, path: Path | str) -> list[str]:
    """Open a file and list its streams, decoding nothing (with no output given, ffmpeg stops there: exit 1)."""
    return [program(ffmpeg), "-hide_banner", "-nostdin", "-i", spelled_path(path)]


def build_headers_argv(ffmpeg: str, path: Path | str, stream: str | None = None) -> list[str]:
    """Open a file and trace the headers of its first video packet (`stream`: another video stream's, `v:K`),
    decoding nothing (-bsf:v trace_headers): how it was coded, where ffmpeg reads its codec's headers (H.264, HEVC,
    VP9, AV1); its stream line for the others."""
    return [program(ffmpeg), "-hide_banner", "-nostdin", "-i", spelled_path(path), "-map", f"0:{stream or 'v:0'}",
            "-c:v", "copy", "-bsf:v", "trace_headers", "-frames:v", "1", "-f", "null", "-"]


# the lossless copy's codec: FFV1 version 3, whose slices are coded by parallel threads and each carry a CRC
INTERMEDIATE_CODEC = ("-c:v", "ffv1", "-level", "3")
# the copy's container: NUT keeps each frame's timestamp exactly, in a time base it picks as a multiple of the stream's
# own (1/480 for an AVI's 1/15); Matroska would round them to the millisecond, and keeps the colour tags NUT drops
# (given back when the copy is read: kit.media.refs.Clip.input_args)
INTERMEDIATE_FORMAT = ("-f", "nut")
INTERMEDIATE_OUTPUT = 4  # the copy's output index in build_intermediate_argv (after the count, hash, thumbnails and
# each frame's md5)
# each frame of the copy at the time ffmpeg plays it at: the decoder's own timestamp, in the stream's own time base
# (-enc_time_base demux; an encoder's default, one over the frame rate, would round a variable rate's), a step back (a
# splice, a program stream's last frames) kept as it is, one tick past the frame before only where a frame has none:
# the frames' times, as x264's rate control reads them, are those a plain encode of the file reads (tree.avi: 68 frames
# over 29.6 s, not 4.5 s). Copy version 2 moved a step back one tick past the frame before: x264 then read other frame
# durations, and a DVD program stream whose decoder repeats two times (pts 30030, 33033, 30030, 33033) was encoded at
# cq 30 to 1,371 bytes where a plain encode makes 1,420 (tests/real/test_containers.py)
KEEP_TIMES = "setpts='if(isnan(PTS),if(isnan(PREV_OUTPTS),PTS,PREV_OUTPTS+1),PTS)'"
# each frame at its own time where it is later than the one before, else one tick past it: the times of the frames' md5
# lines (kit.media.fingerprint.FrameTimes, the consumer's windows) in a look that a muxer would stop on a step back
RISING_TIMES = "setpts='if(isnan(PREV_OUTPTS),PTS,max(PTS,PREV_OUTPTS+1))'"
# each packet of the copy decoded one after the other whatever its time: its decode time is its number, far below any
# presentation time a stream's 64-bit ticks reach (2^40), so a muxer keeps every presentation time as it is given (one
# that steps back included: a decode time that steps back is what a muxer moves)
DECODE_IN_ORDER = ("-bsf:v", "setts=dts=N-1099511627776")
# frames numbered one after the other in their own time base, where what is read of them is their count and pixels
IN_ORDER = "setpts=N"


def build_intermediate_argv(ffmpeg: str, path: Path | str, dest: Path | str, fps: str, full_range: bool = False,
                            checks: Sequence[str] = STRICT_DECODE, stream: str | None = None) -> list[str]:
    """build_fingerprint_argv's outputs, renumbered at `fps` (they keep no timestamps), and the lossless copy `dest`,
    each frame at its own time (KEEP_TIMES), the file read with `checks` (the first look's, or the second's);
    `full_range` (MJPEG's yuvj422p) tags `-color_range pc`, so FFV1 keeps the samples as they are."""
    tagged = ["-color_range", "pc"] if full_range else []
    # at -loglevel verbose whatever the look's checks: only then does ffmpeg print where the copy's chroma samples sit,
    # a tag NUT does not keep either (an MPEG-1 stream's `center`, which x264 writes in its headers)
    checks = tuple("level+verbose" if arg == "level+info" else arg for arg in checks)
    decode = build_fingerprint_argv(ffmpeg, ["-i", spelled_path(path)], checks=checks, count=True,
                                    renumber=renumber(fps), stream=stream)
    # -y: `dest` is a temporary the kit made to be written over
    return [decode[0], "-y", *decode[1:], "-map", f"0:{stream or 'v:0'}", *PASSTHROUGH, *_vf(KEEP_TIMES),
            "-enc_time_base:v", "demux", *tagged, *INTERMEDIATE_CODEC, *DECODE_IN_ORDER, *INTERMEDIATE_FORMAT,
            spelled_path(dest)]


def build_verify_argv(ffmpeg: str, path: Path | str, pix_fmt: str, tags: Sequence[tuple[str, str]] = ()) -> list[str]:
    """Decode a lossless copy once, strictly, its colour `tags` given back: its frame count, and its frames' sha256 in
    the original's `pix_fmt` (its frames counted on stdout as it goes: -progress), each output renumbered (they keep
    no timestamps: a copy keeps a step back of its file's, which a muxer, strict, would stop on)."""
    return [program(ffmpeg), *QUIET, *STRICT_DECODE, *PROGRESS, *decoded_ref_input(path, tags), "-map", "0:v:0",
            *_vf(IN_ORDER), "-f", "null", "-", "-map", "0:v:0", *PASSTHROUGH, *_vf(IN_ORDER), "-pix_fmt", pix_fmt,
            "-c:v", "rawvideo", "-f", "hash", "-hash", "sha256", "pipe:2"]


def build_query_argv(ffmpeg: str | Path, *what: str) -> list[str]:
    """`ffmpeg -hide_banner -version` (or -filters, -encoders, -hwaccels, `-h encoder=NAME`)."""
    return [program(ffmpeg), "-hide_banner", *what]
