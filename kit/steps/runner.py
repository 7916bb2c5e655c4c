"""Running steps in order with resume: a step is skipped when its recorded fingerprint matches its plan and every
output it recorded still has its sha256, else the reason it reruns is said; status.json is written after the outputs."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from kit import __version__
from kit.errors import EXIT_HOLD, EXIT_PROMOTE, InputError, KitError
from kit.events import Emit, Info, RunStarted, StepFailed, StepFinished, StepSkipped, StepStarted
from kit.infra import interrupts
from kit.infra.clock import utc_iso
from kit.infra.files import named_errors, sha256_json
from kit.infra.host import box_places
from kit.infra.invocation import kit_command
from kit.infra.keys import box_key
from kit.infra.resources import require_address_space
from kit.infra.shown import Places, Spelled, shown_traceback_lines
from kit.infra.tree import LockBusy, Rules, Tree, read_out_dir
from kit.infra.treefs import gone
from kit.infra.variables import TREE_ROOT
from kit.infra.visible import traceback_lines, visible_lines
from kit.model.contract import no_slot_message, unslotted
from kit.model.threads import choose_threads
from kit.platforms.encoders import AUTO
from kit.rundir import STEP_NAMES, RunDir
from kit.steps import STEPS, LazyStep, formats_of, get_step
from kit.steps.base import RETRY_KEY, Context, Plan, cached_sha256, require_output, rerun, seconds_since
from kit.steps.records import StepRecord, read_step_record, write_run_record, write_step_record
from kit.steps.settings import RunSettings


@dataclass(frozen=True)
class Selection:
    steps: tuple[LazyStep, ...]
    forced: frozenset[str]
    corpus_only: str | None = None  # why this box makes the corpus alone (no torch, onnx): no LOSO, no verdict
    # how a run that makes the corpus alone ends: 0 where the box cannot train (it did all it can), 1 (HOLD: no
    # verdict) where it could but its corpus is too small for LOSO (CANNOT_TRAIN_KEY)
    exit_code: int = 0


def select_steps(only: str | None, from_step: str | None, force: bool, corpus_given: bool,
                 corpus_only: str | None = None) -> Selection:
    """The steps to run, in order; with `corpus_only`, without those that train (corpus_only_steps)."""
    if only and from_step:
        raise InputError("--only and --from cannot be combined", hint="use one of them")
    try:
        start = STEP_NAMES.index(get_step(from_step).name) if from_step else 0
        chosen = [get_step(only)] if only else list(STEPS[start:])
    except KeyError as exc:
        raise InputError(f"unknown step {exc.args[0]!r}", hint="steps are: " + ", ".join(STEP_NAMES)) from None
    if corpus_given:
        if only and get_step(only).name == "corpus":
            raise InputError("--only corpus makes no sense with --corpus", hint="drop --corpus")
        chosen = [s for s in chosen if s.name != "corpus"]
    if corpus_only is not None:
        chosen = corpus_only_steps(chosen, only or from_step, corpus_given, corpus_only)
    forced = {s.name for s in chosen} if force else set()
    if from_step and chosen:
        forced.add(chosen[0].name)
    return Selection(tuple(chosen), frozenset(forced), corpus_only)


TRAINING_STEPS = ("loso", "verdict")


INSTALL_TO_TRAIN = ("install torch, onnx and onnxruntime where their wheels exist (install.py in the kit's folder "
                    "does: docs/collaborator.md#platforms; one whose import fails needs what its error names, e.g. "
                    "the system's libgomp), or make this box's corpus with {run} (with your other flags) and send "
                    "its results tarball to the lead, who trains")
CLIPS_TO_TRAIN = ("add reference clips of other content to --ref-dir, then run the same command again (the clips done "
                  "are reused), or send this box's results tarball to the lead, who trains on the union")


def corpus_only_steps(chosen: list[LazyStep], named: str | None, corpus_given: bool, why: str,
                      fix: str = INSTALL_TO_TRAIN) -> list[LazyStep]:
    """The chosen steps without LOSO and the verdict; refused (exit 2) when training was asked for (`fix`: how to
    train here)."""
    step = get_step(named).name if named is not None else None
    if step in TRAINING_STEPS or (corpus_given and any(s.name in TRAINING_STEPS for s in chosen)):
        asked = f"the {step} step" if step in TRAINING_STEPS else "a run on a given --corpus"
        raise InputError(f"{asked} trains, and this box cannot: {why}",
                         hint=fix.format(run=kit_command("run", "--ref-dir", "/path/to/clips")))
    return [s for s in chosen if s.name not in TRAINING_STEPS]


def corpus_only_now(tree: Tree, settings: RunSettings, selection: Selection, step: LazyStep,
                    emit: Emit) -> Selection:
    """The selection as the run goes on, before `step`: the box found unable to train (prereqs imported torch, onnx,
    onnxruntime and one failed: from the corpus step on), or its corpus too small for LOSO (the corpus step's
    CANNOT_TRAIN_KEY: from LOSO on), makes the corpus alone and bundles it, said once."""
    if selection.corpus_only is not None or step.name not in ("corpus", *TRAINING_STEPS):
        return selection
    ctx = Context(settings, emit, lambda line: None, tree, step=step.name)  # the corpus's record: from LOSO on
    if (why := ctx.corpus_only) is None:
        return selection
    first = selection.steps[0].name  # a run that starts at LOSO (`step loso`, --from loso) asked for it
    short = why == ctx.cannot_train
    # a run on a given --corpus has no corpus step to fall back to: refused, as the shallow look refuses it
    steps = corpus_only_steps(list(selection.steps), first if first in TRAINING_STEPS else None,
                              settings.corpus is not None, why, CLIPS_TO_TRAIN if short else INSTALL_TO_TRAIN)
    emit(Info("run", f"corpus only: {why}"))
    return replace(selection, steps=tuple(steps), corpus_only=why, exit_code=EXIT_HOLD if short else 0)


def fingerprint(step: str, plan: Plan) -> str:
    return sha256_json({"settings": plan.settings, "inputs": plan.inputs, "formats": formats_of(step, plan)})


def _short(v: object) -> str:
    return text if len(text := str(v)) <= 60 else text[:57] + "..."


# the plan settings whose values hold paths (a folder, the clips left out, a model file): said as paths
# (kit.infra.shown), so the step log sent to the lead shows them as it shows any path
PATH_SETTINGS = frozenset({"ref_dir", "skipped", "incumbent", "teacher"})


def _said(key: str, value: object) -> str:
    """A setting's value in a reason: cut short, or, for a path setting, each path in it a path, whole."""
    if key.split(".")[0] not in PATH_SETTINGS:
        return _short(value)
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and os.path.isabs(v) for v in items):
        return _short(value)
    return Spelled(", ").join(Spelled(PurePath(str(v))) for v in items)


