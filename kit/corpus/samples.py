"""The consumer's samplings encoded as a consumer encodes them (--consumer-samplings encoded): for a corpus job of a
clip longer than the window, at vmaf-tune's encoders and CRFs and the clip's own size, each sampling's windows
(kit.corpus.samplings) encoded on their own (each window its own encoder, first frame and rate control, with the job's
encoder arguments) and scored on their own against the same frames of the reference: one process decodes the clip
once into every window's encode, another scores them all against one decode of the reference (each window its own
libvmaf, so its motion starts at its own first frame): two decodes of the clip where a process a window would make
34. Into `jobs/<job>__samples.parquet` with a ledger beside it (a JobLedger, so a killed one is simply done again),
then all of them into 02_corpus/samples.parquet. LOSO feeds their frames to the proxy beside the same frames cut from
the whole encodes (kit.model.samplings).

A study's opt-in, priced before it starts (`samples_price`); its jobs run in the step's one count, by
kit.corpus.scheduler.run_pool as the corpus jobs are, from kit.media.argv's build_window_encodes_argv and
build_window_scores_argv. bench/bench_sampling.py runs the samplings through vmaf-tune's own seams.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kit.corpus.children import ClipChanged, child_failure, run_child
from kit.corpus.columns import CORPUS_FEATURES, log_implausible
from kit.corpus.failures import failed_of
from kit.corpus.jobs import (
    Job,
    JobLedger,
    JobResult,
    JobRunner,
    Provenance,
    frames_said,
    implausible_words,
    read_job_rows,
    read_ledger,
    redo_reason,
    stall_s,
)
from kit.corpus.samplings import SAMPLINGS, Windows, longer_than
from kit.corpus.scheduler import WORK_PER_CPU_S, job_work, run_pool
from kit.errors import ToolError
from kit.events import Emit, JobStarted
from kit.infra.clock import utc_iso
from kit.infra.files import host_name, sha256_bytes, sha256_json
from kit.infra.proc import tail_lines
from kit.infra.shown import Spelled, Withheld, spelled_path
from kit.infra.tree import Tree
from kit.media.argv import build_window_encodes_argv, build_window_scores_argv
from kit.media.libvmaf import FEATURES, parse_vmaf_log
from kit.platforms.encoders import HwArgs

if TYPE_CHECKING:  # pyarrow loads where rows are made: `status` plans the corpus step without it
    import pyarrow as pa

SAMPLES_VERSION = 1  # of a sample job's rows (SAMPLES_COLUMNS), in its fingerprint
SAMPLES_COLUMNS = ("src", "src_sha256", "encoder", "cq", "sampling", "window", "frame_index", *CORPUS_FEATURES, "vmaf",
                   "enc_bytes", "enc_seconds", "score_seconds")


@dataclass(frozen=True)
class SampleJob:
    """The samplings of one corpus job's clip, each window encoded with the job's encoder and cq on its own."""

    job: Job
    window_s: float
    # each of the clip's frames' time in seconds (kit.media.fingerprint.FrameTimes), where its fingerprint records
    # them: the windows are spans of them; else placed by the clip's rate
    times: tuple[float, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def job_id(self) -> str:
        return f"{self.job.job_id}__samples"

    def spans(self) -> dict[str, Windows]:
        clip = self.job.clip
        return {s.name: s.windows(clip.n_frames, clip.fps_float, self.window_s, self.times) for s in SAMPLINGS}

    def frames(self) -> int:
        """The frames its encodes make (and its scorings score)."""
        return sum(end - first for windows in self.spans().values() for first, end in windows)

    def work(self) -> float:
        """Its pixel-frames, as kit.corpus.scheduler.job_work counts a job's: every frame encoded, then scored."""
        clip = self.job.clip
        return float(self.frames() * 2 * clip.width * clip.height)

    def fingerprint(self, prov: Provenance) -> str:
        return sha256_json({"samples": SAMPLES_VERSION, "job": self.job.fingerprint(prov), "window_s": self.window_s,
                            "spans": {name: [list(w) for w in ws] for name, ws in self.spans().items()}})

    def paths(self, jobs_dir: Path) -> tuple[Path, Path]:
        return jobs_dir / f"{self.job_id}.parquet", jobs_dir / f"{self.job_id}.json"


def plan_samples(jobs: Sequence[Job], window_s: float, asked: Callable[[Job], bool],
                 times: Callable[[Job], tuple[float, ...] | None] = lambda _: None) -> list[SampleJob]:
    """A sample job for each job at the clip's own size of a clip longer than the window that `asked` takes (the
    encoders and CRFs vmaf-tune queries), its windows placed by the clip's frames' `times` where recorded."""
    return [SampleJob(j, window_s, t) for j in jobs if j.rendition is None and asked(j)
            and longer_than(j.clip.n_frames, j.clip.fps_float, window_s, t := times(j))]


