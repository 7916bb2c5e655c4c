"""The consumer's window by the clip's own timestamps through a whole run (issue 76, item 5): a box of the three
synthetic clips of tests/real/test_window_times.py (the issue's header of 25 fps over packets 1/30 s apart, a variable
rate, a video stream that starts 0.5 s after its file). The shard manifest records each clip's frames' times; LOSO's
encodes.parquet takes, as each encode's window, the frames plain `ffmpeg -i CLIP -t 5` keeps (counted the plain way,
with framemd5), placed by the times; the window's teacher score is the mean of the corpus's own scores over those
frames; the verdict's words say no window was placed by the rate. A union of the shard (`merge`, then `run --corpus`)
carries the times and places the same windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.corpus.manifests import read_manifest, source_times
from kit.corpus.samplings import BY_RATE, BY_TIMES, PLACED_BY
from kit.rundir import RunDir
from tests import pace
from tests.conftest import FAST, LENIENT, made_once, once_run, run_here
from tests.kitfiles import verdict_of
from tests.real.test_window_times import SYNTHETIC

pytestmark = pytest.mark.slow  # a whole run of its own
KEY = ["src_sha256", "encoder", "cq", "enc_width", "enc_height"]


@pytest.fixture(scope="module")
def refs(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    def make(folder: Path) -> str:
        work = folder.parent / f"{folder.name}-work"
        work.mkdir(parents=True, exist_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        for name, maker in SYNTHETIC.items():
            made = maker(ffmpeg, work)
            made.rename(folder / f"{name}{made.suffix}")
        return ""

    return made_once(tmp_path_factory, "window-refs", make)[0]


@pytest.fixture(scope="module")
def window_run(refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, _ = once_run(tmp_path_factory, "window-run", "run", "--ref-dir", refs, "--box-id", "timed", *FAST, *LENIENT)
    return out


def plain_counts(ffmpeg: str, refs: Path) -> dict[str, int]:
    """Each clip's frames that `ffmpeg -i CLIP -t 5` keeps (each decoded frame once), counted by framemd5."""
    counts = {}
    for clip in sorted(refs.iterdir()):
        res = pace.run([ffmpeg, "-v", "error", "-i", str(clip), "-map", "0:v:0", "-t", "5", "-fps_mode",
                              "passthrough", "-f", "framemd5", "-"], check=True, capture_output=True, text=True,
                             timeout=120)
        counts[clip.stem] = sum(1 for ln in res.stdout.splitlines() if ln and not ln.startswith("#"))
    return counts


def windows_of(out: Path) -> pd.DataFrame:
    encodes = pd.read_parquet(RunDir(out).encodes)
    return encodes.set_index(KEY)[["src", "n_frames", "window_frames", "window_placed", "longer", "window_teacher"]]


def test_the_window_is_the_frames_minus_t_5_keeps_through_a_run(window_run: Path, refs: Path, ffmpeg: str) -> None:
    run = RunDir(window_run)
    plain = plain_counts(ffmpeg, refs)
    assert plain == {"header25": 150, "late": 135, "vfr": 90}
    manifest = read_manifest(run.shard)
    times = source_times(manifest)
    assert manifest is not None and len(times) == 3
    assert all(times[s.src_sha256].frames == s.frames for s in manifest.sources)
    windows = windows_of(window_run)
    assert (windows["window_frames"] == windows["src"].map(plain)).all(), windows
    assert (windows["window_placed"] == BY_TIMES).all() and windows["longer"].all()
    shard = pd.read_parquet(run.shard)
    for key, row in windows.iterrows():  # the window's teacher: the corpus's own scores over those frames
        part = shard[(shard[KEY[:3]] == list(key[:3])).all(axis=1) & (shard["enc_height"] == key[4])]
        assert np.isclose(part[part["frame_index"] < row["window_frames"]]["vmaf"].mean(), row["window_teacher"])
    verdict = verdict_of(window_run)
    assert verdict.consumer is not None and verdict.consumer.sampling is not None
    how = verdict.consumer.sampling.how
    assert "whose own timestamps lie before 5 s" in how and PLACED_BY[BY_RATE] not in how
    assert verdict.consumer.sampling.placed is None


def test_a_union_carries_the_times_and_places_the_same_windows(window_run: Path, tmp_path: Path) -> None:
    merged = tmp_path / "union.parquet"
    assert run_here("merge", RunDir(window_run).shard, "-o", merged).returncode == 0
    assert len(source_times(read_manifest(merged))) == 3
    res = run_here("run", "--corpus", merged, "--out-dir", tmp_path / "union", *FAST, *LENIENT)
    assert res.returncode in (0, 1), res.stderr[-3000:]
    union, box = windows_of(tmp_path / "union"), windows_of(window_run)
    assert union[["window_frames", "window_placed"]].sort_index().equals(
        box[["window_frames", "window_placed"]].sort_index())