def _setting_changes(key: str, old: object, new: object) -> list[str]:
    """`setting cqs: [19, 25] -> [19, 31]`; for a dict setting, only the keys that changed."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [Spelled(f"setting {key}.{k}: ", _said(f"{key}.{k}", old.get(k, "(unset)")), " -> ",
                        _said(f"{key}.{k}", new.get(k, "(unset)")))
                for k in sorted(set(old) | set(new)) if old.get(k, "(unset)") != new.get(k, "(unset)")]
    return [Spelled(f"setting {key}: ", _said(key, old), " -> ", _said(key, new))]


def _format_changes(status: StepRecord, formats: dict[str, int]) -> list[str]:
    """`format of step loso: 1 -> 2 (kit 2.0.0 -> 2.1.0)` for each format the record holds otherwise."""
    if not status.formats:
        return [f"recorded by kit {status.kit_version}, before fingerprints held format versions (a step so "
                "recorded reruns once)"]
    by = f" (kit {status.kit_version} -> {__version__})" if status.kit_version != __version__ else ""
    return [f"format of {f'step {k}' if k in STEP_NAMES else k.replace('_', ' ')}: "
            f"{status.formats.get(k, '(none)')} -> {v}{by}" for k, v in formats.items() if status.formats.get(k) != v]


NOT_RUN = "not run yet in this out-dir"
UNFINISHED = "started in this out-dir but did not complete (interrupted or failed)"


def start_line(step: str, reason: str) -> str:
    """The step log's line when a step starts its work: what tells a step begun here from one never run."""
    return Spelled(f"step {step} starts: ", reason)


