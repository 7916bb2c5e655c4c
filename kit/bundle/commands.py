"""The kinds of a command the kit built (issue 98, item 6; issue 96): each word of an ffmpeg argv (kit.media.argv's
builders) or of a kit command (a hint's, a rerun's, run.json's `argv`) is checked whole by what it is: one of the
kit's own flags, a value of that kind (a number, a size, a rate, a name of ffmpeg's lists, a stream, a label the kit
makes, a path as the lead may see it), or a filtergraph, read filter by filter, each filter's name and options from
FILTERS and each option's value by its kind. So the lead is sent each command as the kit built it, filtergraphs and
labels whole, and no word of it that no kind admits: a text glued to a flag (`-i/home/ann/b.mp4`), a name no list
holds, a path outside the box's roots by its name.

A command is held as its words (a JSON list: the shard manifest's independent check) or as one line the shell reads
(a log's `$ …` line, a hint's `retry:`), split as the shell splits it (shlex) before its words are checked.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator

from kit.infra.kinds import NO_NAMES, Either, Exact, Kind, Match, Names
from kit.media.ffmpeg import COLOUR_NAMES
from kit.media.libvmaf import CANONICAL_EXTRACTORS, EXTRA_EXTRACTORS

# the flags of ffmpeg the kit's commands give (kit.media.argv and the commands a fix or a probe prints)
FFMPEG_FLAGS = frozenset(["-hide_banner", "-nostdin", "-nostats", "-y", "-n", "-progress", "-threads", "-i", "-map",
                          "-an", "-sn", "-dn", "-fps_mode", "-pix_fmt", "-c:v", "-c", "-preset", "-tune", "-crf",
                          "-cq", "-qp", "-qp_i", "-qp_p", "-qp_b", "-global_quality", "-rc", "-rc_mode", "-quality",
                          "-usage", "-realtime", "-q:v", "-x265-params", "-svtav1-params", "-f", "-lavfi",
                          "-filter_complex", "-vf", "-frames:v", "-t", "-strict", "-loglevel", "-xerror",
                          "-err_detect", "-enc_time_base:v", "-hash", "-flush_packets", "-level", "-bsf:v",
                          "-color_range", "-colorspace", "-color_primaries", "-color_trc", "-chroma_sample_location",
                          "-framerate", "-start_number", "-s", "-init_hw_device", "-filter_hw_device", "-hwaccel",
                          "-hwaccel_output_format", "-vaapi_device", "-version", "-filters", "-encoders", "-hwaccels",
                          "-pix_fmts", "-h", "-b:v", "-maxrate", "-bufsize", "-g", "-bf", "-profile:v", "-ss", "-to"])
# the values of ffmpeg's flags the kit gives that are words (formats, codecs' modes, streams' outputs, log levels)
FFMPEG_VALUES = frozenset(["-", "pipe:1", "pipe:2", "copy", "passthrough", "demux", "md5", "sha256", "explode",
                           "level+info", "level+verbose", "level+error", "level+warning", "error", "warning", "info",
                           "verbose", "quiet", "h264", "hevc", "ivf", "null", "nut", "yuv4mpegpipe", "rawvideo",
                           "framehash", "hash", "lavfi", "matroska", "mp4", "mkv", "image2", "ffv1", "trace_headers",
                           "cqp", "hq", "p5", "p4", "p7", "medium", "slow", "fast", "veryfast", "ultrafast", "7", "8",
                           "transcoding", "quality", "speed", "balanced", "log-level=error", "lp=1",
                           "setts=dts=N-1099511627776", "high", "main", "high10", "main10", "va", "qs@va", "auto",
                           "cuda", "vaapi", "qsv"])
# the filters the kit's filtergraphs and lavfi sources use, and every option name they give
FILTERS = frozenset(["settb", "setpts", "scale", "format", "libvmaf", "split", "trim", "crop", "fps", "hwupload",
                     "null", "setsar", "pad", "tpad", "select", "zscale", "testsrc2", "testsrc", "mandelbrot", "life",
                     "cellauto", "gradients", "sierpinski", "perlin", "noise", "drawgrid", "rgbtestsrc", "smptebars",
                     "colorspectrum", "yuvtestsrc", "geq", "hue", "eq", "boxblur", "colorchannelmixer", "lutyuv",
                     "scale_vaapi", "scale_qsv", "scale_cuda", "hwdownload", "hwmap", "showinfo"])
FILTER_KEYS = frozenset(["s", "r", "size", "rate", "flags", "model", "feature", "log_fmt", "log_path", "n_threads",
                         "shortest", "start_frame", "end_frame", "duration", "d", "seed", "speed", "n", "mode",
                         "type", "w", "h", "x", "y", "c", "color", "stitch", "decimals", "i", "a", "extra_hw_frames",
                         "format", "path", "name", "version", "enable_transform", "pix_fmts", "expr", "sigma",
                         "level", "planes", "allf", "alls", "c0s", "c0f", "ratio", "rule", "random_fill_ratio",
                         "random_seed", "scroll", "frames"])
FILTER_KEYS |= frozenset(re.findall(r"(\w+)=", f"{CANONICAL_EXTRACTORS}|{EXTRA_EXTRACTORS}"))
EXTRACTORS = frozenset(re.findall(r"name=(\w+)", f"{CANONICAL_EXTRACTORS}|{EXTRA_EXTRACTORS}"))
# the names an expression of a filter may read (setpts, crop, geq, ...) and the functions it may call
EXPRESSION_NAMES = frozenset(["N", "PTS", "STARTPTS", "PREV_OUTPTS", "PREV_INPTS", "TB", "FR", "T", "RTCTIME", "iw",
                              "ih", "ow", "oh", "in_w", "in_h", "out_w", "out_h", "a", "sar", "dar", "hsub", "vsub",
                              "n", "t", "X", "Y", "W", "H", "if", "isnan", "max", "min", "trunc", "floor", "ceil",
                              "round", "abs", "mod", "not", "between", "gte", "lte", "gt", "lt", "eq", "sin", "cos",
                              "st", "ld", "random"])
_NUMBER = r"[-+]?(?:\d{1,12}(?:\.\d{1,12})?|\.\d{1,12})(?:e[-+]?\d{1,3})?"
_EXPRESSION = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|" + _NUMBER + r"|[-+*/(),<>=!&|^ ]")
_LABEL = re.compile(r"\[(?:\d{1,3}:v(?::\d{1,3})?|\d{1,3}:v|(?:e|s|w|r|ref|dis|in|out|v)\d{0,4})\]")
_STREAM = r"\d{1,3}:v(?::\d{1,3})?|\[(?:e|s|w|r|ref|dis|v)\d{0,4}\]"
SIZE_OR_RATE = Match("a number, a size or a rate", rf"{_NUMBER}|\d{{1,5}}x\d{{1,5}}|\d{{1,9}}/\d{{1,9}}|"
                                                    r"\d{1,9}(?:\.\d{1,9})?s")
STREAM = Match("a stream or a label the kit makes", _STREAM)


def split(text: str, sep: str) -> list[str]:
    """`text` cut at each `sep` that is neither escaped (a backslash before it) nor quoted (between `'`), as ffmpeg
    reads a filtergraph: the escapes and quotes kept in the pieces."""
    pieces, current, quoted, i = [], [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if ch == "'":
            quoted = not quoted
        if ch == sep and not quoted:
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    pieces.append("".join(current))
    return pieces


def unescaped(text: str) -> str:
    """`text` with its quotes and each escaping backslash taken away (the value ffmpeg reads)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif text[i] == "'":
            i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def expression(text: str) -> bool:
    """An arithmetic expression of ffmpeg's (`if(isnan(PTS),PTS,PREV_OUTPTS+1)`) made of EXPRESSION_NAMES, numbers and
    operators only, no number right after another (`10.0.0.1` is no expression)."""
    at, tokens, number = 0, 0, False
    while at < len(text):
        m = _EXPRESSION.match(text, at)
        if m is None or (m.group(0)[0].isalpha() and m.group(0) not in EXPRESSION_NAMES) or \
                (m.group(0)[0] == "_"):
            return False
        was, number = number, bool(re.fullmatch(_NUMBER, m.group(0)))
        if was and number:
            return False
        at, tokens = m.end(), tokens + 1
    return tokens > 0


