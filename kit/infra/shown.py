"""A path as it may be shown to the lead, and text that knows the paths it holds (private by construction:
ARCHITECTURE.md, "What leaves the box"). What crosses to another machine is built from known parts, never scrubbed
afterwards: a deny-list of folder spellings misses the one nobody thought of (a shell-quoted path, ffmpeg's filter
escaping, a sibling folder `clips old` beside `clips`).

- `Shown`: a path as the lead sees it, a root's tag and the parts below it (`[ref-dir]/a.y4m`, `[out-dir]/…`,
  `[cache]/…`, `[kit]/…`), or, where it lies under none of the box's roots, a file by its name behind a mark
  (`[elsewhere]/ffmpeg`) and a folder by the mark alone. Home and the current folder are no roots: the folders below
  them are the user's own (`~/tools-X/ffmpeg` names a folder of the box), so a file there is `[elsewhere]/ffmpeg` too.
- `Places`: the box's roots and their tags, which make a `Shown` of any path by comparing path parts (never text),
  its folders' links resolved first (the kit run through a link to its folder is `[kit]/…`), then as given;
  `Places.KEPT` (--keep-paths) shows every path as it is.
- `Spelled`: a text the kit made with paths in it (a command line, a filtergraph, a message) that remembers its parts,
  so that it is spelled once as it runs here (`str`, what the text *is*) and again, the same way, with each path
  shown (`shown`). It is a `str`, so every consumer of the text takes it unchanged. A str operation (an f-string,
  `+`, a slice) makes plain text of it, never a Spelled. So every text that names a path is built as a `Spelled`
  (MarkupSafe's `Markup`, a str that knows it is escaped, is the model), each site that names a path in a log line a
  Spelled (tests/unit/test_shown.py scans the log sites).
- `Heard`: what another program said (a child's stderr, read by `heard`, each path the kit gave it found as a part),
  and `Withheld`: a text the kit did not build from known parts (an exception's plain message). Each is the box's
  alone: spelled as it is where the box keeps it (its own logs, the terminal), and not at all where a text is shown
  for the lead (issue 96: a child's words are classified, never sent). What the lead is sent of a shown text is then
  checked whole against the kit's catalogue (kit.bundle.catalogue), which admits the kit's own messages only.
- `without_prefix` cuts a Spelled's leading words and keeps it one; `spelled_document` and `spelled_from` keep a
  Spelled in a JSON document and read it back with its parts (a refusal kept in the kit's cache is sent, on a rerun,
  as it was the first time).

A record that is sent holds a path as a `Path` field or a file name; what it holds of text is checked by its kind
(kit.bundle.catalogue) as the record is sent (kit.bundle.sent).
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, ClassVar, Union

from kit.errors import KitError
from kit.infra.visible import shell_quote


class Root(enum.Enum):
    """A folder of the box whose parts below it the lead may see, by the tag the lead sees in its place: the folders
    the kit was given to work in (and its own). The user's home and the current folder are none: what lies below them
    is named by the user for the user (`~/tools-X/`, `[cwd]/kitlink-X/`), as much the box's as any folder above a
    root."""

    OUT_DIR = "[out-dir]"
    REF_DIR = "[ref-dir]"
    CACHE = "[cache]"
    KIT = "[kit]"


ELSEWHERE = "[elsewhere]"  # the mark of a path under no root: a program's name goes after it, no other name ever
# the programs a path elsewhere is named by (`[elsewhere]/ffmpeg`): what the lead needs to know ran, and no name the
# box chose (a --corpus, a --teacher or a --settings file elsewhere is `[elsewhere]` alone)
PROGRAMS = ("ffmpeg", "ffmpeg.exe", "ffprobe", "nvidia-smi", "vainfo", "python", "python3", "ensemble-kit",
            "amfrt64.dll", "amfrt32.dll")


@dataclass(frozen=True)
class Shown:
    """A path as the lead may see it: `root`'s tag and the parts below it, or (root None) ELSEWHERE and its file name
    (`[elsewhere]/ffmpeg`), or ELSEWHERE alone for a folder (parts empty)."""

    root: Root | None
    parts: tuple[str, ...]

    def __str__(self) -> str:
        return "/".join((self.root.value if self.root is not None else ELSEWHERE, *self.parts))


def _forms(path: PurePath | str, real: Callable[[str], str] = os.path.realpath) -> list[tuple[str, ...]]:
    """The parts of `path` absolute with its folders' links resolved by `real` (the kit's folder reached through a link
    is the kit's; the path's own last link is not followed: a clip that links out of --ref-dir is the --ref-dir's file,
    by its own name), then absolute as given (`..` folded)."""
    lexical = Path(os.path.abspath(path))
    if len(lexical.parts) < 2:
        return [lexical.parts]
    with contextlib.suppress(OSError, ValueError):  # a folder that cannot be read: the path as given only
        resolved = Path(real(str(lexical.parent)), lexical.name).parts
        if resolved != lexical.parts:
            return [resolved, lexical.parts]
    return [lexical.parts]


@dataclass(frozen=True)
class Places:
    """The box's folders, each with the tag a path under it is shown with (the deepest folder first); `kept`
    (--keep-paths): every path shown as it is."""

    roots: tuple[tuple[tuple[str, ...], Root], ...]
    kept: bool = False
    # each folder's resolved path, looked up once: a log shows the same few folders thousands of times (a link made
    # later is not seen; the path is then shown as it resolved, or as given: either is a root's parts or its name)
    resolved: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    KEPT: ClassVar[Places]  # Places((), kept=True), set below

    @classmethod
    def of(cls, out_dir: Path | None = None, ref_dir: Path | None = None, cache: Path | None = None,
           kit: Path | None = None) -> Places:
        """These roots (None: not one of this command's), each wholly resolved and as given; `/` is no root."""
        named = [(folder, root) for folder, root in ((out_dir, Root.OUT_DIR), (ref_dir, Root.REF_DIR),
                                                     (cache, Root.CACHE), (kit, Root.KIT)) if folder is not None]
        roots = {(parts, root) for folder, root in named
                 for parts in (*_forms(folder), Path(os.path.realpath(folder)).parts) if len(parts) > 1}
        # the deepest first: an out-dir inside the kit's folder is [out-dir]/…, not [kit]/runs/…
        return cls(tuple(sorted(roots, key=lambda r: (-len(r[0]), list(Root).index(r[1])))))

    def shown(self, path: PurePath | str) -> Shown:
        """`path` (a relative one from the current folder) under the deepest root it lies in, its folders' links
        resolved first, then as given; else a program of PROGRAMS by its name behind ELSEWHERE (`[elsewhere]/ffmpeg`),
        any other file or folder as ELSEWHERE alone: its name is the box's."""
        for parts in _forms(path, self._real):
            if (found := self._under(parts)) is not None:
                return found
        lexical = Path(os.path.abspath(path)).parts
        program = len(lexical) > 1 and lexical[-1] in PROGRAMS and not os.path.isdir(path)
        return Shown(None, (lexical[-1],) if program else ())

    def _real(self, folder: str) -> str:
        if (found := self.resolved.get(folder)) is None:
            found = self.resolved[folder] = os.path.realpath(folder)
        return found

    def _under(self, parts: tuple[str, ...]) -> Shown | None:
        for root_parts, root in self.roots:
            if parts[:len(root_parts)] == root_parts:
                return Shown(root, parts[len(root_parts):])
        return None

    def show(self, path: PurePath | str) -> str:
        """`path` as text the lead may see (as it is, when kept)."""
        return str(path) if self.kept else str(self.shown(path))

    def text(self, text: str) -> str:
        """A text as the lead may see it: a Spelled one with its paths shown and what another program said (Heard)
        and what the kit did not build (Withheld) left out, any other as it is (its kind checks it where it is sent:
        kit.bundle.catalogue); as it is, when kept."""
        if self.kept:
            return str.__str__(text)
        return text.shown(self) if isinstance(text, Spelled) else str.__str__(text)

    def said(self, text: str, given: Iterable[PurePath | str]) -> str:
        """A text the kit made about `given` (a clip's path; the record it comes with holds them) as the lead may see
        it: a Spelled one with its paths shown, any other read as heard: each of `given` found where it was written."""
        return self.text(text if isinstance(text, Spelled) else found(text, [PurePath(p) for p in given]))


Places.KEPT = Places((), kept=True)

Part = Union[str, PurePath, "Spelled"]


def _as_is(text: str) -> str:
    return text


def for_the_lead(text: str) -> str:
    """The literal parts of a Spelled as the lead is shown them: as they are (the mark that Heard and Withheld parts
    are left out of this spelling)."""
    return text


def _spell(parts: Sequence[Part], escape: Callable[[str], str] | None, show: Callable[[PurePath], str],
           say: Callable[[str], str] = _as_is) -> str:
    """The parts joined, each path spelled by `show`, each literal one by `say` and a nested Spelled by its own rule,
    then `escape` over all."""
    text = "".join(part.spell(show, say) if isinstance(part, Spelled) else say(part) if isinstance(part, str)
                   else show(part) for part in parts)
    return escape(text) if escape is not None else text


class Spelled(str):
    """A text made of literal parts, paths and other Spelled texts, `escape` spelling the whole (a path inside a
    filter option, a shell word); as a str it is the text as it runs here."""

    parts: tuple[Part, ...]
    escape: Callable[[str], str] | None

    def __new__(cls, *parts: Part, escape: Callable[[str], str] | None = None) -> Spelled:
        made = super().__new__(cls, _spell(parts, escape, str))
        made.parts, made.escape = parts, escape
        return made

    def __getnewargs_ex__(self) -> tuple[tuple[Part, ...], dict[str, Any]]:  # a copy or a pickle keeps the parts
        return self.parts, {"escape": self.escape}

    def spell(self, show: Callable[[PurePath], str], say: Callable[[str], str] = _as_is) -> str:
        return _spell(self.parts, self.escape, show, say)

    def shown(self, places: Places) -> str:
        """The same text as the lead may see it: each path as `places` shows it, what another program said and what
        the kit did not build left out (Heard, Withheld)."""
        return self.spell(places.show, for_the_lead)

    def join(self, items: Iterable[str]) -> Spelled:
        """Like str.join, every item kept as it is (a Spelled with its parts)."""
        parts: list[Part] = []
        for i, item in enumerate(items):
            parts += [self, item] if i else [item]
        return Spelled(*parts)


class Withheld(Spelled):
    """A text the kit did not build from known parts (an exception's plain message) placed in a Spelled one: as it is
    in the box's own files and on its screen, left out where the text is shown for the lead (issue 96). Never kept in a
    document (spelled_document refuses it)."""

    def __new__(cls, text: str) -> Withheld:
        return super().__new__(cls, str.__str__(text))  # type: ignore[return-value]

    def __getnewargs_ex__(self) -> tuple[tuple[Part, ...], dict[str, Any]]:
        return (str.__str__(self),), {}

    def spell(self, show: Callable[[PurePath], str], say: Callable[[str], str] = _as_is) -> str:
        return "" if say is for_the_lead else str.__str__(self)


class Heard(Spelled):
    """What another program said (a child's stderr, with the words that lead into it), its paths found as parts
    (`heard`): as it is in the box's own files and on its screen, left out where the text is shown for the lead (issue
    96: a child's output is classified into a kind of kit.infra.ended, its words stay in the box's logs)."""

    def spell(self, show: Callable[[PurePath], str], say: Callable[[str], str] = _as_is) -> str:
        return "" if say is for_the_lead else super().spell(show, say)


class Typed(Spelled):
    """A fact the system gave in its words (a CPU's name, a program's version), placed in a Spelled line: its words as
    they are for the box, its typed form (kit.infra.typed) where the text is shown for the lead."""

    typed: str

    def __new__(cls, text: str, typed: str) -> Typed:
        made: Typed = super().__new__(cls, str.__str__(text))  # type: ignore[assignment]
        made.typed = typed
        return made

    def __getnewargs_ex__(self) -> tuple[tuple[Part, ...], dict[str, Any]]:
        return (str.__str__(self), self.typed), {}

    def spell(self, show: Callable[[PurePath], str], say: Callable[[str], str] = _as_is) -> str:
        return self.typed if say is for_the_lead else str.__str__(self)


def without_prefix(text: str, prefix: str) -> str:
    """`text.removeprefix(prefix)`, a Spelled kept one where `prefix` is the text of its leading parts (whole paths
    and nested texts, the start of a literal one): a left-out clip's reason without its path in front
    (kit.media.discovery.Unusable.why) still knows the paths after it. Plain text otherwise."""
    if not isinstance(text, Spelled) or text.escape is not None or not str.startswith(text, prefix):
        return str.removeprefix(str.__str__(text), prefix)
    rest, left = list(text.parts), prefix
    while left and rest:
        first = rest[0]
        spelled = first if type(first) is str else str.__str__(first) if isinstance(first, Spelled) else str(first)
        if left.startswith(spelled):
            left, rest = left[len(spelled):], rest[1:]
        elif type(first) is Spelled and first.escape is None:  # a nested text the prefix ends inside: its parts
            rest = [*first.parts, *rest[1:]]
        elif type(first) is str and spelled.startswith(left):  # a literal part, cut where the prefix ends
            left, rest = "", [spelled[len(left):], *rest[1:]]
        else:  # the prefix ends inside a path or a nested text: no part of it may be cut
            return str.removeprefix(str.__str__(text), prefix)
    return Spelled(*rest)


# the escapes a text kept as a document (spelled_document) may hold, by name: a command's shell words
ESCAPES: dict[str, Callable[[str], str]] = {"shell": shell_quote}


def spelled_document(text: str, named: Mapping[str, PurePath] | None = None) -> str | dict[str, object]:
    """A text as a JSON document keeps it with its paths (a cache's entry, read again by spelled_from): plain text as
    it is; a Spelled as {"spelled": [its parts], "escape": the escape's name in ESCAPES, or null}, each path part
    {"path": it, absolute, "typed": its relative spelling where it had one} or, where it is one of `named`'s,
    {"named": its key} (a clip's refusal kept for the clip, whatever spelling of its path reads it again). ValueError
    for an escape ESCAPES does not name."""
    if not isinstance(text, Spelled):
        return str(text)
    if isinstance(text, Withheld):
        raise ValueError("a withheld text is not kept: read back, it would be shown as it is")
    names = {str(path): key for key, path in (named or {}).items()}
    escape = next((name for name, fn in ESCAPES.items() if fn is text.escape), None)
    if text.escape is not None and escape is None:
        raise ValueError(f"an escape ESCAPES does not name: {text.escape!r}")
    parts: list[object] = []
    for part in text.parts:
        if isinstance(part, Spelled):
            parts.append(spelled_document(part, named))
        elif isinstance(part, str):
            parts.append(part)
        else:
            parts.append({"named": names[str(part)]} if str(part) in names else _kept_path(part))
    return {"spelled": parts, "escape": escape, **({"heard": True} if isinstance(text, Heard) else {})}


def _kept_path(path: PurePath) -> dict[str, str]:
    """A path part as a kept text holds it: absolute, so it names the same file read from any folder, and a relative
    spelling (`.venv/bin/python`, as_typed's) beside it, given back where it still names that file."""
    kept = {"path": os.path.abspath(path)}
    if not path.is_absolute():
        kept["typed"] = str(path)
    return kept


def _path_from(part: dict[str, object]) -> PurePath:
    """The path a _kept_path part names: its relative spelling where it names the same file from here."""
    absolute, typed = str(part["path"]), part.get("typed")
    if isinstance(typed, str) and os.path.abspath(typed) == absolute:
        return PurePath(typed)
    return PurePath(absolute)


def spelled_from(doc: object, named: Mapping[str, PurePath] | None = None) -> str:
    """The text spelled_document kept, a Spelled again with its paths (`named`: the paths its named parts stand for
    now), Heard where what a program said was kept; ValueError for a document it does not write."""
    if isinstance(doc, str):
        return doc
    if not (isinstance(doc, dict) and isinstance(doc.get("spelled"), list)
            and (doc.get("escape") is None or (isinstance(doc.get("escape"), str) and doc["escape"] in ESCAPES))):
        raise ValueError("not a kept text")
    parts = [_kept_part(part, named) for part in doc["spelled"]]
    escape = doc.get("escape")
    kind = Heard if doc.get("heard") is True else Spelled  # what a program said stays the box's, read back as kept
    return kind(*parts, escape=ESCAPES[escape] if escape is not None else None)


def _kept_part(part: object, named: Mapping[str, PurePath] | None) -> Part:
    """One part of a kept text: a path, a named path, a nested text or words; ValueError for anything else."""
    if isinstance(part, dict) and isinstance(part.get("path"), str):
        return _path_from(part)
    if isinstance(part, dict) and isinstance(part.get("named"), str) and part["named"] in (named or {}):
        return PurePath((named or {})[part["named"]])
    if isinstance(part, dict) and "spelled" in part:
        return spelled_from(part, named)
    if isinstance(part, str):
        return part
    raise ValueError("not a kept text's part")


class KeptText:
    """The rule of a record's field that holds a text spelled_document kept (a cache's record, kit.infra.records'
    `keep`): one spelled_from reads again."""

    words = "a text as the kit keeps it with its paths"

    def problem(self, value: Any) -> str | None:
        try:
            spelled_from(value)
        except (ValueError, TypeError, KeyError):
            return f"is not {self.words}"
        return None


KEPT_TEXT = KeptText()


def path_at(word: str) -> int | None:
    """Where the path of one word of a command starts (`--ref-dir=clips`: 10), when it ends with one, else None."""
    if not isinstance(word, Spelled) or not word.parts or not isinstance(word.parts[-1], PurePath) or word.escape:
        return None
    head = [p for p in word.parts[:-1] if type(p) is str]
    return len("".join(head)) if len(head) == len(word.parts) - 1 else None


def spelled_path(path: PurePath | str) -> Spelled:
    """A path as one word of a command (an argv item): its text as it runs, shown as the lead may see it."""
    return Spelled(PurePath(path))


def program(path: PurePath | str) -> str:
    """A program as the first word of a command: a path where it names one; a bare name, which the system looks up
    on PATH and names no folder, as it is."""
    return spelled_path(path) if len(PurePath(path).parts) > 1 else str(path)


def shell_line(args: Iterable[str | PurePath]) -> Spelled:
    """A command line as a shell reads it (kit.infra.visible.shell_quote), each path in it kept as a path."""
    return Spelled(" ").join(Spelled(arg if isinstance(arg, str) else PurePath(arg), escape=shell_quote)
                             for arg in args)


def paths_in(parts: Iterable[object]) -> set[PurePath]:
    """Every path a text's parts hold, at any depth (what a program given them may say back)."""
    found: set[PurePath] = set()
    for part in parts:
        if isinstance(part, Spelled):
            found |= paths_in(part.parts)
        elif isinstance(part, PurePath):
            found.add(part)
    return found


def found(text: str, given: Iterable[object]) -> Spelled:
    """A text the kit made (an f-string) about what it gave a program, each path of `given` (its argv) and each word
    of it that holds one found where the text names it as given: the text the same, each such word a part, shown as
    the kit shows it (the longest first: a file before a shorter one). A path is found whole, never by a folder of it:
    a folder found alone would leave the rest of the path as it was said. Given no path, the text is plain; a Spelled
    as it is (its paths and what a program said are its parts already)."""
    if isinstance(text, Spelled):
        return text
    return Spelled(*_found_paths(text, given))


def heard(text: str, given: Iterable[object], lead: str = "", trail: str = "") -> Heard:
    """What a program said (its stderr), read as data: its paths found as `found` finds them, the whole the box's
    alone (Heard: left out for the lead). `lead` and `trail`: the kit's words around it (`: `, `'`), left out too."""
    return Heard(*([lead] if lead else []), *_found_paths(text, given), *([trail] if trail else []))


def _found_paths(text: str, given: Iterable[object]) -> list[Part]:
    # a word of its argv that holds a path, whole (a filtergraph, its path escaped inside, said back as given), and
    # each path alone
    words: list[Spelled | PurePath] = [w for w in given if isinstance(w, Spelled) and paths_in(w.parts)]
    known = sorted({*words, *paths_in(given)}, key=lambda w: -len(str(w)))
    parts: list[Part] = [text]
    for word in known:
        # as given, and as the caller decoded the program's bytes (UTF-8, a byte that is none as U+FFFD)
        raw = str.__str__(word) if isinstance(word, Spelled) else str(word)
        for spelled in dict.fromkeys((raw, raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))):
            parts = _found(parts, spelled, word)
    return parts