def started_before(tree: Tree, run: RunDir, step: str) -> bool:
    """Whether a run began this step's work here: other files than its logs, or a start line in its log."""
    step_dir, log = run.step(step), run.log(step)
    if not tree.is_folder(step_dir):
        return False
    if any(name != log.parent.name for name in tree.names(step_dir)):
        return True
    marker = start_line(step, "").encode()
    with contextlib.suppress(OSError), tree.open_read(log) as fh:
        return any(marker in line for line in fh)
    return False


def stale_reason(tree: Tree, run: RunDir, step: str, plan: Plan) -> str | None:
    """None when the step is up to date, else a sentence saying why it reruns."""
    status_path = run.status(step)
    if (found := tree.entry(status_path)) is not None and (what := found.planted) is not None:
        return (f"its status.json is {what}, not the record the kit writes: nothing was read through it, and a run "
                "refuses it until it is removed")
    if not tree.is_file(status_path):
        return UNFINISHED if started_before(tree, run, step) else NOT_RUN
    status, why = read_step_record(tree, status_path)
    if status is None:
        what = why if why.startswith("damaged") else f"damaged: {why}"
        return f"its status.json is {what} (the kit's own record is checked, not trusted): the step reruns " \
               "and rebuilds it"
    if status.fingerprint != fingerprint(step, plan):
        changes = [change for k, v in plan.settings.items() if k not in status.settings or status.settings[k] != v
                   for change in _setting_changes(k, status.settings.get(k, "(unset)"), v)]
        changes += [f"input {k} changed" for k, v in plan.inputs.items() if status.inputs.get(k) != v]
        changes += _format_changes(status, formats_of(step, plan))
        return Spelled("; ").join(changes) if changes else "its fingerprint changed"
    for rel, digest in status.outputs.items():
        path = run.root / rel
        if not tree.is_file(path):
            return f"output {rel} is missing"
        if cached_sha256(tree, path) != digest:
            return f"output {rel} was modified"
    if isinstance(again := status.summary.get(RETRY_KEY), list) and again:
        return (f"it left out {', '.join(map(str, again))} for a cause a rerun can change (the box's or the moment's: "
                "a child that stalled or was killed from outside the kit, a work folder removed, the clip changed as "
                "it was read): those are tried again, the rest reused")
    return None


def write_status(tree: Tree, step: LazyStep, run: RunDir, plan: Plan, outputs: Sequence[Path], exit_code: int,
                 started: str, seconds: float, summary: dict[str, object]) -> None:
    write_step_record(tree, run.status(step.name), StepRecord(
        step.name, step.number, fingerprint(step.name, plan), plan.settings, plan.inputs, __version__, started,
        utc_iso(), seconds, exit_code, {run.rel(p): cached_sha256(tree, p) for p in outputs}, summary,
        formats_of(step.name, plan), StepRecord.SCHEMA_VERSION))


@contextlib.contextmanager
def out_dir_lock(settings: RunSettings, shared: bool = False) -> Iterator[Tree]:
    """The out-dir's Tree, locked: one run at a time, a second refused, never blocked; `shared`: a training task's."""
    out_dir = settings.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out-dir {out_dir} is a file, not a folder",
                         hint="choose another --out-dir (a folder; it is created when missing)")
    within = TREE_ROOT.read()  # a cluster's folder, which its tasks open their out-dirs from
    opened = Tree.open(out_dir, Rules(group_shared=settings.group_shared),
                       within=within if isinstance(within, Path) else None, label="the out-dir")
    with opened as tree, contextlib.ExitStack() as held:
        try:
            held.enter_context(tree.lock(RunDir(settings.out_dir).lock, shared=shared))
        except LockBusy as busy:
            raise InputError(f"{settings.out_dir} is in use by another run ({busy.holder})",
                             hint="wait for it to finish, or use another --out-dir", retry_helps=True) from None
        yield tree


