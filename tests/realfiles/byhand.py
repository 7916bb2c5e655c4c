"""A corpus job made again by hand, with plain ffmpeg and libvmaf commands written here and nowhere in the kit: the
reference file decoded to raw frames, the job's encode made again from the row's own encoder, preset and
quality_args (one encoder thread, as the corpus step encodes: kit/steps/s02_corpus.py), decoded back to raw frames
at the reference's size and format, and libvmaf run on the two raw files, which pairs frame i with frame i by
construction (raw frames carry no timestamps). tests/real/test_teacher_truth.py does the same on clips it renders;
this takes its job from the rows a whole run wrote.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kit.media.libvmaf import FEATURES
from kit.media.pixfmt import score_pix_fmt
from tests import pace
from tests.publicclips import frames_of

# a job's identity in the corpus's rows: what it was encoded and scored with
JOB_COLUMNS = ("src", "encoder", "preset", "quality_args", "cq", "pix_fmt", "enc_pix_fmt", "width", "height",
               "enc_width", "enc_height", "scaler_down", "scaler_up")


@dataclass(frozen=True)
class Job:
    """One job of a run's corpus, as its rows say it was made."""

    src: str
    encoder: str
    preset: str
    quality_args: str
    cq: int
    pix_fmt: str
    enc_pix_fmt: str
    width: int
    height: int
    enc_width: int
    enc_height: int
    scaler_down: str
    scaler_up: str

    @property
    def rung(self) -> bool:
        return (self.enc_width, self.enc_height) != (self.width, self.height)

    def label(self) -> str:
        return f"{self.src} {self.encoder} cq {self.cq} at {self.enc_width}x{self.enc_height}"


def jobs_of(rows: pd.DataFrame) -> dict[Job, pd.DataFrame]:
    """Each job of a corpus and its rows, in frame order."""
    return {Job(*(k.item() if hasattr(k, "item") else k for k in key)): group.sort_values("frame_index")
            for key, group in rows.groupby(list(JOB_COLUMNS), sort=True)}


@dataclass(frozen=True)
class ByHand:
    frames: int  # the frames a plain decode of the reference gives
    enc_bytes: int  # the size of the encode made by hand
    vmaf: np.ndarray  # libvmaf's score of each frame
    features: np.ndarray  # (frames, 6): its canonical six, in FEATURES order
    commands: tuple[str, ...]  # what was run, as a person would type it


def run(argv: list[str], cwd: Path) -> str:
    res = pace.run(argv, cwd=cwd, capture_output=True, text=True, errors="replace", timeout=1800)
    assert res.returncode == 0, (shlex.join(argv), res.stderr[-1500:])
    return res.stderr


def by_hand(ffmpeg: str, reference: Path, job: Job, work: Path) -> ByHand:
    """The job's every frame scored by hand: (the reference's plain decode, the encode, libvmaf's log)."""
    work.mkdir(parents=True)
    size = f"{job.width}x{job.height}"
    downscale = ["-vf", f"scale={job.enc_width}:{job.enc_height}:flags={job.scaler_down}"] if job.rung else []
    upscale = f"scale={job.width}:{job.height}:flags={job.scaler_up or 'bicubic'}"
    # the format libvmaf is given: the reference's own where it takes it, else the encode's (as ffmpeg converts it)
    pix_fmt = score_pix_fmt(job.pix_fmt, job.enc_pix_fmt)
    raw = ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", size]
    commands = [
        # the reference: every decoded frame once (no rate imposed), raw in the format libvmaf is given
        [ffmpeg, "-hide_banner", "-nostdin", "-y", "-i", str(reference), "-map", "0:v:0", "-fps_mode", "passthrough",
         "-pix_fmt", pix_fmt, "-f", "rawvideo", "ref.raw"],
        # the encode: the row's encoder, preset and quality argv, one thread, an elementary stream
        [ffmpeg, "-hide_banner", "-nostdin", "-y", "-i", str(reference), "-map", "0:v:0", "-an", "-sn", "-dn",
         "-fps_mode", "passthrough", *downscale, "-pix_fmt", job.enc_pix_fmt, "-c:v", job.encoder, "-preset",
         job.preset, *shlex.split(job.quality_args), "-threads", "1", "-f", "h264", "enc.h264"],
        # the encode decoded, brought to the reference's size (the rung's upscaler) and that format
        [ffmpeg, "-hide_banner", "-nostdin", "-y", "-i", "enc.h264", "-map", "0:v:0", "-fps_mode", "passthrough",
         "-vf", upscale, "-pix_fmt", pix_fmt, "-f", "rawvideo", "dis.raw"],
        # libvmaf on the two raw files, distorted first (its default model, vmaf_v0.6.1)
        [ffmpeg, "-hide_banner", "-nostdin", *raw, "-i", "dis.raw", *raw, "-i", "ref.raw", "-lavfi",
         "[0:v][1:v]libvmaf=log_fmt=json:log_path=vmaf.json:n_threads=2", "-f", "null", "-"],
    ]
    said = [run(argv, work) for argv in commands]
    log = json.loads((work / "vmaf.json").read_text())["frames"]
    return ByHand(frames=frames_of(said[0]), enc_bytes=(work / "enc.h264").stat().st_size,
                  vmaf=np.array([f["metrics"]["vmaf"] for f in log]),
                  features=np.array([[f["metrics"][f"integer_{name}"] for name in FEATURES] for f in log]),
                  commands=tuple(shlex.join(argv) for argv in commands))
