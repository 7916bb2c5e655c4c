"""A name is looked up, never compiled (kit.infra.kinds.Named, kit.bundle.values' PATH): each kind holding names admits
exactly the texts its expression of every name admitted (2.6.0's, which compiled an alternation of 50,000 sources into
every pattern holding one: 24 GiB in the bundle of a 50,000-content union, killed for memory), drawn with names that
hold the words around their slot (`a: b.mp4`, `x, y.mov`, `-` and hex after a job's name)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kit.bundle import messages, values
from kit.corpus.jobs import job_slug
from kit.infra import kinds
from kit.infra.kinds import Either, Exact, Joined, Kind, Match, Named, Names, Template
from kit.infra.shown import ELSEWHERE, Root
from kit.media.containers import intermediate_path

PIECES = ["a", "b 2", ": ", ", ", "-", "_even", "0123456789", "abcdef", "~0a1b2c", ".mp4", ".mkv", "'", "x"]


def old_pattern(kind: Kind, names: Names) -> str | None:
    """The kind's expression as 2.6.0 made it: every name of `names` an alternative of it."""
    if isinstance(kind, Named):
        return kinds._alternatives(getattr(names, kind.which))
    if kind is values.PATH:
        return values.PATH.regex(names)  # 2.6.0's _Path.pattern, word for word
    if kind is values.SETTING_VALUE:
        return values._setting_value(names).pattern  # of every name, as 2.6.0 compiled it into each message
    if kind is values.CLIP_STEM:
        return kinds._alternatives(c.rsplit(".", 1)[0] for c in names.clips)
    if kind is values.JOB_SLUG:
        return kinds._alternatives(job_slug(n) for n in (*names.sources, *(c.rsplit(".", 1)[0] for c in names.clips)))
    if isinstance(kind, Template):
        words, slots = kinds._cut(kind)
        inner = [old_pattern(k, names) for _, k in slots]
        if any(p is None for p in inner):
            return None
        return "".join(re.escape(w) + (f"(?:{p})" if i < len(inner) else "")
                       for i, (w, p) in enumerate(zip(words, [*inner, ""], strict=True)))
    if isinstance(kind, Either):
        found = [old_pattern(k, names) for k in kind.kinds]
        return None if any(p is None for p in found) else "|".join(f"(?:{p})" for p in found)
    if isinstance(kind, Joined):
        one = old_pattern(kind.kind, names)
        return None if one is None else f"(?:{one})(?:{re.escape(kind.sep)}(?:{one}))*"
    return kind.pattern(names)


def old_admits(kind: Kind, text: str, names: Names) -> bool:
    pattern = old_pattern(kind, names)
    assert pattern is not None, kind.name
    return text == kinds.WITHHELD or re.fullmatch(pattern, text, re.DOTALL) is not None


@st.composite
def drawn_names(draw: st.DrawFn) -> Names:
    stems = draw(st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join), min_size=1,
                          max_size=5, unique=True))
    clips = [f"{s}{draw(st.sampled_from(['.mp4', '.y4m', '.mov']))}" for s in stems if not s.startswith(".")]
    return Names(frozenset(clips), frozenset(s for s in stems if s.strip()), frozenset(draw(st.sampled_from(
        [["box1"], ["box1", "b-2"]]))))


def path_of(draw: st.DrawFn, names: Names) -> str:
    """A path as the kit shows one, or one a part off: a job's folder, a clip, a copy, a layout file, a stray."""
    clips, sources = sorted(names.clips) or ["none.mp4"], sorted(names.sources) or ["none"]
    job = f"{job_slug(draw(st.sampled_from(sources)))}-{'0a1b2c3d4e'}__libx264__cq023"
    clip = draw(st.sampled_from(clips))
    copy = intermediate_path(Path("/"), Path(clip), "").stem[:-17]
    parts = draw(st.lists(st.sampled_from([
        job, job + ".parquet", job + "__samples", f"{job_slug(clip.rsplit('.', 1)[0])}-0a1b2c3d4e", clip,
        f"{copy}-0123456789abcdef.nut", "02_corpus", "jobs", "report.html", "enc.h264", "secret", f"{clip}x",
        f"{job}-", f"-{job}", ""]), max_size=3))
    root = draw(st.sampled_from([Root.OUT_DIR.value, Root.CACHE.value, Root.REF_DIR.value, Root.KIT.value,
                                 ELSEWHERE, "[home]"]))
    if root == Root.REF_DIR.value:
        stem = clip.rsplit(".", 1)[0]
        parts = draw(st.sampled_from([[], [clip], [f"{stem}.mkv"], [f"{stem}_even.mkv"], [stem], parts]))
    if root == Root.KIT.value:
        parts = draw(st.sampled_from([[], ["kit", "cli", "run.py"], [".venv", "bin", "python3"], parts]))
    if root == ELSEWHERE:
        parts = draw(st.sampled_from([[], ["ffmpeg"], ["vainfo"], parts]))
    return "/".join([root, *parts])


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_a_path_is_admitted_part_by_part_as_its_expression_of_every_name_admits_it(data: st.DataObject) -> None:
    names = data.draw(drawn_names())
    text = path_of(data.draw, names)
    assert values.PATH.admits(text, names) == old_admits(values.PATH, text, names), text


RENAMED = Joined("clips and their names", Template("a clip named", "{p} as '{s}'", p=values.PATH, s=values.SOURCE),
                 ", ")
CHANGES = Joined("what changed", Template("a change", "setting {key}: {old} -> {new}", key=values.SETTING_KEY,
                                          old=values.SETTING_VALUE, new=values.SETTING_VALUE))
