"""One corpus job: a (source, rung, encoder, cq) encode, scored frame by frame into `jobs/<job>.parquet`, and its
ledger `jobs/<job>.json` (the job's fingerprint, the parquet's sha256). A job counts as done only when both exist and
agree, so a killed job is simply done again.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pyarrow load where rows are made or read: `status` plans the corpus step without them
    import numpy as np
    import pyarrow as pa

from kit.corpus.children import ClipChanged, JobFailed, child_failure, moment_of, run_child
from kit.corpus.columns import (
    CORPUS_FEATURES,
    EXTRA_FEATURES,
    JOB_ROWS_VERSION,
    TEACHER_FEATURES,
    log_implausible,
    range_words,
)
from kit.corpus.oracle import CHECK_LOG, CheckFailed, Oracle, OracleCheck
from kit.corpus.shared import Batch, Rendition, SharedDecodes
from kit.errors import InputError
from kit.infra.clock import utc_iso
from kit.infra.files import host_name, sha256_bytes, sha256_json
from kit.infra.proc import LogFn, ProcResult, TimedOut, progress_frame, run_process, tail_lines
from kit.infra.records import NAMES_FILE, Record, keep, omit_none, read_record
from kit.infra.rules import COUNT, MS, STAMP, STAMP_OR_NONE, Real
from kit.infra.shown import spelled_path
from kit.infra.tree import Tree
from kit.media.argv import (
    build_count_argv,
    build_encode_argv,
    build_scale_filter,
    build_score_argv,
    build_shared_decode_argv,
    decoded_ref_input,
)
from kit.media.containers import COPY_VERSION
from kit.media.ffmpeg import outputs_whole, parse_frame_count, parse_output_colour
from kit.media.ladder import DOWN_DEFAULT, NATIVE, UP_DEFAULT, clip_rungs
from kit.media.libvmaf import DEFAULT_TEACHER, FEATURES, Teacher, VmafLog, parse_vmaf_log
from kit.media.pixfmt import ENC_PIX_FMTS, score_pix_fmt
from kit.media.refs import Clip
from kit.platforms.encoders import EncoderSpec, HwArgs, get_spec


@dataclass(frozen=True)
class Provenance:
    """Who made the rows: written into every row and the shard manifest."""

    box_id: str
    platform: str
    device: str
    ffmpeg_path: str
    ffmpeg_version: str
    ffmpeg_build: str
    libvmaf_version: str
    devices: tuple[tuple[str, str], ...] = ()  # (encoder, hardware that encodes it); default: `device`
    teacher: Teacher = DEFAULT_TEACHER  # the libvmaf model every row is scored with (--teacher)
    extra: bool = False  # VMAF v1's four features measured too (--inputs canonical6+v1)
    # the keys libvmaf logs the teacher's own six under, where it computes them with options (NEG: kit.media.svr),
    # stored as TEACHER_FEATURES; () for every other teacher
    teacher_keys: tuple[str, ...] = ()

    def device_for(self, encoder: str) -> str:
        return dict(self.devices).get(encoder, self.device)


@dataclass(frozen=True)
class Job:
    clip: Clip
    encoder: str
    cq: int
    bits: int = 8  # the encode's bit depth (10 only with --encode-depth source, for a deeper reference)
    rendition: Rendition | None = None  # a ladder rung below the clip's size; None: the clip's own size

    @property
    def spec(self) -> EncoderSpec:
        return get_spec(self.encoder).at_bits(self.bits)

    @property
    def enc_pix_fmt(self) -> str:
        return ENC_PIX_FMTS[self.bits]

    @property
    def score_pix_fmt(self) -> str:
        """The format libvmaf scores the encode against the reference in (kit.media.pixfmt.score_pix_fmt)."""
        return score_pix_fmt(self.clip.pix_fmt, self.enc_pix_fmt)

    @property
    def size(self) -> Rendition:
        return self.rendition or Rendition(self.clip.width, self.clip.height)

    @property
    def scale_filter(self) -> str:
        """The downscale that makes this rung's copy; "" at the clip's own size."""
        r = self.rendition
        return build_scale_filter(r.width, r.height, r.down) if r is not None else ""

    @property
    def upscaler(self) -> str:
        """The scaler that brings the encode to the reference's size for scoring."""
        return self.rendition.up if self.rendition is not None else UP_DEFAULT

    @property
    def job_id(self) -> str:
        slug = job_slug(self.clip.src)
        rung = f"__{self.rendition.width}x{self.rendition.height}" if self.rendition is not None else ""
        return f"{slug}-{self.clip.sha256[:10]}__{self.encoder}__cq{self.cq:03d}{rung}"

    def quality_argv(self) -> str:
        return " ".join([*self.spec.quality_args(self.cq), *self.spec.extra])

    def fingerprint(self, prov: Provenance) -> str:
        size = self.size
        return sha256_json({
            "schema": JOB_ROWS_VERSION, "clip": self.clip.sha256, "geometry": [
                self.clip.width, self.clip.height, self.clip.fps, self.clip.pix_fmt, self.clip.n_frames],
            "encoder": self.encoder, "preset": list(self.spec.preset), "quality": self.quality_argv(),
            "pix_fmt": self.spec.pix_fmt, "enc_pix_fmt": self.enc_pix_fmt, "cq": self.cq,
            "encode": [size.width, size.height, size.down, size.up],
            "ffmpeg": prov.ffmpeg_build, "box": prov.box_id, "device": prov.device_for(self.encoder),
            "platform": prov.platform, "teacher": [ledger_teacher_name(prov.teacher), prov.teacher.sha256],
            "extra": list(EXTRA_FEATURES) if prov.extra else [],
            # only where there are some: every other teacher's jobs keep the fingerprints of kit 2.1
            **({"teacher_keys": list(prov.teacher_keys)} if prov.teacher_keys else {}),
            # a clip read through the kit's lossless copy: what the copy holds (2.1's copies renumbered the frames)
            **({"copy": COPY_VERSION} if self.clip.read_path else {}),
            # a film read from another video stream than its file's first (a cover's or a thumbnail track's before it)
            **({"video": self.clip.film.place} if self.clip.film.place else {}),
            # a reference scored in another format than its own (libvmaf does not take it): the format ffmpeg converts
            # it to by itself (2.2 scored a gray one as gray, and one outside 4:2:0, 4:2:2 and 4:4:4 at 8 or 10 bits)
            **({"scored_in": self.score_pix_fmt} if self.score_pix_fmt != self.clip.pix_fmt else {}),
        })


