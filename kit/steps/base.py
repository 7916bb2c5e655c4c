"""The contract every numbered step shares: a step declares the settings and upstream inputs it depends on (`plan`,
pure apart from hashing files) and `run`s, emitting events and returning its outputs."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, TypeVar

from kit.errors import InputError, KitError
from kit.events import Emit, Info
from kit.infra.files import remembered_sha256, sha256_json, version_of
from kit.infra.host import box_places, cache_tree
from kit.infra.limits import MAX_GROWING_JSON_BYTES
from kit.infra.records import Record, keep, read_record
from kit.infra.rules import Check
from kit.infra.shown import Places
from kit.infra.tree import Tree
from kit.media.ffmpeg import resolve_ffmpeg
from kit.media.libvmaf import BUILTIN_TEACHERS
from kit.platforms.prereqs import Prereqs, corpus_only_reason
from kit.platforms.prereqs import read_prereqs as read_prereqs_record
from kit.rundir import STEP_NAMES, RunDir
from kit.steps.records import read_step_record
from kit.steps.settings import RunSettings, settings_command
from kit.steps.view import settings_fingerprint, view_of

R = TypeVar("R", bound=Record)


@dataclass
class Context:
    whole: RunSettings  # the run's settings: its out-dir, and the commands a hint prints; a step reads `settings`
    emit: Emit
    log: Callable[[str], None]
    tree: Tree  # the out-dir, opened once by the runner: every file a step writes or trusts goes through it
    forced: bool = False  # --force / --from: redo the step's work, not only its bookkeeping
    step: str = ""  # the step this context runs ("": the runner's own, which reads the whole settings)
    # whether this command trains on what the step makes (LOSO among its steps): a corpus made alone (`step corpus`,
    # --only corpus, a box that cannot train) is sent whatever its count of contents; LOSO's minimum is LOSO's
    trains: bool = True
    # a training task (`step loso --train-task K/N`): it checks LOSO's memory alone, the gather the steps after it
    train_task: bool = False

    @property
    def settings(self) -> RunSettings:
        """The settings as this step sees them: what its fields declare it changes or reads, the rest refused."""
        return view_of(self.whole, self.step) if self.step else self.whole

    def ahead(self, step: str) -> RunSettings:
        """The settings as a later `step` sees them, for this step's forecast of that step's work (the run's time
        left, never an output of this one)."""
        assert STEP_NAMES.index(step) > STEP_NAMES.index(self.step), (self.step, step)
        return view_of(self.whole, step)

    def fingerprint(self, resolved: Mapping[str, object] | None = None, facts: Mapping[str, object] | None = None,
                    models: bool = True) -> dict[str, object]:
        """This step's settings fingerprint (Plan.settings), made from the settings' declarations alone
        (kit.steps.view.settings_fingerprint): `resolved`, the values the step works with in place of settings;
        `facts`, what it found that no setting holds; `models`, False where it makes none."""
        return settings_fingerprint(self.whole, self.step, resolved, facts, models)

    def for_step(self, step: str) -> Context:
        return replace(self, step=step)

    def say(self, step: str, line: str) -> None:
        self.log(line)
        self.emit(Info(step, line))

    @functools.cached_property
    def places(self) -> Places:
        """The box's folders, as what this run sends shows them (kit.infra.shown; --keep-paths is the bundle's). Read
        through the step's view: --ref-dir's field names the steps that show paths by it (the corpus, whose outputs
        it changes; the bundle, which reads it), and the out-dir changes no step's outputs."""
        return box_places(self.settings.out_dir, self.settings.ref_dir)

    @property
    def run(self) -> RunDir:
        return RunDir(self.whole.out_dir)

    @property
    def corpus_only(self) -> str | None:
        """Why this box makes the corpus alone (torch, onnx or onnxruntime do not import; or, for the steps after the
        corpus, the corpus its clips made has too few contents: cannot_train), else None."""
        prereqs = recorded_prereqs(self)
        why = corpus_only_reason(deep=prereqs is not None and not (prereqs.can_train and prereqs.can_export))
        return why if why is not None or self.step == "corpus" else self.cannot_train

    @property
    def cannot_train(self) -> str | None:
        """Why LOSO cannot train on the corpus this out-dir's corpus step made, as the step recorded it (its clips
        leave fewer contents than LOSO needs), else None."""
        status = self.run.status("corpus")
        if not self.tree.is_file(status):
            return None
        record, _ = read_step_record(self.tree, status)
        said = record.summary.get(CANNOT_TRAIN_KEY) if record is not None else None
        why = said.get("why") if isinstance(said, dict) else None  # a dict: the step's done line leaves it out
        return why if isinstance(why, str) and why else None


