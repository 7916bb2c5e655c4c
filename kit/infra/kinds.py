"""What a text the lead is sent may be: a kind that admits a value exactly or refuses it (issue 96). Every text of
every member of a results tarball is checked by a kind of kit.bundle.catalogue, at the box before it is sent and by
`verify` and `merge` where it is received: one a kind admits is sent, any other is withheld at the box (WITHHELD in
its place) and refused where it is received. No kind admits free text: a kind is one of a list of texts (`Exact`), a
form a regular expression fixes whole (`Match`: a number, a digest, a stamp), one of the names this tarball is about
(`Named`: its clips, its sources, its box), or a message of the kit's (`Template`: fixed words and typed slots), or
one of several of these (`Either`). So a secret can reach a sent file only where a kind admits it, and a kind admits
only what the kit made of its own values and the names the user chose to send (a clip's file name, the box id).

`Names` is what a kind of names reads: the clips, sources and boxes of the tarball, taken from the members that name
them first (kit.bundle.catalogue.names_of), so the lead checks a tarball against its own list and a name found only
elsewhere (a hidden file's, a folder's) is no name of it.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# what the box writes in place of a text no kind admits: itself admitted everywhere, so that a tarball made at a box
# whose kit said something it has no catalogued form for is still sent (the box's log names the field)
WITHHELD = "[withheld: a text with no catalogued form]"
WITHHELD_KIND = "withheld at the box"


@dataclass(frozen=True, eq=False)
class Names:
    """The names a tarball is about: its clips' file names, its sources' names (src) and its box ids. Equal by a
    digest of them, made once: a kind's patterns are remembered by their names, and two equal sets of 50,000 names
    compared name by name at each lookup were most of the bundle's time at 50,000 contents."""

    clips: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    boxes: frozenset[str] = frozenset()
    digest: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        h = hashlib.sha256()
        for which in (self.clips, self.sources, self.boxes):
            h.update(len(which).to_bytes(8, "little"))
            for name in sorted(which):
                data = name.encode("utf-8", "surrogatepass")
                h.update(len(data).to_bytes(8, "little") + data)
        object.__setattr__(self, "digest", h.digest())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Names) and self.digest == other.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __or__(self, other: Names) -> Names:
        return Names(self.clips | other.clips, self.sources | other.sources, self.boxes | other.boxes)


NO_NAMES = Names()


class Kind(abc.ABC):
    """A kind of text: `name` (what `verify --show-sent` prints) and `pattern`, a regular expression that matches
    exactly the texts it admits given `names` (None for a kind that checks a text otherwise: `admits`)."""

    name: str
    looked_up = False  # no pattern only because it looks up names it holds (kit.infra.kinds.Named): no command

    def longest(self, names: Names) -> int | None:
        """The longest text it admits given `names`, where that is known (a name: the longest of them)."""
        return None

    def admits_within(self, text: str, start: int, end: int, names: Names = NO_NAMES) -> bool:
        """Whether text[start:end] is of this kind, as a slot of a message whose other words are `text`'s (a kind
        whose expression looks past its own text says so: kit.bundle.values.SETTING_VALUE)."""
        return self.admits(text[start:end], names)

    @abc.abstractmethod
    def pattern(self, names: Names) -> str | None:
        """The regular expression of the texts it admits given `names`; each kind says its own."""

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        """Whether `text` is of this kind, whole (WITHHELD always is)."""
        if text == WITHHELD:
            return True
        compiled = _compiled(self, names)
        return compiled is not None and compiled.fullmatch(text) is not None

    def named(self, text: str, names: Names = NO_NAMES) -> str:
        """What `text` is, as precisely as this kind knows: the name of the message or list that admits it."""
        return WITHHELD_KIND if text == WITHHELD else self.name

    def slot(self, names: Names) -> str:
        """This kind's pattern, as a slot of a Template: in a group that does not capture."""
        found = self.pattern(names)
        if found is None:
            raise TypeError(f"{self.name} cannot be a template's slot")
        return f"(?:{found})"


