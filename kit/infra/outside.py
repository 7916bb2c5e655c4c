"""Numbers and JSON from outside the kit (a flag, an environment variable, a file someone gave), each kind read by one
function and refused in one sentence naming what was read (`--width '²' …`), with a hint: InputError, exit 2
(docs/design/robustness.md, "What others send"). `read_*` and `load_json` raise NotANumber or JsonRefused.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from kit.errors import InputError
from kit.infra.limits import MAX_JSON_BYTES, MAX_JSON_DEPTH, human_bytes
from kit.infra.perms import describe
from kit.infra.treefs import O_BINARY, O_CLOEXEC, O_NONBLOCK

MAX_DIGITS = 18  # digits of a whole number: every count, seed and size the kit takes fits (and 2**63 does not)
MAX_NUMBER_CHARS = 40  # characters of a number with a fraction: 0.0000000000000000000001 fits
MAX_JSON_DIGITS = 4300  # digits of a whole number inside JSON: Python's own limit, refused here as a sentence
SHOWN_CHARS = 24  # of a value refused, the characters a message shows
T = TypeVar("T")

_SPACE = " \t\r\n"  # what may surround a number: ASCII white space only (not U+00A0, U+3000, ...)
_WHOLE = re.compile(r"[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
_FIXED = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)  # a rate: 25, 29.97 (no exponent: 1e-99999 is no rate)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class NotANumber(ValueError):
    """Text that is not a number of the kind read; its message says why (`'²' is a digit, but not an ASCII one`).
    `plain`: it is just not written as such a number (`abc`), which the caller's own sentence already says."""

    def __init__(self, why: str, plain: bool = False) -> None:
        super().__init__(why)
        self.plain = plain


class JsonRefused(ValueError):
    """Bytes that are not JSON the kit reads, saying why; `kind`: the decoder's error type, or the limit's message."""

    def __init__(self, why: str, kind: str = "") -> None:
        super().__init__(why)
        self.kind = kind or why


def shown(text: str) -> str:
    """A value as a message quotes it: repr, cut to SHOWN_CHARS characters with its length said."""
    return repr(text) if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]!r}… ({len(text)} characters)"


def _foreign(text: str) -> str | None:
    """Why `text` is no number for its first character beyond ASCII (`²`, `٣`, `３` are digits to Python), or None."""
    ch = next((c for c in text if not c.isascii()), None)
    if ch is None:
        return None
    kind = "a digit, but not an ASCII one" if ch.isdigit() or ch.isnumeric() else "not ASCII"
    return f"{ch!r} (U+{ord(ch):04X}) is {kind}: only the digits 0-9 are read"


def _body(text: str) -> str:
    """`text` without the ASCII white space around it; NotANumber when nothing is left or it is not ASCII."""
    body = text.strip(_SPACE)
    if not body:
        raise NotANumber("it is empty", plain=True)
    if (why := _foreign(body)) is not None:
        raise NotANumber(why)
    return body


def read_int(text: str, *, signed: bool = False) -> int:
    """A whole number written in ASCII digits, at most MAX_DIGITS, with `+`/`-` only if `signed`."""
    body = _body(text)
    digits = body[1:] if signed and body[0] in "+-" else body
    if _WHOLE.fullmatch(digits) is None:
        raise NotANumber("only the digits 0-9 are read" + (", after an optional sign" if signed else
                                                           " (no sign, no point)"), plain=True)
    if len(digits) > MAX_DIGITS:
        raise NotANumber(f"{len(digits)} digits, more than the {MAX_DIGITS} a whole number here may have")
    return int(body)


def read_pair(text: str) -> tuple[int, int]:
    """`K/N`: two whole numbers (read_int) around a slash, as --shard, --train-task and KIT_ARRAY_TASK give them."""
    k, sep, n = text.partition("/")
    if not sep:
        raise NotANumber("no slash between K and N", plain=True)
    return read_int(k), read_int(n)


