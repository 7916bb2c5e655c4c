"""Every record the kit writes and reads back, every field (issue 75, item 2).

The fields are generated from the records' declarations (kit/infra/records.py's Record classes, walked at any depth:
the records a field holds, alone, in a list or in a dict), so a new field is covered without editing this test. Each
field of each record read back is given each malformed value its declaration calls for: a value of another type,
null, the key left out, an extra key beside it, and for a number or a stamp the values past its rule (below its
lower bound, past its upper, NaN, an infinity, 10**30, a date that is none); each must be read by the file's own
reader as its rule says: refused naming the file and the field (exit 2: a settings rule, a LOSO member's record), or
read as absent with the field named in the reason (the run directory's control files and caches: rebuilt), or read
as it is where the value keeps the declaration (an extra key, a key a LENIENT record may lack). A number or a `*_utc`
field that declares no rule fails the test, naming it: the rule is what keeps a huge or NaN value from a reader
downstream (kit.infra.clock.seconds_since_utc raised ValueError on `2026-13-45T25:61:61Z`: `status` exit 70).

Whole commands on such files: tests/pipeline/test_record_fields_read.py.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import math
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kit.bundle.aside import BundleLedger
from kit.bundle.conformal import SplitConformal, read_calibration
from kit.corpus.commit import Commit
from kit.corpus.failures import Repeats
from kit.corpus.jobs import JobLedger, RedoStamp
from kit.corpus.manifests import MergeManifest, ShardManifest, manifest_or_why
from kit.corpus.progress import JobsPlan
from kit.errors import KitError
from kit.infra.archive import ResultsManifest
from kit.infra.changes import field_rules
from kit.infra.keyring import KnownBoxes
from kit.infra.keys import ChainHead, Signer
from kit.infra.records import Record, RecordError, keeps, read_record
from kit.infra.rules import Check, Each, Inside, Keys, Off, OneOf, Real, Release, Stamp, Whole
from kit.infra.shown import KeptText
from kit.infra.tree import Tree
from kit.media.discovery import SkippedClips
from kit.media.ffmpeg import BinaryAnswer
from kit.media.fingerprint import FrameTimes
from kit.model.incumbent import find_incumbent
from kit.model.results import BaselineResult, Baselines, EnsembleMembers, SeedReport
from kit.model.tasks import MemberRecord
from kit.platforms.encoders import HwArgs
from kit.platforms.grids import CqGrid
from kit.platforms.prereqs import Prereqs
from kit.platforms.probe import ProbeResult
from kit.platforms.teacher import SizeAnswer, kept_size_answer
from kit.rundir import ENSEMBLE_MANIFEST
from kit.steps.base import KeptDigest, read_output
from kit.steps.records import RunRecord, StepRecord, read_run_record
from kit.steps.settings import RunSettings
from kit.verdict.ceiling import ConsumerJudged, ConsumerTally
from kit.verdict.document import Verdict, read_verdict
from kit.verdict.regimes import FrameRegime
from tests.conftest import ROOT

STAMP_TEXT = "2026-11-27T10:00:00Z"
NOT_A_DATE = "2026-13-45T25:61:61Z"  # the issue's: the shape of a stamp, no date
Outcome = tuple[str, str]  # ("read" | "absent" | "refused", the words said)


def control(cls: type[Record]) -> Callable[[Tree, Path], Outcome]:
    """A run directory's control file or a cache's record (kit.infra.records.read_record): a damaged one is absent,
    the reason naming the field; one breaking a settings rule is refused."""
    def read(tree: Tree, path: Path) -> Outcome:
        try:
            record, why = read_record(cls, tree, path)
        except KitError as exc:
            return "refused", exc.message
        return ("read", "") if record is not None else ("absent", why)

    return read


def run_json(tree: Tree, path: Path) -> Outcome:
    try:
        record, why = read_run_record(tree, path)
    except KitError as exc:
        return "refused", exc.message
    return ("read", "") if record is not None else ("absent", why)


def given(cls: type[Record]) -> Callable[[Tree, Path], Outcome]:
    """A record read as it is given (a probe cache's entry, a results tarball's manifest, a LOSO member's record:
    their readers catch RecordError, TypeError and ValueError and say it, each its way)."""
    def read(tree: Tree, path: Path) -> Outcome:
        try:
            cls.from_json(json.loads(path.read_text()), path.name)
        except (RecordError, TypeError, ValueError) as exc:
            return "absent", str(exc)
        return "read", ""

    return read


def corpus_manifest(tree: Tree, path: Path) -> Outcome:
    """A corpus's manifest beside it (kit.corpus.manifests.manifest_or_why: merge, run --corpus, corpus info)."""
    corpus = path.with_name("c.parquet")
    path.rename(corpus.with_name("c.manifest.json"))
    try:
        manifest, why = manifest_or_why(corpus)
    except KitError as exc:
        return "refused", exc.message
    return ("read", "") if manifest is not None else ("absent", why)


def verdict_file(tree: Tree, path: Path) -> Outcome:
    """The verdict document (kit.verdict.document.read_verdict: the summary, the report, the bundle step, what is
    sent): a damaged one is refused naming the file and the field (exit 2)."""
    try:
        read_verdict(tree, path)
    except KitError as exc:
        return "refused", exc.message
    return "read", ""


