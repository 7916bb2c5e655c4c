"""Finding ffmpeg (in order: --ffmpeg / KIT_FFMPEG, the kit's binaries/<os>-<arch>/ffmpeg, PATH's when it has the
libvmaf filter, the imageio-ffmpeg wheel's), describing its build (its answers kept per version of the binary in the
kit's cache: ask_binary), and reading what it prints."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from kit import KIT_ROOT
from kit.errors import InputError, PrereqError, ToolError
from kit.infra.ended import OUTSIDE_SIGNALS, Ended, Kind, of_exit, of_signal
from kit.infra.files import expanded, file_key, sha256_bytes, sha256_json
from kit.infra.host import cache_tree, platform_tag
from kit.infra.outside import open_for_reading
from kit.infra.perms import require_trusted
from kit.infra.proc import CAP_FIX, STOPPED, ProcResult, TimedOut, run_process, seconds_said, signal_name
from kit.infra.records import Record, keep, read_record
from kit.infra.rules import OneOf
from kit.infra.tree import Tree
from kit.infra.variables import FFMPEG, TIMEOUT_S
from kit.media.argv import build_query_argv

DESCRIBE_TIMEOUT_S = 30.0  # -version, -filters, -encoders answer at once on a healthy build
# what an ffmpeg binary says to these depends on the binary alone: kept per version of it (ask_binary)
BINARY_QUERIES = ("-version", "-filters", "-encoders", "-hwaccels")
ANSWERS = "ffmpeg-answers"  # the kit's cache's folder of them
# raise it with any change of what a kept answer is (its query's argv, the text kept): no record of before is read
ANSWERS_VERSION = "answers1"


@dataclass(frozen=True)
class FFmpegInfo(Record):
    path: str
    source: str
    version: str
    build: str
    has_libvmaf: bool
    encoders: tuple[str, ...]


def staged_binary(root: Path = KIT_ROOT) -> Path:
    return root / "binaries" / platform_tag() / ("ffmpeg.exe" if os.name == "nt" else "ffmpeg")


def imageio_binary() -> Path | None:
    """The ffmpeg inside the imageio-ffmpeg wheel, found without importing it."""
    spec = importlib.util.find_spec("imageio_ffmpeg")
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / "binaries"
    found = sorted(p for p in bindir.glob("ffmpeg-*") if p.is_file())
    return found[-1] if found else None


def parse_version(version_text: str) -> tuple[str, str]:
    """(version, build id) from `ffmpeg -version` output; the build id hashes the version and configuration lines."""
    first = version_text.splitlines()[0] if version_text else ""
    m = re.match(r"ffmpeg version (\S+)", first)
    version = m.group(1) if m else "unknown"
    config = next((ln for ln in version_text.splitlines() if ln.startswith("configuration:")), "")
    return version, f"{version}+{sha256_bytes((first + config).encode())[:12]}"


def parse_encoders(encoders_text: str) -> tuple[str, ...]:
    """Encoder names from `ffmpeg -encoders` (lines like ' V....D libx264  ...')."""
    found = (re.match(r"^\s*([VAS][F.][S.][X.][B.][D.])\s+(\S+)\s", line) for line in encoders_text.splitlines())
    return tuple(m.group(2) for m in found if m and m.group(1)[0] == "V" and m.group(2) != "=")


def parse_pix_fmts(encoder_help: str) -> tuple[str, ...]:
    """The "Supported pixel formats:" of `ffmpeg -h encoder=NAME`; () when the build lists none."""
    m = re.search(r"^\s*Supported pixel formats:(.*)$", encoder_help, re.MULTILINE)
    return tuple(m.group(1).split()) if m else ()


@dataclass(frozen=True)
class BinaryAnswer(Record):
    """The kit's cache's `ffmpeg-answers/<key>.json`: what one version of an ffmpeg binary wrote on stdout, exit 0, to
    one of BINARY_QUERIES; `key` (its name's first 32 characters) hashes ANSWERS_VERSION, the query and the binary's
    version (kit.infra.files.file_key: its resolved path, size, mtime, device, inode and ctime), kept whole so that
    a record under another's name is never read."""

    key: str
    query: str = field(metadata=keep(OneOf(BINARY_QUERIES)))
    answer: str


def ask_binary(path: Path, query: str, kept: bool = True) -> str:
    """`ffmpeg -hide_banner QUERY`'s stdout, read from the kit's cache when this version of the binary answered it
    before (a copy, a replacement or an edit in place of it is another version: asked again; a script, never kept),
    else asked and, where `kept`, kept there (`status` reads, keeping nothing; a run asks -version anew each time).
    A record that is missing, damaged or of another key is asked again, never trusted. ToolError when the binary
    does not answer (an exit other than 0; nothing kept)."""
    place = _answer_place(path, query)
    # a run asks -version itself each time (one process): an ffmpeg that no longer runs (its shared libraries gone or
    # changed, which its own file's version does not show) is found at the prereqs step, as before any answer was kept
    if place is not None and not (kept and query == "-version"):
        cache, record, key = place
        found, _ = read_record(BinaryAnswer, cache, record)
        if found is not None and found.key == key and found.query == query:
            return found.answer
    res = run_process(build_query_argv(path, query), timeout_s=DESCRIBE_TIMEOUT_S, capture_stdout=True)
    if res.returncode != 0:
        raise ToolError(f"{path} does not run as ffmpeg (exit {res.returncode})", stderr_tail=res.stderr_tail,
                        **another("give a working ffmpeg: {door}"))
    answer = res.stdout.decode("utf-8", "replace")
    if kept and place is not None:
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs the next query
            place[0].write_json(place[1], BinaryAnswer(place[2], query, answer).to_json())
    return answer


def _answer_place(path: Path, query: str) -> tuple[Tree, Path, str] | None:
    """The kit's cache, the record of `query`'s answer by the binary at `path` as it is now, and its key; None where
    either cannot be had (a cache the kit may not use, kit.infra.host.cache_refused; a binary gone) or the file is a
    script (`#!`: a wrapper, whose answers are those of whatever it runs, which its version does not tell): asked
    then, each time."""
    try:
        with open_for_reading(path) as fh:  # a regular file (NotRegular, an OSError: asked then, as before)
            if fh.read(2) == b"#!":
                return None
        key = sha256_json([ANSWERS_VERSION, query, file_key(path)])
        cache = cache_tree()
    except (OSError, InputError):
        return None
    return cache, cache.root / ANSWERS / f"{key[:32]}.json", key


def describe(path: Path, source: str, kept: bool = True) -> FFmpegInfo:
    """The binary's version, build, filters and encoders, as it answers (ask_binary: kept per version of it)."""
    version, build = parse_version(ask_binary(path, "-version", kept))
    has_libvmaf = re.search(r"^\s*\S*\s+libvmaf\s", ask_binary(path, "-filters", kept), re.MULTILINE) is not None
    encoders = parse_encoders(ask_binary(path, "-encoders", kept))
    return FFmpegInfo(str(path), source, version, build, has_libvmaf, encoders)


def check_ffmpeg(path: Path, source: str, kept: bool = True) -> FFmpegInfo:
    if not path.exists():
        raise PrereqError(f"ffmpeg not found at {path} (from {source})",
                          **another(f"give an existing ffmpeg ({{door}}), or unset {FFMPEG.name}"))
    if not os.access(path, os.X_OK) or path.is_dir():
        raise PrereqError(f"ffmpeg at {path} (from {source}) is not executable",
                          **another(f"chmod +x {path}, or give another one: {{door}}"))
    try:
        info = describe(path, source, kept)
    except ToolError as exc:
        raise PrereqError(str(exc), hint=exc.hint, by_flag=exc.by_flag) from exc
    if not info.has_libvmaf:
        imageio = "the imageio-ffmpeg one (the set-up, install.py in the kit's folder, installs it)"
        raise PrereqError(f"ffmpeg at {path} (from {source}) has no libvmaf filter",
                          hint=f"use an ffmpeg built with --enable-libvmaf, or unset {FFMPEG.name} to use {imageio}",
                          by_flag=(("--ffmpeg", "use an ffmpeg built with --enable-libvmaf, or drop --ffmpeg and unset "
                                                f"{FFMPEG.name} to use {imageio}"),))
    return info


def path_ffmpeg(kept: bool = True) -> FFmpegInfo | None:
    """The ffmpeg on PATH, described, when it runs and has the libvmaf filter; None otherwise."""
    on_path = shutil.which("ffmpeg")
    try:
        info = describe(Path(on_path), "PATH", kept) if on_path else None
    except ToolError:
        return None
    return info if info is not None and info.has_libvmaf else None


def ffmpeg_door(given: str | None) -> str:
    """Where a given ffmpeg came from, as its refusal names it: KIT_FFMPEG where that names it, else --ffmpeg."""
    env = FFMPEG.given()
    same = isinstance(env, str) and given and \
        expanded(env, FFMPEG.name).absolute() == expanded(given, FFMPEG.name).absolute()
    return FFMPEG.name if same else "--ffmpeg"


def resolve_ffmpeg(explicit: str | None = None, root: Path = KIT_ROOT, kept: bool = True) -> FFmpegInfo:
    """The ffmpeg to use, in the order above, else PrereqError; one given or staged is held to the trust rule first.
    `kept`: its answers kept in the kit's cache (ask_binary; `status` keeps nothing)."""
    for given, source in ((explicit, ffmpeg_door(explicit)), (FFMPEG.given(), FFMPEG.name)):
        if isinstance(given, str) and given:
            return check_ffmpeg(require_trusted(expanded(given, source).absolute(), source), source, kept)
    staged = staged_binary(root)
    if staged.exists():
        return check_ffmpeg(require_trusted(staged, "the kit's ffmpeg"), f"binaries/{platform_tag()}", kept)
    if (info := path_ffmpeg(kept)) is not None:
        return info
    if (wheel := imageio_binary()) is not None:
        return check_ffmpeg(wheel, "imageio-ffmpeg", kept)
    raise PrereqError(f"no ffmpeg with libvmaf found (--ffmpeg, {FFMPEG.name}, binaries/, PATH, imageio-ffmpeg)",
                      **another("run the set-up, install.py in the kit's folder (it installs imageio-ffmpeg), or give "
                                "an ffmpeg with libvmaf: {door}"))


def another(fix: str) -> dict[str, Any]:
    """A hint that names where an ffmpeg is given (`{door}` in `fix`): its variable for any command, --ffmpeg for a
    command that has it (KitError.by_flag: `ensemble-kit ffmpeg` has none)."""
    return {"hint": fix.format(door=f"export {FFMPEG.name}=PATH"),
            "by_flag": (("--ffmpeg", fix.format(door="--ffmpeg PATH")),)}


# consequences, never the cause: skipped when picking the line that explains a failure
_GENERIC = re.compile(
    r"Error while opening encoder|Could not open encoder|Error sending frames|Task finished with error|"
    r"Terminating thread|Nothing was written|Conversion failed|Error parsing global options|Failed to set value|"
    r"Error initializing output|Error opening output|Error while filtering|Error reinitializing filters|"
    r"Failed to inject frame|Error while processing the decoded data|Exiting with exit code|"
    r"^(frame=|Input #|Output #|Stream |Duration|Metadata|Press \[q\])|"
    # the framehash muxer's lines among the log lines (kit.media.argv.FRAME_HASHES): its header, each frame's md5
    r"^#(format|version|hash|tb|media_type|codec_id|dimensions|sar|stream)|^\d+,( +-?\d+,){4} +[0-9a-f]{32}$",
    re.IGNORECASE)
_TELLING = re.compile(
    r"cannot|can't|could not|couldn't|fail|error|not found|\bno\b.*\b(device|display|driver)|unsupported|"
    r"not supported|does not support|invalid|denied|unable|assert|not available|no such|not divisible|must be",
    re.IGNORECASE)


def strip_log_prefix(line: str) -> str:
    """Drop ffmpeg's "[h264_nvenc @ 0x55...]" context tags from a log line."""
    return re.sub(r"^(\[[^\]]*\]\s*)+", "", line.strip())


def telling_line(stderr: str) -> str:
    """The line of ffmpeg's stderr that says why it failed, not what failed as a consequence."""
    lines = [strip_log_prefix(ln) for ln in stderr.splitlines() if ln.strip()]
    causes = [ln for ln in lines if ln and not _GENERIC.search(ln)]
    return next((ln for ln in causes if _TELLING.search(ln)), (causes or lines or [""])[-1])


_RECEIVED_SIGNAL = re.compile(r"received signal (\d+)", re.IGNORECASE)


def interruption(res: ProcResult) -> str:
    """"killed by signal 9 (SIGKILL)" / "stopped by signal 2 (SIGINT)" when a signal, not the input or the
    encoder, ended this ffmpeg (which stops cleanly on SIGINT/SIGTERM: its output proves nothing); "" otherwise."""
    if (signum := res.killed_by) is not None:
        return f"killed by {signal_name(signum)}" if signum in OUTSIDE_SIGNALS else ""
    if (found := _RECEIVED_SIGNAL.search(res.stderr[-4096:])) is not None:
        return f"stopped by {signal_name(int(found.group(1)))}"
    return ""


def how_it_ended(res: ProcResult) -> tuple[str, str, bool]:
    """How a child that failed ended, in the kit's words: (how: "crashed (SIGSEGV)", "was killed (SIGKILL) from outside
    the kit", "failed (exit 1)"; ffmpeg's telling line, "" where a signal ended it; whether the same command can end
    otherwise). A signal from outside (OUTSIDE_SIGNALS: a kill, the OOM killer, a closing terminal; or one ffmpeg
    caught and stopped on cleanly, "received signal 15", exit 255) or what the box ran short of (BOX_SHORT: a full
    disk, its memory) can; a crash (any other signal: the program's own fault) and an exit code of its own come
    again."""
    if (signum := res.killed_by) is not None:
        said = signal_name(signum)  # "signal 11 (SIGSEGV)", or "signal 77" for one without a name
        name = said[said.index("(") + 1:-1] if "(" in said else said
        if signum in OUTSIDE_SIGNALS:
            return f"was killed ({name}) from outside the kit (a kill, or the system out of memory)", "", True
        return f"crashed ({name})", "", False
    if (found := _RECEIVED_SIGNAL.search(res.stderr[-4096:])) is not None:  # ffmpeg's clean stop on SIGTERM/SIGINT
        said = signal_name(int(found.group(1)))
        name = said[said.index("(") + 1:-1] if "(" in said else said
        return f"was stopped ({name}) from outside the kit (a kill, or a closing terminal)", "", True
    if (short := box_short_of(res.stderr)) is not None:
        return f"failed (exit {res.returncode}) {short.words}", telling_line(res.stderr), True
    return f"failed (exit {res.returncode})", telling_line(res.stderr), False


def end_of(res: ProcResult) -> Ended:
    """How a child that failed ended, typed as how_it_ended says it (kit.infra.ended): what a caller decides by."""
    if (signum := res.killed_by) is not None:
        return of_signal(signum, outside=signum in OUTSIDE_SIGNALS)
    if (found := _RECEIVED_SIGNAL.search(res.stderr[-4096:])) is not None:  # ffmpeg's clean stop: sent from outside
        return of_signal(int(found.group(1)), outside=True)
    if (short := box_short_of(res.stderr)) is not None:
        return Ended(short.kind)
    return of_exit(res.returncode)


class Short(NamedTuple):
    """What a box ran short of: its words ("on a full disk"); `disk`: a disk's room (full, over its quota), which
    stops the step, naming it, where memory and open files leave one clip out of this run."""

    words: str
    disk: bool
    kind: Kind


# what a box runs short of, in the system's words as ffmpeg prints them: a child that failed on one is the box's
# moment, not its input's (the same command runs once there is room), never kept as a clip's refusal
DISK_WORDS = ("No space left on device", "Disk quota exceeded")
BOX_SHORT = ((re.compile(DISK_WORDS[0], re.ASCII), Short("on a full disk", True, Kind.DISK_FULL)),
             (re.compile(DISK_WORDS[1], re.ASCII), Short("over the disk's quota", True, Kind.OVER_QUOTA)),
             (re.compile(r"Cannot allocate memory", re.ASCII),
              Short("with the box out of memory", False, Kind.OUT_OF_MEMORY)),
             (re.compile(r"Too many open files", re.ASCII),
              Short("with the box out of open files", False, Kind.OUT_OF_FILES)))


def box_short_of(stderr: str) -> Short | None:
    """What the box ran short of (BOX_SHORT), where ffmpeg's log says so; None if not."""
    return next((short for found, short in BOX_SHORT if found.search(stderr)), None)


def disk_full(text: str) -> bool:
    """Whether ffmpeg's log (or a line of it) says a disk is full or over its quota."""
    return (short := box_short_of(text)) is not None and short.disk


def on_full_disk(res: ProcResult) -> bool:
    """A child that ended (not by a signal) on a full disk: the box's, the step stops, no clip named."""
    return res.killed_by is None and disk_full(res.stderr)


# a child stopped at its limit, whoever ran it (a job's child, the independent check, a look): its own limit (a stall,
# an open's few seconds) counts the time the kit ran, less the child's waits for a CPU, so what still reaches it is the
# box's or the moment's; the cap of KIT_TIMEOUT_S is the user's, and stops it again until raised
OWN_TIME = ("its limit counts the time the kit ran (never a stop of the whole box, nor a wait for a CPU), and a box "
            "short of memory or a stalled disk or share holds it so too")
STALL_SAID = f"not the clip's verdict: {OWN_TIME}"
STOPPED_SAID = "not the clip's verdict: something outside the kit stopped it while the kit ran"
CAPPED_SAID = f"the cap is {TIMEOUT_S.name}'s, not the clip's"
CAPPED_FIX = CAP_FIX


class Stop(NamedTuple):
    """How a child stopped at a limit is said: `how` ("gave no frames for 63 s"), `said` (whose it is), `capped`
    (KIT_TIMEOUT_S's cap, which its hint names: CAPPED_FIX)."""

    how: str
    said: str
    capped: bool


def how_it_stopped(stopped: TimedOut) -> Stop:
    """A child run_process stopped at a limit: KIT_TIMEOUT_S's cap (kit.infra.proc.timeout_cap), a stop from outside
    while the kit ran (state T: STOPPED), no frames for its stall, or past its own limit."""
    seconds = f"{seconds_said(stopped.timeout_s)} s"
    if stopped.stopped:  # the cause, whichever limit ended it
        return Stop(f"was {STOPPED} for {seconds}, its limit, while the kit ran,", STOPPED_SAID, False)
    if stopped.capped:
        return Stop(f"ran past {TIMEOUT_S.name} ({seconds}), which caps every command,", CAPPED_SAID, True)
    if stopped.stalled:
        return Stop(f"gave no frames for {seconds}", STALL_SAID, False)
    return Stop(f"timed out after {seconds}", STALL_SAID, False)


def parse_frame_count(stderr: str) -> int:
    """The frame count of ffmpeg's closing `frame=  N` report."""
    counts = re.findall(r"frame=\s*(\d+)", stderr)
    if not counts:
        raise ValueError("no frame count in ffmpeg output")
    return int(counts[-1])


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", re.ASCII)
# an output that could not be written: the disk's or the folder's fault, not the input's (ffmpeg may exit 0)
_NOT_WRITTEN = re.compile(r"\[(?:error|fatal)\] ?(.*(?:Error opening output|already exists|Error writing|"
                          rf"{'|'.join(DISK_WORDS)}).*)")


def parse_duration(stderr: str) -> float:
    """The seconds of input #0's `Duration: HH:MM:SS.ss` line as ffmpeg opened it; 0.0 where it gives none (N/A)."""
    m = _DURATION.search(stderr)
    return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else 0.0


def output_failure(stderr: str) -> str:
    """The line of a `-loglevel level+info` run's stderr that says an output could not be written; "" if none."""
    m = _NOT_WRITTEN.search(stderr)
    return m.group(1).strip() if m else ""


# colour tags a decoder may be given back as input options: the names ffmpeg prints that its option parser takes
COLOUR_NAMES: dict[str, frozenset[str]] = {
    "color_range": frozenset({"tv", "pc"}),
    "colorspace": frozenset({"rgb", "bt709", "fcc", "bt470bg", "smpte170m", "smpte240m", "ycgco", "bt2020nc",
                             "bt2020c", "smpte2085", "chroma-derived-nc", "chroma-derived-c", "ictcp", "ipt-c2",
                             "ycgco-re", "ycgco-ro"}),
    "color_primaries": frozenset({"bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "film", "bt2020",
                                  "smpte428", "smpte431", "smpte432", "ebu3213"}),
    "color_trc": frozenset({"bt709", "gamma22", "gamma28", "smpte170m", "smpte240m", "linear", "log100", "log316",
                            "iec61966-2-4", "bt1361e", "iec61966-2-1", "bt2020-10", "bt2020-12", "smpte2084",
                            "smpte428", "arib-std-b67"}),
    # where the chroma samples sit, printed among them at -loglevel verbose only (the lossless copy's looks)
    "chroma_sample_location": frozenset({"left", "center", "topleft", "top", "bottomleft", "bottom"}),
}
# a name ffmpeg prints that its option parser spells otherwise: an RGB stream's matrix (tree.avi's Cinepak, copied)
OPTION_SPELLING = {("colorspace", "gbr"): "rgb"}
FIELD_ORDERS = ("progressive", "top first", "bottom first", "top coded first", "bottom coded first")


# each output ffmpeg opens, as it prints it: `Output #N, FORMAT, to '...':` and below it the stream line, from its
# number to its stream's time base (`... 29.97 fps, 29.97 tbn`). An output opens once its first frame reaches it, with
# the other outputs' threads already at work, and ffmpeg prints a stream line in several calls, so another thread's
# message can land inside it: "[info]   Stream #4" + "Selected 1001/30000 time base" + (a line further on) ":0: Video:
# ffv1, ..." (seen: 1 look in 150 writing a DVD clip's copy, at a load of 4). Inputs are listed before any thread runs.
_OUTPUT_OPENED = re.compile(r"^(?:\[\w+\] )?Output #(\d+), ", re.MULTILINE)


def outputs_whole(stderr: str) -> bool:
    """Whether the stream line of every output ffmpeg says it opened is one whole line in `stderr` (a log without
    its outputs listed, at -loglevel error, has none to be cut)."""
    return all(re.compile(rf"^(?:\[\w+\] )?  Stream #{m[1]}:\d+\S*: Video: .*\btbn\b", re.MULTILINE).search(
        stderr, m.end()) for m in _OUTPUT_OPENED.finditer(stderr))  # below its Output line (an input's is above)


def parse_output_colour(stderr: str, output: int, codec: str = "rawvideo") -> tuple[tuple[str, str], ...] | None:
    """The colour tags of output `output` (of `codec`: the shared decode's rawvideo, the lossless copy's ffv1) as
    ffmpeg printed them, `(option, name)` pairs; () when it has none, None when the line is missing or names a tag
    COLOUR_NAMES does not list."""
    line = re.search(rf"Stream #{output}:0\S*: Video: {codec}(?:, \d+ reference frames?)?(?: \([^)]*\))?, "
                     r"\w+(?:\((.*?)\))?, \d+x\d+", stderr)
    if line is None:
        return None
    tags: list[tuple[str, str]] = []
    for part in filter(None, (line.group(1) or "").split(", ")):
        if part in COLOUR_NAMES["color_range"]:
            tags.append(("color_range", part))
        elif part in COLOUR_NAMES["chroma_sample_location"]:
            tags.append(("chroma_sample_location", part))
        elif part.count("/") == 2:
            names = zip(("colorspace", "color_primaries", "color_trc"), part.split("/"), strict=True)
            tags += [(opt, name) for opt, name in names if name != "unknown"]
        elif not part.startswith(FIELD_ORDERS):  # one name for all three, or a tag of another kind
            tags += [(opt, part) for opt in ("colorspace", "color_primaries", "color_trc")]
    tags = [(opt, OPTION_SPELLING.get((opt, name), name)) for opt, name in tags]
    if any(name not in COLOUR_NAMES[opt] for opt, name in tags):
        return None
    return tuple(tags)


# every video encoder an ffmpeg build may list (`ffmpeg -encoders`): what prereqs.json, as the lead is sent it, names
# of them (kit.bundle.values.FFMPEG_ENCODER); another, which a later ffmpeg may add, is left out of what is sent
FFMPEG_ENCODERS = ["a64multi", "a64multi5", "alias_pix", "amv", "apng", "liboapv", "asv1", "asv2", "libaom-av1",
                   "librav1e", "libsvtav1", "av1_nvenc", "av1_qsv", "av1_amf", "av1_vaapi", "av1_vulkan", "avrp",
                   "libxavs2", "avui", "bitpacked", "bmp", "cfhd", "cinepak", "cljr", "vc2", "dnxhd", "dpx",
                   "dvvideo", "dxv", "exr", "ffv1", "ffv1_vulkan", "ffvhuff", "fits", "flashsv", "flashsv2", "flv",
                   "gif", "h261", "h263", "h263_v4l2m2m", "h263p", "libx264", "libx264rgb", "libopenh264", "h264_amf",
                   "h264_nvenc", "h264_qsv", "h264_v4l2m2m", "h264_vaapi", "h264_vulkan", "hap", "hdr", "libx265",
                   "hevc_amf", "hevc_nvenc", "hevc_qsv", "hevc_v4l2m2m", "hevc_vaapi", "hevc_vulkan", "libkvazaar",
                   "huffyuv", "jpeg2000", "libopenjpeg", "jpegls", "libjxl", "libjxl_anim", "ljpeg", "magicyuv",
                   "mjpeg", "mjpeg_qsv", "mjpeg_vaapi", "mpeg1video", "mpeg2video", "mpeg2_qsv", "mpeg2_vaapi",
                   "mpeg4", "libxvid", "mpeg4_v4l2m2m", "msmpeg4v2", "msmpeg4", "msrle", "msvideo1", "pam", "pbm",
                   "pcx", "pdv", "pfm", "pgm", "pgmyuv", "phm", "png", "ppm", "prores", "prores_aw", "prores_ks",
                   "prores_ks_vulkan", "qoi", "qtrle", "r10k", "r210", "rawvideo", "roqvideo", "rpza", "rv10", "rv20",
                   "sgi", "smc", "snow", "speedhq", "sunrast", "svq1", "targa", "libtheora", "tiff", "utvideo",
                   "v210", "vbn", "vnull", "libvpx", "vp8_v4l2m2m", "vp8_vaapi", "libvpx-vp9", "vp9_vaapi", "vp9_qsv",
                   "libvvenc", "wbmp", "libwebp_anim", "libwebp", "wmv1", "wmv2", "wrapped_avframe", "xbm", "xface",
                   "xwd", "y41p", "yuv4", "zlib", "zmbv", "h264_videotoolbox", "hevc_videotoolbox",
                   "prores_videotoolbox", "h264_mf", "hevc_mf", "av1_mf", "h264_omx", "h264_v4l2m2m", "vp9_v4l2m2m",
                   "h264_mediacodec", "hevc_mediacodec", "av1_mediacodec", "libsvt_vp9", "libsvt_hevc"]

# every demuxer an ffmpeg build may open a file with (`ffmpeg -demuxers`, 9.0): what a refusal of a file names as how
# ffmpeg reads it, as the lead is sent it (kit.bundle.values.DEMUXER); another is left out of what is sent
FFMPEG_DEMUXERS = ["3dostr", "4xm", "aa", "aac", "aax", "ac3", "ac4", "ace", "acm", "act", "adf", "adp", "ads", "adx",
                   "aea", "afc", "aiff", "aix", "alaw", "alias_pix", "alp", "amr", "amrnb", "amrwb", "anm", "apac",
                   "apc", "ape", "apm", "apng", "aptx", "aptx_hd", "apv", "aqtitle", "argo_asf", "argo_brp", "argo_cvg",
                   "asf", "asf_o", "ass", "ast", "au", "av1", "avi", "avisynth", "avr", "avs", "avs2", "avs3",
                   "bethsoftvid", "bfi", "bfstm", "bin", "bink", "binka", "bit", "bitpacked", "bmp_pipe", "bmv", "boa",
                   "bonk", "brender_pix", "brstm", "c93", "caf", "cavsvideo", "cdg", "cdxl", "cine", "codec2",
                   "codec2raw", "concat", "cri_pipe", "dash", "data", "daud", "dcstr", "dds_pipe", "derf", "dfa",
                   "dfpwm", "dhav", "dirac", "dnxhd", "dpx_pipe", "dsf", "dsicin", "dss", "dts", "dtshd", "dv",
                   "dvbsub", "dvbtxt", "dvdvideo", "dxa", "ea", "ea_cdata", "eac3", "epaf", "evc", "exr_pipe", "f32be",
                   "f32le", "f64be", "f64le", "d", "ffmetadata", "film_cpk", "filmstrip", "fits", "flac", "flic", "flv",
                   "frm", "fsb", "fwse", "g722", "g723_1", "g726", "g726le", "g728", "g729", "gdv", "gem_pipe", "genh",
                   "gif", "gif_pipe", "gsm", "gxf", "h261", "h263", "h264", "hca", "hcom", "hdr_pipe", "hevc", "hls",
                   "hnm", "hxvs", "iamf", "ico", "idcin", "idf", "iff", "ifv", "ilbc", "image2", "image2pipe", "imf",
                   "ingenient", "ipmovie", "ipu", "ircam", "iss", "iv8", "ivf", "ivr", "j2k_pipe", "jacosub",
                   "jpeg_pipe", "jpegls_pipe", "jpegxl_anim", "jpegxl_pipe", "jpegxs_pipe", "jv", "d", "kux", "kvag",
                   "laf", "d", "lc3", "libgme", "libopenmpt", "live_flv", "lmlm4", "loas", "lrc", "luodat", "lvf",
                   "lxf", "m4v", "matroska,webm", "mca", "mcc", "mgsts", "microdvd", "mjpeg", "mjpeg_2000", "mlp",
                   "mlv", "mm", "mmf", "mods", "moflex", "mov,mp4,m4a,3gp,3g2,mj2", "mp3", "mpc", "mpc8", "mpeg",
                   "mpegts", "mpegtsraw", "mpegvideo", "mpjpeg", "mpl2", "mpsub", "msf", "msnwctcp", "msp", "mtaf",
                   "mtv", "mulaw", "musx", "mv", "mvi", "mxf", "mxg", "nc", "nistsphere", "nsp", "nsv", "nut", "nuv",
                   "obu", "ogg", "oma", "d", "osq", "d", "paf", "pam_pipe", "pbm_pipe", "pcx_pipe", "pdv", "pfm_pipe",
                   "pgm_pipe", "pgmyuv_pipe", "pgx_pipe", "phm_pipe", "photocd_pipe", "pictor_pipe", "pjs", "pmp",
                   "png_pipe", "pp_bnk", "ppm_pipe", "psd_pipe", "psxstr", "d", "pva", "pvf", "qcp", "qdraw_pipe",
                   "qoa", "qoi_pipe", "r3d", "rawvideo", "rcwt", "realtext", "redspark", "rka", "rl2", "rm", "roq",
                   "rpl", "rsd", "rso", "rtp", "rtsp", "s16be", "s16le", "s24be", "s24le", "s32be", "s32le", "s337m",
                   "s8", "sami", "sap", "sbc", "sbg", "scc", "scd", "sdns", "sdp", "sdr2", "sds", "sdx", "ser", "sga",
                   "sgi_pipe", "shn", "siff", "simbiosis_imx", "sln", "smjpeg", "smk", "smush", "sol", "sox", "spdif",
                   "srt", "stl", "subviewer", "subviewer1", "sunrast_pipe", "sup", "svag", "svg_pipe", "svs", "swf",
                   "tak", "tedcaptions", "thp", "tiertexseq", "tiff_pipe", "tmv", "truehd", "tta", "tty", "txd", "ty",
                   "u16be", "u16le", "u24be", "u24le", "u32be", "u32le", "u8", "usm", "v210", "v210x", "vag",
                   "vbn_pipe", "vc1", "vc1test", "vidc", "d", "vividas", "vivo", "vmd", "vobsub", "voc", "vpk",
                   "vplayer", "vqf", "vvc", "w64", "wady", "wav", "wavarc", "wc3movie", "webm_dash_manifest",
                   "webp_anim", "webp_pipe", "webvtt", "wsaud", "wsd", "wsvqa", "wtv", "wv", "wve", "d", "xa", "xbin",
                   "xbm_pipe", "xmd", "xmv", "xpm_pipe", "xvag", "xwd_pipe", "xwma", "yop", "yuv4mpegpipe"]

# every video codec an ffmpeg build may name (`ffmpeg -codecs`, 9.0), likewise (kit.bundle.values.VIDEO_CODEC)
FFMPEG_VIDEO_CODECS = ["012v", "4xm", "8bps", "a64_multi", "a64_multi5", "aasc", "agm", "aic", "alias_pix", "amv",
                       "anm", "ansi", "apng", "apv", "arbc", "argo", "asv1", "asv2", "aura", "aura2", "av1", "avrn",
                       "avrp", "avs", "avs2", "avs3", "avui", "bethsoftvid", "bfi", "binkvideo", "bintext", "bitpacked",
                       "bmp", "bmv_video", "brender_pix", "c93", "cavs", "cdgraphics", "cdtoons", "cdxl", "cfhd",
                       "cinepak", "clearvideo", "cljr", "cllc", "cmv", "cpia", "cri", "cscd", "cyuv", "daala", "dds",
                       "dfa", "dirac", "dnxhd", "dnxuc", "dpx", "dsicinvideo", "dvvideo", "dxa", "dxtory", "dxv",
                       "escape124", "escape130", "evc", "exr", "ffv1", "ffvhuff", "fic", "fits", "flashsv", "flashsv2",
                       "flic", "flv1", "fmvc", "fraps", "frwu", "g2m", "gdv", "gem", "gif", "h261", "h263", "h263i",
                       "h263p", "h264", "hap", "hdr", "hevc", "hnm4video", "hq_hqa", "hqx", "huffyuv", "hymt", "idcin",
                       "idf", "iff_ilbm", "imm4", "imm5", "indeo2", "indeo3", "indeo4", "indeo5", "interplayvideo",
                       "ipu", "jpeg2000", "jpegls", "jpegxl", "jpegxl_anim", "jpegxs", "jv", "kgv1", "kmvc", "lagarith",
                       "lcevc", "lead", "ljpeg", "loco", "lscr", "m101", "mad", "magicyuv", "mdec", "media100", "mimic",
                       "mjpeg", "mjpegb", "mmvideo", "mobiclip", "motionpixels", "mpeg1video", "mpeg2video", "mpeg4",
                       "msa1", "mscc", "msmpeg4v1", "msmpeg4v2", "msmpeg4v3", "msp2", "msrle", "mss1", "mss2",
                       "msvideo1", "mszh", "mts2", "mv30", "mvc1", "mvc2", "mvdv", "mvha", "mwsc", "mxpeg", "notchlc",
                       "nuv", "paf_video", "pam", "pbm", "pcx", "pdv", "pfm", "pgm", "pgmyuv", "pgx", "phm", "photocd",
                       "pictor", "pixlet", "png", "ppm", "prores", "prores_raw", "prosumer", "psd", "ptx", "qdraw",
                       "qoi", "qpeg", "qtrle", "r10k", "r210", "rasc", "rawvideo", "rl2", "roq", "rpza", "rscc", "rtv1",
                       "rv10", "rv20", "rv30", "rv40", "rv60", "sanm", "scpr", "screenpresso", "sga", "sgi", "sgirle",
                       "sheervideo", "simbiosis_imx", "smackvideo", "smc", "smvjpeg", "snow", "sp5x", "speedhq", "srgc",
                       "sunrast", "svg", "svq1", "svq3", "targa", "targa_y216", "tdsc", "tgq", "tgv", "theora", "thp",
                       "tiertexseqvideo", "tiff", "tmv", "tqi", "truemotion1", "truemotion2", "truemotion2rt", "tscc",
                       "tscc2", "txd", "ulti", "utvideo", "v210", "v210x", "vb", "vble", "vbn", "vc1", "vc1image",
                       "vcr1", "vixl", "vmdvideo", "vmix", "vmnc", "vnull", "vp3", "vp4", "vp5", "vp6", "vp6a", "vp6f",
                       "vp7", "vp8", "vp9", "vqc", "vvc", "wbmp", "wcmv", "webp", "webp_anim", "wmv1", "wmv2", "wmv3",
                       "wmv3image", "wnv1", "wrapped_avframe", "ws_vqa", "xan_wc3", "xan_wc4", "xbin", "xbm", "xface",
                       "xpm", "xwd", "y41p", "ylc", "yop", "yuv4", "zerocodec", "zlib", "zmbv"]
HWACCELS = ("cuda", "vaapi", "qsv", "drm", "opencl", "vulkan", "amf", "videotoolbox", "d3d11va", "d3d12va", "dxva2",
            "vdpau", "mediacodec", "ohcodec")