class Graph(Kind):
    """A filtergraph (a chain of filters, or chains joined by `;`), each chain's labels ones the kit makes, each
    filter's name of FILTERS, each option `key=value` with a key of FILTER_KEYS, each value (and each value without
    a key) by `value`."""

    name = "a filtergraph the kit built"

    def __init__(self, value: Callable[[str, Names], bool]) -> None:
        self.value = value

    def pattern(self, names: Names) -> None:
        return None

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        return bool(text) and all(self._chain(chain, names) for chain in split(text, ";"))

    def _chain(self, chain: str, names: Names) -> bool:
        inner = chain.strip()
        while (m := re.match(r"\[[^\]]{1,16}\]", inner)) is not None:
            if _LABEL.fullmatch(m.group(0)) is None:
                return False
            inner = inner[m.end():]
        while (m := re.search(r"\[[^\]\\]{1,16}\]$", inner)) is not None:
            if _LABEL.fullmatch(m.group(0)) is None:
                return False
            inner = inner[:m.start()]
        return bool(inner) and all(self._filter(f, names) for f in split(inner, ","))

    def _filter(self, text: str, names: Names) -> bool:
        r"""A filter's name and its options, read as ffmpeg reads them: the graph's escaping first (`\\:` a `\:`),
        then the options split at each `:` their own escaping leaves."""
        name, eq, args = text.partition("=")
        if name not in FILTERS:
            return False
        return not eq or all(self._option(option, names) for option in split(unescaped(args), ":"))

    def _option(self, option: str, names: Names) -> bool:
        parts = split(option, "=")
        if len(parts) == 1:
            return self.value(unescaped(option), names)
        key, value = parts[0], option[len(parts[0]) + 1:]
        if key not in FILTER_KEYS:
            return False
        if key in ("model", "feature"):  # libvmaf's own lists: `version=NAME|path=FILE`, `name=EXTRACTOR:OPT=V|…`
            return all(self._option(o, names) for part in split(unescaped(value), "|") for o in split(part, ":"))
        return self.value(unescaped(value), names)