def loso_output(cls: type[Record]) -> Callable[[Tree, Path], Outcome]:
    """A record LOSO wrote that the verdict step reads (kit.steps.base.read_output): a damaged one is refused naming
    the file and the field, with LOSO rerun as the hint (exit 2)."""
    def read(tree: Tree, path: Path) -> Outcome:
        try:
            read_output(tree, cls, path, "rerun LOSO")
        except KitError as exc:
            return "refused", exc.message
        return "read", ""

    return read


def checked_after(reader: Callable[[Tree, Path], object], unread: str) -> Callable[[Tree, Path], Outcome]:
    """A reader that checks more once its record is read (an incumbent's ONNX files, the sidecar's method and count):
    its refusal that says the record did not read (`unread` in it) is the record's; another, after it read, is not."""
    def read(tree: Tree, path: Path) -> Outcome:
        try:
            reader(tree, path)
        except KitError as exc:
            return ("refused", exc.message) if unread in exc.message else ("read", "")
        return "read", ""

    return read


def incumbent(tree: Tree, path: Path) -> object:
    """--incumbent's ensemble manifest (kit.model.incumbent.find_incumbent: its folder holds ensemble.json)."""
    return find_incumbent(path.rename(path.with_name(ENSEMBLE_MANIFEST)).parent)
def size_answer(tree: Tree, path: Path) -> Outcome:
    """The teacher check's answer for one size, in the kit's cache (kit.platforms.teacher.kept_size_answer, as the
    corpus step reads it): a damaged one is absent, said once naming the file and the field, and checked again."""
    cause, damaged = kept_size_answer(tree, path)
    if cause is not None:
        return "read", ""
    assert damaged is not None and str(path) in str(damaged), damaged  # the file named, as the corpus log says it
    return "absent", str(damaged)


@dataclass(frozen=True)
class ReadBack:
    file: str  # as the run directory or the kit's cache holds it
    cls: type[Record]
    read: Callable[[Tree, Path], Outcome]


# every file the kit writes and reads again (issue 75's list): its record and its reader
READ_BACK = [
    ReadBack("02_corpus/plan.json", JobsPlan, control(JobsPlan)),
    ReadBack("02_corpus/jobs/<job>.json", JobLedger, control(JobLedger)),
    ReadBack("02_corpus/redo.json", RedoStamp, control(RedoStamp)),
    ReadBack("02_corpus/skipped.json", SkippedClips, control(SkippedClips)),
    ReadBack("02_corpus/repeats.json", Repeats, control(Repeats)),
    ReadBack("run.json", RunRecord, run_json),
    ReadBack("<step>/status.json", StepRecord, control(StepRecord)),
    ReadBack("01_prereqs/prereqs.json", Prereqs, control(Prereqs)),
    ReadBack("probe cache entry", ProbeResult, given(ProbeResult)),
    ReadBack("02_corpus/shard.manifest.json", ShardManifest, corpus_manifest),
    ReadBack("<stem>.manifest.json", MergeManifest, corpus_manifest),
    ReadBack("03_loso/members/<member>.json", MemberRecord, given(MemberRecord)),
    ReadBack("05_bundle/ledger.json", BundleLedger, control(BundleLedger)),
    ReadBack("results tarball manifest.json", ResultsManifest, given(ResultsManifest)),
    # its signer's block, read again from the document as signed (kit.infra.keys.checked_signature)
    ReadBack("results tarball manifest.json's box_key", Signer, given(Signer)),
    ReadBack("04_verdict/PROMOTE.json", Verdict, verdict_file),
    ReadBack("03_loso/seed_<n>.json", SeedReport, loso_output(SeedReport)),
    ReadBack("03_loso/baselines.json", Baselines, loso_output(Baselines)),
    ReadBack("03_loso/incumbent.json", BaselineResult, loso_output(BaselineResult)),
    ReadBack("04_verdict/calibration.json", SplitConformal,
             checked_after(read_calibration, "is not a split-conformal sidecar")),
    ReadBack("--incumbent's ensemble.json", EnsembleMembers, checked_after(incumbent, "not a readable ensemble")),
    ReadBack("merge's .<name>.merge-commit.json", Commit, given(Commit)),
    ReadBack("the kit's cache: teacher-sizes/<key>.json", SizeAnswer, size_answer),
    ReadBack("the kit's cache: ffmpeg-answers/<key>.json", BinaryAnswer, control(BinaryAnswer)),
    ReadBack("the kit's cache: digests/<key>.json", KeptDigest, control(KeptDigest)),
    ReadBack("the kit's cache: box-key/chains/<name>.json", ChainHead, control(ChainHead)),
    ReadBack("the lead's cache: known-boxes.json", KnownBoxes, control(KnownBoxes)),
    # a fingerprint's frame times, in its entry of the kit's cache (kit.media.cache._print_from: a damaged entry is left
    # out, computed again and said) and in a shard's manifest (ClipEntry.times, walked there)
    ReadBack("the kit's cache: sha256.json's fingerprint entries (their times)", FrameTimes, given(FrameTimes)),
]


# -- the declarations, walked --------------------------------------------------------------------------------------
def arms(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, __import__("types").UnionType) else (tp,)


def real_type(tp: Any) -> tuple[Any, bool]:
    """The type read (an optional's other arm) and whether null is one of its arms."""
    real = [a for a in arms(tp) if a is not type(None)]
    return (real[0] if len(real) == 1 else Any), len(real) < len(arms(tp))


