"""Numbers from outside the kit (a flag, an environment variable, a settings file), each kind read by one function
and refused in one sentence naming what was read (`--width '²' …`), with a hint: InputError, exit 2
(docs/design/robustness.md, "What others send"). `read_*` raise NotANumber; `parse_*` and `number` the InputError.
Below kit.infra.variables, whose numeric variables read through it; kit.infra.outside reads JSON and hands these on.

No module reads outside text by `int()`, `float()` or `json.load` directly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction
from typing import TypeVar

from kit.errors import InputError

MAX_DIGITS = 18  # digits of a whole number: every count, seed and size the kit takes fits (and 2**63 does not)
MAX_NUMBER_CHARS = 40  # characters of a number with a fraction: 0.0000000000000000000001 fits
SHOWN_CHARS = 24  # of a value refused, the characters a message shows
T = TypeVar("T")

_SPACE = " \t\r\n"  # what may surround a number: ASCII white space only (not U+00A0, U+3000, ...)
_WHOLE = re.compile(r"[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
_FIXED = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)  # a rate: 25, 29.97 (no exponent: 1e-99999 is no rate)


class NotANumber(ValueError):
    """Text that is not a number of the kind read; its message says why (`'²' is a digit, but not an ASCII one`).
    `plain`: it is just not written as such a number (`abc`), which the caller's own sentence already says."""

    def __init__(self, why: str, plain: bool = False) -> None:
        super().__init__(why)
        self.plain = plain


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
    """`text`, a number written as the docs write it: NotANumber when it is empty, not ASCII, or has white space
    around it (` 2` is refused, never read as 2: a number has one spelling, whatever door it comes through)."""
    body = text.strip(_SPACE)
    if not body:
        raise NotANumber("it is empty", plain=True)
    if (why := _foreign(body)) is not None:
        raise NotANumber(why)
    if body != text:
        raise NotANumber("it has white space around it: write the number alone")
    return body


def read_int(text: str, *, signed: bool = False) -> int:
    """A whole number written in ASCII digits, at most MAX_DIGITS, with a `-` in front only if `signed` (never `+`:
    `+3` is refused, as `3` is its one spelling)."""
    body = _body(text)
    digits = body[1:] if signed and body[0] == "-" else body
    if _WHOLE.fullmatch(digits) is None:
        raise NotANumber("only the digits 0-9 are read" + (", after an optional minus sign" if signed else
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
    """A finite number in plain ASCII notation (`0.95`, `-1`, `.5`, `5e-3`): never nan, inf or 1e999, nor `+0.5`
    (a plus sign in front: `0.5` is its one spelling)."""
    body = _body(text)
    if body.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise NotANumber("NaN and infinity are refused")
    if len(body) > MAX_NUMBER_CHARS:
        raise NotANumber(f"{len(body)} characters, more than the {MAX_NUMBER_CHARS} a number here may have")
    unsigned = body[1:] if body[0] == "-" else body
    if _DECIMAL.fullmatch(unsigned) is None:
        raise NotANumber("it is not a number written in decimal notation (e.g. 0.95, -1)", plain=True)
    value = float(body)
    if not math.isfinite(value):
        raise NotANumber("it is too large to be a finite number")
    return value


def read_rate(text: str) -> Fraction:
    """A frame rate as an exact fraction: `25`, `29.97`, `30000/1001` or `25:1` (its range is the caller's)."""
    body = text.strip(_SPACE)
    if body and body != text:
        raise NotANumber("it has white space around it: write the rate alone")
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
