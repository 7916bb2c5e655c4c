"""What the corpus step reads before any job, and what it refuses there: the encoders and the teacher step 01
checked, the provenance every row carries, the clips the teacher cannot score at their size (its answers kept in the
kit's cache), --content-groups, and what the whole set must allow. A helper of steps/s02_corpus.py (not a step)."""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path, PurePath

from kit.corpus.contents import Overrides, ReferenceSet, few_contents, read_overrides
from kit.corpus.depth import DepthPlan
from kit.corpus.jobs import Provenance
from kit.corpus.split import shard_note
from kit.errors import InputError
from kit.events import Info
from kit.infra.files import sha256_json
from kit.infra.host import cache_tree
from kit.infra.perms import require_trusted
from kit.infra.shown import Spelled, spelled_document
from kit.media.demo import FPS as DEMO_FPS
from kit.media.demo import SECONDS, damaged_demo_clips
from kit.media.discovery import Unusable
from kit.media.libvmaf import CANONICAL6, CANONICAL6_V1, EXTRA_SAID, Teacher
from kit.media.refs import Clip
from kit.model.recipe import MIN_FRAMES_PER_SOURCE, MIN_SOURCES
from kit.platforms.binaries import check_named
from kit.platforms.encoders import HwArgs
from kit.platforms.grids import check_grid
from kit.platforms.prereqs import Prereqs
from kit.platforms.teacher import (
    SizeAnswer,
    SizeRefused,
    check_teacher,
    clips_label,
    kept_size_answer,
    size_refusal,
    smaller_sizes,
    trusted_teacher,
)
from kit.steps.base import Context, rerun
from kit.steps.checks import check_ladder
from kit.steps.settings import RunSettings


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

    def again() -> str:  # made only for a refusal
        return rerun(ctx, "step", "prereqs", "--teacher", s.teacher, "--inputs", s.train.inputs)

    if (prereqs.teacher.name, prereqs.teacher.sha256) != (teacher.name, teacher.sha256):
        raise InputError(f"{ctx.run.step('prereqs').name} checked the teacher {prereqs.teacher.label}, not "
                         f"{teacher.label}: libvmaf must score a test pair with a teacher before any encode",
                         hint=f"rerun it with this teacher: {again()}")
    if prereqs.extra_features != s.extra_features:
        raise InputError(f"{ctx.run.step('prereqs').name} was run for --inputs "
                         f"{CANONICAL6_V1 if prereqs.extra_features else CANONICAL6}, not {s.train.inputs}: "
                         f"libvmaf must compute {EXTRA_SAID} on a test pair before any encode",
                         hint=f"rerun it with these inputs: {again()}")
    return teacher


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
    kept, damaged = kept_size_answer(cache, record)
    if kept is not None:
        return kept
    if ctx.tree.rules.reading:
        return ""
    if damaged is not None:  # said once: the record is written anew below
        ctx.log(damaged)
        ctx.emit(Info("corpus", f"a record of the teacher's check in the kit's cache was damaged (the corpus log "
                                f"names it): the check of {size} is run again"))
    try:
        ctx.log(check_teacher(prov.ffmpeg_path, prov.teacher, ctx.run.teacher_work, ctx.log, prov.extra, size, clips))
        cause = ""
    except SizeRefused as exc:
        cause = exc.cause
    with contextlib.suppress(ValueError):  # a cause that cannot be kept with its paths is asked again next time
        cache.write_json(record, SizeAnswer(size, prov.teacher.label, spelled_document(cause)).to_json())
    return cause


def check_the_set(ctx: Context, p: Prepared) -> str | None:
    """Before any job, what the whole set of clips must allow (a shard's too: the union's): enough contents for the
    union LOSO trains on a shard's (refused, exit 2), the shard's line, the grid of what --encoders auto
    resolved to, the ladder's rungs against every clip's size. Returns why LOSO cannot train on the corpus of this
    box's clips (too few contents: the corpus is made and bundled, for the lead: cannot_train)."""
    s = ctx.settings
    few = few_contents(p.refs.grouping, len(p.all_clips), MIN_SOURCES)
    if few is not None and s.shard is not None:
        raise few  # a shard may hold fewer: the union, of the whole set, may not
    if note := shard_note(s.shard, p.all_clips, p.clips, MIN_SOURCES, p.unusable):
        ctx.emit(Info("corpus", note))
    check_grid(p.encoders, s.cqs)  # what --encoders auto resolved to; named encoders were checked at the flag
    check_ladder(s.scales, [(c.width, c.height) for c in p.all_clips])  # --scales against the whole set
    return cannot_train(ctx, few.message, few.hint) if few is not None else None


def cannot_train(ctx: Context, why: str, fix: str) -> str:
    """Why LOSO cannot train on this box's corpus, recorded in the corpus step's summary (CANNOT_TRAIN_KEY) and said
    as the step finds it where this command trains (`fix`: how to train here instead): a run that trains then makes
    the corpus and bundles it alone, for the lead (kit.steps.runner.corpus_only_now), and ends 1, no verdict; a
    corpus made alone (`--only corpus`) is made alike, and the run after it reads why."""
    if ctx.trains:
        ctx.say("corpus", f"{why} (to train here: {fix})")
    return f"{why}: this box makes the corpus and bundles it; training happens at the lead"


def too_short(ctx: Context, clips: list[Clip], demo: bool, unusable: list[Unusable]) -> list[Clip]:
    """The clips of at least MIN_FRAMES_PER_SOURCE frames; each shorter one left out into `unusable`, named (with
    --strict, or when none is left, the first refuses: exit 2)."""
    hint = (f"give --demo-seconds of at least {MIN_FRAMES_PER_SOURCE / DEMO_FPS:g}" if demo
            else "use a longer cut of the clip, or remove it from --ref-dir")
    short = {c.path: InputError(Spelled(PurePath(c.path), f": {c.n_frames} frame(s); a LOSO fold needs at least "
                                        f"{MIN_FRAMES_PER_SOURCE} frames per source"), hint=hint)
             for c in clips if c.n_frames < MIN_FRAMES_PER_SOURCE}
    if short and (strict(ctx.settings) or len(short) == len(clips)):
        raise next(iter(short.values()))
    for path, exc in short.items():
        left_out = Unusable(path, exc.message, exc.hint)
        ctx.say("corpus", left_out.line())
        unusable.append(left_out)
    return [c for c in clips if c.path not in short]