def rules_of(f: dataclasses.Field[Any]) -> tuple[Any, ...]:
    return (*keeps(f), *field_rules(f))


def is_record(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Record)


def item_type(tp: Any) -> Any:
    """A list's or tuple's items' type (`tuple[X, ...]`'s X), a dict's values'."""
    args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    return args[-1] if args else Any


def example(tp: Any, rules: tuple[Any, ...] = ()) -> Any:
    """A value of `tp` that keeps `rules`, one item in each container (so that the fields below are walked)."""
    tp, _ = real_type(tp)
    origin = typing.get_origin(tp)
    each = tuple(r.item for r in rules if isinstance(r, Each))
    if is_record(tp):
        return document(tp)
    if origin in (list, tuple):  # as many as a rule of its length asks (a spread's coefficients), else one
        one = [example(item_type(tp), each)]
        checks = [r for r in rules if isinstance(r, Check)]
        return next((one * n for n in range(1, 65) if all(c.problem(one * n) is None for c in checks)), one)
    if origin is dict:
        return {"k": example(item_type(tp), each)}
    for rule in rules:
        rule = rule.rule if isinstance(rule, Off) else rule
        if isinstance(rule, Stamp):
            return STAMP_TEXT
        if isinstance(rule, OneOf):
            return rule.choices[0]
        if isinstance(rule, Whole):
            return max(rule.lo, 1) if rule.hi is None or rule.hi >= 1 else rule.lo
        if isinstance(rule, Real) and rule.hi_open and rule.lo is not None and rule.hi is not None:
            return (rule.lo + rule.hi) / 2  # an open bound: within it
        if isinstance(rule, Real):
            return max(rule.lo or 0.0, 1.0) if rule.hi is None or rule.hi >= 1 else rule.lo
        if isinstance(rule, Release):
            return "2.3.0"
        if isinstance(rule, Check):  # a rule of a layer above: the first of the usual shapes it keeps
            return next(v for v in CHECK_CANDIDATES if rule.problem(v) is None)
    return {int: 1, float: 1.0, str: "x", bool: False, Path: "/x"}.get(tp, "x")


# a Check's example: text, a sha256 (or a public key), a number, a path, a signature, "" (nothing recorded)
CHECK_CANDIDATES = ("x", "0" * 64, 1, 1.0, "/x", "0" * 128, "")


@functools.cache
def document(cls: type[Record]) -> dict[str, Any]:
    """A document `cls` reads: its defaults where a record of settings keeps them, one of everything else (made once
    per class: each case changes a copy, kit.infra.records reads it anew)."""
    if cls is RunSettings:
        return RunSettings(out_dir=Path("/x/out")).to_json()
    hints = typing.get_type_hints(cls)
    doc: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("flatten"):
            continue
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        tp, _ = real_type(hints[f.name])
        if has_default and not rules_of(f) and not is_record(tp) and not typing.get_origin(tp) and \
                f.default is not None:
            doc[f.name] = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            doc[f.name] = json.loads(json.dumps(doc[f.name], default=str))
        else:
            doc[f.name] = example(hints[f.name], rules_of(f))
    return doc


@dataclass(frozen=True)
class Field:
    """One field of a record read back, where its document holds it."""

    cls: type[Record]  # the record that declares it
    f: dataclasses.Field[Any]
    tp: Any
    at: tuple[str | int, ...]  # its place in the root's document
    held: bool = False  # within a setting whose rules check the record it holds (--cqs' CqGrid, --shard's ShardSpec)

    @property
    def key(self) -> str:
        return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in self.at).removeprefix(".")


