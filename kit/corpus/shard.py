"""Assembling the shard: every job's rows in plan order, and the shard manifest."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from kit import __version__
from kit.corpus.contents import ReferenceSet
from kit.corpus.depth import DepthPlan
from kit.corpus.jobs import Job, Ladder, Provenance, job_paths, read_job_rows, read_ledger
from kit.corpus.manifests import ClipEntry, FFmpegRef, LeftOut, ShardManifest, ShardRecord
from kit.corpus.oracle import OracleCheck
from kit.errors import InputError
from kit.infra import typed
from kit.infra.clock import utc_iso
from kit.infra.shown import Places
from kit.infra.tree import Tree
from kit.media.discovery import Unusable, low_bitrate_warning
from kit.media.pixfmt import ENC_PIX_FMTS, score_pix_fmt, scoring_note, typed_pix_fmt
from kit.media.refs import Clip


def write_shard(tree: Tree, jobs: list[Job], jobs_dir: Path, out_path: Path, content_of: Mapping[str, str]) -> int:
    """Stream every job's rows, checked, into one parquet file; returns the row count."""
    # here: `status` plans the corpus step without pyarrow
    from kit.corpus.schema import JOB_COLUMNS, SCHEMA, typed_columns, validate_table, with_content
    from kit.infra.parquet import WRITE_OPTIONS, table_writer

    rows = 0
    with tree.atomic(out_path) as fh, table_writer(fh, SCHEMA, WRITE_OPTIONS) as writer:
        for job in jobs:
            data_path, ledger_path = job_paths(jobs_dir, job)
            ledger = read_ledger(tree, ledger_path)
            if ledger is None:
                raise InputError(f"{ledger_path} is missing or damaged: job {job.job_id} finished without its record",
                                 hint="rerun the corpus step: that job is done again")
            table = read_job_rows(tree, data_path, ledger, ledger_path)
            try:  # what the job's parse held its scores to: rows changed since (with their ledger) are not sent
                validate_table(table, str(data_path))
            except InputError as exc:
                raise InputError(f"{exc.message}: the lead's merge would refuse this box's corpus for it",
                                 hint=f"remove both files to have the job redone (rm {data_path} {ledger_path}), or "
                                      "rerun the corpus step with --force") from None
            writer.write_table(typed_columns(with_content(table.select(JOB_COLUMNS), content_of)).cast(SCHEMA))
            rows += table.num_rows
    return rows


@dataclass(frozen=True)
class ClipScoring:
    decode: str
    oracle: OracleCheck | None


def clip_scorings(tree: Tree, jobs: list[Job], jobs_dir: Path, checked: frozenset[str]) -> dict[str, ClipScoring]:
    """Each clip's ClipScoring (by its path) from its jobs' ledgers; `checked`: the jobs that hold the check."""
    reads: dict[str, set[str]] = {}
    checks: dict[str, OracleCheck] = {}
    for job in jobs:
        ledger = read_ledger(tree, job_paths(jobs_dir, job)[1])
        if ledger is None:
            continue
        reads.setdefault(job.clip.path, set()).add(ledger.reference)
        if job.job_id in checked and ledger.oracle is not None:
            checks[job.clip.path] = ledger.oracle
    return {path: ClipScoring(" and ".join(sorted(found - {""})), checks.get(path)) for path, found in reads.items()}


def sent_check(check: OracleCheck | None, places: Places) -> OracleCheck | None:
    """A clip's independent check as the manifest holds it: its command as the lead may see it, what it found wrong
    read as heard of it (KEPT: as it ran)."""
    if check is None or places.kept:
        return check
    given = [arg for arg in check.argv if PurePath(arg).is_absolute()]  # its files, which the failure may name
    return replace(check.sent(), failure=places.said(check.failure, given) if check.failure else "")


def build_manifest(tree: Tree, out_path: Path, rows: int, prov: Provenance, clips: list[Clip], encoders: list[str],
                   grid: dict[str, list[int]], demo: bool, jobs: int, reused: int, shard: ShardRecord | None,
                   depth: DepthPlan, refs: ReferenceSet, ladder: Ladder,
                   scorings: Mapping[str, ClipScoring], left_out: Sequence[Unusable] = (),
                   refuted: Collection[str] = (), places: Places = Places.KEPT) -> ShardManifest:
    """The shard's manifest; `left_out`: the clips left out, of which `refuted` by the independent check. It is sent
    as it is (the kit reads no path of it): every path in it as `places` shows it (kit.infra.shown)."""
    from kit.corpus.schema import corpus_sha256

    return ShardManifest(
        kind="shard", file=out_path.name, sha256=tree.sha256(out_path), rows=rows,
        box_id=prov.box_id, platform=prov.platform, device=typed.device(prov.device),
        devices={enc: typed.device(prov.device_for(enc)) for enc in encoders},
        ffmpeg=FFmpegRef(places.show(prov.ffmpeg_path), typed.version(prov.ffmpeg_version),
                         typed.version(prov.ffmpeg_build)),
        libvmaf_version=typed.build_id(prov.libvmaf_version), teacher_model=prov.teacher.name,
        teacher_sha256=prov.teacher.sha256, encoders=encoders, grid=grid,
        scales=list(ladder.rungs), scaler_down=ladder.down, scaler_up=ladder.up, encode_depth=depth.setting,
        demo_corpus=demo,
        sources=tuple(ClipEntry(c.src, c.sha256, c.width, c.height, c.fps, typed_pix_fmt(c.pix_fmt), c.n_frames,
                                ENC_PIX_FMTS[depth.bits_of(c)], *refs.entry(c), file=Path(c.path).name,
                                decode=scorings[c.path].decode if c.path in scorings else "",
                                oracle=sent_check(scorings[c.path].oracle if c.path in scorings else None, places),
                                scored_in=score_pix_fmt(c.pix_fmt, ENC_PIX_FMTS[depth.bits_of(c)]),
                                scoring=scoring_note(c.pix_fmt, ENC_PIX_FMTS[depth.bits_of(c)]),
                                repeats=refs.repeats(c), times=refs.times(c))
                      for c in sorted(clips, key=lambda c: c.src)),
        kit_version=__version__, created_at_utc=utc_iso(), jobs=jobs, reused_jobs=reused, shard=shard,
        twins=tuple(replace(t, file=places.show(PurePath(t.file)), same_as_file=places.show(PurePath(t.same_as_file)))
                    for t in refs.twins_of(clips)),
        groups=refs.groups_of(clips),
        overrides=refs.overrides.lines() if refs.overrides else [], apart=[list(p) for p in refs.grouping.apart],
        left_out=tuple(LeftOut(Path(u.path).name, u.sent(places).why, prov.box_id, u.path in refuted)
                       for u in left_out),
        warnings=[places.said(w, [c.path]) for c in sorted(clips, key=lambda c: c.src)
                  if (w := low_bitrate_warning(c))],
        corpus_sha256=corpus_sha256(out_path),
    )