@functools.lru_cache(maxsize=4096)
def _compiled(kind: Kind, names: Names) -> re.Pattern[str] | None:
    found = kind.pattern(names)
    return re.compile(found, re.DOTALL) if found is not None else None


def _alternatives(texts: Iterable[str]) -> str:
    """A pattern matching exactly one of `texts` (the longest first, so a prefix never wins); none: nothing."""
    ordered = sorted(set(texts), key=lambda t: (-len(t), t))
    return "|".join(map(re.escape, ordered)) if ordered else "(?!)"


@dataclass(frozen=True, eq=False)
class Exact(Kind):
    """One of a list of texts (an enumeration: a verdict, an encoder the kit knows, a note the kit writes whole)."""

    name: str
    texts: frozenset[str]

    def __init__(self, name: str, texts: Iterable[str], /) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "texts", frozenset(texts))

    def pattern(self, names: Names) -> str:
        return _alternatives(self.texts)


@dataclass(frozen=True, eq=False)
class Match(Kind):
    """A form a regular expression fixes whole: a number, a digest of a fixed length, a stamp, a version's numbers.
    Its expression admits no letter where a word could stand (tests/unit/test_catalogue.py draws words at it)."""

    name: str
    regex: str

    def pattern(self, names: Names) -> str:
        return self.regex


@dataclass(frozen=True, eq=False)
class Named(Kind):
    """One of the names the tarball is about (`which`: clips, sources or boxes), as Names holds them."""

    name: str
    which: str
    looked_up = True

    def pattern(self, names: Names) -> None:
        """None: a name is looked up in Names' set. As an alternation of every name, each pattern holding it was
        compiled anew: 114 MiB and 1.3 s a pattern at 50,000 sources, the bundle's 21 GiB (bench/README.md)."""
        return None

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        return text == WITHHELD or text in getattr(names, self.which)

    def longest(self, names: Names) -> int:
        return max(map(len, getattr(names, self.which)), default=0)


@dataclass(frozen=True, eq=False)
class Either(Kind):
    """Any one of `kinds`."""

    name: str
    kinds: tuple[Kind, ...]

    def __init__(self, name: str, /, *kinds: Kind) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "kinds", kinds)

    def pattern(self, names: Names) -> str | None:
        found = [k.pattern(names) for k in self.kinds]
        return None if any(p is None for p in found) else "|".join(f"(?:{p})" for p in found)

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        return text == WITHHELD or any(k.admits(text, names) for k in self.kinds)

    def admits_within(self, text: str, start: int, end: int, names: Names = NO_NAMES) -> bool:
        return _withheld(text, start, end) or any(k.admits_within(text, start, end, names) for k in self.kinds)

    def named(self, text: str, names: Names = NO_NAMES) -> str:
        if text == WITHHELD:
            return WITHHELD_KIND
        return next((k.named(text, names) for k in self.kinds if k.admits(text, names)), self.name)


SEPARATORS_IN_A_PART = 16  # a part of a Joined text may hold its separator up to this many times (`a, b.mp4`)
MARK = re.compile(r"\{(\w+)\}")  # a slot in a template's words: `{count}`