NAMED_KINDS = [values.CLIP, values.SOURCE, values.SOURCE_NAMED, values.BOX_NAMED, messages.NO_CORRELATION, RENAMED,
               Joined("clips", values.CLIP, ", "), Template("a line", "source {s}: {n} of {c} done", s=values.SOURCE,
                                                            n=values.COUNT, c=values.CLIP),
               messages.JOB_ID, Template("a quoted name", "'{s}'", s=Either("a name", values.SOURCE, values.CLIP_STEM)),
               CHANGES]
SETTING_VALUES = ["3", "{'off':", "{'off':...", "[1, 2]", "'libx264'", "None", "0.5...", "abc...", "12.5"]


def text_of(draw: st.DrawFn, kind: Kind, names: Names) -> str:
    """A text of `kind` made of the names (or of pieces beside them), as the kit would say it or a little off."""
    if draw(st.integers(0, 20)) == 0:
        return kinds.WITHHELD  # admitted whole; inside a message only where a command may stand
    if isinstance(kind, Named):
        return draw(st.sampled_from([*(sorted(getattr(names, kind.which)) or ["none"]), "secret", "a, b 2.mp4"]))
    if kind is values.PATH:
        return path_of(draw, names)
    if kind is values.SETTING_VALUE:
        return draw(st.sampled_from([*SETTING_VALUES, repr(path_of(draw, names)), repr(sorted(names.boxes))]))
    if kind is values.SETTING_KEY:
        return draw(st.sampled_from(["grid", "seeds", "secret"]))
    if kind in (values.CLIP_STEM, values.JOB_SLUG):
        stem = draw(st.sampled_from(sorted(names.clips) or ["none.mp4"])).rsplit(".", 1)[0]
        return draw(st.sampled_from([stem, job_slug(stem), "secret"]))
    if isinstance(kind, Template):
        return kind.say(**{slot: text_of(draw, k, names) for slot, k in kind.slots})
    if isinstance(kind, Either):
        return text_of(draw, draw(st.sampled_from(kind.kinds)), names)
    if isinstance(kind, Joined):
        return kind.sep.join(text_of(draw, kind.kind, names) for _ in range(draw(st.integers(1, 3))))
    if isinstance(kind, Exact) and kind.texts:
        return draw(st.sampled_from(sorted(kind.texts)))
    if isinstance(kind, Match):
        return draw(st.from_regex(kind.regex, fullmatch=True).filter(lambda t: len(t) < 80))
    return draw(st.sampled_from(["", "0", "12", "~0a1b2c", "~zz", "x"]))


def holds_names(kind: Kind) -> bool:
    """Whether a kind looks up names somewhere in it (its expression held every name before)."""
    if kind.looked_up:
        return True
    inner = [k for _, k in kind.slots] if isinstance(kind, Template) else list(kind.kinds) if isinstance(
        kind, Either) else [kind.kind] if isinstance(kind, Joined) else []
    return any(holds_names(k) for k in inner)


def catalogued() -> list[Kind]:
    """Every kind the catalogue's modules declare, each kind inside them too, that holds a name and whose words had an
    expression (a command's are checked otherwise, before and now): the class this change keeps."""
    from kit.bundle import catalogue

    found: dict[int, Kind] = {}
    todo = [v for module in (values, messages, catalogue) for v in vars(module).values() if isinstance(v, Kind)]
    while todo:
        kind = todo.pop()
        if id(kind) in found:
            continue
        found[id(kind)] = kind
        todo += [k for _, k in kind.slots] if isinstance(kind, Template) else list(kind.kinds) if isinstance(
            kind, Either) else [kind.kind] if isinstance(kind, Joined) else []
    return sorted((k for k in found.values() if holds_names(k) and old_pattern(k, Names()) is not None),
                  key=lambda k: k.name)


CATALOGUED = catalogued()


def test_the_catalogue_holds_kinds_of_names_to_draw() -> None:
    assert len(CATALOGUED) > 20 and {values.PATH, values.SOURCE, values.CLIP, messages.JOB_ID} <= set(CATALOGUED)


def admits_as_its_expression(data: st.DataObject, kinds: Sequence[Kind]) -> None:
    """A kind drawn of `kinds`, a text of it drawn (a piece cut off or glued on, at times): admitted as the kind's
    expression of every name admitted it."""
    names = data.draw(drawn_names())
    kind = data.draw(st.sampled_from(kinds))
    text = text_of(data.draw, kind, names)
    if data.draw(st.booleans()):  # a piece cut off or glued on
        text = data.draw(st.sampled_from([text[:-1], text[1:], text + ", ", text + "x", ": " + text]))
    assert kind.admits(text, names) == old_admits(kind, text, names), (kind.name, text)


@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_every_catalogued_kind_holding_names_admits_what_its_expression_of_every_name_admitted(
        data: st.DataObject) -> None:
    admits_as_its_expression(data, CATALOGUED)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_each_kind_holding_names_admits_what_its_expression_of_every_name_admitted(data: st.DataObject) -> None:
    admits_as_its_expression(data, NAMED_KINDS)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_setting_value_is_compiled_of_the_names_it_holds_alone(data: st.DataObject) -> None:
    names = data.draw(drawn_names())
    path = path_of(data.draw, names)
    box = data.draw(st.sampled_from([*sorted(names.boxes), "other"]))
    text = data.draw(st.sampled_from([repr(path), f"PosixPath({path!r})", f"[{path!r}, {box!r}]", box, "12",
                                      repr(path)[:60] + "...", f"{{'a': {box!r}}}"]))
    every = values._setting_value(names).fullmatch(text) is not None
    assert values.SETTING_VALUE.admits(text, names) == every, text
