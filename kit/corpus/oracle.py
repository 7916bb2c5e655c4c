"""The teacher checked against itself run another way: for every clip one job is scored again on its first
ORACLE_FRAMES frames, against the reference decoded from the user's file by a decoder of its own, and compared frame by
frame. A frame whose scores differ by more than TOLERANCE, or a window the reference cannot fill, fails the check: the
clip is left out (exit 2 with --strict). The check, with its command, is kept in the job's ledger and the manifest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from kit.corpus.shared import J
from kit.errors import InputError, ToolError
from kit.infra.ended import Ended
from kit.infra.proc import LogFn, TimedOut, run_process
from kit.infra.records import NAMES_FILE, Record, keep, omit_none
from kit.infra.rules import COUNT, Real
from kit.infra.shown import Places, Spelled, spelled_path
from kit.infra.variables import SHARED_DECODE
from kit.media.argv import build_score_argv
from kit.media.ffmpeg import end_of, how_it_ended, how_it_stopped, on_full_disk
from kit.media.libvmaf import Teacher, parse_vmaf_log
from kit.media.refs import Clip

if TYPE_CHECKING:  # `status` reads the manifests that hold this module's record, without numpy
    import numpy as np

    from kit.media.discovery import Unusable

# frames compared per clip: enough for a pairing that slips to show, a small share of the corpus step's cost
# (bench/README.md)
ORACLE_FRAMES = 16
# the same libvmaf on the same pictures gives the same score to its printed precision; a wrong pairing moves a
# frame's score by several points
TOLERANCE = 0.5
MOST_LISTED = 20  # names of one kind in the check's line; its record keeps them all
CHECK_LOG = "oracle.json"  # the check's libvmaf log, in its job's work folder (what tells its command apart)


@dataclass(frozen=True)
class OracleCheck(Record):
    """What the independent scoring of one job found; `failure` is "" when the check passed."""

    job_id: str
    first: int = field(metadata=keep(COUNT))
    last: int = field(metadata=keep(COUNT))
    max_diff: float = field(metadata=keep(Real(0, nan=True)))
    at_frame: int = field(metadata=keep(COUNT))
    kit_vmaf: float = field(metadata=keep(Real(nan=True)))  # the row's score at at_frame
    oracle_vmaf: float = field(metadata=keep(Real(nan=True)))  # the independent score at at_frame
    argv: list[str] = field(default_factory=list, metadata=NAMES_FILE)  # a clip's path as text (records.NAMES_FILE)
    failure: str = field(default="", metadata=NAMES_FILE)
    # the reference was decoded from the clip's own file, not the kit's lossless copy (absent: an older kit's check)
    own_file: bool | None = omit_none()
    # `argv` as the lead is sent it, made with it (kit.infra.shown): the shard manifest's (absent: an older kit's)
    sent_argv: list[str] | None = omit_none()

    def sent(self) -> OracleCheck:
        """As the shard manifest holds it: the command as the lead may see it (none, of an older kit's check)."""
        return replace(self, argv=self.sent_argv or [], sent_argv=None)

    @property
    def passed(self) -> bool:
        return not self.failure


@dataclass(frozen=True)
class IndependentCheck(Record):
    """What the independent check found over a corpus: the verdict's `independent_check` block."""

    frames: int = field(metadata=keep(COUNT))  # ORACLE_FRAMES
    tolerance: float = field(metadata=keep(Real(0)))  # TOLERANCE
    clips: int = field(metadata=keep(COUNT))  # the corpus's clips whose check passed
    # the largest difference over their frames, VMAF points (NaN where none was checked)
    max_diff: float = field(metadata=keep(Real(0, nan=True)))
    worst: str  # where it was: "<source> frame <n>" ("" where none was checked)
    refused: list[str]  # the clips it refuted, left out of the corpus: "<file>: <why>"
    unchecked: list[str]  # the corpus's sources no check covers
    from_copy: list[str]  # the sources whose check read the kit's lossless copy, not their own file

    @property
    def text(self) -> str:
        said = (f"{self.clips} clip(s), the first {self.frames} frames of each scored again by libvmaf run on its "
                f"own against the clip's own file: largest difference {self.max_diff:.6f} VMAF ({self.worst}; "
                f"tolerance {self.tolerance:g})") if self.clips else "no clip checked"
        refused = f"refused {len(self.refused)}: {listed(self.refused, '; ')}" if self.refused else "none refused"
        rest = [refused, *([f"not checked: {listed(self.unchecked)}"] if self.unchecked else []),
                *([f"checked against the kit's lossless copy (an older kit): {listed(self.from_copy)}"]
                  if self.from_copy else [])]
        return f"{said}; {'; '.join(rest)}"


def listed(names: list[str], sep: str = ", ") -> str:
    """The first MOST_LISTED of `names`, then how many more: a union of 50,000 contents none of which a check covers
    listed every one in one line of the summary (the record keeps them all)."""
    if len(names) <= MOST_LISTED:
        return sep.join(names)
    more = f"and {len(names) - MOST_LISTED:,} more (each named in the check's record)"
    return sep.join([*names[:MOST_LISTED], more])


def pick_oracle_jobs(jobs: Iterable[J], shared: Callable[[J], bool]) -> frozenset[str]:
    """The job of each clip that is checked: its first through the shared decode, else its first."""
    first: dict[str, J] = {}
    through: dict[str, J] = {}
    for job in jobs:
        first.setdefault(job.clip.path, job)
        if shared(job):
            through.setdefault(job.clip.path, job)
    return frozenset(through.get(path, job).job_id for path, job in first.items())


def oracle_window(n_frames: int) -> tuple[int, int]:
    """(first, end) of the frames the check scores (one more than ORACLE_FRAMES, for the last one's motion)."""
    return 0, min(n_frames, ORACLE_FRAMES + 1)


class CheckFailed(ToolError):
    """The check's libvmaf did not run to an answer, in the kit's words (kit.media.ffmpeg.how_it_ended, how_it_stopped):
    `how` it ended, what it `said`, whether a retry can change it, whether KIT_TIMEOUT_S stopped it (`capped`) or it
    ended on a full disk; the job says it of its clip (kit.corpus.jobs, as kit.corpus.children.run_child does)."""

    def __init__(self, how: str, said: str, retry_helps: bool, argv: Sequence[str], stderr_tail: str,
                 capped: bool = False, full_disk: bool = False, end: Ended | None = None) -> None:
        super().__init__(f"the independent check {how}", stderr_tail=stderr_tail)
        self.how, self.said, self.retry_helps, self.argv = how, said, retry_helps, list(argv)
        self.capped, self.full_disk, self.end = capped, full_disk, end


@dataclass(frozen=True)
class Oracle:
    ffmpeg: str
    teacher: Teacher
    log: LogFn
    places: Places  # the box's folders, as the command the manifest keeps shows them

    def check(self, job_id: str, clip: Clip, encoded: Path, rows_vmaf: np.ndarray, log_path: Path,
              n_threads: int, upscaler: str, stall_s: float) -> OracleCheck:
        """Score `encoded` against `clip` decoded from its own file, each in the format ffmpeg picks by itself (no
        format filter: the kit's own conversion of the reference is not repeated, so a conversion that differs shows),
        and compare with the job's own scores; stopped once it counts no frame on for `stall_s` of its own time (a
        stall: the box's or the moment's, tried again)."""
        first, end = oracle_window(clip.n_frames)
        argv = build_score_argv(self.ffmpeg, encoded, clip.own_input_args(), clip.width, clip.height, "", log_path,
                                n_threads, progress=True, fps=clip.fps, window=(first, end), teacher=self.teacher,
                                upscaler=upscaler, stream=clip.own_stream)
        try:
            res = run_process(argv, timeout_s=math.inf, log=self.log, stall_s=stall_s, frames=True)
        except TimedOut as exc:
            stop = how_it_stopped(exc)
            raise CheckFailed(stop.how, stop.said, True, argv, exc.stderr_tail, capped=stop.capped,
                              end=exc.ended) from None
        if res.returncode != 0:
            raise CheckFailed(*how_it_ended(res), argv, res.stderr_tail, full_disk=on_full_disk(res), end=end_of(res))
        try:
            scores = parse_vmaf_log(log_path).vmaf
        except (OSError, ValueError) as exc:  # proves nothing either way: the check did not run
            raise CheckFailed("wrote a log the kit cannot read", str(exc), False, [*argv, spelled_path(log_path)],
                              res.stderr_tail, full_disk=on_full_disk(res)) from None
        return replace(compare(job_id, (first, end), rows_vmaf, scores, argv), own_file=True,
                       sent_argv=[self.places.text(a) for a in argv])


def compare(job_id: str, window: tuple[int, int], rows_vmaf: np.ndarray, oracle_vmaf: np.ndarray,
            argv: list[str]) -> OracleCheck:
    """The job's scores against the independent ones; a window's edge frame only where it is the clip's too."""
    import numpy as np

    (first, end), n = window, len(rows_vmaf)
    if len(oracle_vmaf) != end - first:
        return OracleCheck(job_id, first, end - 1, float("nan"), first + len(oracle_vmaf), float("nan"),
                           float("nan"), argv,
                           f"decoded on its own, the reference gives {len(oracle_vmaf)} of frames {first} to "
                           f"{end - 1}, where the rows hold {n} frames")
    lo, hi = first + (first > 0), end - (end < n)
    kit = np.asarray(rows_vmaf, dtype=np.float64)[lo:hi]
    diffs = np.abs(kit - np.asarray(oracle_vmaf, dtype=np.float64)[lo - first:hi - first])
    at = int(np.argmax(diffs)) if len(diffs) else 0
    worst = float(diffs[at]) if len(diffs) else 0.0
    mine = float(kit[at]) if len(diffs) else float("nan")
    theirs = float(oracle_vmaf[lo - first + at]) if len(diffs) else float("nan")
    failure = "" if worst <= TOLERANCE else (  # NaN fails too
        f"frame {lo + at} scores {mine:.2f} in the corpus but {theirs:.2f} scored on its own (libvmaf on the same "
        f"encode and the clip decoded from its file): they differ by {worst:.2f}, over {TOLERANCE}")
    return OracleCheck(job_id, lo, hi - 1, round(worst, 6), lo + at, mine, theirs, argv, failure)


def oracle_refusals(clips: Sequence[Clip], checks: Mapping[str, OracleCheck | None],
                    strict: bool) -> dict[str, Unusable]:
    """The clips whose check failed, left out; with `strict`, or when none is left, the first refuses (exit 2)."""
    from kit.media.discovery import Unusable

    refused: dict[str, Unusable] = {}
    for clip in clips:
        check = checks.get(clip.path)
        if check is None or check.passed:
            continue
        error = InputError(
            Spelled(PurePath(clip.path), ": its teacher scores do not hold against libvmaf run on their own (job "
                    f"{check.job_id}): {check.failure}; its rows are left out"),
            hint="run the check's command (its `oracle.argv` in the job's ledger, 02_corpus/jobs/) to see both; "
                 f"`{SHARED_DECODE.name}=0` with the corpus step run again with --force scores every job again "
                 "without the shared decode. If the scores still differ, report it with the step log (02_corpus/logs/)")
        if strict:
            raise error
        refused[clip.path] = Unusable(clip.path, error.message, error.hint)
    if refused and len(refused) == len(clips):
        first = refused[next(iter(refused))]
        raise InputError(first.reason, hint=first.fix)
    return refused
