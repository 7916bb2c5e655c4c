"""Odd reference clips through the real corpus step: Netflix-style names, 10-bit,
4:2:2 and 4:4:4, per-clip frame rates, and paths with spaces, quotes and colons."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import FAST, LENIENT, TINY_FRAMES, assert_clean_failure, render, run_here, run_kit

pytestmark = pytest.mark.slow

# file name -> (lavfi source, pix_fmt, container, expected src, fps)
ODD_CLIPS = {
    "Netflix_25fps.yuv": ("mandelbrot=s=176x144:r=25", "yuv420p", "rawvideo", "Netflix", 25.0),
    "Deep_176x144_30fps_10bit_422.yuv": ("life=s=176x144:r=30:mold=10:ratio=0.1", "yuv422p10le", "rawvideo",
                                         "Deep", 30.0),
    "Full 4:4:4 'q'.y4m": ("gradients=s=176x144:r=50:speed=0.05", "yuv444p10le", "yuv4mpegpipe",
                           "Full 4:4:4 'q'", 50.0),
    "Eight.y4m": ("testsrc2=s=176x144:r=24000/1001", "yuv420p", "yuv4mpegpipe", "Eight", 24000 / 1001),
    "Ten_176x144_25fps_10bit.yuv": ("testsrc2=s=176x144:r=25", "yuv420p10le", "rawvideo", "Ten", 25.0),
}


@pytest.fixture(scope="module")
def odd_run(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("odd")
    refs = root / "refs dir: it's"  # a space, a colon and a quote on the way to every clip
    for name, (lavfi, pix_fmt, fmt, _, _) in ODD_CLIPS.items():
        render(ffmpeg, lavfi, refs / name, pix_fmt=pix_fmt, fmt=fmt, extra=("-strict", "-1"))
    out = root / "out: dir"
    for step in ("prereqs", "corpus"):  # what is checked is the corpus (a whole run in such a path: test_pipeline.py)
        res = run_kit("step", step, "--ref-dir", refs, "--width", "176", "--height", "144", "--out-dir", out,
                      "--encoders", "libx264", *FAST, "--cqs", "31", "--seeds", "0", *LENIENT)
        assert res.returncode == 0, res.stdout + res.stderr
    manifest = json.loads((out / "02_corpus" / "shard.manifest.json").read_text())
    return out / "02_corpus" / "shard.parquet", manifest


def test_every_odd_clip_is_encoded_and_scored(odd_run: tuple[Path, dict[str, object]]) -> None:
    shard, manifest = odd_run
    df = pq.read_table(shard).to_pandas()
    assert sorted(df["src"].unique()) == sorted(v[3] for v in ODD_CLIPS.values())
    per = df.groupby("src").agg(rows=("vmaf", "size"), vmaf=("vmaf", "mean"), adm2=("adm2", "mean"),
                                pix_fmt=("pix_fmt", "first"), fps=("fps", "first"), width=("width", "first"))
    for _, pix_fmt, _, src, fps in ODD_CLIPS.values():
        row = per.loc[src]
        assert row["rows"] == TINY_FRAMES and row["width"] == 176, src
        assert row["pix_fmt"] == pix_fmt, src
        assert row["fps"] == pytest.approx(fps), src
        assert 10 < row["vmaf"] <= 100 and 0.3 < row["adm2"] <= 1.0, (src, row)
    # the same picture at 8 and at 10 bit scores alike: the 10-bit reference is read and compared as 10-bit
    assert per.loc["Ten", "vmaf"] == pytest.approx(per.loc["Eight", "vmaf"], abs=3)
    assert {s["pix_fmt"] for s in manifest["sources"]} == {"yuv420p", "yuv422p10le", "yuv444p10le", "yuv420p10le"}


def test_netflix_style_yuv_of_the_wrong_size_names_file_and_frame_size(ffmpeg: str, tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    clip = render(ffmpeg, "testsrc2=s=176x144:r=25", refs / "Short_25fps.yuv", fmt="rawvideo")
    clip.write_bytes(clip.read_bytes()[:-7])
    out = tmp_path / "out"
    res = run_here("run", "--ref-dir", refs, "--width", "176", "--height", "144", "--out-dir", out,  # a refusal: in
                   "--encoders", "libx264", *FAST)  # this process (conftest.run_here)
    assert_clean_failure(res, "Short_25fps.yuv", "176x144 yuv420p frames", "38016 bytes each")