def recorded_prereqs(ctx: Context) -> Prereqs | None:
    """prereqs.json as the prereqs step wrote it; None where there is none yet, or it cannot be read."""
    return read_prereqs_record(ctx.tree, ctx.run.prereqs_json)[0] if ctx.tree.is_file(ctx.run.prereqs_json) else None


def rerun(ctx: Context, *words: str | Path) -> str:
    """A command that reruns part of this run, as a hint prints it (settings_command; without a run.json, said so)."""
    if ctx.tree.is_file(ctx.run.run_json):
        return settings_command(ctx.whole, ctx.run.run_json, *words)
    return settings_command(ctx.whole, None, *words) + f" (with the run's other flags: no {ctx.run.run_json} yet)"


# the key of a step's summary (status.json) listing what it left out for a cause a rerun can change (the box's or the
# moment's: a child that stalled or was killed from outside, the clip changed under its jobs): the runner reruns a step
# whose summary holds one (kit.steps.runner.stale_reason), which redoes those clips' jobs alone
RETRY_KEY = "retry"
# the corpus step's summary key (status.json) saying why LOSO cannot train on this box's corpus though the command
# trains (its clips leave fewer contents than LOSO needs): the run then bundles the corpus alone, for the lead
# (Context.corpus_only, kit.steps.runner), and ends 1, no verdict (docs/collaborator.md, "Exit codes")
CANNOT_TRAIN_KEY = "cannot_train"


@dataclass(frozen=True)
class Plan:
    """What a step depends on (fingerprinted): settings, upstream digests, `formats`; `prepared`: what run reuses."""

    settings: dict[str, object]
    inputs: dict[str, str]
    prepared: object = None
    formats: dict[str, int] = field(default_factory=dict)


@dataclass
class Outcome:
    outputs: list[Path]
    summary: dict[str, object] = field(default_factory=dict)
    exit_code: int = 0


class StepCode(Protocol):
    name: str

    def plan(self, ctx: Context) -> Plan: ...

    def run(self, ctx: Context, plan: Plan) -> Outcome: ...


def require_output(ctx: Context, path: Path, producer: str, again: str = "") -> Path:
    """An upstream output exactly as step `producer` wrote it: missing, unfinished or edited since is refused, naming
    the file and how to make it again (`again`: the command; else the producer rerun alone, forced)."""
    status, tree = ctx.run.status(producer), ctx.tree

    def make_again() -> str:  # made only for a refusal: a command line costs `status` a look at the out-dir
        return again or rerun(ctx, "step", producer, "--force")

    for found in (path, status):  # a link or a pipe in its place is said as what it is, never as missing
        if (entry := tree.entry(found)) is not None and (what := entry.planted) is not None:
            raise InputError(f"{found} is {what}, not a file step '{producer}' wrote: the kit reads nothing through "
                             "it", hint=f"look at it (ls -l {found}) and remove it (the kit never makes one), then "
                                        f"rerun that step: {make_again()}")
    if not tree.is_file(status):
        raise InputError(f"{path} is missing: step '{producer}' has not completed in {ctx.run.root}",
                         hint=f"run it first: {rerun(ctx, 'step', producer)}")
    record, _ = read_step_record(tree, status)
    recorded = record.outputs.get(ctx.run.rel(path)) if record is not None else None
    if recorded is not None and not tree.is_file(path):
        raise InputError(f"{path} is missing: step '{producer}' made it (its status.json records its sha256) and it "
                         "has been removed since", hint=f"make it again: {make_again()}")
    if not tree.is_file(path):
        raise InputError(f"{path} is missing: step '{producer}' has not completed in {ctx.run.root}",
                         hint=f"run it first: {rerun(ctx, 'step', producer)}")
    if recorded is None:
        said = "is damaged" if record is None else "does not record it"
        raise InputError(f"{path} cannot be trusted: the status.json of step '{producer}' {said}",
                         hint=f"rerun that step (it rebuilds its record): {make_again()}")
    if recorded != cached_sha256(tree, path):
        raise InputError(f"{path} was changed after step '{producer}' wrote it (its sha256 differs from the "
                         f"{recorded[:12]}… that step recorded)",
                         hint=f"restore it, or make it again: {make_again()}")
    return path


def read_output(tree: Tree, cls: type[R], path: Path, hint: str) -> R:
    """A record an earlier step wrote (require_output checked it first), read by its fields' rules: one that does not
    read as its record (a value of another type or past its rule, which its writer never makes) is refused naming the
    file and the field, with `hint` (the step that makes it, rerun), never an internal error. Read to the bound of the
    records that grow with the union (LOSO's seed reports: 42 MB at 50,000 contents; its baselines 171 MB)."""
    try:
        return cls.from_json(tree.read_json(path, MAX_GROWING_JSON_BYTES), str(path))
    except ValueError as exc:  # RecordError, Refused, JsonRefused
        raise InputError(f"{path} is damaged: {exc}", hint=f"make it again: {hint}") from None