@dataclass(frozen=True)
class JobResult:
    job_id: str
    rows: int
    enc_time_ms: float
    score_time_ms: float
    reused: bool
    vmaf_mean: float
    completed_at_utc: str = ""  # as its ledger says, for one this run made (progress.DoneList)


@dataclass(frozen=True)
class Ladder:
    rungs: tuple[str, ...] = (NATIVE,)
    down: str = DOWN_DEFAULT
    up: str = UP_DEFAULT

    def renditions(self, clip: Clip) -> list[Rendition | None]:
        """The clip's rungs, largest first: None for its own size, a Rendition for each rung below it."""
        return [None if (w, h) == (clip.width, clip.height) else Rendition(w, h, self.down, self.up)
                for _, w, h in clip_rungs(self.rungs, clip.width, clip.height)]


def plan_jobs(clips: Iterable[Clip], grids: Mapping[str, Iterable[int]], bits: Callable[[Clip], int] = lambda clip: 8,
              ladder: Ladder = Ladder()) -> list[Job]:
    """Every (clip, rung, encoder, cq): clips by name, rungs largest first, each encoder at its own grid."""
    return [Job(c, e, q, bits(c), r) for c in sorted(clips, key=lambda c: c.src) for r in ladder.renditions(c)
            for e, cqs in grids.items() for q in cqs]