@contextlib.contextmanager
def logged(log: StepLog, emit: Emit, step: str, what: str, internal: bool = True) -> Iterator[StepLog]:
    """`log`, closed on any exit; a failure written to it with its traceback and said (`internal`: a bug too)."""
    try:
        yield log
    except BaseException as exc:
        log.failure(what, exc)
        if isinstance(exc, KitError):
            emit(StepFailed(step, exc.message, exc.hint))
        elif internal and isinstance(exc, Exception):
            emit(StepFailed(step, f"internal error: {type(exc).__name__}: {exc}", "a bug in the kit"))
        raise
    finally:
        log.close()


class StepLog:
    """The per-step debug log: entries timed, a block's lines indented, every line made visible. Each entry is written
    twice, at once: as it is to the box's own log, and with the box's folders shown (`places`: a Spelled entry's
    paths, kit.infra.shown) to its twin (RunDir.sent), which the results tarball sends."""

    def __init__(self, tree: Tree, path: Path, places: Places) -> None:
        self.path, self.places = path, places
        self._fh = tree.open_append(path)  # closed by close()
        try:
            self._sent = tree.open_append(RunDir.sent(path))
        except BaseException:
            self._fh.close()
            raise
        self._lock = threading.Lock()

    def __call__(self, text: str) -> None:
        self._write(visible_lines(text.rstrip("\n")), visible_lines(self.places.text(text).rstrip("\n")))

    def failure(self, what: str, exc: BaseException) -> None:
        """A failure with its traceback: as it is, and in the twin as kit.infra.shown.shown_traceback_lines says it."""
        self._write([f"{what} failed:", *traceback_lines(exc)],
                    [f"{what} failed:", *shown_traceback_lines(exc, self.places)])

    def _write(self, lines: list[str], sent: list[str]) -> None:
        stamp = time.strftime('%H:%M:%S')
        with self._lock, named_errors(self.path):  # a full disk here names the log
            for fh, (first, *rest) in ((self._fh, lines), (self._sent, sent)):
                fh.write("".join([f"{stamp} {first}\n", *(f"    {line}\n" for line in rest)]))
                fh.flush()

    def close(self) -> None:
        self._fh.close()
        self._sent.close()


def check_trainable(settings: RunSettings, selection: Selection) -> None:
    """A run that trains refuses, before any work, an encoder named that the models cannot learn."""
    if settings.encoders == (AUTO,) or settings.corpus is not None or "loso" not in {s.name for s in selection.steps}:
        return
    if bad := unslotted(settings.encoders):
        keep, asked = [e for e in settings.encoders if e not in bad], ",".join(settings.encoders)
        train = f"train on {','.join(keep)} (--encoders {','.join(keep)}); " if keep else ""
        raise InputError(f"--encoders: {no_slot_message(bad)}",
                         hint=f"{train}to keep their rows for a kit whose codec vocabulary takes them, make the "
                              "corpus alone: "
                              f"{kit_command('step', 'prereqs', '--encoders', asked)}, then "
                              f"{kit_command('step', 'corpus', '--encoders', asked)} (with your other flags)")


def check_planted(tree: Tree, run: RunDir, selection: Selection) -> None:
    """Refuse before any work what a neighbour planted at run.json or a selected step's folder."""
    tree.check_target(run.run_json)
    for step in selection.steps:
        tree.check_planted(run.step(step.name))


def upstream_steps(settings: RunSettings, selection: Selection) -> list[LazyStep]:
    """The steps before the first selected one that this run does not run (`--from`, `--only`, `step`), whose
    outputs the selected steps read as those steps recorded them (the corpus step's none with --corpus)."""
    if not selection.steps:
        return []
    first = STEP_NAMES.index(selection.steps[0].name)
    return [s for s in STEPS[:first] if s not in selection.steps and not (s.name == "corpus" and settings.corpus)]


