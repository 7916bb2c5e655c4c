"""Step 02: encode every clip x rung x encoder x cq, score every frame, write the shard."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from kit.corpus.columns import JOB_ROWS_VERSION
from kit.corpus.contents import one_source_each
from kit.corpus.depth import check_prereqs_depth, plan_depths
from kit.corpus.jobs import Job, Ladder, plan_jobs
from kit.corpus.oracle import ORACLE_FRAMES, TOLERANCE, pick_oracle_jobs
from kit.corpus.progress import DoneList
from kit.corpus.shared import reads_shared_copy
from kit.corpus.split import left_out_here, select_shard, shard_record
from kit.events import Doing, Info
from kit.infra.files import sha256_json
from kit.infra.host import cache_tree
from kit.media.containers import COPY_VERSION
from kit.media.discovery import Unusable, reference_clips
from kit.media.identity import remembered_pairs
from kit.media.pixfmt import ENC_PIX_FMTS, SCORE_CONVERSION_VERSION, score_pix_fmt
from kit.media.refs import YuvDefaults
from kit.platforms.encoders import session_semaphores
from kit.platforms.teacher import own_keys
from kit.steps.base import CANNOT_TRAIN_KEY, RETRY_KEY, Context, Outcome, Plan, read_prereqs, rerun
from kit.steps.corpus_inputs import (
    Prepared,
    check_the_set,
    content_overrides,
    prereq_encoders,
    provenance,
    renew_damaged_demo,
    strict,
    teacher_unusable,
    too_short,
)

if TYPE_CHECKING:
    from kit.corpus.samples import SampleJob
    from kit.corpus.shard import ClipScoring


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
    found = too_short(ctx, found, demo, unusable)  # a clip too short for a LOSO fold: left out, named
    refs = one_source_each(found, prints, content_overrides(ctx, unusable),
                           remembered_pairs(cache_tree(), ctx.tree.rules.reading))
    for line in refs.lines():  # every name given, twin and grouping that moves the folds
        note(line)
    all_clips = refs.clips
    clips = select_shard(all_clips, s.shard, refs.grouping.content_of, unusable)
    depth = plan_depths(clips, encoders, s.encode_depth, prereqs.encoders_10bit)
    return Prepared(encoders, prereqs.hw_args(), prov, all_clips, refs, clips, demo, depth, unusable)


class JobsDone(NamedTuple):
    """What the step's jobs left: the clips they refused (by path) and those to try again, each clip's scoring, the
    sample jobs still planned, and how many jobs an earlier run did."""

    jobs: list[Job]
    refused: dict[str, Unusable]
    again: list[str]
    scorings: dict[str, ClipScoring]
    samples: list[SampleJob]
    reused: int
    cannot_train: str | None = None  # why LOSO cannot train on this corpus here, found before any job (check_the_set)


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
        # the jobs' machinery, imported to run them, not to plan (`status` plans this step)
        from kit.corpus.scheduler import run_jobs
        from kit.steps.corpus_jobs import (
            announce,
            drop_samples,
            job_runner,
            kept_clips,
            kept_said,
            left_out_by_jobs,
            sharing,
            write_jobs_plan,
        )
        from kit.steps.corpus_redo import redo_generation, reused
        from kit.steps.corpus_samples import encode_samples, sample_jobs

        s, run, p, tree = ctx.settings, ctx.run, plan.prepared, ctx.tree
        assert isinstance(p, Prepared)
        # the teacher's own six, where it computes them with options (NEG): stored beside the six, for the loso step
        # to prove it on (read here, not when planning: `status` plans this step)
        p = dataclasses.replace(p, prov=dataclasses.replace(p.prov, teacher_keys=own_keys(p.prov.ffmpeg_path,
                                                                                            p.prov.teacher)))
        if p.demo:
            ctx.emit(Info(self.name, f"no --ref-dir: using the embedded DEMO corpus ({len(p.clips)} synthetic "
                                     "clips); pass --ref-dir for real content"))
        short = check_the_set(ctx, p)
        ladder = Ladder(s.scales, s.downscaler, s.upscaler)
        jobs = plan_jobs(p.clips, s.cqs.by_encoder(p.encoders), p.depth.bits_of, ladder)
        tree.make_folder(run.jobs)
        tree.remove_stale(run.jobs, max_age_s=0, recursive=True)
        tree.remove_folder(run.corpus_work)  # scratch of killed jobs; the out-dir lock makes us alone
        generation = redo_generation(ctx)
        sessions = session_semaphores(p.encoders)  # a hardware encoder's session cap: it shares no decode
        shares = sharing(p, sessions)
        checked = pick_oracle_jobs(jobs, lambda j: reads_shared_copy(j, shares))  # one job per clip
        ctx.emit(Doing(self.name, f"checking which of the {len(jobs)} jobs an earlier run did"))
        samples = sample_jobs(ctx, jobs, p)
        reused_ids, samples_done = reused(ctx, p, jobs, samples, generation, checked)
        runner, threads, n_par = job_runner(ctx, p, jobs, reused_ids, generation, sessions, shares, checked)
        listed = DoneList(tree, run.jobs_done)  # begun anew before the plan: no older run's line beside it
        planned = write_jobs_plan(ctx, jobs, samples, reused_ids | samples_done, generation, n_par)
        announce(ctx, p, jobs, samples, reused_ids | samples_done, n_par, trains=short is None)
        with contextlib.closing(listed), kept_said(ctx, runner, jobs, lambda: samples, generation):
            # every count of the step's jobs is of len(jobs) + len(samples); an interrupt says the jobs kept
            failures = run_jobs(ctx.emit, runner, jobs, n_par, reused_ids, threads.job_finished,
                                len(jobs) + len(samples), listed.add)
            tree.remove_folder(run.corpus_work)
            refused, again, scorings = left_out_by_jobs(p, jobs, failures, checked, tree, run, strict(s))
            # the sample jobs of a clip left out are not run: no longer planned nor counted
            samples = drop_samples(ctx, planned, jobs, samples, refused, reused_ids | samples_done)
            by_samples, again_samples = encode_samples(ctx, p, samples, kept_clips(p.clips, refused),
                                                       (len(jobs), len(jobs) + len(samples)), generation)
        done = JobsDone(jobs, {**refused, **by_samples}, [*again, *again_samples], scorings, samples, len(reused_ids),
                        short)
        return self.write(ctx, p, done, ladder)

    def write(self, ctx: Context, p: Prepared, done: JobsDone, ladder: Ladder) -> Outcome:
        """The shard and its manifest of the clips the jobs kept, the samplings, the clips left out and why."""
        from kit.corpus.shard import build_manifest, write_shard
        from kit.steps.corpus_jobs import kept_clips, repeated_causes, too_few_left, write_skipped
        from kit.steps.corpus_samples import write_samplings

        s, run, tree = ctx.settings, ctx.run, ctx.tree
        # a cause that left a clip out in the run before too, said so with its fix (never the clip's refusal)
        unusable, changed = repeated_causes(ctx, [*left_out_here(p.unusable, s.shard), *done.refused.values()])
        refused = {u.path: u for u in unusable if u.path in done.refused}
        for left_out in unusable:
            if left_out.path in refused or left_out.path in changed:  # a look's first words were said as it was read
                ctx.say(self.name, left_out.line())
        kept = kept_clips(p.clips, refused)
        short = done.cannot_train or too_few_left(ctx, p, kept, refused, s.shard is not None)
        rows = write_shard(tree, [j for j in done.jobs if j.clip.path not in refused], run.jobs, run.shard,
                           p.refs.grouping.content_of)
        manifest = build_manifest(tree, run.shard, rows, p.prov, kept, list(p.encoders), s.cqs.by_encoder(p.encoders),
                                  p.demo, len(done.jobs), done.reused, shard_record(p.all_clips, p.clips, s.shard),
                                  p.depth, p.refs, ladder, done.scorings, unusable, refused, ctx.places)
        tree.write_json(run.shard_manifest, manifest.to_json())
        outputs = [run.shard, run.shard_manifest, *filter(None, [write_samplings(ctx, p.prov, done.samples, kept)]),
                   *write_skipped(ctx, unusable)]
        tree.remove(run.jobs_plan)  # the step's outputs say what it made
        tree.remove(run.jobs_done)
        tree.remove(run.redo_stamp)  # every job and sample job is of this generation now
        return Outcome(outputs, {"rows": rows, "jobs": len(done.jobs), "reused": done.reused, "sources": len(kept),
                                 "skipped": len(unusable), "demo": p.demo,
                                 # the clips the box or the moment left out, its looks' too: the next run is
                                 # never up to date while it lists one
                                 RETRY_KEY: sorted({*(Path(path).name for path in done.again),
                                                    *(Path(u.path).name for u in unusable if u.again)}),
                                 # LOSO cannot train on it here: the run bundles it alone (Context.corpus_only)
                                 **({CANNOT_TRAIN_KEY: {"why": short}} if short else {})})
