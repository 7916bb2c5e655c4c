"""The one door free text passes to reach a file that leaves the box (issue 89): what a child said (its stderr), an
exception's message, an OS error, anything a library printed. `known` keeps of a text the parts it can classify and
replaces every other with NOT_SENT; the kit's own lines pass it unchanged, since every word of them is the kit's.
An allow-list, never a deny-list (docs/reference/files.md, "What the tarball sends of what was said"):

- the text is cut at white space into chunks, each kept or replaced whole (its punctuation at either end kept);
- a chunk that holds an absolute path (`/home/…`, `~/…`, `C:\\…`), an address (`://`) or an e-mail (`a@b`) is
  replaced, unless a string literal of the kit spells that very chunk (`/proc/cpuinfo`; kit.infra.spoken.PLACES);
- any other is kept when each of its words is known: a word of the kit's string literals (kit.infra.spoken.WORDS:
  what the kit says, every codec, encoder, pixel format and flag it names; its docstrings and comments are no part
  of it), of the OS's error messages and signal names or of ffmpeg's messages (FFMPEG_WORDS), a
  number (decimal, `0x` hex, a digest of 7 or more hex digits, `176x144`, `25fps`, `1.5e3`, a stamp's parts), one of
  the kit's counters with its number (`cq037`, `seed3`, `v9`), a git commit (`g2a571b6068`), or a word of `names`
  (the caller's: the names of the files in --ref-dir, which the lead is sent as `[ref-dir]/NAME`, and the box id);
  and each character between them is ASCII punctuation or one the kit's literals hold (`…`, `—`);
- consecutive chunks replaced on one line are one NOT_SENT, and a chunk holding a `/` or `\\` right after one
  replaced is replaced too (the rest of a path cut by a space: `/home/Ann Lee/clips` is one NOT_SENT).

The kit's words are a table tools/spoken.py writes from kit/'s string literals (kit.infra.spoken, checked current by
tests/unit/test_known.py), so that no process reads the kit's source to know them. A path the kit was given is no
free text: kit.infra.shown shows it by its root before this door is reached.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import string
from collections.abc import Iterable

from kit.infra import spoken

NOT_SENT = "[text not sent]"

# ffmpeg's and libvmaf's words in the messages a failing child prints that the kit's own source does not hold
FFMPEG_WORDS = frozenset(("atom", "avcodec", "avformat", "avio", "bitstream", "buffer", "corrupt", "decoder",
                          "demuxer", "demuxing", "eof", "errno", "everything", "failed", "frame", "frames",
                          "invalid", "mmco", "moov", "muxer", "muxing", "nal", "overread", "packet", "packets",
                          "parser", "probing", "ref", "reference", "refs", "slice", "stream", "streams", "trailer",
                          "truncated", "unref", "unsupported", "violation", "wrapped", "avframe", "concealing",
                          "damaged", "marker", "missing", "picture", "pictures", "application", "buffered",
                          "bytestream", "creation", "dumped", "impossible", "increasing", "monotonically", "provided",
                          "repeated", "return", "segmentation", "submitting", "suitable"))
# the words of the devices' names the system gives (a GPU's, a CPU's), which the kit does not spell
DEVICE_WORDS = frozenset(("geforce", "rtx", "gtx", "quadro", "tesla", "titan", "iris", "uhd", "xe", "arc", "radeon",
                          "rx", "vega", "instinct", "ultra", "mobile", "laptop", "core", "xeon", "ryzen", "epyc",
                          "threadripper", "graphics", "processor", "apple", "snapdragon", "ampere", "altra"))

_SPACE = re.compile(r"(\s+)")
_WORD = re.compile(r"[^\W_]+")
_EDGE = "\"'`([{<,;:.!?)]}>*"
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?%?")
# a chunk that names a place of the box, whatever its words: an absolute path, an address, an e-mail
_PLACE = re.compile(r"(^|[=:,(\[{'\"`])(/|~|\\\\)|[A-Za-z]:[\\/]|://|[^\W_]@[^\W_]|[^\W_]@$|^@[^\W_]")
_COUNTED = re.compile(r"(cq|crf|qp|seed|fold|task|shard|rung|part|v|n|r|t|p|s|x|h)\d+")  # the kit's counters
_MEASURED = re.compile(r"\d+(x\d+|fps|s|ms|us|ns|p|i|k|m|g|b|bit|bits|bpp|kb|mb|gb|kib|mib|gib|hz|khz|mhz|ghz|th|st|"
                       r"nd|rd|e\d*|t\d+|z|t\d+z)")
_PRINTABLE = re.compile(r"[!-~]+")  # ASCII without space or control: no character to look at one by one
_HEX = re.compile(r"0x[0-9a-f]+|(?=[a-f]*\d)[0-9a-f]{7,}|g[0-9a-f]{7,}")


@functools.cache
def vocabulary() -> frozenset[str]:
    """Every word (lower-cased) the kit's string literals spell (kit.infra.spoken), of the OS's error messages and
    signal names, FFMPEG_WORDS and DEVICE_WORDS."""
    errors = " ".join([*(os.strerror(code) for code in range(1, 200)), *(s.name for s in signal.Signals)])
    return spoken.WORDS | frozenset(_WORD.findall(errors.lower())) | FFMPEG_WORDS | DEVICE_WORDS


@functools.cache
def characters() -> frozenset[str]:
    """The characters that may stand between known words: ASCII punctuation and the rest the kit's literals hold."""
    return frozenset(string.punctuation) | spoken.CHARACTERS