def _found(parts: list[Part], spelled: str, word: Spelled | PurePath) -> list[Part]:
    """`parts` with each plain text's `spelled` made the part `word`."""
    split: list[Part] = []
    for part in parts:
        if not isinstance(part, str) or isinstance(part, Spelled) or spelled not in part:
            split.append(part)
            continue
        for i, piece in enumerate(part.split(spelled)):
            split += ([word] if i else []) + ([piece] if piece else [])
    return split


def said_of(exc: BaseException, places: Places) -> str:
    """An exception's message as the lead may see it: a kit error's built as a Spelled, with its paths shown and what
    a child said left out; an OSError's from its parts (its file a path, its words the system's); any other's, whose
    text may hold any path or word, not at all ("")."""
    if isinstance(exc, KitError) and isinstance(exc.message, Spelled):
        return exc.message.shown(places)
    if isinstance(exc, OSError) and exc.strerror:
        named = [Spelled(": ", PurePath(os.fsdecode(f))) for f in (exc.filename, exc.filename2) if f is not None]
        text = Spelled(f"[Errno {exc.errno}]" if exc.errno is not None else "", Withheld(f" {exc.strerror}"), *named)
        return text.shown(places)
    return ""


def shown_traceback_lines(exc: BaseException, places: Places) -> list[str]:
    """kit.infra.visible.traceback_lines as the lead may see it: each exception's type (a kit's or Python's, else
    `Exception`), and each frame in the kit's own code by its file and line (`[kit]/kit/steps/runner.py:377`); a
    library's frames, the code lines, the functions' names and the messages stay in the box's own log."""
    import traceback

    from kit.infra.visible import exception_chain

    lines: list[str] = []
    for current, link in exception_chain(exc):
        if current.__traceback__ is not None:
            lines.append("Traceback (most recent call last):")
            for frame in traceback.extract_tb(current.__traceback__):
                shown = places.show(frame.filename)
                if shown.startswith(f"{Root.KIT.value}/kit/"):
                    lines.append(f"  {shown}:{frame.lineno}")
        lines.append(type_name(current))
        if link:
            lines += ["", link, ""]
    return lines


def type_name(exc: BaseException) -> str:
    """An exception's type as the lead may see it: the first of its classes (its own, then those it derives from)
    that is a builtin's (`KeyError`) or one of kit.errors' (`kit.errors.InputError`), by its name: a list the lead
    checks it against (kit.bundle.messages.EXCEPTION_TYPE). A library's class names its maker, not the box, but is
    none of that list."""
    for cls in type(exc).__mro__:
        if cls.__module__ == "builtins":
            return cls.__qualname__
        if cls.__module__ == "kit.errors":
            return f"kit.errors.{cls.__qualname__}"
    return "BaseException"