def check_upstream(tree: Tree, settings: RunSettings, selection: Selection, emit: Emit) -> None:
    """Refuse, before any work, a run that starts after a step whose recorded output is missing or changed (or whose
    record is damaged), naming the file and the step that makes it: a step never runs on without what an earlier
    one made, nor blames a setting for what is missing. A step never run here is left to the steps' own checks."""
    run, ctx = RunDir(settings.out_dir), Context(settings, emit, lambda line: None, tree)
    for step in upstream_steps(settings, selection):
        if (found := tree.entry(run.status(step.name))) is None:
            continue
        if found.planted is not None:  # a link or a pipe where its record lies: said as what it is
            require_output(ctx, run.status(step.name), step.name)
        record, why = read_step_record(tree, run.status(step.name))
        if record is None:
            raise InputError(f"{run.status(step.name)} is {why}: what step '{step.name}' made cannot be checked, and "
                             f"the steps after it read it",
                             hint=f"run the whole run again, which reruns that step and reuses what it can (its "
                                  f"finished jobs): {rerun(ctx, 'run')}")
        for rel in record.outputs:
            # the plain run: it reruns that step for what is missing and reuses the rest (`--from` would force it, and
            # a forced corpus step redoes every job)
            require_output(ctx, run.root / rel, step.name, again=rerun(ctx, "run"))


def run_steps(settings: RunSettings, selection: Selection, emit: Emit, argv: Sequence[str]) -> int:
    """Run the selected steps in order; returns the exit code (verdict-driven)."""
    out = settings.out_dir
    run = RunDir(out)
    check_trainable(settings, selection)
    require_address_space()  # below it torch and pyarrow fail anywhere, pyarrow by crashing the process
    threads = choose_threads()  # a bad KIT_TRAIN_THREADS is refused before anything runs
    with out_dir_lock(settings) as tree:
        check_planted(tree, run, selection)
        check_upstream(tree, settings, selection, emit)
        if any(s.name == "bundle" for s in selection.steps):
            box_key()  # the key the bundle signs with, made on the box's first run: its problem said before any work
        tree.remove_stale(out, max_age_s=0)  # a run.json a kill cut short; each step cleans its own folder
        write_run_record(tree, run.run_json, settings, argv, threads)
        emit(RunStarted(str(out), [s.name for s in selection.steps], __version__))
        if selection.corpus_only is not None:
            emit(Info("run", f"corpus only: {selection.corpus_only}"))
        for step in selection.steps:
            # the prereqs step imports torch, onnx and onnxruntime, which the run only looked for: one may be broken;
            # the corpus step finds whether its clips leave LOSO enough contents
            selection = corpus_only_now(tree, settings, selection, step, emit)
            if step in selection.steps:
                run_one(tree, step, settings, selection, emit)
        interrupts.check()
        if selection.corpus_only is not None:  # no verdict to decide the exit: the corpus and its bundle are done
            return selection.exit_code
        if any(s.name in ("verdict", "bundle") for s in selection.steps):  # 0: a PROMOTE; 1: HOLD, or no one verdict
            found = run.verdict_on_disk(tree)
            return EXIT_PROMOTE if found is not None and found[0] == "PROMOTE" else EXIT_HOLD
    return 0


def corpus_only_of(settings: RunSettings) -> str | None:
    """Why the run that just ended in this out-dir made its corpus alone (corpus_only_now: the box cannot train, or
    its corpus is too small for LOSO), else None: what its closing block says."""
    if not settings.out_dir.is_dir():
        return None
    with read_out_dir(settings.out_dir) as tree:
        return Context(settings, lambda e: None, lambda line: None, tree, step="bundle").corpus_only


