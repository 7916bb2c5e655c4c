"""Which steps of an out-dir are done, stale or pending, and why.

Uses the settings of the out-dir's latest invocation (run.json), each step's
`plan` and `pipeline.stale_reason`, exactly as a run decides what to skip. It
runs no step and writes nothing in the out-dir: planning only reads files and
asks ffmpeg and the host what they are (as a run does before it starts).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from kit.corpus.split import ShardSpec
from kit.errors import KitError
from kit.infra.files import read_json_object
from kit.model.recipe import TrainConfig
from kit.rundir import RunDir
from kit.steps import STEPS
from kit.steps.base import Context, RunSettings, Step, read_status
from kit.steps.runner import NOT_RUN, stale_reason
from kit.verdict.gate import GateThresholds

NESTED = {"GateThresholds": GateThresholds, "TrainConfig": TrainConfig, "ShardSpec": ShardSpec}


@dataclass(frozen=True)
class StepStatus:
    number: int
    step: str
    state: str  # done | stale | pending | unused
    reason: str
    completed_at_utc: str | None = None


@dataclass(frozen=True)
class RunStatus:
    out_dir: str
    invoked_at_utc: str | None  # the latest invocation, whose settings the plans use
    command: str | None
    running: str | None  # who holds the out-dir's lock right now, if anyone
    verdict: str | None
    steps: tuple[StepStatus, ...]

    @property
    def next_command(self) -> str | None:
        if all(s.state in ("done", "unused") for s in self.steps):
            return None
        return self.command or f"ensemble-kit run --out-dir {shlex.quote(self.out_dir)}"

    def to_json(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "next_command": self.next_command}


def _convert(type_text: str, value: object) -> object:
    if value is None:
        return None
    for name, cls in NESTED.items():
        if name in type_text and isinstance(value, dict):
            known = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in value.items() if k in known})
    if "Path" in type_text:
        return Path(str(value))
    if type_text.startswith("tuple") and isinstance(value, list):
        return tuple(value)
    return value


def settings_from_json(recorded: dict[str, object], out_dir: Path) -> RunSettings:
    """RunSettings back from run.json's `settings` (fields it lacks keep their defaults)."""
    kw = {f.name: _convert(str(f.type), recorded[f.name]) for f in dataclasses.fields(RunSettings)
          if f.name in recorded and f.name != "out_dir"}
    for f in dataclasses.fields(RunSettings):  # a value of another type than the default's: damaged
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        value = kw.get(f.name)
        if f.name in kw and value is not None and default not in (None, dataclasses.MISSING):
            want = (int, float) if isinstance(default, float) else type(default)
            if not isinstance(value, want) or isinstance(value, bool) != isinstance(default, bool):
                raise ValueError(f"setting {f.name}: {type(value).__name__}, not {type(default).__name__}")
    return RunSettings(out_dir=out_dir, **kw)  # type: ignore[arg-type]


def lock_holder(out_dir: Path) -> str | None:
    """'pid N since T' while a run holds the out-dir; None otherwise (never takes the lock for long)."""
    path = RunDir(out_dir).lock
    if os.name != "posix" or not path.is_file():
        return None
    import fcntl

    with open(path) as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return fh.read().strip() or "another process"
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return None


def _demo_missing(settings: RunSettings) -> str | None:
    from kit.infra.host import cache_dir
    from kit.media.demo import SECONDS, missing_demo_clips

    missing = missing_demo_clips(cache_dir(), settings.demo_clips or None, settings.demo_seconds or SECONDS)
    return (f"demo clip(s) {', '.join(missing)} are not in the cache or are damaged; the next run renders them"
            if missing else None)


def step_status(step: Step, ctx: Context) -> StepStatus:
    s = ctx.settings
    if step.name == "corpus" and s.corpus is not None:
        return StepStatus(step.number, step.name, "unused", f"--corpus given: training uses {s.corpus}")
    if step.name == "corpus" and s.ref_dir is None and (why := _demo_missing(s)):
        return StepStatus(step.number, step.name, "stale", why)
    try:
        reason = stale_reason(ctx.run, step.name, step.plan(ctx))
    except KitError as exc:
        return StepStatus(step.number, step.name, "pending", exc.message)
    if reason == NOT_RUN:
        return StepStatus(step.number, step.name, "pending", "not completed in this out-dir yet")
    if reason is not None:
        return StepStatus(step.number, step.name, "stale", reason)
    completed = (read_status(ctx.run.status(step.name)) or {}).get("completed_at_utc")
    return StepStatus(step.number, step.name, "done", "up to date", str(completed) if completed else None)


def with_upstream_note(statuses: list[StepStatus]) -> list[StepStatus]:
    """A done step after a stale or pending one is up to date *now*; say it may rerun after that one."""
    out: list[StepStatus] = []
    for st in statuses:
        ahead = [u.step for u in out if u.state in ("stale", "pending")]
        if st.state == "done" and ahead:
            st = dataclasses.replace(st, reason=f"up to date; reruns if {ahead[0]} changes its outputs")
        out.append(st)
    return out


def command_of(argv: list[str]) -> str | None:
    """The recorded invocation as an `ensemble-kit` command (run_full_pipeline.py means `run`)."""
    if not argv:
        return None
    rest = ["run", *argv[1:]] if argv[0].endswith("run_full_pipeline.py") else argv[1:]
    return shlex.join(["ensemble-kit", *rest]) if rest else None


def run_status(out_dir: Path) -> RunStatus:
    out_dir = out_dir.absolute()
    rundir = RunDir(out_dir)
    run, why = read_json_object(rundir.run_json)
    settings = None
    if run is not None and isinstance(run.get("settings"), dict) and isinstance(run.get("argv"), list):
        try:
            settings = settings_from_json(run["settings"], out_dir)
        except (TypeError, ValueError):  # a field of the wrong type: the record is damaged
            settings = None
    if run is None or settings is None:
        reason = NOT_RUN if why == "missing" else (
            f"{rundir.rel(rundir.run_json)} is {why or 'damaged (fields of the wrong type)'}: the next run rewrites it")
        pending = tuple(StepStatus(s.number, s.name, "pending", reason) for s in STEPS)
        return RunStatus(str(out_dir), None, None, lock_holder(out_dir), None, pending)
    quiet = Context(settings, lambda event: None, lambda line: None)
    statuses = [step_status(step, quiet) for step in STEPS]
    found = rundir.verdict_on_disk()
    verdict = found[0] if found is not None else None
    command = command_of([str(a) for a in run["argv"]])
    return RunStatus(str(out_dir), run.get("invoked_at_utc"), command, lock_holder(out_dir), verdict,
                     tuple(with_upstream_note(statuses)))