def read_float(text: str) -> float:
    """A finite number in plain ASCII notation (`0.95`, `-1`, `.5`, `5e-3`): never nan, inf or 1e999."""
    body = _body(text)
    if body.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise NotANumber("NaN and infinity are refused")
    if len(body) > MAX_NUMBER_CHARS:
        raise NotANumber(f"{len(body)} characters, more than the {MAX_NUMBER_CHARS} a number here may have")
    unsigned = body[1:] if body[0] in "+-" else body
    if _DECIMAL.fullmatch(unsigned) is None:
        raise NotANumber("it is not a number written in decimal notation (e.g. 0.95)", plain=True)
    value = float(body)
    if not math.isfinite(value):
        raise NotANumber("it is too large to be a finite number")
    return value


def read_rate(text: str) -> Fraction:
    """A frame rate as an exact fraction: `25`, `29.97`, `30000/1001` or `25:1` (its range is the caller's)."""
    body = text.strip(_SPACE)
    num, sep, den = body.replace(":", "/").partition("/")
    if sep:
        n, d = read_int(num), read_int(den)
        if d == 0:
            raise NotANumber("it divides by zero")
        return Fraction(n, d)
    if (why := _foreign(body)) is not None:
        raise NotANumber(why)
    if len(body) > MAX_NUMBER_CHARS or _FIXED.fullmatch(body) is None:
        raise NotANumber("it is not a rate such as 25, 29.97 or 30000/1001", plain=True)
    return Fraction(body)


def _figure(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"  # 1048576, not 1.04858e+06


def range_words(lo: float | None, hi: float | None, lo_open: bool, whole: bool) -> str:
    """What a range takes, as every message says it: `a whole number from 1 to 10000` (kit.infra.rules too)."""
    kind = "a whole number" if whole else "a number"
    if lo is not None and hi is not None:
        low, high = _figure(lo), _figure(hi)
        return f"{kind} from {low} to {high}" if not lo_open else f"{kind} above {low} and at most {high}"
    if lo is not None:
        return f"{kind} above {_figure(lo)}" if lo_open else f"{kind} of at least {_figure(lo)}"
    if hi is not None:
        return f"{kind} of at most {_figure(hi)}"
    return kind if whole else "a finite number"


def label(name: str, text: str) -> str:
    """What a message calls a value read: `--width '²'` for a flag, `KIT_JOBS='²'` for a variable."""
    return f"{name}={shown(text)}" if re.fullmatch(r"[A-Z][A-Z0-9_]*", name) else f"{name} {shown(text)}"


def read_items(text: str, name: str, hint: str, sep: str = ",", quoted: str = "", item: str = "item") -> list[str]:
    """The items of a list given to `name` (a flag, a variable), `sep` between them, each stripped of white space; a
    text of nothing but white space is no item (the setting's rule says what an empty list is). An item left empty
    (`0,,1`, a `sep` at either end) is refused with its position, never dropped: the user meant something there.
    `quoted`: the text the message quotes, when `text` is one entry of it (`--cqs 'libx264:25,,37'`), and `item` what
    the message calls an item (`libx264's item`)."""
    if not text.strip(_SPACE):
        return []
    items = [item.strip(_SPACE) for item in text.split(sep)]
    if (empty := next((i for i, item in enumerate(items, 1) if not item), None)) is not None:
        raise InputError(f"{label(name, quoted or text)}: {item} {empty} of {len(items)} is empty", hint=hint)
    return items


def number(read: Callable[[str], T], text: str, refused: str, hint: str) -> T:
    """`read(text)`, one of the readings above; a text it refuses is an InputError: `refused`, then why, and `hint`."""
    try:
        return read(text)
    except NotANumber as exc:
        raise InputError(refused if exc.plain else f"{refused}: {exc}", hint=hint) from None


def parse_int(text: str, name: str, lo: int | None = None, hi: int | None = None, *, hint: str = "") -> int:
    """`text` given to `name` (a flag, a variable) as a whole number in lo..hi; InputError naming it otherwise."""
    expected = range_words(lo, hi, False, whole=True)
    signed = lo is not None and lo < 0
    value = number(lambda t: read_int(t, signed=signed), text, f"{label(name, text)} is not {expected}",
                   hint or f"give {expected}, in ASCII digits")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InputError(f"{label(name, text)} is not {expected}", hint=hint or f"give {expected}")
    return value


def parse_float(text: str, name: str, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                hint: str = "") -> float:
    """`text` given to `name` as a finite number in [lo, hi] (or (lo, hi] with lo_open); InputError otherwise."""
    expected = range_words(lo, hi, lo_open, whole=False)
    value = number(read_float, text, f"{label(name, text)} is not {expected}", hint or f"give {expected}")
    below = lo is not None and (value <= lo if lo_open else value < lo)
    if below or (hi is not None and value > hi):
        raise InputError(f"{label(name, text)} is not {expected}", hint=hint or f"give {expected}")
    return value


def env_int(env: Mapping[str, str], name: str, lo: int | None, hi: int | None, hint: str) -> int | None:
    """The whole number in environment variable `name`; None when it is unset or blank."""
    text = env.get(name, "")
    return parse_int(text, name, lo, hi, hint=hint) if text.strip(_SPACE) else None


def env_float(env: Mapping[str, str], name: str, lo: float | None, hi: float | None, *, lo_open: bool = False,
              hint: str) -> float | None:
    """The finite number in environment variable `name`; None when it is unset or blank."""
    text = env.get(name, "")
    return parse_float(text, name, lo, hi, lo_open=lo_open, hint=hint) if text.strip(_SPACE) else None


# --- JSON ------------------------------------------------------------------------------------------------


def json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep `text`'s arrays and objects nest (brackets in strings left out), counted up to past `limit`."""
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if m.group() in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def _json_int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > MAX_JSON_DIGITS:
        raise JsonRefused(f"a whole number of {len(digits)} digits, more than the {MAX_JSON_DIGITS} read")
    return int(text)


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members, refusing a name given twice (json.loads would keep the last one silently)."""
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise JsonRefused(f"the name {name[:SHOWN_CHARS]!r} is given twice in one object", "duplicate name")
        found[name] = value
    return found


def load_json(raw: bytes | str) -> Any:
    """JSON text (UTF-8 bytes or str) as Python values, bounded: JsonRefused (a ValueError) saying why not."""
    if len(raw) > MAX_JSON_BYTES:
        raise JsonRefused(f"more than the {human_bytes(MAX_JSON_BYTES)} of JSON the kit reads")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise JsonRefused(f"not UTF-8 text ({exc.reason} at byte {exc.start})", type(exc).__name__) from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise JsonRefused(f"arrays or objects nested more than {MAX_JSON_DEPTH} deep")
    try:
        return json.loads(text, parse_int=_json_int, object_pairs_hook=_unique_names)
    except JsonRefused:
        raise
    except (ValueError, RecursionError) as exc:  # RecursionError: a depth json_depth did not see; never a bug
        raise JsonRefused(str(exc) or "nested too deep", type(exc).__name__) from None


class NotRegular(OSError):
    """What open_for_reading found instead of a regular file: `what` says what it is ("a named pipe (FIFO)")."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path} is {what}, not a regular file")
        self.what = what