def job_paths(jobs_dir: Path, job: Job) -> tuple[Path, Path]:
    return jobs_dir / f"{job.job_id}.parquet", jobs_dir / f"{job.job_id}.json"


@dataclass(frozen=True)
class JobLedger(Record):
    """`jobs/<job>.json`, written once the job's rows are on disk."""

    LENIENT = True  # older kits wrote fewer keys

    job_id: str
    fingerprint: str
    sha256: str  # of the job's parquet
    rows: int = field(metadata=keep(COUNT))
    enc_time_ms: float = field(metadata=keep(MS))
    score_time_ms: float = field(default=0.0, metadata=keep(MS))
    enc_argv: list[str] = field(default_factory=list, metadata=NAMES_FILE)  # a clip's path as text
    libvmaf_version: str = ""
    vmaf_mean: float = field(default=math.nan, metadata=keep(Real(nan=True)))
    completed_at_utc: str = field(default="", metadata=keep(STAMP_OR_NONE))
    generation: str | None = omit_none()  # the forced run (redo.json) that made it, if one did
    made_by: str = ""  # `pid N on HOST`: the process that ran the job (older kits wrote none)
    reference: str = ""  # what its scoring read the reference from: REF_SHARED or REF_OWN
    oracle: OracleCheck | None = omit_none()  # the independent check, on the job of its clip that is checked


REF_SHARED = "the shared decode"  # the clip's master decoded once for its jobs (kit.corpus.shared)
REF_OWN = "the clip's file"  # decoded (or read) from the clip's own file by the scoring itself


def read_ledger(tree: Tree, path: Path) -> JobLedger | None:
    """A job's ledger; None when it is missing or damaged; one not the user's own is refused (exit 2)."""
    return read_record(JobLedger, tree, path)[0]


@dataclass(frozen=True)
class RedoStamp(Record):
    """`02_corpus/redo.json`: the generation a forced corpus run is redoing, until its shard and its samplings are
    written."""

    generation: str
    since_utc: str = field(metadata=keep(STAMP))


# why a job an earlier run made is redone, not reused: every reason the reuse check below can give, said on the job's
# line by the corpus step (a job never made before is no redo: it has none)
REDO_WHY: dict[str, str] = {
    "ledger missing": "its ledger is missing (its rows are there)",
    "rows missing": "its rows are missing (its ledger is there)",
    "ledger damaged": "its ledger is damaged",
    "forced": "this run is forced (--force, or --from corpus): every job is redone",
    "check moved": "the independent check moved to it, and its ledger holds no check",
    "check on the copy": "the independent check moved to it, and must read the clip's own file, not its lossless copy",
    "fingerprint": "its ledger is of other settings, another ffmpeg or teacher, or another version of the clip "
                   "(its fingerprint differs)",
}


def redo_reason(tree: Tree, data_path: Path, ledger_path: Path, fingerprint: str, generation: str = "",
                check: Job | None = None) -> str | None:
    """Whether a job's (or a sample job's) rows are on disk as its ledger records them for `fingerprint` (of this redo
    `generation`; `check`: the job the independent check is on, made from the clip's own file): None when they are
    (reused; rows changed after are refused, exit 2), "" when no earlier run made it, else the REDO_WHY key."""
    rows, kept = tree.is_file(data_path), tree.is_file(ledger_path)
    if not (rows and kept):
        return "" if not (rows or kept) else "ledger missing" if rows else "rows missing"
    ledger = read_ledger(tree, ledger_path)
    if ledger is None:
        return "ledger damaged"
    if generation and ledger.generation != generation:
        return "forced"
    if check is not None and ledger.oracle is None:
        return "check moved"
    if check is not None and check.clip.read_path and not (ledger.oracle and ledger.oracle.own_file):
        return "check on the copy"
    if ledger.fingerprint != fingerprint:
        return "fingerprint"
    read_job_rows(tree, data_path, ledger, ledger_path)  # refuses rows that are not the ones recorded
    return None