_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'")
_ANSI_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))", re.DOTALL)
_NAMED_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


def _ansi_c(body: str) -> str:
    """What bash's `$'...'` holds (kit.infra.visible.shell_quote's escapes: \\xHH, \\uHHHH, \\n, \\', \\\\)."""
    def one(m: re.Match[str]) -> str:
        hexa = m.group(1) or m.group(2) or m.group(3)
        if m.group(1):  # a byte: ASCII, or one that was not UTF-8 (os.fsdecode's surrogate)
            code = int(hexa, 16)
            return chr(code) if code < 0x80 else chr(0xDC00 + code)
        return chr(int(hexa, 16)) if hexa else _NAMED_ESCAPES.get(m.group(4), m.group(4))
    return _ANSI_ESCAPE.sub(one, body)


def _words(text: str) -> list[str] | None:
    """A command line's words as a shell splits them, bash's `$'...'` words (a name not printable) read back."""
    held: list[str] = []

    def hold(m: re.Match[str]) -> str:
        held.append(_ansi_c(m.group(1)))
        return f"\x00{len(held) - 1}\x00"
    try:
        words = shlex.split(_ANSI_C.sub(hold, text))
    except ValueError:
        return None
    return [re.sub("\x00(\\d+)\x00", lambda m: held[int(m.group(1))], w) for w in words]


class Command(Kind):
    """A command the kit built, as its words (`admits_words`) or one line the shell splits (`admits`): its program a
    path as the lead may see it or a bare program name, each other word one `word` admits, given the flag before it
    (`--box-id` before a box id: "" where none is)."""

    name = "a command the kit built"

    def __init__(self, word: Callable[[str, str, Names], bool]) -> None:
        self.word = word

    def pattern(self, names: Names) -> None:
        return None

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        words = _words(text)
        return bool(words) and self.admits_words(words or [], names)

    def admits_words(self, words: list[str], names: Names) -> bool:
        return bool(words) and all(self.word(flag, w, names) for flag, w in flag_values(words))


def flag_values(words: list[str]) -> Iterator[tuple[str, str]]:
    """(flag, word) for each word of a command and the flag before it ("" for the program and a flag itself)."""
    before = ""
    for word in words:
        yield before, word
        before = word if word.startswith("-") and not re.fullmatch(_NUMBER, word) else ""


COLOUR_VALUES = frozenset(v for names in COLOUR_NAMES.values() for v in names)
FFMPEG_WORD = Either("a word of ffmpeg's", Exact("a flag of ffmpeg's", FFMPEG_FLAGS),
                     Exact("a value of ffmpeg's", FFMPEG_VALUES | COLOUR_VALUES), SIZE_OR_RATE, STREAM)


def ffmpeg_word(path: Kind, vocabulary: Kind) -> Callable[[str, str, Names], bool]:
    """What a word of an ffmpeg command the kit built may be: one of its flags or values, a path, a name of the kit's
    lists (`vocabulary`: an encoder, a pixel format), a filtergraph or a lavfi source, or a hardware device's
    setting (`vaapi=va:/dev/dri/renderD128`)."""
    graph = Graph(lambda v, names: FFMPEG_WORD.admits(v, names) or vocabulary.admits(v, names)
                  or path.admits(v, names) or expression(v) or bool(re.fullmatch(r"/dev/dri/renderD\d{1,4}", v)))

    def word(flag: str, text: str, names: Names) -> bool:
        if flag == "-h" and text.startswith("encoder="):  # `ffmpeg -h encoder=NAME`: the prereqs' query
            return vocabulary.admits(text.removeprefix("encoder="), names)
        return (FFMPEG_WORD.admits(text, names) or vocabulary.admits(text, names) or path.admits(text, names)
                or graph.admits(text, names)
                or bool(re.fullmatch(r"(?:vaapi=va:/dev/dri/renderD\d{1,4}|qsv=qs@va|cuda=cu:\d{1,2})", text)))
    return word