def run_train_task(settings: RunSettings, k: int, n: int, emit: Emit) -> int:
    """`step loso --train-task K/N`: the members of share K of N not on disk yet, trained and written."""
    from kit.steps.s03_loso import LosoStep

    step, run, loso = get_step("loso"), RunDir(settings.out_dir), LosoStep()
    require_address_space()
    with out_dir_lock(settings, shared=True) as tree:
        tree.check_planted(run.step(step.name))
        check_upstream(tree, settings, Selection((step,), frozenset()), emit)
        emit(RunStarted(str(settings.out_dir), [step.name], __version__))
        places = box_places(settings.out_dir, settings.ref_dir)
        with logged(StepLog(tree, run.train_task_log(k, n), places), emit, step.name, "task", internal=False) as log:
            ctx = Context(settings, emit, log, tree, step=step.name, train_task=True)
            plan = loso.plan(ctx)
            if stale_reason(tree, run, step.name, plan) is None:
                emit(StepSkipped(step.name, f"task {k}/{n}: LOSO is up to date (its members were gathered): "
                                            "nothing to train"))
                return 0
            emit(StepStarted(step.name, f"training task {k}/{n} of LOSO's members"))
            log(start_line(step.name, f"training task {k}/{n}"))
            start = time.monotonic()
            summary = loso.train_task(ctx, plan, k, n)
            log(f"task {k}/{n} done in {seconds_since(start):.1f} s: {summary}")
            emit(StepFinished(step.name, seconds_since(start), summary))
    interrupts.check()
    return 0


@contextlib.contextmanager
def out_dir_in_place(tree: Tree) -> Iterator[None]:
    """A step's failure while its out-dir was removed or moved away is said as that, naming the out-dir (what failed
    was reading or writing under a path that no longer names it: a missing input, a file that cannot be made)."""
    try:
        yield
    except (KitError, OSError) as exc:
        if (became := tree.moved()) is None or (isinstance(exc, KitError) and exc.retry_helps):
            raise  # still in place, or already said as the moment's (a job's OutDirMoved)
        if became in ("removed", "gone"):
            raise gone(tree.root, tree.root, tree.label) from exc
        moved = InputError(f"{tree.root} (out-dir) was moved or renamed while the kit ran ({became})",
                           hint=f"put it back at {tree.root} and run the same command again: every finished output "
                                "is reused (or run with --out-dir set to where it is now)")
        moved.retry_helps = True
        raise moved from exc


def run_one(tree: Tree, step: LazyStep, settings: RunSettings, selection: Selection, emit: Emit) -> None:
    run = RunDir(settings.out_dir)
    step_dir = tree.make_folder(run.step(step.name))
    places = box_places(settings.out_dir, settings.ref_dir)
    with logged(StepLog(tree, run.log(step.name), places), emit, step.name, "step") as log:
        interrupts.check()  # a stop signal is raised at each step boundary (kit/infra/interrupts.py)
        ctx = Context(settings, emit, log, tree, forced=step.name in selection.forced, step=step.name,
                      trains=any(s.name == "loso" for s in selection.steps))
        with out_dir_in_place(tree):
            plan = step.impl.plan(ctx)
        interrupts.check()
        reason = "forced" if step.name in selection.forced else stale_reason(tree, run, step.name, plan)
        if reason is None:
            emit(StepSkipped(step.name, "up to date (settings and inputs unchanged)"))
            return
        if cleaned := tree.remove_stale(step_dir, max_age_s=0, recursive=True):
            emit(Info(step.name, f"removed {cleaned} temporary file(s) or folder(s) left by an interrupted run"))
        tree.remove(run.status(step.name))
        emit(StepStarted(step.name, reason))
        log(start_line(step.name, reason))
        started, start = utc_iso(), time.monotonic()
        with out_dir_in_place(tree):
            outcome = step.impl.run(ctx, plan)
        write_status(tree, step, run, plan, outcome.outputs, outcome.exit_code, started, seconds_since(start),
                     outcome.summary)
        log(f"step {step.name} done in {seconds_since(start):.1f} s")
        emit(StepFinished(step.name, seconds_since(start), outcome.summary))
