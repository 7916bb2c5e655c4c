"""One decode of a compressed master for all of its corpus jobs: one ffmpeg feeds the encodes of a batch of jobs and,
once per clip, writes the reference as the scorings take it (`decoded/<clip>/ref.nut`, in the format they score in);
the rows are byte-identical to the per-job decode's. A .y4m or .yuv clip shares only its scaled rungs.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from kit.infra.proc import LogFn
from kit.infra.tree import Tree
from kit.infra.variables import SHARED_DECODE
from kit.media.ladder import NO_SCALER
from kit.media.refs import Clip, frame_bytes

# the formats whose encode ffmpeg makes otherwise in a filter graph of several outputs than in a plain command, the
# same pictures given to the encoder (measured over every format a file holds, tests/real/test_pixel_formats.py):
# 4:1:0 (Indeo's: gem-doc's homer.avi at libx264 crf 30 is 17,814 bytes from the shared decode, 17,644 from a plain
# encode of the file). A clip in one is decoded by each of its jobs, as a plain encode reads it.
OWN_DECODE_PIX_FMTS = ("yuv410p",)
ENCODES_PER_DECODE = 4  # each with its own lookahead in memory: one encoder's default grid
DISK_RESERVE_BYTES = 512 << 20
REF_NAME = "ref.nut"


@dataclass(frozen=True)
class Rendition:
    """A ladder rung as one clip is encoded at it: the encode's size and its scalers (NO_SCALER at the clip's size)."""

    width: int
    height: int
    down: str = NO_SCALER
    up: str = NO_SCALER


class Container(Protocol):
    @property
    def container(self) -> str: ...


class Job(Protocol):
    """What a shared decode needs of a corpus job (kit.corpus.jobs.Job, whose runner runs the batches)."""

    @property
    def clip(self) -> Clip: ...

    @property
    def size(self) -> Rendition: ...

    @property
    def job_id(self) -> str: ...

    @property
    def rendition(self) -> Rendition | None: ...

    @property
    def spec(self) -> Container: ...

    @property
    def score_pix_fmt(self) -> str: ...


J = TypeVar("J", bound=Job)


def plan_batches(jobs: list[J], folder: Path) -> list[Batch[J]]:
    """One clip's jobs in batches of one rung each; the first batch of a master also writes its decoded reference."""
    batches: list[Batch[J]] = []
    by_rung: dict[tuple[int, int], list[J]] = {}
    for job in jobs:
        by_rung.setdefault((job.size.width, job.size.height), []).append(job)
    for rung_jobs in by_rung.values():
        clip, size = rung_jobs[0].clip, rung_jobs[0].size
        step = max(1, ENCODES_PER_DECODE * (clip.width * clip.height) // max(1, size.width * size.height))
        for i in range(0, len(rung_jobs), step):
            batches.append(Batch(rung_jobs[i:i + step], folder, writes_ref=not batches and
                                 rung_jobs[0].clip.kind == "master"))
    return batches


def shareable(job: Job) -> bool:
    """Whether a shared decode makes `job`'s encode as a plain encode makes it (not OWN_DECODE_PIX_FMTS)."""
    return job.clip.pix_fmt not in OWN_DECODE_PIX_FMTS


def reads_shared_copy(job: J, shares: Callable[[J], bool]) -> bool:
    """Whether `job`'s scoring reads the clip's decoded copy (REF_NAME): a master's job the plan `shares`."""
    return job.clip.kind == "master" and shares(job) and shareable(job)


def shared_decode_enabled() -> bool:
    """KIT_SHARED_DECODE=off (or 0, false, no) turns the plan off (kit.infra.variables)."""
    return SHARED_DECODE.read() is True


@dataclass
class Batch(Generic[J]):
    """Jobs of one clip whose encodes one ffmpeg makes from one decode, run by whichever of its jobs comes first."""

    jobs: list[J]
    folder: Path  # the clip's folder: encodes and the decoded reference
    writes_ref: bool
    lock: threading.Lock = field(default_factory=threading.Lock)
    ran: bool = False
    failure: BaseException | None = None  # why the batch's ffmpeg failed: each of its jobs fails with it
    elapsed_s: float = 0.0
    argv: list[str] = field(default_factory=list)

    def encoded(self, job: Job) -> Path:
        return self.folder / f"{job.job_id}.{job.spec.container}"


@dataclass
class ClipDecode(Generic[J]):
    folder: Path
    unfinished: int
    ref_made: threading.Event = field(default_factory=threading.Event)  # set once the ref is there, or never will be
    ref_tags: tuple[tuple[str, str], ...] | None = None  # colour tags of ref.nut; None: no usable ref
    made: bool = False  # its folder exists

    @property
    def ref_path(self) -> Path:
        return self.folder / REF_NAME


class SharedDecodes(Generic[J]):
    def __init__(self, tree: Tree, jobs: Iterable[J], folder: Path, log: LogFn,
                 shares: Callable[[J], bool] = lambda job: True) -> None:
        self.tree, self.folder, self.log = tree, folder, log
        self._lock = threading.Lock()
        by_clip: dict[str, list[J]] = {}
        for job in jobs:
            if (job.clip.kind == "master" or job.rendition is not None) and shares(job) and shareable(job):
                by_clip.setdefault(job.clip.path, []).append(job)
        self.clips: dict[str, ClipDecode[J]] = {}
        self._batch_of: dict[str, Batch[J]] = {}
        for path, clip_jobs in by_clip.items():
            sub = folder / clip_jobs[0].job_id.split("__")[0]
            batches = plan_batches(clip_jobs, sub)
            decode: ClipDecode[J] = ClipDecode(sub, len(clip_jobs))
            if not any(b.writes_ref for b in batches):  # a clip read as it is: its scorings read it too
                decode.ref_made.set()
            self.clips[path] = decode
            self._batch_of.update({j.job_id: b for b in batches for j in b.jobs})

    def batch_of(self, job: Job) -> Batch[J] | None:
        return self._batch_of.get(job.job_id)

    def encode(self, job: Job, run_batch: Callable[[Batch[J], bool], None]) -> Batch[J]:
        """The job's batch, run by `run_batch(batch, with_ref)` first if no job of it has run it."""
        batch = self._batch_of[job.job_id]
        clip = self.clips[job.clip.path]
        with batch.lock:
            if not batch.ran:
                batch.ran = True
                with_ref = batch.writes_ref and self._room_for_ref(job)
                try:
                    with self._lock:  # made once, by whichever batch of the clip starts first
                        if not clip.made:
                            self.tree.fresh_folder(clip.folder)
                            clip.made = True
                    run_batch(batch, with_ref)
                except BaseException as exc:  # a failed ffmpeg, or an interrupt: no job of the batch goes on
                    batch.failure = exc
                    raise
                finally:
                    if batch.writes_ref:
                        clip.ref_made.set()
        if batch.failure is not None:
            raise batch.failure
        return batch

    def _room_for_ref(self, job: Job) -> bool:
        clip = job.clip
        need = clip.n_frames * frame_bytes(clip.width, clip.height, job.score_pix_fmt)  # the reference as scored
        probe = self.folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if free >= need + DISK_RESERVE_BYTES:
            return True
        self.log(f"shared decode: {clip.src} decoded would take {need / 2**30:.2f} GiB, {free / 2**30:.2f} GiB are "
                 f"free in {probe}: its scorings decode the master themselves, as without the plan")
        return False

    def ref_input(self, job: Job) -> tuple[Path, tuple[tuple[str, str], ...]] | None:
        """The clip's decoded reference and its colour tags, once its first batch is done; None when there is none."""
        clip = self.clips[job.clip.path]
        clip.ref_made.wait()
        return None if clip.ref_tags is None or not self.tree.is_file(clip.ref_path) else (clip.ref_path, clip.ref_tags)

    def finished(self, job: Job) -> None:
        """A job is over (done or failed): its encode goes, and the clip's folder once no job of it is left."""
        batch = self._batch_of.get(job.job_id)
        if batch is None:
            return
        self.tree.remove(batch.encoded(job))
        clip = self.clips[job.clip.path]
        with self._lock:
            clip.unfinished -= 1
            last = clip.unfinished == 0
        if last:
            self.tree.remove_folder(clip.folder)
