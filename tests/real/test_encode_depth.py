"""--encode-depth source through the real steps: 10-bit references keep 10 bit with libx265 and libx264
(this ffmpeg's x264 lists yuv420p10le), an 8-bit reference stays 8-bit, and an encoder that cannot keep
10 bit stops the run with exit 2 before any encode."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import TINY_SOURCES, assert_clean_failure, render, run_here, run_kit

pytestmark = pytest.mark.slow  # two steps of the pipeline on real clips

DEPTH = ["--encode-depth", "source", "--cqs", "31", "--scales", "native"]


@pytest.fixture(scope="module")
def mixed_refs(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 10-bit references and one 8-bit one (the same picture as the first, at 8 bit)."""
    refs = tmp_path_factory.mktemp("refs10")
    for name in ("alpha", "beta", "gamma"):
        render(ffmpeg, TINY_SOURCES[name], refs / f"{name}10.y4m", pix_fmt="yuv420p10le", extra=("-strict", "-1"))
    render(ffmpeg, TINY_SOURCES["alpha"], refs / "alpha8.y4m")
    return refs


@pytest.fixture(scope="module")
def source_run(mixed_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("depth") / "out"
    for step in ("prereqs", "corpus"):
        res = run_kit("step", step, "--ref-dir", mixed_refs, "--out-dir", out, "--encoders", "libx265,libx264",
                      *DEPTH)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    return out


def test_10_bit_references_give_10_bit_rows_with_sane_scores(source_run: Path) -> None:
    df = pq.read_table(source_run / "02_corpus" / "shard.parquet").to_pandas()
    per = df.groupby(["src", "encoder"]).agg(pix_fmt=("pix_fmt", "first"), enc=("enc_pix_fmt", "unique"),
                                             vmaf=("vmaf", "mean"), rows=("vmaf", "size"))
    for (src, encoder), row in per.iterrows():
        deep = src.endswith("10")
        assert row["pix_fmt"] == ("yuv420p10le" if deep else "yuv420p"), (src, encoder)
        assert list(row["enc"]) == ["yuv420p10le" if deep else "yuv420p"], (src, encoder)
        assert 40 < row["vmaf"] <= 100 and row["rows"] == 8, (src, encoder, row)
    # the same picture, kept at 10 bit against its 10-bit reference and at 8 bit against its 8-bit one, scores alike
    for encoder in ("libx265", "libx264"):
        assert per.loc[("alpha10", encoder), "vmaf"] == pytest.approx(per.loc[("alpha8", encoder), "vmaf"], abs=4)
    manifest = json.loads((source_run / "02_corpus" / "shard.manifest.json").read_text())
    assert manifest["schema_version"] == 6 and manifest["encode_depth"] == "source"
    assert {s["src"]: s["enc_pix_fmt"] for s in manifest["sources"]} == {
        "alpha10": "yuv420p10le", "beta10": "yuv420p10le", "gamma10": "yuv420p10le", "alpha8": "yuv420p"}
    prereqs = json.loads((source_run / "01_prereqs" / "prereqs.json").read_text())
    assert prereqs["encode_depth"] == "source"
    for name in ("libx265", "libx264"):
        probe = prereqs["encoders_10bit"][name]
        assert probe["available"] and "decoded back as yuv420p10le" in probe["reason"], probe
    # the encodes were 10-bit: the job ledger keeps the exact argv
    ledger = json.loads(next((source_run / "02_corpus" / "jobs").glob("alpha10-*__libx265__cq031.json")).read_text())
    argv = ledger["enc_argv"]
    assert argv[argv.index("-pix_fmt") + 1] == "yuv420p10le"


def test_a_changed_depth_redoes_work_and_prereqs_must_match(source_run: Path, mixed_refs: Path) -> None:
    status = json.loads((source_run / "02_corpus" / "status.json").read_text())
    assert status["settings"]["encode_depth"] == "source"  # in the step's fingerprint
    res = run_here("step", "corpus", "--ref-dir", mixed_refs, "--out-dir", source_run, "--encoders",  # a refusal:
                   "libx265,libx264", "--cqs", "31", "--scales", "native")  # the CLI in this process
    assert_clean_failure(res, "01_prereqs was run for --encode-depth source, not 8bit")


def x264_without_10_bit(ffmpeg: str, folder: Path) -> Path:
    """The real ffmpeg, except that its libx264 says what an 8-bit-only x264 build says: no 10-bit formats.
    (This box's x264 has 10-bit; a build without it is what the refusal is for.)"""
    wrapper = folder / "ffmpeg"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$2" = "-h" ] && [ "$3" = "encoder=libx264" ]; then\n'
        f'  "{ffmpeg}" "$@" | sed -E "/Supported pixel formats/s/ [a-z0-9]*(10|12)le//g"; exit 0\n'
        "fi\n"
        f'exec "{ffmpeg}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


def test_an_encoder_that_cannot_keep_10_bit_is_refused_before_any_encode(ffmpeg: str, mixed_refs: Path,
                                                                        tmp_path: Path) -> None:
    wrapper = x264_without_10_bit(ffmpeg, tmp_path)
    out = tmp_path / "out"
    res = run_here("run", "--ref-dir", mixed_refs, "--out-dir", out, "--encoders", "libx264", *DEPTH,  # a refusal:
                   env={"KIT_FFMPEG": str(wrapper)})  # the CLI in this process
    assert_clean_failure(res, "--encode-depth source: encoder libx264 cannot encode 10-bit here",
                         "this ffmpeg's libx264 takes no 10-bit input", "3 reference(s) are deeper than 8 bit")
    assert "--encode-depth 8bit" in res.stderr
    assert not list((out / "02_corpus").rglob("*.parquet"))  # refused at planning: nothing was encoded
    prereqs = json.loads((out / "01_prereqs" / "prereqs.json").read_text())
    assert not prereqs["encoders_10bit"]["libx264"]["available"]