@dataclass(frozen=True, eq=False)
class Template(Kind):
    """A message of the kit's: its words, each `{slot}` one value of that slot's kind (`{{` and `}}` a brace)."""

    name: str
    text: str
    slots: tuple[tuple[str, Kind], ...] = field(default=())

    def __init__(self, name: str, text: str, /, **slots: Kind) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "slots", tuple(slots.items()))
        marks = set(MARK.findall(text.replace("{{", "").replace("}}", "")))
        if marks != set(slots):
            raise ValueError(f"template {name}: its marks {sorted(marks)} are not its slots {sorted(slots)}")

    def pattern(self, names: Names) -> str | None:
        """Its words escaped, each slot its kind's pattern; None where a slot's kind checks a text otherwise (a
        command, a name): then `admits` cuts the text at its words (`values`) and checks that slot's text by its
        kind."""
        kinds = dict(self.slots)
        out, at = [], 0
        text = self.text
        for m in re.finditer(r"\{\{|\}\}|\{(\w+)\}", text):
            out.append(re.escape(text[at:m.start()]))
            if m.group(1) is None:
                out.append(re.escape(m.group(0)[0]))
            elif (found := kinds[m.group(1)].pattern(names)) is not None:
                out.append(f"(?:{found})")
            else:
                return None
            at = m.end()
        out.append(re.escape(text[at:]))
        return "".join(out)

    def named(self, text: str, names: Names = NO_NAMES) -> str:
        """The message's own name, or (a message that is a line around another: `{t} {msg}`) the one it holds."""
        found = self.values(text, names) if _compiled(self, names) is None else None
        kinds = dict(self.slots)
        inner = [(kinds[slot], v) for slot, v in (found or {}).items() if _opaque(kinds[slot])]
        return inner[0][0].named(inner[0][1], names) if len(inner) == 1 else self.name

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        return self.admits_within(text, 0, len(text), names)

    def admits_within(self, text: str, start: int, end: int, names: Names = NO_NAMES) -> bool:
        if _withheld(text, start, end):
            return True
        if (compiled := _compiled(self, names)) is not None:
            return compiled.fullmatch(text, start, end) is not None  # no pattern looks past its text
        return self.values(text, names, start, end) is not None

    def values(self, text: str, names: Names, start: int = 0, stop: int | None = None) -> dict[str, str] | None:
        """Each slot's text where text[start:stop] is this message, None where it is not. Every way of cutting the
        text at the message's words is tried (a name may hold the words after its slot: `a: b.mp4` before `: `),
        the longest part first; a slot whose check is dear (a list of names, a message of them) is checked after
        the text that follows it (a list of 50,000 sources before ` and 3 more`: checked once, at the one cut the
        rest admits); each place's answer remembered. A slot's text is checked where it stands in `text`: what
        follows it is there to see (kit.bundle.values.SETTING_VALUE's lookaheads)."""
        words, slots = _cut(self)
        kinds = [k for _, k in slots]
        end_all = len(text) if stop is None else stop
        last = end_all - len(words[-1])  # where the last slot ends
        if last < start or not text.startswith(words[-1], last):
            return None
        known: dict[tuple[int, int], dict[str, str] | None] = {}

        def rest(i: int, at: int) -> dict[str, str] | None:
            if i == len(kinds):
                return {} if at == end_all else None
            if i == len(kinds) - 1 and (compiled := _compiled(kinds[i], names)) is not None \
                    and compiled.fullmatch(text, at, last) is None:
                return None  # the last slot's text, matched in place: no copy of a long text's every tail
            if (i, at) not in known:
                known[i, at] = None
                after, kind = words[i + 1], kinds[i]
                ends = [last] if i == len(kinds) - 1 else _starts(text, after, at, last)
                if (most := _longest(kind, names)) is not None:  # a name: no part longer than the longest
                    ends = [e for e in ends if e - at <= most]
                cheap = kind.looked_up or _compiled(kind, names) is not None
                for end in reversed(ends):  # the longest part first: a list's last words are rarely the next slot's
                    if end < at or (cheap and not _part(kind, text, at, end, names)):
                        continue
                    if (found := rest(i + 1, end + len(after))) is not None and (
                            cheap or _part(kind, text, at, end, names)):
                        known[i, at] = {slots[i][0]: text[at:end], **found}
                        break
            return known[i, at]

        if not kinds:
            return {} if text[start:end_all] == words[0] else None
        return rest(0, start + len(words[0])) if text.startswith(words[0], start) else None

    def say(self, **values: object) -> str:
        """The message with its slots filled in (each value as `str` gives it)."""
        return MARK.sub(lambda m: str(values[m.group(1)]), self.text.replace("{{", "\0").replace("}}", "\1")) \
            .replace("\0", "{").replace("\1", "}")


@functools.lru_cache(maxsize=256)
def _longest(kind: Kind, names: Names) -> int | None:
    return kind.longest(names)