def spelled(literals: Iterable[str]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(the words, the chunks that name a place, the characters beyond ASCII) of `literals`, as the door reads text:
    what tools/spoken.py writes of the kit's string literals."""
    words, places, chars = set[str](), set[str](), set[str]()
    for text in literals:
        words.update(w.lower() for w in _WORD.findall(text))
        places.update(core for chunk in _SPACE.split(text)[::2] if _PLACE.search(core := chunk.strip(_EDGE)))
        chars.update(ch for ch in text if not ch.isascii() and ch.isprintable())
    return frozenset(words), frozenset(places), frozenset(chars)


def words_of(names: Iterable[str]) -> frozenset[str]:
    """The words of `names` (lower-cased), as `known` takes them."""
    return frozenset(w.lower() for name in names for w in _WORD.findall(name))


def _word_known(word: str, names: frozenset[str]) -> bool:
    w = word.lower()
    return (w in vocabulary() or w in names or (w.isascii() and (
        w.isdigit() or bool(_HEX.fullmatch(w) or _COUNTED.fullmatch(w) or _MEASURED.fullmatch(w)))))


@functools.lru_cache(maxsize=1 << 16)  # a log says the same words thousands of times
def _chunk_known(core: str, names: frozenset[str], chars: frozenset[str]) -> bool:
    if _NUMBER.fullmatch(core):
        return True
    if _PLACE.search(core):
        return core in spoken.PLACES
    if not _PRINTABLE.fullmatch(core) and any(not (ch.isalnum() or ch == "_" or ch in characters() or ch in chars)
                                              for ch in core):
        return False
    return all(_word_known(w, names) for w in _WORD.findall(core))


def known(text: str, names: frozenset[str] = frozenset(), chars: frozenset[str] = frozenset()) -> str:
    """`text` with every chunk it cannot classify replaced by NOT_SENT (the module's rule); `names`: more known words
    (words_of), `chars`: more known characters (those of the names)."""
    pieces = _SPACE.split(text)  # chunk, white space, chunk, ...
    out: list[str] = []
    open_end = False  # the last piece written ends in a NOT_SENT with nothing after it on its line
    for i, piece in enumerate(pieces):
        core = piece.strip(_EDGE) if i % 2 == 0 else ""
        # a path cut by a space (`/home/Ann Lee/clips`) is replaced whole: its parts after the space too
        cut = open_end and ("/" in core or "\\" in core)
        if i % 2 or not core or (not cut and _chunk_known(core, names, chars)):
            out.append(piece)
            open_end = open_end and i % 2 == 1 and "\n" not in piece
            continue
        start = piece.index(core)
        lead, trail = piece[:start], piece[start + len(core):]
        if open_end and not lead:  # one NOT_SENT for the run of chunks replaced
            out.pop()  # the white space between
            out[-1] += trail
        else:
            out.append(f"{lead}{NOT_SENT}{trail}")
        open_end = not trail
    return "".join(out)