def job_redo_reason(tree: Tree, jobs_dir: Path, job: Job, prov: Provenance, generation: str = "",
                    checked: bool = False) -> str | None:
    """redo_reason of a corpus job (`checked`: it holds the independent check)."""
    data_path, ledger_path = job_paths(jobs_dir, job)
    return redo_reason(tree, data_path, ledger_path, job.fingerprint(prov), generation, job if checked else None)


def job_is_done(tree: Tree, jobs_dir: Path, job: Job, prov: Provenance, generation: str = "",
                checked: bool = False) -> bool:
    """The job's rows are on disk as its ledger for this fingerprint (of this redo `generation`; `checked`: holding
    the check, made from the clip's own file) records them; rows changed after are refused (exit 2)."""
    return job_redo_reason(tree, jobs_dir, job, prov, generation, checked) is None


def read_job_rows(tree: Tree, data_path: Path, ledger: JobLedger, ledger_path: Path) -> pa.Table:
    """A finished job's rows, hashed as read (what is hashed is what is used) and checked against its ledger."""
    data = tree.read_bytes(data_path)
    if (found := sha256_bytes(data)) != ledger.sha256:
        who = f" ({ledger.made_by}, {ledger.completed_at_utc})" if ledger.made_by else ""
        raise InputError(f"{data_path} has sha256 {found[:12]}…, but the job that wrote it{who} recorded "
                         f"{ledger.sha256[:12]}… in {ledger_path.name}: the rows were changed after",
                         hint=f"remove both files to have the job redone (rm {data_path} {ledger_path}), or rerun "
                              "the corpus step with --force")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(data))
    for name in (c for c in TEACHER_FEATURES if c not in table.column_names):  # a job of kit 2.1: of a teacher
        # without its own six (a teacher with them has teacher_keys in its fingerprint, so its older jobs are redone)
        table = table.append_column(name, pa.nulls(table.num_rows, pa.float64()))
    return table


def frame_table(job: Job, prov: Provenance, feats: np.ndarray, vmaf: np.ndarray,
                enc_bytes: int, enc_time_ms: float, extra: np.ndarray | None = None,
                own: np.ndarray | None = None) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    from kit.corpus.schema import JOB_SCHEMA

    n = len(vmaf)
    clip, spec = job.clip, job.spec
    seconds = n / clip.fps_float
    bitrate = enc_bytes * 8 / seconds / 1000 if seconds > 0 else 0.0

    same = {  # one value on every row, of the schema's type
        "src": clip.src, "src_sha256": clip.sha256, "encoder": job.encoder, "preset": spec.preset_name,
        "quality_args": job.quality_argv(), "cq": job.cq, "enc_bytes": enc_bytes, "enc_time_ms": enc_time_ms,
        "bitrate_kbps": bitrate, "width": clip.width, "height": clip.height, "fps": clip.fps_float,
        "pix_fmt": clip.pix_fmt, "enc_pix_fmt": job.enc_pix_fmt, "enc_width": job.size.width,
        "enc_height": job.size.height, "scaler_down": job.size.down, "scaler_up": job.size.up,
        "box_id": prov.box_id, "platform": prov.platform, "device": prov.device_for(job.encoder),
        "ffmpeg_version": prov.ffmpeg_version, "teacher_model": prov.teacher.name,
        "teacher_sha256": prov.teacher.sha256,
    }
    cols = {
        **{k: pa.array([v] * n, type=JOB_SCHEMA.field(k).type) for k, v in same.items()},
        "frame_index": pa.array(np.arange(n, dtype=np.int32)), "vmaf": pa.array(vmaf),
        **{f: pa.array(feats[:, FEATURES.index(f)]) for f in CORPUS_FEATURES},  # libvmaf's order -> the schema's
        **{f: pa.array(extra[:, i]) if extra is not None else pa.nulls(n, pa.float64())
           for i, f in enumerate(EXTRA_FEATURES)},  # libvmaf.EXTRA_FEATURES' order is the schema's
        **{f: pa.array(own[:, i]) if own is not None else pa.nulls(n, pa.float64())
           for i, f in enumerate(TEACHER_FEATURES)},  # FEATURES' order, as Provenance.teacher_keys
    }
    return pa.table(cols, schema=JOB_SCHEMA)