def _withheld(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is WITHHELD (no copy of it made)."""
    return end - start == len(WITHHELD) and text.startswith(WITHHELD, start)


def _part(kind: Kind, text: str, start: int, end: int, names: Names) -> bool:
    """Whether text[start:end] is a part of `kind` inside a message: WITHHELD only where the kind checks a text
    otherwise (a command), as the message's expression of its words admitted it nowhere else."""
    return (not _withheld(text, start, end) or _opaque(kind)) and kind.admits_within(text, start, end, names)


@functools.cache
def _opaque(kind: Kind) -> bool:
    """Whether `kind` checks a text otherwise than by a pattern whatever the names (a command, or a kind holding
    one): a kind that looks its names up (`looked_up`) is as plain as a pattern."""
    if kind.looked_up:
        return False
    if isinstance(kind, Template):
        return any(_opaque(k) for _, k in kind.slots)
    if isinstance(kind, Either):
        return any(_opaque(k) for k in kind.kinds)
    if isinstance(kind, Joined):
        return _opaque(kind.kind)
    return kind.pattern(NO_NAMES) is None


@functools.cache
def _cut(template: Template) -> tuple[list[str], list[tuple[str, Kind]]]:
    """A template's words between its slots (one more than its slots: the first before any, the last after all) and
    each slot (its mark, its kind), in order."""
    kinds = dict(template.slots)
    words: list[str] = [""]
    slots: list[tuple[str, Kind]] = []
    at = 0
    text = template.text
    for m in re.finditer(r"\{\{|\}\}|\{(\w+)\}", text):
        words[-1] += text[at:m.start()]
        if m.group(1) is None:
            words[-1] += m.group(0)[0]
        else:
            slots.append((m.group(1), kinds[m.group(1)]))
            words.append("")
        at = m.end()
    words[-1] += text[at:]
    return words, slots


def _starts(text: str, word: str, at: int, stop: int | None = None) -> list[int]:
    """Every place from `at` where `word` starts in `text` and ends by `stop` (each place for an empty word)."""
    stop = len(text) if stop is None else stop
    if not word:
        return list(range(at, stop + 1))
    found, i = [], text.find(word, at, stop)
    while i >= 0:
        found.append(i)
        i = text.find(word, i + 1, stop)
    return found


def one_of(name: str, *kinds: Kind) -> Kind:
    """`Either` of `kinds`, or the one kind alone."""
    return kinds[0] if len(kinds) == 1 else Either(name, *kinds)


@dataclass(frozen=True, eq=False)
class Joined(Kind):
    """One or more texts of `kind`, joined by `sep` (a list said in a sentence: `a, b, c`); of a kind with no pattern
    (a name, a command), the text cut at `sep` every way a part may hold it, each part of that kind (`admits`)."""

    name: str
    kind: Kind
    sep: str = ", "

    def pattern(self, names: Names) -> str | None:
        if self.kind.pattern(names) is None:
            return None
        one = self.kind.slot(names)
        return f"{one}(?:{re.escape(self.sep)}{one})*"

    def admits(self, text: str, names: Names = NO_NAMES) -> bool:
        return self.admits_within(text, 0, len(text), names)

    def admits_within(self, text: str, start: int, end: int, names: Names = NO_NAMES) -> bool:
        """Of a kind with no pattern, every way of cutting text[start:end] at `sep` is tried (a name may hold the
        separator: `a, b.mp4`), each part checked where it stands in `text`; first each separator a cut."""
        if _withheld(text, start, end):
            return True
        if (compiled := _compiled(self, names)) is not None:
            return compiled.fullmatch(text, start, end) is not None
        if start >= end:
            return False
        step = len(self.sep)
        cuts = [start, *(i + step for i in _starts(text, self.sep, start, end)), end + step]
        if all(_part(self.kind, text, a, b - step, names) for a, b in itertools.pairwise(cuts)):
            return True
        ends = {start}  # the cuts where a run of whole parts ends
        for k, cut in enumerate(cuts[1:], start=1):
            if any(_part(self.kind, text, a, cut - step, names)  # one part first, then two, ...
                   for a in reversed(cuts[max(0, k - SEPARATORS_IN_A_PART - 1):k]) if a in ends):
                ends.add(cut)
        return cuts[-1] in ends