def sample_redo_reason(tree: Tree, jobs_dir: Path, sample: SampleJob, prov: Provenance,
                       generation: str = "") -> str | None:
    """kit.corpus.jobs.redo_reason of a sample job: None when its rows are on disk as its ledger, of this fingerprint
    (and of this redo `generation`, as a corpus job's), records them (rows changed after: refused, exit 2)."""
    data_path, ledger_path = sample.paths(jobs_dir)
    return redo_reason(tree, data_path, ledger_path, sample.fingerprint(prov), generation)


def sample_is_done(tree: Tree, jobs_dir: Path, sample: SampleJob, prov: Provenance, generation: str = "") -> bool:
    return sample_redo_reason(tree, jobs_dir, sample, prov, generation) is None


def run_sample(runner: JobRunner, sample: SampleJob, started: Callable[[SampleJob], None]) -> JobResult:
    """Its rows, done now (`started` called first) or reused (done before, or since the plan was made)."""
    if not sample_is_done(runner.tree, runner.jobs_dir, sample, runner.prov, runner.generation):
        started(sample)
        return runner.in_work_folder(sample.job, sample.job_id, lambda work: _run_fresh(runner, sample, work))
    return runner.reused_from(sample.job_id, sample.paths(runner.jobs_dir)[1])


def _run_fresh(runner: JobRunner, sample: SampleJob, work: Path) -> JobResult:
    import numpy as np  # numpy and pyarrow: where rows are made (`status` plans the corpus step without them)
    import pyarrow as pa

    from kit.infra.parquet import write_table

    table, enc_s, score_s = _encode_and_score(runner, sample, work)
    if why := sample.job.clip.changed_on_disk():
        raise ClipChanged(sample.job, why)
    sink = pa.BufferOutputStream()
    write_table(table, sink)
    rows = sink.getvalue().to_pybytes()
    data_path, ledger_path = sample.paths(runner.jobs_dir)
    runner.tree.write_bytes(data_path, rows)
    # the mean of its windows' scores: what the line of a job done says (a ledger of 2.2 has none)
    vmaf_mean = round(float(np.mean(table.column("vmaf").to_numpy())), 6)
    ledger = JobLedger(sample.job_id, sample.fingerprint(runner.prov), sha256_bytes(rows), table.num_rows,
                       round(enc_s * 1000, 3), round(score_s * 1000, 3), vmaf_mean=vmaf_mean,
                       completed_at_utc=utc_iso(), generation=runner.generation or None,
                       made_by=f"pid {os.getpid()} on {host_name()}")
    runner.tree.write_json(ledger_path, ledger.to_json())
    return JobResult(sample.job_id, ledger.rows, ledger.enc_time_ms, ledger.score_time_ms, False, vmaf_mean)


def _encode_and_score(runner: JobRunner, sample: SampleJob, work: Path) -> tuple[pa.Table, float, float]:
    """Every window of every sampling encoded (one decode of the clip for all, or one window a process for a
    capped encoder), then scored in one process (one decode of the reference): the rows, and the seconds each
    part took."""
    job, clip = sample.job, sample.job.clip
    windows = [(name, k, w) for name, ws in sample.spans().items() for k, w in enumerate(ws)]
    encoded = [work / f"{name}-w{k:02d}.{job.spec.container}" for name, k, _ in windows]
    spans = [w for _, _, w in windows]
    hw = runner.hw.get(job.encoder, HwArgs())
    step = 1 if job.encoder in runner.sessions else len(windows)
    started = time.monotonic()
    for at in range(0, len(windows), step):
        argv = build_window_encodes_argv(runner.ffmpeg, clip.input_args(), job.spec, job.cq, spans[at:at + step],
                                         encoded[at:at + step], hw_init=hw.init, hw_filter=hw.filter,
                                         threads=runner.encoder_threads, progress=True, stream=clip.stream)
        with runner.sessions.get(job.encoder) or contextlib.nullcontext():
            enc = run_child(job, argv, "ffmpeg", "encoding", stall_s=stall_s(clip, len(spans[at:at + step])),
                            log=runner.log, what=WHAT)
        if not all(runner.tree.is_file(p) for p in encoded[at:at + step]):
            raise child_failure(job, "ffmpeg", "exited 0 without writing its encodes", "encoding",
                                tail=enc.stderr_tail, what=WHAT)
    enc_s = time.monotonic() - started
    logs = [work / f"{name}-w{k:02d}.json" for name, k, _ in windows]
    started = time.monotonic()
    score = run_child(job, build_window_scores_argv(runner.ffmpeg, encoded, clip.input_args(), spans, clip.width,
                                                    clip.height, job.score_pix_fmt, logs, runner.score_threads(),
                                                    runner.prov.teacher, fps=clip.fps, progress=True,
                                                    stream=clip.stream),
                      "libvmaf", "scoring", stall_s=stall_s(clip), log=runner.log, what=WHAT)
    score_s = time.monotonic() - started
    if not all(runner.tree.is_file(p) for p in logs):
        raise child_failure(job, "libvmaf", "exited 0 without writing its logs", "scoring",
                            tail=score.stderr_tail, what=WHAT)
    import pyarrow as pa

    return pa.concat_tables([_window_rows(sample, name, k, w, log, path, enc_s, score_s, score.stderr)
                             for (name, k, w), log, path in zip(windows, logs, encoded, strict=True)]), \
        enc_s, score_s


