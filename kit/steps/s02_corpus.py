"""Step 02: encode every clip x encoder x cq, score every frame, write the shard."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from kit.corpus.children import JobFailed
from kit.corpus.columns import JOB_ROWS_VERSION
from kit.corpus.contents import Overrides, ReferenceSet, one_source_each, read_overrides, refuse_few_contents
from kit.corpus.depth import DepthPlan, check_prereqs_depth, plan_depths
from kit.corpus.jobs import (
    REDO_WHY,
    ClipChanged,
    Job,
    JobRunner,
    JobsPlan,
    Ladder,
    Provenance,
    job_redo_reason,
    plan_jobs,
)
from kit.corpus.oracle import ORACLE_FRAMES, TOLERANCE, Oracle, oracle_refusals, pick_oracle_jobs
from kit.corpus.samples import (
    SampleJob,
    SampleRunner,
    plan_samples,
    run_samples,
    sample_is_done,
    sample_redo_reason,
    write_samples,
)
from kit.corpus.samplings import ENCODED
from kit.corpus.scheduler import (
    WORK_PER_CPU_S,
    ProgressRelay,
    ScoreThreads,
    concurrency,
    fixed_threads,
    interrupted_words,
    job_work,
    planned_work,
    run_jobs,
)
from kit.corpus.shard import ClipScoring, build_manifest, clip_scorings, write_shard
from kit.corpus.shared import SharedDecodes, reads_shared_copy, shared_decode_enabled
from kit.corpus.split import left_out_here, select_shard, shard_note, shard_record
from kit.errors import InputError, ToolError
from kit.events import Doing, Forecast, Info, JobsPlanned
from kit.infra.clock import utc_iso
from kit.infra.files import sha256_json
from kit.infra.host import cache_tree, core_count
from kit.infra.perms import require_trusted
from kit.infra.proc import TimedOut
from kit.infra.records import Record, keep, read_record
from kit.infra.rules import STAMP
from kit.infra.shown import Spelled, Withheld, spelled_document, spelled_from
from kit.infra.tree import Tree
from kit.media.containers import COPY_VERSION
from kit.media.demo import FPS as DEMO_FPS
from kit.media.demo import SECONDS, damaged_demo_clips
from kit.media.discovery import SkippedClips, Unusable, reference_clips
from kit.media.libvmaf import CANONICAL6, CANONICAL6_V1, EXTRA_SAID, Teacher
from kit.media.pixfmt import ENC_PIX_FMTS, SCORE_CONVERSION_VERSION, score_pix_fmt
from kit.media.refs import Clip, YuvDefaults
from kit.media.teachers import teacher_of
from kit.model.consumer import QUERIED_ENCODERS
from kit.model.recipe import MIN_FRAMES_PER_SOURCE, MIN_SOURCES, check_frames_per_source
from kit.model.threads import choose_threads
from kit.platforms.binaries import check_named
from kit.platforms.encoders import HwArgs, session_semaphores
from kit.platforms.grids import check_grid
from kit.platforms.prereqs import Prereqs
from kit.platforms.teacher import (
    SizeRefused,
    check_teacher,
    clips_label,
    own_keys,
    size_refusal,
    smaller_sizes,
    trusted_teacher,
)
from kit.rundir import RunDir
from kit.steps.base import RETRY_KEY, Context, Outcome, Plan, read_prereqs, rerun
from kit.steps.checks import check_ladder
from kit.steps.settings import RunSettings


def prereq_encoders(ctx: Context, prereqs: Prereqs, requested: tuple[str, ...]) -> tuple[str, ...]:
    """The encoder list step 01 resolved (and probed) for the requested one."""
    if prereqs.requested_encoders != list(requested):
        again = rerun(ctx, "step", "prereqs", "--encoders", ",".join(requested))
        raise InputError(f"{ctx.run.step('prereqs').name} was run for --encoders "
                         f"{','.join(prereqs.requested_encoders)}, not {','.join(requested)}",
                         hint=f"rerun it with these encoders: {again}")
    return tuple(prereqs.resolved_encoders)


def checked_teacher(ctx: Context, prereqs: Prereqs) -> Teacher:
    """--teacher as step 01 checked it with libvmaf (a model file read and hashed again: the same bytes)."""
    teacher, s = trusted_teacher(ctx.settings.teacher), ctx.settings
    again = rerun(ctx, "step", "prereqs", "--teacher", s.teacher, "--inputs", s.train.inputs)
    if (prereqs.teacher.name, prereqs.teacher.sha256) != (teacher.name, teacher.sha256):
        raise InputError(f"{ctx.run.step('prereqs').name} checked the teacher {prereqs.teacher.label}, not "
                         f"{teacher.label}: libvmaf must score a test pair with a teacher before any encode",
                         hint=f"rerun it with this teacher: {again}")
    if prereqs.extra_features != s.extra_features:
        raise InputError(f"{ctx.run.step('prereqs').name} was run for --inputs "
                         f"{CANONICAL6_V1 if prereqs.extra_features else CANONICAL6}, not {s.train.inputs}: "
                         f"libvmaf must compute {EXTRA_SAID} on a test pair before any encode",
                         hint=f"rerun it with these inputs: {again}")
    return teacher


@dataclass(frozen=True)
class Prepared:
    encoders: tuple[str, ...]  # what 01_prereqs resolved and probed
    hw: dict[str, HwArgs]  # device args per encoder, as the probe used them
    prov: Provenance
    all_clips: list[Clip]  # the whole reference set, before --shard (twins left out)
    refs: ReferenceSet  # its twins, fingerprints and content groups
    clips: list[Clip]  # this box's shard of it
    demo: bool
    depth: DepthPlan  # each clip's encode depth (--encode-depth), checked against the 10-bit probes
    unusable: list[Unusable]  # the clips of --ref-dir left out (not --strict), each with its reason and fix


def prepare(ctx: Context) -> Prepared:
    s = ctx.settings
    prereqs = read_prereqs(ctx)
    encoders = prereq_encoders(ctx, prereqs, s.encoders)  # before any clip is read: a mismatch fails at once
    check_prereqs_depth(prereqs.encode_depth, s.encode_depth, ctx.run.step("prereqs").name,
                        lambda *flags: rerun(ctx, "step", "prereqs", *flags), s.encoders)
    prov = provenance(ctx, prereqs)
    if s.ref_dir is None:
        renew_damaged_demo(ctx)

    note = functools.partial(ctx.say, "corpus")

    def doing(what: str) -> None:  # the plain lines' heartbeat: clips are read for minutes
        ctx.emit(Doing("corpus", what))

    unusable: list[Unusable] = []
    doing("reading the clips")
    found, prints, demo = reference_clips(s.ref_dir, prov.ffmpeg_path, cache_tree(),
                                          YuvDefaults(s.width, s.height, s.fps), s.demo_clips or None,
                                          s.demo_seconds, note, None if strict(s) else unusable, doing,
                                          ctx.tree.rules.reading)  # status decodes, hashes and copies no clip
    doing("checking the teacher at the clips' sizes")
    if skipped := teacher_unusable(ctx, prov, found):
        for left_out in skipped:
            note(left_out.line())
        unusable += skipped
        paths = {u.path for u in skipped}
        found = [c for c in found if c.path not in paths]
    refs = one_source_each(found, prints, content_overrides(ctx, unusable))
    for line in refs.lines():  # every name given, twin and grouping that moves the folds
        note(line)
    all_clips = refs.clips
    check_frames_per_source({c.path: c.n_frames for c in all_clips}, "",
                            hint=f"give --demo-seconds of at least {MIN_FRAMES_PER_SOURCE / DEMO_FPS:g}" if demo
                            else "use a longer cut of the clip, or remove it from --ref-dir")
    clips = select_shard(all_clips, s.shard, refs.grouping.content_of, unusable)
    depth = plan_depths(clips, encoders, s.encode_depth, prereqs.encoders_10bit)
    return Prepared(encoders, prereqs.hw_args(), prov, all_clips, refs, clips, demo, depth, unusable)


def provenance(ctx: Context, prereqs: Prereqs) -> Provenance:
    """What every row of the shard says of where it was made: the box, its platform and devices, the ffmpeg every
    job runs (held to the trust rule again: check_named), libvmaf and the teacher as step 01 checked them."""
    ff = check_named(prereqs.ffmpeg)  # the program every job runs
    return Provenance(
        box_id=ctx.settings.box_id, platform=prereqs.host.platform, device=prereqs.host.cpu,
        ffmpeg_path=ff.path, ffmpeg_version=ff.version, ffmpeg_build=ff.build,
        libvmaf_version=prereqs.libvmaf_version, devices=prereqs.devices(), teacher=checked_teacher(ctx, prereqs),
        extra=prereqs.extra_features)


def renew_damaged_demo(ctx: Context) -> None:
    """A run on the demo clips: the cached ones that are not whole are said, in the log and to the user; the render
    that reads the clips next replaces them (kit.media.demo)."""
    s = ctx.settings
    if damaged := damaged_demo_clips(cache_tree(), s.demo_clips or None, s.demo_seconds or SECONDS):
        ctx.log(f"demo clip(s) {', '.join(damaged)} in the cache are damaged (cut short?): rendered again")
        ctx.emit(Info("corpus", f"demo clip(s) {', '.join(damaged)} in the cache were damaged: rendered again"))


def content_overrides(ctx: Context, unusable: list[Unusable]) -> Overrides | None:
    """--content-groups read (a file the user trusts: require_trusted), None without one; each clip left out is
    named by its file name and its stem, so an entry naming one says it was left out rather than naming no source."""
    s = ctx.settings
    overrides = read_overrides(require_trusted(s.content_groups, "--content-groups") if s.content_groups else None)
    if overrides is not None and unusable:
        names = {n: u.path for u in unusable for n in (Path(u.path).name, Path(u.path).stem)}
        overrides = dataclasses.replace(overrides, left_out=names)
    return overrides


def strict(s: RunSettings) -> bool:
    """Whether an unusable clip refuses the run (--strict), rather than being left out with its reason and fix: asked
    where a clip is found unusable (its look, the teacher's check, the independent check)."""
    return s.strict


def teacher_unusable(ctx: Context, prov: Provenance, clips: list[Clip]) -> list[Unusable]:
    """The clips of each size below step 01's that a non-default teacher (or v1's features) cannot score, left out."""
    if prov.teacher.default and not prov.extra:
        return []
    sizes = smaller_sizes({c.path: (c.width, c.height) for c in clips})
    refused: list[tuple[InputError, list[str]]] = []
    scratch = bool(sizes) and not ctx.tree.rules.reading  # the checks' scratch folder (status checks nothing)
    if scratch:
        ctx.tree.fresh_folder(ctx.run.teacher_work)
    try:
        for size, paths in sizes.items():
            label = clips_label(paths)
            if cause := size_cause(ctx, prov, size, label):
                refused.append((size_refusal(prov.teacher, prov.extra, size, label, cause), paths))
    finally:
        if scratch:
            ctx.tree.remove_folder(ctx.run.teacher_work)
    if refused and (strict(ctx.settings) or sum(len(paths) for _, paths in refused) == len(clips)):
        raise refused[0][0]
    return [Unusable(path, exc.message, exc.hint) for exc, paths in refused for path in paths]


def size_cause(ctx: Context, prov: Provenance, size: str, clips: str) -> str:
    """Why the teacher scores no frame of `size` ("" when it does), kept in the kit's cache (`status` checks none)."""
    cache = cache_tree()
    # cause2: the cause kept with its paths (a record of before, plain text, is never read)
    key = sha256_json(["cause2", prov.ffmpeg_path, prov.ffmpeg_build, prov.libvmaf_version, prov.teacher.name,
                       prov.teacher.sha256, prov.extra, size])
    record = cache.root / "teacher-sizes" / f"{key[:32]}.json"
    found, _ = cache.read_json_object(record)
    with contextlib.suppress(ValueError):  # kept with its paths (kit.infra.shown.spelled_document), else asked again
        if found is not None and "cause" in found:
            return spelled_from(found["cause"])
    if ctx.tree.rules.reading:
        return ""
    try:
        ctx.log(check_teacher(prov.ffmpeg_path, prov.teacher, ctx.run.teacher_work, ctx.log, prov.extra, size, clips))
        cause = ""
    except SizeRefused as exc:
        cause = exc.cause
    with contextlib.suppress(ValueError):  # a cause that cannot be kept with its paths is asked again next time
        cache.write_json(record, {"size": size, "teacher": prov.teacher.label, "cause": spelled_document(cause)})
    return cause


def redo_generation(ctx: Context) -> str:
    """A forced corpus run's redo generation (its stamp outlives an interrupt), "" when every ledger may be reused."""
    stamp, tree = ctx.run.redo_stamp, ctx.tree
    if not ctx.forced:
        if tree.entry(stamp) is None:
            return ""
        recorded, _ = read_record(RedoStamp, tree, stamp)
        if recorded is not None and recorded.generation:
            ctx.emit(Info("corpus", f"an interrupted forced run (since {recorded.since_utc}) is resumed: "
                                    "jobs it had not redone yet are redone now"))
            return recorded.generation
        ctx.log(Spelled(stamp, " is damaged; it is rebuilt and every job is redone"))
        ctx.emit(Info("corpus", f"{stamp.name} (an interrupted forced run's record) was damaged: rebuilt, "
                                "every job is redone"))
    record = RedoStamp(uuid.uuid4().hex[:16], utc_iso())
    tree.write_json(stamp, record.to_json())
    return record.generation


@dataclass(frozen=True)
class RedoStamp(Record):
    """`02_corpus/redo.json`: the generation a forced corpus run is redoing, until its shard and its samplings are
    written."""

    generation: str
    since_utc: str = field(metadata=keep(STAMP))


def sample_jobs(ctx: Context, jobs: list[Job]) -> list[SampleJob]:
    """The consumer's samplings to encode on their own (--consumer-samplings encoded; none on a box that cannot train,
    whose corpus LOSO never reads here): the jobs at vmaf-tune's encoders and CRFs, of clips longer than the window."""
    s = ctx.settings
    if s.consumer_samplings != ENCODED or ctx.corpus_only is not None:
        return []
    lo, hi = s.vmaftune_crf_range
    return plan_samples(jobs, s.consumer_window, lambda j: j.encoder in QUERIED_ENCODERS and lo <= j.cq <= hi)


def encode_samples(ctx: Context, p: Prepared, samples: list[SampleJob], kept: list[Clip], count: tuple[int, int],
                   generation: str = "") -> tuple[dict[str, Unusable], list[str]]:
    """The sample jobs of the clips kept run (those done before, of this redo `generation`, reused; each counted on
    from the step's jobs, `count`: the corpus jobs and the step's total): the clips a sample job of which failed in a
    child, left out as a corpus job's are (failed_clips), and those of them a rerun tries again; a failure no clip is
    to blame for is said, its encode left out of the encoded samplings (the rerun does it again)."""
    run, tree = ctx.run, ctx.tree
    paths = {c.path for c in kept}
    samples = [x for x in samples if x.job.clip.path in paths]
    if not samples:
        return {}, []
    cores = core_count()
    n_par = concurrency(ctx.settings.jobs, cores, len(samples))
    runner = SampleRunner(p.prov.ffmpeg_path, p.prov, tree, run.jobs, run.corpus_work, max(1, cores // n_par),
                          ctx.log, p.hw, session_semaphores(p.encoders), generation)
    ctx.emit(Doing("corpus", f"encoding the consumer's samplings of {len(samples)} encodes on their own"))
    failures = run_samples(runner, samples, n_par, ctx.emit, *count)
    tree.remove_folder(run.corpus_work)
    failed, again, rest = failed_clips(failures, kept, strict(ctx.settings), len(samples), "sample jobs")
    if rest:  # each one's command and stderr tail are in the step log already (kit.infra.proc.run_process)
        ctx.say("corpus", samples_failed(rest, len(samples)))
    return failed, again


def write_samplings(ctx: Context, prov: Provenance, samples: list[SampleJob], kept: list[Clip]) -> Path | None:
    """02_corpus/samples.parquet: the rows of the sample jobs of the clips kept that are done; None (and no file)
    where none was asked."""
    run, tree = ctx.run, ctx.tree
    paths = {c.path for c in kept}
    samples = [x for x in samples if x.job.clip.path in paths]
    if not samples:
        tree.remove(run.samples)
        return None
    rows = write_samples(tree, samples, run.jobs, run.samples, prov)
    ctx.log(Spelled(f"the consumer's samplings: {rows} frames of {len(samples)} encodes in ", run.samples))
    return run.samples


def samples_failed(failures: list[ToolError], n_samples: int) -> Spelled:
    """The line that says the sample jobs that failed, with the first one's message: a Spelled message with its paths
    shown in what is sent, a plain one withheld from it (kit.infra.shown.said_of: its text may hold any path)."""
    first = failures[0].message
    return Spelled(f"{len(failures)} of {n_samples} encodes' samplings could not be encoded on their own (first: ",
                   first if isinstance(first, Spelled) else Withheld(first),
                   "); the verdict compares the samplings without them, and a rerun tries them again")


def write_jobs_plan(ctx: Context, jobs: list[Job], samples: list[SampleJob], reused: set[str], generation: str,
                    workers: int, started_at_utc: str = "") -> JobsPlan:
    """02_corpus/plan.json, what `status` counts this run's ledgers against while it goes (kit.steps.status): the
    corpus jobs, then the sample jobs (each with its work as a job's is counted: SampleJob.work), those done before
    as reused; kept until the samplings are written, which can take most of the step."""
    plan = JobsPlan(started_at_utc or utc_iso(), {**{j.job_id: job_work(j) for j in jobs},
                                                  **{x.job_id: x.work() for x in samples}},
                    sorted(reused & {*(j.job_id for j in jobs), *(x.job_id for x in samples)}), generation, workers)
    ctx.tree.write_json(ctx.run.jobs_plan, plan.to_json())
    return plan


def refuse_failures(failures: list[ToolError], n_jobs: int, teacher: Teacher) -> None:
    """After the jobs: a clip or a teacher file that changed while they ran, or the jobs that failed, refused."""
    changed = sorted({f.clip_path for f in failures if isinstance(f, ClipChanged)})
    if changed:  # its rows were never written; the rerun hashes the new content and redoes its jobs
        more = f" (and {len(changed) - 1} more clips)" if len(changed) > 1 else ""
        raise InputError(f"{changed[0]}{more} changed while the run was going (re-exported or replaced): "
                         "rows made from it would carry the sha256 of the content hashed at the start",
                         hint="rerun once the clip is final: it is hashed again and its jobs redone",
                         retry_helps=True)
    if teacher.path and teacher_of(teacher.path).sha256 != teacher.sha256:
        raise InputError(Spelled("--teacher ", PurePath(teacher.path), " changed while the run was going: rows scored "
                                 "with it would carry the sha256 of the file as it was at the start"),
                         hint="rerun once the model file is final: the prereqs step checks it again, and every job "
                              "is redone with it", retry_helps=True)
    if failures:  # what no clip is to blame for (ffmpeg cannot start): the run stops, the fix is the box's
        first = failures[0]
        said = f"{len(failures)} of {n_jobs} corpus jobs failed; first: "
        # a Spelled message stays one (its paths shown in what is sent); plain text is never made one
        failed = JobFailed(Spelled(said, first.message) if isinstance(first.message, Spelled) else said + first.message,
                           hint="fix the cause and rerun: finished jobs are kept and will not be redone",
                           stderr_tail=first.stderr_tail)
        failed.retry_helps = not all(isinstance(f, TimedOut) for f in failures)  # the same jobs would hang again
        raise failed


def failed_clips(failures: list[ToolError], clips: Sequence[Clip], strict: bool, n_jobs: int,
                 what: str = "corpus jobs") -> tuple[dict[str, Unusable], list[str], list[ToolError]]:
    """The clips a job of which failed in a child (kit.corpus.children.JobFailed), each left out with its first failure
    in the kit's words (with `strict`, or when none is left, the first refuses: exit 2, `retry:` only where a retry
    can change it); those of them a rerun tries again (a child killed from outside: the step's summary lists them,
    and the runner reruns the step for them); and the failures no clip is to blame for (a full disk, an ffmpeg that
    cannot start: refuse_failures stops the step)."""
    left_out: dict[str, Unusable] = {}
    first: dict[str, JobFailed] = {}
    rest: list[ToolError] = []
    for failure in failures:
        if isinstance(failure, JobFailed) and not isinstance(failure, ClipChanged) and failure.clip_path:
            first.setdefault(failure.clip_path, failure)
        else:
            rest.append(failure)
    if first and (strict or len(first) == len(clips)):
        failure = next(iter(first.values()))
        if strict:
            raise failure
        said = f"{len(failures) - len(rest)} of {n_jobs} {what} failed, leaving no clip; first: "
        every = JobFailed(Spelled(said, failure.message) if isinstance(failure.message, Spelled) else
                          said + failure.message, hint="fix the cause and rerun: finished jobs are kept and will not "
                                                       "be redone", stderr_tail=failure.stderr_tail)
        every.retry_helps = any(f.retry_helps for f in first.values())
        raise every
    for path, failure in first.items():
        left_out[path] = Unusable(path, Spelled(failure.message, "; its rows are left out"), failure.hint)
    return left_out, [path for path, failure in first.items() if failure.retry_helps], rest


def left_out_by_jobs(p: Prepared, jobs: list[Job], failures: list[ToolError], checked: frozenset[str], tree: Tree,
                     run: RunDir, strict: bool) -> tuple[dict[str, Unusable], list[str], dict[str, ClipScoring]]:
    """After the jobs: the clips a job of which failed (failed_clips: what no clip is to blame for refused), then
    those whose independent check failed, each left out with why; those a rerun tries again; each clip's scorings."""
    failed, again, failures = failed_clips(failures, p.clips, strict, len(jobs))
    refuse_failures(failures, len(jobs), p.prov.teacher)
    scorings = clip_scorings(tree, [j for j in jobs if j.clip.path not in failed], run.jobs, checked)
    checks = {path: sc.oracle for path, sc in scorings.items()}
    return {**failed, **oracle_refusals([c for c in p.clips if c.path not in failed], checks, strict)}, again, scorings


def kept_clips(clips: Sequence[Clip], refused: Mapping[str, Unusable]) -> list[Clip]:
    """The clips not left out."""
    return [c for c in clips if c.path not in refused]


def refuse_too_few_left(p: Prepared, kept: list[Clip], refused: Mapping[str, Unusable], sharded: bool) -> None:
    """Refused: clips the independent check left out leave fewer contents than LOSO needs (a shard's: the union's)."""
    contents = len({p.refs.grouping.content_of.get(c.sha256, c.sha256) for c in kept})
    if not refused or sharded or contents >= MIN_SOURCES:
        return
    names = ", ".join(Path(path).name for path in refused)
    raise InputError(f"{len(refused)} clip(s) were left out as their jobs ran ({names}): {contents} content(s) are "
                     f"left, and LOSO needs at least {MIN_SOURCES}",
                     hint="each one's reason is in the lines above and in the step log; fix or replace those clips, "
                          "or add reference clips of other content to --ref-dir")


def sharing(p: Prepared, sessions: Mapping[str, object]) -> Callable[[Job], bool]:
    """Which jobs a shared decode may feed (kit.corpus.shared): software encoders, with KIT_SHARED_DECODE on."""
    enabled = shared_decode_enabled()

    def shares(job: Job) -> bool:
        return enabled and job.encoder not in sessions and not any(h.init or h.filter for h in (
            p.hw.get(job.encoder, HwArgs()), p.depth.hw_10bit.get(job.encoder, HwArgs())))
    return shares


def job_runner(ctx: Context, p: Prepared, jobs: list[Job], reused_ids: set[str], generation: str,
               sessions: dict[str, threading.Semaphore], shares: Callable[[Job], bool],
               checked: frozenset[str]) -> tuple[JobRunner, ScoreThreads, int]:
    """The runner of the jobs still to do, its libvmaf thread budget and how many jobs run at once."""
    run, tree, cores = ctx.run, ctx.tree, core_count()
    n_par = concurrency(ctx.settings.jobs, cores, len(jobs) - len(reused_ids))
    threads = ScoreThreads(cores, n_par, len(jobs) - len(reused_ids), fixed_threads())
    to_do = [j for j in jobs if j.job_id not in reused_ids]
    shared = SharedDecodes(tree, to_do, run.decoded_refs, ctx.log, shares) if shared_decode_enabled() else None
    return JobRunner(
        ffmpeg=p.prov.ffmpeg_path, prov=p.prov, tree=tree, jobs_dir=run.jobs, work_dir=run.corpus_work,
        vmaf_threads=threads,
        encoder_threads=1,  # x264/x265 output depends on their thread count: rows must not depend on --jobs
        sessions=sessions, log=ctx.log, hw=p.hw, hw_10bit=p.depth.hw_10bit,
        progress=ProgressRelay(ctx.emit, {j.job_id: j.clip.n_frames for j in jobs}), generation=generation,
        shared=shared, oracle=Oracle(p.prov.ffmpeg_path, p.prov.teacher, ctx.log, ctx.places), oracle_jobs=checked,
    ), threads, n_par


REDONE_SHOWN = 5  # the jobs redone for one reason the terminal names; the step log names every one


def job_words(job: Job) -> str:
    """A job as its line names it: `clip libx264 cq25`, and its rung's size below the clip's own."""
    rung = f" at {job.size.width}x{job.size.height}" if job.rendition is not None else ""
    return f"{job.clip.src} {job.encoder} cq{job.cq}{rung}"


def reused(ctx: Context, p: Prepared, jobs: list[Job], samples: list[SampleJob], generation: str,
           checked: frozenset[str]) -> tuple[set[str], set[str]]:
    """(the jobs, the sample jobs) an earlier run made that this one reuses (of this redo `generation`; `checked`: the
    jobs that hold the independent check); each it redoes said with why (say_redone)."""
    tree, folder = ctx.tree, ctx.run.jobs
    redo = {j.job_id: job_redo_reason(tree, folder, j, p.prov, generation, j.job_id in checked) for j in jobs}
    redo_samples = {x.job_id: sample_redo_reason(tree, folder, x, p.prov, generation) for x in samples}
    say_redone(ctx, [(job_words(j), redo[j.job_id]) for j in jobs]
               + [(f"{job_words(x.job)}: its windows", redo_samples[x.job_id]) for x in samples])
    return ({job_id for job_id, why in redo.items() if why is None},
            {job_id for job_id, why in redo_samples.items() if why is None})


def say_redone(ctx: Context, jobs: list[tuple[str, str | None]]) -> None:
    """Each job an earlier run made that this one redoes, and why (kit.corpus.jobs.REDO_WHY): a line per job in the
    step log; on the terminal a line per reason, naming its first REDONE_SHOWN jobs (a job reused, or never made
    before, is no redo)."""
    by_why: dict[str, list[str]] = {}
    for words, why in jobs:
        if why:
            by_why.setdefault(why, []).append(words)
            ctx.log(f"redone: {words}: {REDO_WHY[why]}")
    for why, named in by_why.items():
        more = f" and {len(named) - REDONE_SHOWN} more (the step log names them)" if len(named) > REDONE_SHOWN else ""
        ctx.emit(Info("corpus", f"redone: {', '.join(named[:REDONE_SHOWN])}{more}: {REDO_WHY[why]}"))


def announce(ctx: Context, p: Prepared, jobs: list[Job], samples: list[SampleJob], reused_ids: set[str],
             n_par: int) -> None:
    """The step's jobs planned with their work, the sample jobs after the corpus's (one count: the line, the bar,
    an interrupt and `status` say it), the sample jobs' price, and the work of the steps after them (kit.model.cost),
    for the run's ETA."""
    from kit.model.cost import BUNDLE_CORPUS_WORK, forecast  # pandas loads with it: at run time, never for `status`

    work = planned_work(jobs, reused_ids)
    for x in (x for x in samples if x.job_id not in reused_ids):
        per_src = work.setdefault(x.job.encoder, {})
        per_src[x.job.clip.src] = per_src.get(x.job.clip.src, 0.0) + x.work()
    ctx.emit(JobsPlanned(len(jobs) + len(samples), len(reused_ids), work, n_par, len(samples)))
    if samples:
        ctx.say("corpus", samples_price(jobs, samples, reused_ids))
    if ctx.corpus_only is not None:  # no LOSO, no verdict: the bundle of the shard
        ctx.emit(Forecast("bundle", BUNDLE_CORPUS_WORK))
        return
    loso = ctx.ahead("loso")  # LOSO's work is a function of LOSO's settings
    groups = len({p.refs.grouping.content_of.get(c.sha256, c.sha256) for c in p.clips})
    for cost in forecast(sum(j.clip.n_frames for j in jobs), groups, len(p.clips), len(loso.seeds), loso.folds,
                         loso.train, choose_threads().train, len(loso.holdout)):
        ctx.emit(Forecast(cost.step, round(cost.work), round(cost.training)))


@contextlib.contextmanager
def kept_said(ctx: Context, runner: JobRunner, jobs: list[Job], samples: list[SampleJob],
              generation: str) -> Iterator[None]:
    """On an interrupt, the step's jobs finished and kept said, of the count its line gave (the sample jobs too)."""
    try:
        yield
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):  # saying so must never hide the interrupt
            kept = sum(1 for j in jobs if runner.is_done(j)) + sum(
                1 for x in samples if sample_is_done(ctx.tree, ctx.run.jobs, x, runner.prov, generation))
            ctx.emit(Info("corpus", interrupted_words(kept, len(jobs) + len(samples))))
        raise


def samples_price(jobs: list[Job], samples: list[SampleJob], done: set[str]) -> str:
    """What the sample jobs (--consumer-samplings encoded) cost, said before they start: their pixel-frames beside the
    corpus jobs' and the CPU that is at the corpus's measured rate (kit.corpus.scheduler.WORK_PER_CPU_S)."""
    corpus_work = sum(job_work(j) for j in jobs)
    left = [x for x in samples if x.job_id not in done]
    work = sum(x.work() for x in left)
    share = f" ({work / corpus_work:.0%} of the corpus jobs' {corpus_work / 1e9:.2f} G)" if corpus_work else ""
    return (f"--consumer-samplings encoded: {len(samples)} sample jobs encode the consumer's samplings on their own "
            f"after the corpus jobs ({len(samples) - len(left)} done before): {work / 1e9:.2f} G pixel-frames to do"
            f"{share}, about {work / WORK_PER_CPU_S / 60:.1f} min of CPU; the verdict's consumer figures need none of "
            "them (--consumer-samplings cut, the default, cuts the samplings from the whole encodes)")


def write_skipped(ctx: Context, unusable: list[Unusable]) -> list[Path]:
    """What was left out, and why, beside the shard (the summary says it): skipped.json and its twin as the tarball
    sends it, written with it (kit.infra.shown); both removed when nothing was; the files written."""
    tree, run = ctx.tree, ctx.run
    sent = run.sent(run.skipped_clips)
    if not unusable:
        tree.remove(run.skipped_clips)
        tree.remove(sent)
        return []
    tree.write_json(run.skipped_clips, SkippedClips(tuple(unusable)).to_json())
    tree.write_json(sent, SkippedClips(tuple(u.sent(ctx.places) for u in unusable)).to_json())
    return [run.skipped_clips, sent]


def check_the_set(ctx: Context, p: Prepared) -> None:
    """Before any job, what the whole set of clips must allow (a shard's too: the union's): enough contents, the
    shard's line, the grid of what --encoders auto resolved to, the ladder's rungs against every clip's size."""
    s = ctx.settings
    refuse_few_contents(p.refs.grouping, len(p.all_clips), MIN_SOURCES)  # a shard may hold fewer: the union
    if note := shard_note(s.shard, p.all_clips, p.clips, MIN_SOURCES, p.unusable):
        ctx.emit(Info("corpus", note))
    check_grid(p.encoders, s.cqs)  # what --encoders auto resolved to; named encoders were checked at the flag
    check_ladder(s.scales, [(c.width, c.height) for c in p.all_clips])  # --scales against the whole set


class CorpusStep:
    name = "corpus"

    def plan(self, ctx: Context) -> Plan:
        p, s = prepare(ctx), ctx.settings
        return Plan(
            # the encoders prereqs found, the clips of this shard; the clips left out, the independent check's make
            settings=ctx.fingerprint(
                resolved={"encoders": tuple(p.encoders), "shard": shard_record(p.all_clips, p.clips, s.shard)},
                facts={"skipped": sorted(u.path for u in left_out_here(p.unusable, s.shard)),
                       "oracle": [ORACLE_FRAMES, TOLERANCE]}),
            inputs={"clips": ",".join(sorted(f"{c.src}:{c.sha256}:{c.kind}:{c.width}x{c.height}:{c.fps}:"
                                             f"{c.pix_fmt}:{c.n_frames}" for c in p.clips)),
                    "contents": sha256_json({"groups": [g.to_json() for g in p.refs.grouping.groups],
                                             "twins": [t.to_json() for t in p.refs.twins],
                                             "overrides": p.refs.overrides.lines() if p.refs.overrides else []}),
                    "ffmpeg": p.prov.ffmpeg_build, "libvmaf": p.prov.libvmaf_version, "device": p.prov.device,
                    "teacher": f"{p.prov.teacher.name}:{p.prov.teacher.sha256}", "extra_features": str(p.prov.extra),
                    "devices": repr(p.prov.devices)},
            prepared=p,
            # the lossless copy's version where a clip is read through one, and the conversion's where a clip is
            # scored in another format than its own: their jobs alone are done again when it moves
            formats={"corpus_job_rows": JOB_ROWS_VERSION,
                     **({"lossless_copy": COPY_VERSION} if any(c.read_path for c in p.clips) else {}),
                     **({"score_conversion": SCORE_CONVERSION_VERSION} if any(
                         score_pix_fmt(c.pix_fmt, ENC_PIX_FMTS[p.depth.bits_of(c)]) != c.pix_fmt for c in p.clips)
                        else {})},
        )

    def run(self, ctx: Context, plan: Plan) -> Outcome:
        s, run, p, tree = ctx.settings, ctx.run, plan.prepared, ctx.tree
        assert isinstance(p, Prepared)
        # the teacher's own six, where it computes them with options (NEG): stored beside the six, for the loso step
        # to prove it on (read here, not when planning: `status` plans this step)
        p = dataclasses.replace(p, prov=dataclasses.replace(p.prov, teacher_keys=own_keys(p.prov.ffmpeg_path,
                                                                                            p.prov.teacher)))
        if p.demo:
            ctx.emit(Info(self.name, f"no --ref-dir: using the embedded DEMO corpus ({len(p.clips)} synthetic "
                                     "clips); pass --ref-dir for real content"))
        check_the_set(ctx, p)
        ladder = Ladder(s.scales, s.downscaler, s.upscaler)
        grid = s.cqs.by_encoder(p.encoders)
        jobs = plan_jobs(p.clips, grid, p.depth.bits_of, ladder)
        tree.make_folder(run.jobs)
        tree.remove_stale(run.jobs, max_age_s=0, recursive=True)
        tree.remove_folder(run.corpus_work)  # scratch of killed jobs; the out-dir lock makes us alone
        generation = redo_generation(ctx)
        sessions = session_semaphores(p.encoders)  # a hardware encoder's session cap: it shares no decode
        shares = sharing(p, sessions)
        checked = pick_oracle_jobs(jobs, lambda j: reads_shared_copy(j, shares))  # one job per clip
        ctx.emit(Doing(self.name, f"checking which of the {len(jobs)} jobs an earlier run did"))
        samples = sample_jobs(ctx, jobs)
        reused_ids, samples_done = reused(ctx, p, jobs, samples, generation, checked)
        runner, threads, n_par = job_runner(ctx, p, jobs, reused_ids, generation, sessions, shares, checked)
        planned = write_jobs_plan(ctx, jobs, samples, reused_ids | samples_done, generation, n_par)
        announce(ctx, p, jobs, samples, reused_ids | samples_done, n_par)
        planned_total = len(jobs) + len(samples)  # what every count of the step's jobs is of
        with kept_said(ctx, runner, jobs, samples, generation):  # an interrupt says the jobs kept
            failures = run_jobs(ctx.emit, runner, jobs, n_par, reused_ids, threads.job_finished, planned_total)
            tree.remove_folder(run.corpus_work)
            refused, again, scorings = left_out_by_jobs(p, jobs, failures, checked, tree, run, strict(s))
            if refused:  # the sample jobs of a clip left out are not run: no longer planned
                samples = [x for x in samples if x.job.clip.path not in refused]
                write_jobs_plan(ctx, jobs, samples, reused_ids | samples_done, generation, n_par,
                                planned.started_at_utc)
            by_samples, again_samples = encode_samples(ctx, p, samples, kept_clips(p.clips, refused),
                                                       (len(jobs), planned_total), generation)
        refused, again = {**refused, **by_samples}, [*again, *again_samples]
        for left_out in refused.values():
            ctx.say(self.name, left_out.line())
        kept = kept_clips(p.clips, refused)
        refuse_too_few_left(p, kept, refused, s.shard is not None)
        rows = write_shard(tree, [j for j in jobs if j.clip.path not in refused], run.jobs, run.shard,
                           p.refs.grouping.content_of)
        unusable = [*left_out_here(p.unusable, s.shard), *refused.values()]  # a shard's: those it names
        manifest = build_manifest(tree, run.shard, rows, p.prov, kept, list(p.encoders), grid, p.demo, len(jobs),
                                  len(reused_ids), shard_record(p.all_clips, p.clips, s.shard), p.depth, p.refs,
                                  ladder, scorings, unusable, refused, ctx.places)
        tree.write_json(run.shard_manifest, manifest.to_json())
        outputs = [run.shard, run.shard_manifest, *filter(None, [write_samplings(ctx, p.prov, samples, kept)]),
                   *write_skipped(ctx, unusable)]
        tree.remove(run.jobs_plan)  # the step's outputs say what it made
        tree.remove(run.redo_stamp)  # every job and sample job is of this generation now
        return Outcome(outputs, {"rows": rows, "jobs": len(jobs), "reused": len(reused_ids), "sources": len(kept),
                                 "skipped": len(unusable), "demo": p.demo,
                                 RETRY_KEY: sorted(Path(path).name for path in again)})