def scores_read(job: Job, log_path: Path, score: ProcResult, prov: Provenance, written: bool) -> VmafLog:
    """The scores libvmaf logged for `job` (`written`: its log is there), each of the clip's frames; JobFailed in the
    kit's words where the log is missing, cannot be read (cut short, not JSON, a metric missing) or is short."""
    tail = tail_lines(score.stderr, 10)
    if not written:
        raise child_failure(job, "libvmaf", "exited 0 without writing its log", "scoring", tail=tail)
    try:
        vlog = parse_vmaf_log(log_path, prov.extra, prov.teacher_keys)
    except ValueError as exc:
        raise child_failure(job, "libvmaf", "wrote a log the kit cannot read", "scoring", said=str(exc), tail=tail,
                            given=[*score.argv, spelled_path(log_path)]) from None
    if vlog.n_frames != job.clip.n_frames:  # shortest=1: a reference or encode short of frames ends the scoring
        raise child_failure(job, "libvmaf", f"gave {vlog.n_frames} frames' scores, not {job.clip.n_frames},",
                            "scoring", said=frames_said(vlog.n_frames, job.clip.n_frames), tail=tail)
    if (found := log_implausible(vlog)) is not None:  # the range the lead's merge holds every row to
        raise child_failure(job, "libvmaf", implausible_words(*found), "scoring", tail=tail,
                            given=[*score.argv, spelled_path(log_path)])
    return vlog


def implausible_words(name: str, frame: int, value: float) -> str:
    """How a job's failure says a score past its range: `gave frame 3 an adm2 of 7 (outside [0, 2], ...),`."""
    return f"gave frame {frame} a {name} of {value:g}, which {range_words(name, value)},"


def frames_said(scored: int, counted: int) -> str:
    """Why libvmaf's frames differ from the clip's count, as they are: fewer (a decode cut short), or more."""
    if scored < counted:
        return "the encode or the reference decoded to fewer frames"
    return f"the encode and the reference decoded to more frames than the {counted} the kit counted in the clip"


# A job's child (an encode, the shared decode, a scoring, the independent check) is stopped once it counts no frame on
# (ffmpeg's -progress) for JOB_START_S and JOB_STALL_FRAMES frames' worth at JOB_PX_PER_S, in its own time
# (kit.infra.clock.OwnTime): never a limit on its whole length, so a busy or suspended box finishes what a quiet one
# does. An encoder takes in up to its lookahead, B-frames and threads before its first frame comes out.
JOB_START_S = 120.0
JOB_PX_PER_S = 200_000  # a 1080p frame in 10 s: far below any encoder or libvmaf the kit drives
JOB_STALL_FRAMES = 64


def stall_s(clip: Clip, encodes: int = 1) -> float:
    """How long a child of `clip`'s jobs feeding `encodes` encodes may count no frame on, in its own time."""
    return JOB_START_S + JOB_STALL_FRAMES * encodes * clip.width * clip.height / JOB_PX_PER_S