def walk(cls: type[Record], at: tuple[str | int, ...] = (), held: bool = False) -> Iterator[Field]:
    """Every field of `cls` and of the records it holds, at any depth (a list's first item, a dict's `k`)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("flatten"):
            continue
        here = (*at, f.name)
        yield Field(cls, f, hints[f.name], here, held)
        tp, _ = real_type(hints[f.name])
        while typing.get_origin(tp) in (list, tuple, dict):
            here = (*here, "k" if typing.get_origin(tp) is dict else 0)
            tp, _ = real_type(item_type(tp))
        if is_record(tp) and tp is not cls:
            yield from walk(tp, here, held or bool(field_rules(f)))


# -- the malformed values each field is given ----------------------------------------------------------------------
MISSING = object()


def wrong_types(tp: Any) -> list[Any]:
    tp, optional = real_type(tp)
    origin = typing.get_origin(tp)
    kind = list if origin in (list, tuple) else dict if origin is dict or is_record(tp) else tp
    others = {int: ["1", 1.5, True], float: ["1.5", True], str: [5, True], bool: [1, "yes"], Path: [5, ""],
              list: ["x", {"k": 1}], dict: [[], "x"]}
    return [*others.get(kind, []), *([] if optional else [None])]


def breakers(rules: tuple[Any, ...], tp: Any = None) -> list[Any]:
    """The values past `rules`: for a number its bounds' neighbours, NaN, the infinities and 10**30; for a stamp a
    date that is none; for a choice a word that is none; inside a container (of type `tp`), as its item."""
    out: list[Any] = []
    for rule in rules:
        rule = rule.rule if isinstance(rule, Off) else rule
        if isinstance(rule, Each):
            inner, _ = real_type(tp)
            mapping = typing.get_origin(inner) is dict
            out += [{"k": v} if mapping else [v] for v in breakers((rule.item,), item_type(inner))]
        elif isinstance(rule, Whole):
            out += [rule.lo - 1, 10**30, *([rule.hi + 1] if rule.hi is not None else [])]
        elif isinstance(rule, Real):
            out += [math.inf, -math.inf, 1e308, *([] if rule.nan else [math.nan])]
            out += [rule.lo - 1] if rule.lo is not None else []
        elif isinstance(rule, Stamp):
            out += [NOT_A_DATE, "2026-02-30T00:00:00Z", "yesterday"]
        elif isinstance(rule, OneOf):
            out += ["not-one-of-them"]
        elif isinstance(rule, Release):  # a version no kit writes (issue 91, item 6)
            out += ["v2.4.0", "", "latest"]
        elif isinstance(rule, Keys):  # a dict whose key breaks its rule (a path out of the out-dir: issue 91, item 5)
            inner, _ = real_type(tp)
            out += [{key: example(item_type(inner))} for key in breakers((rule.item,), str)]
        elif isinstance(rule, Inside):  # a path a record names that leaves its folder (issue 91, item 5)
            out += ["a/b", ".", "..", ""] if rule.name else \
                [*([] if rule.elsewhere else ["/etc/passwd"]), "../x", "02_corpus/../../x", "..", ""]
        elif isinstance(rule, KeptText):  # no text, and objects that are not spelled_document's
            out += [5, [], {"spelled": "x"}, {"spelled": [5]}, {"spelled": [], "escape": "no-such-escape"}]
    return out


def breaks(f: Field, value: Any) -> bool:
    """Whether `value` breaks `f`'s type or one of its rules (a null where null reads as NaN keeps a float's type)."""
    tp, optional = real_type(f.tp)
    if value is None:
        return not (optional or (tp is float and not any(isinstance(r, Real) and not r.nan for r in rules_of(f.f))))
    if value in wrong_types(f.tp) and type(value) in (str, int, float, bool, list, dict) and \
            any(type(value) is type(w) and value == w for w in wrong_types(f.tp)):
        return True
    return any(broken_by(rule, value) for rule in rules_of(f.f))


def broken_by(rule: Any, value: Any) -> bool:
    if isinstance(rule, Keys) and isinstance(value, dict):
        return any(broken_by(rule.item, k) for k in value)
    if isinstance(rule, Each) and isinstance(value, list | dict):
        return any(broken_by(rule.item, v) for v in (value.values() if isinstance(value, dict) else value))
    return rule.problem(value) is not None


def cases() -> Iterator[tuple[ReadBack, Field, str, Any]]:
    for rb in READ_BACK:
        for f in walk(rb.cls):
            values = [*wrong_types(f.tp), *breakers(rules_of(f.f), f.tp)]
            for value in values:
                yield rb, f, repr(value)[:40], value
            yield rb, f, "missing", MISSING


CASES = list(cases())


def with_value(doc: dict[str, Any], at: tuple[str | int, ...], value: Any) -> dict[str, Any] | None:
    """`doc` with `value` at `at` (MISSING: the key left out); None where the document holds nothing above it (a
    setting off by default: `--shard`'s record)."""
    doc = json.loads(json.dumps(doc))
    holder: Any = doc
    for step in at[:-1]:
        if not isinstance(holder, dict | list) or (isinstance(holder, dict) and holder.get(step) is None):
            return None
        holder = holder[step]
    if value is MISSING:
        holder.pop(at[-1], None)
    else:
        holder[at[-1]] = value
    return doc


def read_as_the_kit(rb: ReadBack, doc: object, tree: Tree, folder: Path) -> Outcome:
    path = folder / "record.json"
    path.write_text(json.dumps(doc))  # NaN and the infinities as Python's json writes them (NaN, Infinity)
    return rb.read(tree, path)


def may_lack(f: Field) -> bool:
    has_default = f.f.default is not dataclasses.MISSING or f.f.default_factory is not dataclasses.MISSING
    return bool(f.f.metadata.get("omit_none")) or (f.cls.LENIENT and has_default)


# what a record's own reading says beyond its fields' declarations (its docstring says so), and the outcome it gives
OWN_READING: dict[tuple[type[Record], str], tuple[str, str]] = {
    (MergeManifest, "kind"): ("absent", "`merged` tells a merge's manifest from a shard's: without it the document is "
                                        "read as a shard's manifest, and is damaged as one"),
    (ResultsManifest, "files"): ("absent", "what verify checks: a manifest without it is damaged "
                                           "(ResultsManifest.from_json)"),
}
ADAPTED = {HwArgs: "anything that is not the recorded shape reads as no device args (HwArgs.adapted)",
           CqGrid: "a bare list is a grid of a kit before grids per encoder (CqGrid.adapted)"}


def adapted_below(field: Field) -> bool:
    """Whether a record above `field`, or its own record type, reads it its own way (ADAPTED)."""
    tp, _ = real_type(field.tp)
    return (field.cls in ADAPTED and field.cls is HwArgs) or tp in ADAPTED


def outcome(rb: ReadBack, field: Field, value: Any, tree: Tree, folder: Path) -> tuple[str, str, str | None]:
    """How the kit read the record with `value` at `field`: (how, what it said, the problem: None when it is right)."""
    if (changed := with_value(document(rb.cls), field.at, value)) is None:
        return "unset", "", None
    how, said = read_as_the_kit(rb, changed, tree, folder)
    if (own := OWN_READING.get((field.cls, str(field.at[-1])))) is not None and value is MISSING:
        return how, said, None if how == own[0] else f"not {own[0]} as its record reads it: {own[1]}"
    if adapted_below(field) and value not in breakers(rules_of(field.f), field.tp):
        return how, said, None  # the record's own reading takes what it takes (ADAPTED)
    bad = (not may_lack(field)) if value is MISSING else breaks(field, value)
    if not bad:
        return how, said, None if how == "read" else "a value that keeps its declaration was not read"
    if how == "read":
        return how, said, "read as if it were right"
    # the field named: its own key, or (a key left out) `<its record>: lacks '<key>'`
    named = str(field.at[-1]) in said and "Traceback" not in said and "\n" not in said
    return how, said, None if named else "the field is not named"


# the largest matrices (a run's settings, prereqs' encoders, the manifests' sources, the verdict's figures: about
# 5,000 of the 5,400 cases) are wide; the fast tier reads every field of the control files `status` and a rerun read
# (about 2 s of CPU), and the verdict's records of 2.3.0 (below)
RELEASE_ONLY = (RunRecord, Prereqs, ShardManifest, MergeManifest, Verdict)
# the verdict's records added in 2.3.0 and 2.4 (the repeated pictures, what the consumer gates count): the fast
# tier reads every field of theirs (about 1 s of CPU); the suite every field of the verdict's (3,000 cases, 19 s)
VERDICT_IN_CI = (ConsumerTally, ConsumerJudged, FrameRegime)


def problems_of(rb: ReadBack, tree: Tree, folder: Path, held_in: tuple[type[Record], ...] = ()) -> list[str]:
    """Each case of `rb` (of a field declared by one of `held_in`, where given) its reader reads otherwise than by
    the field's rule."""
    problems = []
    for case_rb, field, label, value in CASES:
        if case_rb is rb and (not held_in or field.cls in held_in) and \
                (found := outcome(rb, field, value, tree, folder))[2] is not None:
            problems.append(f"{rb.file} {field.key} = {label}: {found[2]} ({found[0]}: {found[1][:200]})")
    return problems


@pytest.mark.parametrize("rb", [pytest.param(rb, marks=pytest.mark.wide) if rb.cls in RELEASE_ONLY else rb
                                for rb in READ_BACK], ids=[rb.cls.__name__ for rb in READ_BACK])
def test_every_field_of_every_record_read_back_is_read_by_its_rule(rb: ReadBack, tree: Tree, tmp_path: Path) -> None:
    assert read_as_the_kit(rb, document(rb.cls), tree, tmp_path) == ("read", ""), f"{rb.file}: the example"
    assert problems_of(rb, tree, tmp_path) == []


def test_the_verdict_s_records_of_this_release_are_read_by_their_rules(tree: Tree, tmp_path: Path) -> None:
    """Before: no field of theirs declared a rule, and the verdict was read by Verdict.from_json bare (a damaged
    value an internal error, exit 70, or, past a rule it did not declare, a figure: a share of 1e308 printed)."""
    (rb,) = [rb for rb in READ_BACK if rb.cls is Verdict]
    cases = [c for c in CASES if c[0] is rb and c[1].cls in VERDICT_IN_CI]
    assert {c[1].cls for c in cases} == set(VERDICT_IN_CI) and len(cases) > 100
    assert problems_of(rb, tree, tmp_path, VERDICT_IN_CI) == []


@pytest.mark.parametrize("rb", READ_BACK, ids=[rb.cls.__name__ for rb in READ_BACK])
def test_an_extra_key_is_read_past(rb: ReadBack, tree: Tree, tmp_path: Path) -> None:
    """A key the record does not declare (a newer kit's, in a record of its schema) is read past, never refused:
    the control records are read leniently (ARCHITECTURE.md, "Typed results"); a CLOSED record refuses it, and a
    record whose undeclared keys are its values (`flatten`: baselines.json's baselines by name) reads it as one."""
    how, said = read_as_the_kit(rb, {**document(rb.cls), "added_by_a_later_kit": 1}, tree, tmp_path)
    keyed = any(f.metadata.get("flatten") for f in dataclasses.fields(rb.cls))
    assert (how, said) == ("read", "") or rb.cls.CLOSED or (keyed and "added_by_a_later_kit" in said)


def test_every_number_and_stamp_field_read_back_declares_its_rule() -> None:
    """A number (or a container of numbers) or a `*_utc` text of a record read back declares what it keeps
    (`field(metadata=keep(...))`, or a setting's rules): without one, 10**30 or NaN reaches the reader downstream."""
    undeclared = set()
    for rb in READ_BACK:
        for f in walk(rb.cls):
            tp, _ = real_type(f.tp)
            while typing.get_origin(tp) in (list, tuple, dict):
                tp, _ = real_type(item_type(tp))
            stamp = f.f.name.endswith("_utc")
            if (tp in (int, float) or stamp) and not rules_of(f.f) and not f.held:
                undeclared.add(f"{f.cls.__name__}.{f.f.name}")
            if stamp and not any(isinstance(r, Stamp) for r in rules_of(f.f)):
                undeclared.add(f"{f.cls.__name__}.{f.f.name} (a stamp)")
    assert sorted(undeclared) == []


def test_the_cases_cover_every_record_and_the_issue_s_date() -> None:
    covered = {rb.cls for rb, *_ in CASES}
    assert covered == {rb.cls for rb in READ_BACK}
    assert any(rb.cls is JobsPlan and f.key == "started_at_utc" and v == NOT_A_DATE for rb, f, _, v in CASES)
    assert len(CASES) > 500


def test_a_damaged_entry_of_the_kit_s_cache_is_a_miss_and_said(tree: Tree, tmp_path: Path) -> None:
    """The kit's hash cache (clip hashes, masters' looks and refusals, lossless copies): an entry that does not read
    as its kind is left out and computed again, and the reader is told so (the corpus step says it); a damaged file
    alike."""
    from kit.media.cache import MASTER, Sha256Cache

    path = tmp_path / "sha256.json"  # a hash that is none, a master's look of another shape
    path.write_text(json.dumps({"a|1|2": "0" * 64, "b|1|2": "not a sha256", f"{MASTER}c|1|2": "[1, 2]"}))
    cache = Sha256Cache(tree, path)
    assert str(cache.damaged) == f"the kit's cache {path} holds 2 damaged entries: computed again"
    path.write_text("{")
    assert str(Sha256Cache(tree, path).damaged).startswith(f"the kit's cache {path} is unreadable")
    path.write_text(json.dumps({"a|1|2": "0" * 64}))
    assert Sha256Cache(tree, path).damaged is None


def test_the_cache_checks_each_entry_once_and_status_only_the_entries_it_asks(tree: Tree, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache grows with every clip a box has seen. A run re-reads the file at each entry it writes (under the
    lock, so what others wrote stays) and checked every entry at each read: N x M checks for M entries written into
    N. Each entry (a key and its value) is now checked once per process. `status` (reading) checks only the entries
    it asks, so its cost does not grow with the cache; a damaged one it asks is a miss, as a run's is."""
    import kit.media.cache as cache_module
    from kit.infra.files import file_key
    from kit.media.cache import NotRead, Sha256Cache

    checked: list[tuple[str, str]] = []
    valid = cache_module._valid_entry
    monkeypatch.setattr(cache_module, "_valid_entry", lambda k, v: checked.append((k, v)) or valid(k, v))
    clips = [tmp_path / f"{n}.y4m" for n in range(3)]
    for clip in clips:
        clip.write_bytes(clip.name.encode())
    held = {f"{tmp_path}/gone/{n}.mp4|1|2|3|4|5": f"{n:064x}" for n in range(500)}
    damaged = file_key(clips[1])
    path = tmp_path / "sha256.json"
    path.write_text(json.dumps({**held, file_key(clips[0]): "a" * 64, damaged: "not a sha256"}))

    status = Sha256Cache(tree, path, reading=True)
    assert checked == [] and status.damaged is None
    assert status.get(clips[0]) == "a" * 64
    assert checked == [(file_key(clips[0]), "a" * 64)]
    with pytest.raises(NotRead):
        status.get(clips[1])  # damaged: not read, as a missing one
    with pytest.raises(NotRead):
        status.get(clips[2])
    assert [k for k, _ in checked] == [file_key(clips[0]), damaged]
    # every kind of this kit's entries, damaged, asked by `status`: a miss, checked once, never kept as whole
    from kit.media.cache import COPY, MASTER, PICTURES, REFUSED

    kinds = [f"{kind}{file_key(clips[2])}" for kind in (MASTER, PICTURES, COPY, REFUSED)]
    path.write_text(json.dumps({**held, **dict.fromkeys(kinds, "[1, 2]")}))
    checked.clear()
    status = Sha256Cache(tree, path, reading=True)
    assert [status._entry(k) for k in kinds + kinds] == [None] * 8 and [k for k, _ in checked] == kinds
    assert status._data == {}
    path.write_text(json.dumps({**held, file_key(clips[0]): "a" * 64, damaged: "not a sha256"}))

    checked.clear()
    run = Sha256Cache(tree, path)
    assert str(run.damaged) == f"the kit's cache {path} holds 1 damaged entry: computed again"
    for clip in clips[1:]:
        run.get(clip)  # hashed and written: the file read again under its lock each time
    assert len(checked) == len({*checked}), "an entry checked twice"
    assert len(checked) == 502 + 1  # the 502 read first (one damaged), then the one the first write added
    assert json.loads(path.read_text()) == {**held, file_key(clips[0]): "a" * 64,
                                            **{file_key(c): run.get(c) for c in clips[1:]}}


def test_another_kit_version_s_entries_of_the_cache_are_kept_unread_and_never_called_damaged(tree: Tree,
                                                                                            tmp_path: Path) -> None:
    """Two versions of the kit share one cache (an upgrade, a lead keeping the older kit, bench_default's two kits):
    each kind of entry is versioned in its key, and an entry of a kind this kit does not read was called damaged, left
    out and dropped from the file at the next write, so each version decoded every clip again after the other ran
    (2.1.0's master5| entries here, and 2.1.0 drops ours alike). Every kind of every version, past and later, is now
    kept as it was while its file is the version it describes, never read; a clip hash's key (an absolute path) and
    this kit's own kinds are read as before. An entry of a file since changed or gone is let go at a write."""
    from kit.infra.files import file_key
    from kit.media.cache import COPY, MASTER, PICTURES, REFUSED, Sha256Cache

    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a.y4m", "cup.mp4", "m.avi", "c.mkv", "edited.mp4"):
        (clips / name).write_bytes(name.encode())
    a, cup, m, c = (file_key(clips / n) for n in ("a.y4m", "cup.mp4", "m.avi", "c.mkv"))
    ours = {a: "0" * 64}
    # as 2.1.0 wrote them (a master's look, a fingerprint, a lossless copy), earlier 2.x kinds, and a later kit's
    others = {f"master5|{cup}": '[640, 480, "1339/50", "yuv420p", 217, "ab", "t2:x"]', f"print2|{a}": "[1]",
              f"copy1|{m}": "[]", f"master7|{c}": "x", f"print3|yuv:64x64|{a}": "",
              f"refused1|/usr/bin/ffmpeg|1|2|{c}": "{}", f"copy2.7|{m}": "[]", f"master8|{cup}": "2.3.0's before 9",
              f"refused2|/usr/bin/ffmpeg|1|2|{c}": "{}", f"master9|{cup}": "2.3.0's: no stream chosen",
              f"refused3|/usr/bin/ffmpeg|1|2|{c}": "{}", f"master10|{cup}": "2.4's: an MJPEG cover read first",
              f"refused4|/usr/bin/ffmpeg|1|2|{c}": "{}", f"master12|{c}": "not ours to judge",
              f"copy9.12|{c}": "[0]", f"print5|{a}": "[]"}
    assert not any(k.startswith((MASTER, PICTURES, COPY, REFUSED)) for k in others)
    edited, gone = file_key(clips / "edited.mp4"), f"{tmp_path}/gone.mp4|1|2|3|4|5"
    stale = {f"master5|{edited}": "[]", f"master5|{gone}": "[]"}
    (clips / "edited.mp4").write_bytes(b"another version")  # its entry now describes a file no longer there
    path = tmp_path / "sha256.json"
    path.write_text(json.dumps({**ours, **others, **stale}))
    cache = Sha256Cache(tree, path)
    assert cache.damaged is None
    assert cache._data == ours  # never read
    b = file_key(clips / "m.avi")
    cache._add(b, "1" * 64)
    assert json.loads(path.read_text()) == {**ours, **others, b: "1" * 64}
    # a damaged entry of this kit's own kinds beside them is still said and dropped, the others still kept
    path.write_text(json.dumps({**ours, **others, f"{MASTER}{c}": "[1, 2]", "/clips/c|1": "not a sha256"}))
    cache = Sha256Cache(tree, path)
    assert str(cache.damaged) == f"the kit's cache {path} holds 2 damaged entries: computed again"
    cache._add(b, "1" * 64)
    assert json.loads(path.read_text()) == {**ours, **others, b: "1" * 64}


def test_every_other_version_of_every_kind_of_cache_entry_is_kept_and_this_kit_s_own_are_read(tree: Tree,
                                                                                               tmp_path: Path) -> None:
    """The class, generated: each kind this kit writes (a master's look, a fingerprint, a lossless copy, a refusal),
    at every version from 1 to three past this kit's but its own (a copy's both numbers), is kept unread through a
    write and never called damaged; this kit's own version of each kind is read (and a damaged one said)."""
    import re

    from kit.infra.files import file_key
    from kit.media.cache import COPY, MASTER, PICTURES, REFUSED, Sha256Cache

    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"a")
    version = file_key(clip)
    own = (MASTER, PICTURES, COPY, REFUSED)
    others = {}
    for kind in own:
        name, numbers = re.fullmatch(r"([a-z]+)([0-9.]+)\|", kind).groups()  # type: ignore[union-attr]
        parts = [int(n) for n in numbers.split(".")]
        for n in range(1, parts[0] + 4):
            for m in ([*range(1, parts[1] + 4)] if len(parts) == 2 else [None]):
                key = f"{name}{n}{'' if m is None else f'.{m}'}|"
                if key not in own:
                    others[f"{key}{version}"] = "[]"
    assert len(others) > 40
    path = tmp_path / "sha256.json"
    path.write_text(json.dumps({**others, **{f"{kind}{version}": "not json" for kind in own}}))
    cache = Sha256Cache(tree, path)
    assert str(cache.damaged) == f"the kit's cache {path} holds 4 damaged entries: computed again"  # its own, read
    assert cache._data == {}
    cache._add(version, "0" * 64)
    assert json.loads(path.read_text()) == {**others, version: "0" * 64}


# the records kit/ reads by their class that are not a file the kit writes and reads back, and why
NOT_READ_BACK: dict[str, str] = {
    "RunSettings": "a run's settings: read back as run.json's `settings` (RunRecord, walked there) by the one reader "
                   "a --settings file takes too (kit.steps.settings: tests/unit/test_setting_doors.py reads each)",
    "GroupRules": "the user's --content-groups file, which the kit never writes: read_overrides refuses it whole, "
                  "naming the file (exit 2)",
}


# the kit's readers that take the record class to read, and at which argument
READERS = {"read_record": 0, "read_output": 1}


def records_read_in_kit() -> dict[str, set[str]]:
    """Every record class a module of kit/ reads by name (`read_record(X, ...)`, `read_output(tree, X, ...)`,
    `X.from_json(...)`, either arm of a conditional), and the modules that read it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "kit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            at = READERS.get(func.id) if isinstance(func, ast.Name) else None
            read = node.args[at] if at is not None and len(node.args) > at else \
                func.value if isinstance(func, ast.Attribute) and func.attr == "from_json" else None
            for name in ast.walk(read) if read is not None else ():
                if isinstance(name, ast.Name) and name.id[:1].isupper():
                    found.setdefault(name.id, set()).add(path.relative_to(ROOT).as_posix())
    return found


def test_every_record_kit_reads_from_a_file_is_read_back_here() -> None:
    """The class of READ_BACK, enumerated: each record class a module of kit/ reads (read_record or from_json) is a
    file of READ_BACK (a record read within another's reading is one too: its own file's reader is another door), or
    named in NOT_READ_BACK with why. Before: the verdict, LOSO's seed
    documents, baselines and incumbent, the calibration sidecar, an incumbent's ensemble.json and a merge's journal
    were read and none was here."""
    covered = {rb.cls.__name__ for rb in READ_BACK}
    found = records_read_in_kit()
    assert {"Verdict", "SeedReport", "Baselines", "JobsPlan"} <= set(found)  # the scan finds what it is for
    missing = {name: sorted(where) for name, where in found.items() if name not in covered | set(NOT_READ_BACK)}
    assert missing == {}
    assert set(NOT_READ_BACK) <= set(found)  # no stale exemption


@dataclass(frozen=True)
class _Plain(Record):
    """A list, a tuple and a dict of each type a record's container takes whole when every item is of it."""

    texts: list[str]
    counts: list[int]
    reals: tuple[float, ...]
    flags: list[bool]
    named: dict[str, str]
    measured: dict[str, float]


def test_a_container_of_plain_items_reads_as_each_item_read_alone() -> None:
    """kit.infra.records takes a list, tuple or dict whole when every item is exactly its type (a job's ledger's argv
    of 70 words was most of its read, and `status` reads every ledger while a corpus step runs). The class, generated:
    every plain container field given 4,000 mixes of every JSON value (a bool where an int is asked, an int where a
    float is, null, text, nested lists): the record read is the items each read alone, or refused with the same
    words, naming the same item."""
    import random

    from kit.infra.records import _Misfit, _read

    values: list[object] = ["a", "", "é", 0, 7, -3, 2.5, -0.0, True, False, None, [], ["a"], {}, {"k": 1}]
    shapes = {f.name: f.type for f in dataclasses.fields(_Plain)}
    hints = typing.get_type_hints(_Plain)
    rng = random.Random(77)
    for _ in range(4000):
        field = rng.choice(sorted(shapes))
        tp = hints[field]
        is_dict = typing.get_origin(tp) is dict
        item = typing.get_args(tp)[-1] if is_dict else typing.get_args(tp)[0]
        same = rng.random() < 0.5  # half of them all of one value's type, as the kit writes them
        pick = rng.choice(values)
        pool = [v for v in values if type(v) is type(pick)] if same else values
        items = [rng.choice(pool) for _ in range(rng.randint(0, 6))]
        given: object = {f"k{i}": v for i, v in enumerate(items)} if is_dict else items
        document = {**{name: ([] if typing.get_origin(hints[name]) is not dict else {}) for name in shapes},
                    field: given}
        try:
            alone: object = ({k: _read(item, v, (field, k)) for k, v in given.items()} if isinstance(given, dict)
                             else [_read(item, v, (field, i)) for i, v in enumerate(items)])
            expected: object = tuple(alone) if typing.get_origin(tp) is tuple else alone  # type: ignore[arg-type]
        except _Misfit as misfit:
            expected = str(misfit.said("", "_Plain", False))
        try:
            got: object = getattr(_Plain.from_json(document), field)
        except RecordError as exc:
            got = str(exc)
        assert got == expected and type(got) is type(expected), (field, given)
        if isinstance(got, list | tuple):
            assert [type(v) for v in got] == [type(v) for v in expected]  # type: ignore[union-attr]


def test_a_ledger_s_argv_is_taken_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path itself: a job's ledger's argv of 70 words, and every plain container of exactly its type, is
    read with no item read alone (kit.infra.records._scalar is not called for its items)."""
    import kit.infra.records as records
    from kit.corpus.jobs import JobLedger

    alone: list[object] = []
    scalar = records._scalar
    monkeypatch.setattr(records, "_scalar", lambda tp, value, at: alone.append(at) or scalar(tp, value, at))
    argv = [f"-w{i}" for i in range(70)]
    ledger = JobLedger("j", "f" * 64, "a" * 64, 100, 12.5, enc_argv=argv, completed_at_utc="2026-11-28T10:05:00Z")
    assert JobLedger.from_json(ledger.to_json()).enc_argv == argv
    assert not [at for at in alone if "enc_argv" in at]
    _Plain.from_json({"texts": ["a"] * 9, "counts": [1] * 9, "reals": [0.5] * 9, "flags": [True] * 9,
                      "named": {"k": "v"}, "measured": {"k": 1.5}})
    assert not [at for at in alone if len(at) > 1]