def open_for_reading(path: Path) -> BinaryIO:
    """Open a file someone gave (a link followed), never blocking on a named pipe: NotRegular unless a regular file."""
    fd = os.open(path, os.O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_BINARY)  # a named pipe must not wait for a writer
    try:
        if (what := describe(os.fstat(fd), path)) is not None:
            raise NotRegular(path, what)
        if O_NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_json(path: Path) -> Any:
    """A JSON file someone gave, bounded (load_json): JsonRefused saying why not, OSError when unreadable."""
    with open_for_reading(path) as fh:
        return load_json(fh.read(MAX_JSON_BYTES + 1))


def read_json_object(path: Path, read: Callable[[Path], Any] = read_json) -> tuple[dict[str, Any] | None, str]:
    """A JSON object, checked, not trusted: (the object, "") or (None, why not): "missing", "unreadable (...)",
    "damaged (...)" for JSON of another shape. `read`: how the file's JSON is read (kit.infra.tree's below a Tree)."""
    try:
        data = read(path)
    except FileNotFoundError:
        return None, "missing"
    except JsonRefused as exc:
        return None, f"unreadable ({exc.kind})"
    except OSError as exc:
        return None, f"unreadable ({type(exc).__name__})"
    if not isinstance(data, dict):
        return None, f"damaged (a JSON {type(data).__name__}, not an object)"
    return data, ""