@dataclass(frozen=True)
class JobRunner:
    """Runs a corpus job (`run`), or a sample job of one (kit.corpus.samples.run_sample), in a work folder of its own:
    one done before, as its ledger records it, is reused."""

    ffmpeg: str
    prov: Provenance
    tree: Tree  # the out-dir
    jobs_dir: Path
    work_dir: Path
    vmaf_threads: int | Callable[[], int]  # or asked just before each scoring: libvmaf's scores do not depend on it
    encoder_threads: int
    # an encoder's session cap (kit.platforms.encoders.session_semaphores), held while it encodes (a sample job's
    # windows then one a process)
    sessions: dict[str, threading.Semaphore]
    log: LogFn
    hw: dict[str, HwArgs] = field(default_factory=dict)  # device args per encoder, as the probe used them
    hw_10bit: dict[str, HwArgs] = field(default_factory=dict)  # the same for 10-bit encodes (their upload format)
    # progress(job_id, phase, frames done so far, encodes the phase makes), phase "encode" then "score"; called from
    # worker threads
    progress: Callable[[str, str, int, int], None] | None = None
    generation: str = ""  # a forced run's redo generation, written into each ledger it completes
    shared: SharedDecodes | None = None  # masters decoded once for all their jobs (kit.corpus.shared)
    oracle: Oracle | None = None  # the independent check of one job per clip (kit.corpus.oracle)
    oracle_jobs: frozenset[str] = frozenset()  # the jobs it checks

    def _progress_lines(self, job: Job, phase: str, encodes: int = 1) -> Callable[[str], None] | None:
        """A reader of ffmpeg's `-progress` lines that reports `frame=N` (of a phase making `encodes` jobs'
        encodes); None without a progress callback."""
        report = self.progress
        if report is None:
            return None
        report(job.job_id, phase, 0, encodes)

        def on_line(line: str) -> None:
            frames = progress_frame(line)
            if frames is not None:
                report(job.job_id, phase, frames, encodes)

        return on_line

    def is_done(self, job: Job) -> bool:
        return job_is_done(self.tree, self.jobs_dir, job, self.prov, self.generation, job.job_id in self.oracle_jobs)

    def reused(self, job: Job) -> JobResult:
        return self.reused_from(job.job_id, job_paths(self.jobs_dir, job)[1])

    def reused_from(self, job_id: str, ledger_path: Path) -> JobResult:
        """The result of a job (or a sample job) done before, as its ledger records it."""
        ledger = read_ledger(self.tree, ledger_path)
        assert ledger is not None  # its caller's is_done checked it
        return JobResult(job_id, ledger.rows, ledger.enc_time_ms, ledger.score_time_ms, True, ledger.vmaf_mean)

    def in_work_folder(self, job: Job, job_id: str, make: Callable[[Path], JobResult]) -> JobResult:
        """`make` run in a fresh work folder of `job_id`'s, removed after; a JobFailed said as the moment's."""
        work = self.tree.fresh_folder(self.work_dir / job_id)
        try:
            return make(work)
        except JobFailed as failed:  # the clip changed under it, the out-dir moved: the moment's, not the clip's
            raise moment_of(failed, job, self.tree, work) from None
        finally:
            with contextlib.suppress(OSError):
                self.tree.remove_folder(work)

    def score_threads(self) -> int:
        """libvmaf's threads for the scoring about to start."""
        return self.vmaf_threads() if callable(self.vmaf_threads) else self.vmaf_threads

    def run(self, job: Job) -> JobResult:
        data_path, ledger_path = job_paths(self.jobs_dir, job)
        if self.is_done(job):
            if self.shared is not None:  # done since the plan was made: its clip waits for it no more
                self.shared.finished(job)
            return self.reused(job)
        try:
            return self.in_work_folder(job, job.job_id, lambda work: self._run_fresh(job, work, data_path, ledger_path))
        finally:
            if self.shared is not None:
                self.shared.finished(job)

    def _run_fresh(self, job: Job, work: Path, data_path: Path, ledger_path: Path) -> JobResult:
        import pyarrow as pa  # with the first job: `status` plans this step without it

        from kit.infra.parquet import write_table

        clip = job.clip
        if self.shared is not None and self.shared.batch_of(job) is not None:
            batch = self.shared.encode(job, lambda b, with_ref: self._run_batch(job, b, with_ref))
            encoded, enc_elapsed_s, argv = batch.encoded(job), batch.elapsed_s, batch.argv
            decoded = self.shared.ref_input(job)
        else:
            (encoded, enc_elapsed_s, argv), decoded = self._encode(job, work), None
        ref_input = decoded_ref_input(*decoded) if decoded is not None else clip.input_args()
        log_path = work / "vmaf.json"
        n_threads = self.score_threads()
        score = run_child(
            job, build_score_argv(self.ffmpeg, encoded, ref_input, clip.width, clip.height, job.score_pix_fmt,
                                  log_path, n_threads, progress=True, teacher=self.prov.teacher,
                                  extra=self.prov.extra, upscaler=job.upscaler, fps=clip.fps,
                                  stream=None if decoded is not None else clip.stream),
            "libvmaf", "scoring", stall_s=stall_s(clip), log=self.log,
            on_stdout_line=self._progress_lines(job, "score"))
        vlog = scores_read(job, log_path, score, self.prov, self.tree.is_file(log_path))
        check = self._checked(job, encoded, vlog.vmaf, work / CHECK_LOG, n_threads)
        if why := clip.changed_on_disk():  # re-exported mid-run: these rows are not of the hashed content
            raise ClipChanged(job, why)
        enc_time_ms = round(enc_elapsed_s * 1000, 3)
        table = frame_table(job, self.prov, vlog.features, vlog.vmaf, encoded.stat().st_size, enc_time_ms, vlog.extra,
                            vlog.own)
        sink = pa.BufferOutputStream()
        write_table(table, sink)
        rows = sink.getvalue().to_pybytes()
        self.tree.write_bytes(data_path, rows)
        ended = utc_iso()
        self.tree.write_json(ledger_path, JobLedger(
            job.job_id, job.fingerprint(self.prov), sha256_bytes(rows), table.num_rows, enc_time_ms,
            round(score.elapsed_s * 1000, 3), argv, vlog.version, float(vlog.vmaf.mean()), ended,
            self.generation or None, f"pid {os.getpid()} on {host_name()}", REF_SHARED if decoded else REF_OWN,
            check).to_json())
        return JobResult(job.job_id, table.num_rows, enc_time_ms, score.elapsed_s * 1000, False,
                         float(vlog.vmaf.mean()), ended)

    def _checked(self, job: Job, encoded: Path, rows_vmaf: np.ndarray, log_path: Path,
                 n_threads: int) -> OracleCheck | None:
        """The independent check of `job`'s scores, where it is the job of its clip that is checked; a check that did
        not run fails the job in the kit's words (kit.corpus.oracle.CheckFailed)."""
        if self.oracle is None or job.job_id not in self.oracle_jobs:
            return None
        try:
            return self.oracle.check(job.job_id, job.clip, encoded, rows_vmaf, log_path, n_threads, job.upscaler,
                                     stall_s(job.clip))
        except CheckFailed as exc:
            raise child_failure(job, "libvmaf", exc.how, "in the independent check of", said=exc.said,
                                tail=exc.stderr_tail, given=exc.argv, retry_helps=exc.retry_helps, capped=exc.capped,
                                full_disk=exc.full_disk, end=exc.end) from None

    def _encode(self, job: Job, work: Path) -> tuple[Path, float, list[str]]:
        """The job's own encode, decoding the reference itself: (the encode, its seconds, its argv)."""
        clip, spec = job.clip, job.spec
        encoded = work / f"enc.{spec.container}"
        hw = (self.hw_10bit if job.bits > 8 else self.hw).get(job.encoder, HwArgs())
        argv = build_encode_argv(self.ffmpeg, clip.input_args(), spec, job.cq, encoded, hw_init=hw.init,
                                 hw_filter=hw.filter, threads=self.encoder_threads, progress=True,
                                 scale=job.scale_filter, stream=clip.stream)
        enc = self._run_encode(job, argv, stall_s(clip), "encoding", [encoded], self.sessions.get(job.encoder))
        return encoded, enc.elapsed_s, argv

    def _run_encode(self, job: Job, argv: list[str], stall: float, doing: str, made: list[Path],
                    hold: threading.Semaphore | None = None, encodes: int = 1) -> ProcResult:
        """Run an encode of `job` making `encodes` jobs' encodes (`hold` held while it runs; `doing` it, in words: a
        failure says it; `stall`: how long it may count no frame on): it must write `made`, each of the clip's
        frames."""
        with hold if hold is not None else contextlib.nullcontext():
            enc = run_child(job, argv, "ffmpeg", doing, stall_s=stall, log=self.log,
                            on_stdout_line=self._progress_lines(job, "encode", encodes))
        if not all(self.tree.is_file(p) for p in made):
            raise child_failure(job, "ffmpeg", "exited 0 without writing its encode", doing, tail=enc.stderr_tail)
        try:
            encoded_frames = parse_frame_count(enc.stderr)
        except ValueError:
            raise child_failure(job, "ffmpeg", "reported no frame count", doing, tail=enc.stderr_tail) from None
        if encoded_frames != job.clip.n_frames:
            raise child_failure(job, "ffmpeg", f"wrote {encoded_frames} frames of {job.clip.n_frames}", doing,
                                tail=enc.stderr_tail)
        return enc

    def _frames_in(self, ref: Path, clip: Clip) -> int | None:
        """The frames the shared decode's copy of a reference holds (a repeated one keeps the scoring's count)."""
        try:
            res = run_process(build_count_argv(self.ffmpeg, ref, progress=True), timeout_s=math.inf, log=self.log,
                              stall_s=stall_s(clip), frames=True)
            return parse_frame_count(res.stderr) if res.returncode == 0 else None
        except (TimedOut, ValueError):
            return None

    def _run_batch(self, job: Job, batch: Batch, with_ref: bool) -> None:
        """One decode of `job`'s master into its batch's encodes (and, `with_ref`, the clip's decoded reference)."""
        assert self.shared is not None
        clip, ref_path = job.clip, self.shared.clips[job.clip.path].ref_path
        encodes = [(j.spec, j.cq, batch.encoded(j)) for j in batch.jobs]
        with contextlib.ExitStack() as stack:
            ref_tmp = stack.enter_context(self.tree.atomic_path(ref_path)) if with_ref else None
            argv = build_shared_decode_argv(self.ffmpeg, clip.input_args(), encodes, ref_pix_fmt=job.score_pix_fmt,
                                            ref_out=ref_tmp or "", threads=self.encoder_threads, progress=True,
                                            scales=[j.scale_filter for j in batch.jobs], stream=clip.stream)
            enc = self._run_encode(job, argv, stall_s(clip, len(encodes)), "in the shared decode of",
                                   [batch.encoded(j) for j in batch.jobs], encodes=len(encodes))
            if ref_tmp is not None:
                tags = parse_output_colour(enc.stderr, len(encodes))
                if tags is None:  # a tag the scorings could not give back, or its line cut: they decode the master
                    why = ("not recognised" if outputs_whole(enc.stderr) else
                           "cut in ffmpeg's log by another of its threads' lines")
                    self.log(f"shared decode: {clip.src}: the decoded reference's colour tags were {why}; "
                             "its scorings decode the master themselves")
                elif (held := self._frames_in(ref_tmp, clip)) != clip.n_frames:  # a frame dropped or repeated anywhere
                    self.log(f"shared decode: {clip.src}: its decoded reference holds {held} frames, not "
                             f"{clip.n_frames}; its scorings decode the master themselves")
                    tags = None
                self.shared.clips[clip.path].ref_tags = tags
        batch.elapsed_s, batch.argv = enc.elapsed_s, argv


def ledger_teacher_name(teacher: Teacher) -> str:
    """The teacher's name in a job's fingerprint: a model file's by its file's name, as kit 2.4 named the teacher (its
    name is now its digest, kit.media.libvmaf.file_teacher_name), so that no job of 2.4 is redone for it; the ledgers
    stay on the box."""
    if teacher.builtin or not teacher.path:
        return teacher.name
    name = PurePath(teacher.path).name
    return name.removesuffix(".json") or name


def job_slug(src: str) -> str:
    """A source's name as its jobs' ids and folders begin (letters, digits, `.`, `_`, `-`: a file name anywhere)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", src).strip("-.")[:40] or "clip"