def recorded_corpus(ctx: Context, recorded: str) -> Path:
    """The corpus a LOSO report or the verdict names (`recorded`, RunDir.recorded), found where the out-dir is now:
    this out-dir's shard by its relative path; a kit before 2.2.0 recorded it by the absolute path the out-dir had
    then, which a run with no --corpus (whose LOSO reads this out-dir's shard) takes as this out-dir's shard. The
    caller checks the corpus found against the record's sha256."""
    run = ctx.run
    if ctx.settings.corpus is None and Path(recorded).is_absolute() and run.names_shard(recorded):
        return run.shard
    return run.found(recorded)


DIGESTS = "digests"  # the kit's cache's folder of KeptDigest records
DIGESTS_VERSION = "digest1"  # raise it with any change of what a key names: no record of before is read
DIGEST_MIN_BYTES = 1 << 20  # a smaller file is hashed again: reading its kept digest costs what hashing ~0.3 MiB does


SHA256_TEXT = Check(lambda v: None if isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) else
                    "is not a sha256 (64 lowercase hex digits)", "a sha256: 64 lowercase hex digits")


@dataclass(frozen=True)
class KeptDigest(Record):
    """The kit's cache's `digests/<key>.json`: the sha256 of one version of a file of DIGEST_MIN_BYTES or more below an
    out-dir (`key`, its name's first 32 characters: of DIGESTS_VERSION and the file's path, device, inode, size,
    mtime and ctime as the out-dir's Tree sees them), kept whole so that a record under another's name is never read.
    A run keeps it as it hashes the file; `status` reads it rather than the file (issue 77: its cost does not grow
    with the out-dir's size)."""

    key: str
    sha256: str = field(metadata=keep(SHA256_TEXT))


def cached_sha256(tree: Tree, path: Path) -> str:
    """The sha256 of a file below `tree`: this process's memo of it (remembered_sha256), and for a file of
    DIGEST_MIN_BYTES or more the kit's cache's across processes, per version of the file (KeptDigest: a run keeps it,
    `status`, its tree opened to read, keeps nothing). A record missing, damaged or of another key: hashed again; so
    is every file on Windows (whose ctime is the file's creation: an edit in place with its size and mtime put back
    would keep its key) and where the kit may not use its cache (kit.infra.host.cache_refused)."""
    if (found := tree.entry(path)) is None:
        raise FileNotFoundError(2, "No such file or directory", str(path))
    st = found.st
    if st.st_size < DIGEST_MIN_BYTES or os.name == "nt":
        return remembered_sha256(path, st, tree.sha256)
    key = sha256_json([DIGESTS_VERSION, str(path), *version_of(st)])
    try:
        cache = cache_tree()
    except InputError:  # a cache writable by others: passed by, as ffmpeg's answers pass it (media.ffmpeg)
        return remembered_sha256(path, st, tree.sha256)
    record = cache.root / DIGESTS / f"{key[:32]}.json"
    kept, _ = read_record(KeptDigest, cache, record)
    if kept is not None and kept.key == key:
        return kept.sha256
    digest = remembered_sha256(path, st, tree.sha256)
    if not tree.rules.reading:
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs the next look a hash
            cache.write_json(record, KeptDigest(key, digest).to_json())
    return digest


def read_prereqs(ctx: Context) -> Prereqs:
    """prereqs.json as step 01 wrote it (its sha256 checked); a damaged one is refused."""
    path = require_output(ctx, ctx.run.prereqs_json, "prereqs")
    prereqs, why = read_prereqs_record(ctx.tree, path)
    if prereqs is None:
        raise InputError(f"{path} is {why}",
                         hint="rerun the prereqs step, which rebuilds it: "
                              + rerun(ctx, "step", "prereqs", "--force"))
    return prereqs


def teacher_sources(ctx: Context) -> tuple[Path | None, Path | None]:
    """The ffmpeg the prereqs step chose (or would choose) and --teacher's model file (None for a built-in)."""
    prereqs = recorded_prereqs(ctx)
    ffmpeg: Path | None = Path(prereqs.ffmpeg.path) if prereqs is not None else None
    if ffmpeg is None:
        with contextlib.suppress(KitError):  # no ffmpeg at all: the teacher is then said not reproduced
            ffmpeg = Path(resolve_ffmpeg(str(ctx.settings.ffmpeg) if ctx.settings.ffmpeg else None).path)
    teacher = ctx.settings.teacher
    return ffmpeg, None if teacher in BUILTIN_TEACHERS else Path(teacher)


def seconds_since(start: float) -> float:
    return round(time.monotonic() - start, 3)