def _window_rows(sample: SampleJob, name: str, k: int, window: tuple[int, int], log: Path, encoded: Path,
                 enc_s: float, score_s: float, stderr: str) -> pa.Table:
    """One window's scored frames as rows; a window scored short of its frames fails the sample job."""
    import numpy as np
    import pyarrow as pa

    job = sample.job
    try:
        vlog = parse_vmaf_log(log)
    except ValueError as exc:
        raise child_failure(job, "libvmaf", "wrote a log the kit cannot read", "scoring", said=str(exc),
                            tail=tail_lines(stderr, 10), given=[spelled_path(log)], what=WHAT) from None
    first, end = window
    if vlog.n_frames != end - first:
        raise child_failure(job, "libvmaf", f"gave {vlog.n_frames} frames' scores, not {end - first},", "scoring",
                            said=f"{name}: window {k}: {frames_said(vlog.n_frames, end - first)}",
                            tail=tail_lines(stderr, 10), what=WHAT)
    if (found := log_implausible(vlog)) is not None:  # the range the lead's merge holds every row to
        raise child_failure(job, "libvmaf", implausible_words(*found), "scoring", said=f"{name}: window {k}",
                            tail=tail_lines(stderr, 10), given=[spelled_path(log)], what=WHAT)
    n = vlog.n_frames
    same = {"src": job.clip.src, "src_sha256": job.clip.sha256, "encoder": job.encoder, "sampling": name}
    return pa.table({**{c: [v] * n for c, v in same.items()}, "cq": pa.array([job.cq] * n, pa.int32()),
                     "window": pa.array([k] * n, pa.int32()),
                     "frame_index": pa.array(np.arange(first, end, dtype=np.int32)),
                     **{f: vlog.features[:, FEATURES.index(f)] for f in CORPUS_FEATURES}, "vmaf": vlog.vmaf,
                     "enc_bytes": pa.array([encoded.stat().st_size] * n, pa.int64()),
                     "enc_seconds": [round(enc_s, 3)] * n, "score_seconds": [round(score_s, 3)] * n})


WHAT = "'s windows on their own (the consumer's samplings)"  # a sample job, as its failure names it


def run_samples(runner: JobRunner, samples: Sequence[SampleJob], n_par: int, emit: Emit, counted: int,
                total: int) -> list[ToolError]:
    """Every sample job on n_par worker threads, each said as a corpus job is (JobStarted when it runs, then JobDone
    or JobFailed, counted on from the step's `counted` jobs of its `total`); returns the failures (a failed sample
    job's encode is left out of the encoded samplings)."""
    def started(x: SampleJob) -> None:
        job = x.job
        emit(JobStarted(x.job_id, job.clip.src, job.encoder, job.cq, x.frames(), "", x.work()))

    return run_pool(emit, lambda x: run_sample(runner, x, started), samples, [x.job_id for x in samples], n_par,
                    counted, total, "samples")


def write_samples(tree: Tree, samples: Sequence[SampleJob], jobs_dir: Path, out_path: Path, prov: Provenance) -> int:
    """Every finished sample job's rows of its fingerprint now (a ledger of another teacher or ffmpeg, left by a sample
    job redone that failed, is passed over), checked against its ledger, into 02_corpus/samples.parquet; the rows."""
    import pyarrow as pa

    from kit.infra.parquet import write_table

    tables = []
    for sample in samples:
        data_path, ledger_path = sample.paths(jobs_dir)
        ledger = read_ledger(tree, ledger_path)
        if ledger is not None and ledger.fingerprint == sample.fingerprint(prov) and tree.is_file(data_path):
            tables.append(read_job_rows(tree, data_path, ledger, ledger_path))
    table = pa.concat_tables(tables) if tables else empty_samples()
    with tree.atomic(out_path) as fh:
        write_table(table.select(list(SAMPLES_COLUMNS)), fh)
    return table.num_rows


def empty_samples() -> pa.Table:
    import pyarrow as pa

    types = {"cq": pa.int32(), "window": pa.int32(), "frame_index": pa.int32(), "enc_bytes": pa.int64(),
             **{c: pa.string() for c in ("src", "src_sha256", "encoder", "sampling")}}
    return pa.table({c: pa.array([], types.get(c, pa.float64())) for c in SAMPLES_COLUMNS})


def samples_failed(failures: list[ToolError], n_samples: int) -> Spelled:
    """The line that says the sample jobs that failed, with the first one's message: a Spelled message with its paths
    shown in what is sent, a plain one the box's alone (kit.infra.shown.Withheld: it may hold any path or word)."""
    first = failures[0].message
    return Spelled(failed_of(len(failures), n_samples, "sample jobs"),
                   first if isinstance(first, Spelled) else Withheld(first),
                   "; the step stops, and a rerun of the same command tries them again")


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
