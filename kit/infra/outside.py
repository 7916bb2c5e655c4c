"""JSON from outside the kit (a file someone gave, a tarball's manifest), read bounded and refused saying why
(JsonRefused; docs/design/robustness.md, "What others send"), and the files it comes in opened without following a
named pipe. Numbers from outside are read by kit.infra.numbers (below kit.infra.variables, whose numeric variables
read through it); its names are handed on here for the modules that read both.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from kit.infra.limits import MAX_JSON_BYTES, MAX_JSON_DEPTH, human_bytes
from kit.infra.numbers import SHOWN_CHARS
from kit.infra.numbers import NotANumber as NotANumber
from kit.infra.numbers import label as label
from kit.infra.numbers import number as number
from kit.infra.numbers import parse_float as parse_float
from kit.infra.numbers import parse_int as parse_int
from kit.infra.numbers import range_words as range_words
from kit.infra.numbers import read_float as read_float
from kit.infra.numbers import read_int as read_int
from kit.infra.numbers import read_items as read_items
from kit.infra.numbers import read_pair as read_pair
from kit.infra.numbers import read_rate as read_rate
from kit.infra.numbers import shown as shown
from kit.infra.perms import describe
from kit.infra.treefs import O_BINARY, O_CLOEXEC, O_NONBLOCK

MAX_JSON_DIGITS = 4300  # digits of a whole number inside JSON: Python's own limit, refused here as a sentence

# what a depth count reads, left to right: a JSON string (its plain characters in runs, an escape one step, never
# given back: possessive), to its closing quote or, unterminated, to the end of the text; or a bracket outside one.
# One pass: an unterminated string can no longer make each quote after it a new start that scans to the end
# (quadratic: 8 KB of `\"` took 0.35 s), and no copy of the text is made
_TOKEN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


class JsonRefused(ValueError):
    """Bytes that are not JSON the kit reads, saying why; `kind`: the decoder's error type, or the limit's message."""

    def __init__(self, why: str, kind: str = "") -> None:
        super().__init__(why)
        self.kind = kind or why


def json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep `text`'s arrays and objects nest (brackets in strings left out: after a string left open, none is
    counted, as the decoder reads nothing past it), counted up to past `limit`; linear in the text."""
    depth = deepest = 0
    for m in _TOKEN.finditer(text):
        token = m.group()
        if token[0] == '"':
            continue
        depth += 1 if token in "[{" else -1
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


def load_json(raw: bytes | str, limit: int = MAX_JSON_BYTES) -> Any:
    """JSON text (UTF-8 bytes or str) as Python values, bounded (`limit` bytes): JsonRefused (a ValueError) saying why
    not."""
    if len(raw) > limit:
        raise JsonRefused(f"more than the {human_bytes(limit)} of JSON the kit reads")
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
