"""Warnings on real runs, each where it should be said and not where it should not (issue 74, item 3; the catalogue of
every kind and its pair: tests/unit/test_warning_kinds.py).

The teacher range: the session's run (the tiny clips at cq 25 and 37) does not reach both ends of the teacher's scale
the proxy is used over, recomputed here from its shard (each encode's mean teacher score), and its summary warns; a
grid that does (tests/real/test_still_clip.py's box) is not warned. A merge of two real boxes' corpora (the session's
two runs: the same clips, one ffmpeg build, no shard of a set, no clip renamed) says no warning of any kind a merge
makes, nor does `corpus info` of the union, nor the union's run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kit.corpus.summary import TEACHER_SPAN
from kit.rundir import RunDir
from tests.conftest import FAST, LENIENT, full_summary, run_kit

pytestmark = pytest.mark.slow  # reads the session's whole runs


def encode_means(shard: Path) -> pd.Series:
    """Each encode's mean teacher score, by hand."""
    rows = pd.read_parquet(shard)
    return rows.groupby(["src_sha256", "encoder", "cq", "enc_width", "enc_height"])["vmaf"].mean()


def test_a_grid_short_of_the_teachers_scale_is_warned(json_run: tuple[Path, object]) -> None:
    out = json_run[0]
    said = full_summary(out)
    for encoder, means in encode_means(RunDir(out).shard).groupby(level="encoder"):
        lo, hi = float(means.min()), float(means.max())
        short = lo > TEACHER_SPAN[0] or hi < TEACHER_SPAN[1]
        warned = f"WARNING {encoder}'s encodes scored {lo:.1f} to {hi:.1f} (" in said
        assert warned == short, (encoder, lo, hi, said[-2000:])
    assert "encodes scored" in said  # the tiny clips at cq 25 and 37: short of the scale, so this case is tested


@pytest.fixture(scope="module")
def union(json_run: tuple[Path, object], x264_run: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, str, tuple[Path, Path]]:
    """The session's two real boxes merged: (the union, what merge said on stderr, the boxes' out-dirs)."""
    union = tmp_path_factory.mktemp("union") / "union.parquet"
    merged = run_kit("merge", RunDir(json_run[0]).shard, RunDir(x264_run).shard, "-o", union)
    assert merged.returncode == 0, merged.stderr
    return union, merged.stderr, (json_run[0], x264_run)


def test_a_merge_of_two_real_boxes_warns_of_nothing(union: tuple[Path, str, tuple[Path, Path]]) -> None:
    corpus, said, _ = union
    assert "warning" not in said.lower(), said
    manifest = json.loads(corpus.with_name("union.manifest.json").read_text())
    assert manifest["warnings"] == []
    # each source's repeated pictures, as its box measured them, carried on (kit.corpus.regroup.source_rows)
    boxes = {s["src_sha256"]: s["repeats"] for shard in union[2]
             for s in json.loads(RunDir(shard).shard_manifest.read_text())["sources"]}
    assert {s["src_sha256"]: s.get("repeats") for s in manifest["sources"]} == boxes and all(boxes.values())
    info = run_kit("corpus", "info", corpus)
    assert info.returncode == 0 and "warning" not in (info.stdout + info.stderr).lower(), info.stdout + info.stderr


def test_the_union_of_two_real_boxes_warns_of_nothing_a_merge_makes(union: tuple[Path, str, tuple[Path, Path]],
                                                                   tmp_path: Path) -> None:
    res = run_kit("run", "--corpus", union[0], "--out-dir", tmp_path / "out", *FAST, *LENIENT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    said = full_summary(tmp_path / "out")
    assert "encodes scored" in said  # the teacher range: the same short grid, warned in the union too
    assert said.count("WARNING") == said.count("encodes scored"), said


def test_a_run_whose_coverage_is_not_far_below_nominal_is_not_warned_of_it(json_run: tuple[Path, object]) -> None:
    """The coverage warning (kit.verdict.intervals.coverage_warning: 95 % covered more than 5 points below) is not
    said where the 95 % level is not measured so low: the session's run, its levels read from its verdict."""
    out = json_run[0]
    verdict = json.loads(next((out / "04_verdict").glob("[PH]*.json")).read_text())
    at95 = [x for x in verdict["intervals"]["levels"] if abs(x["level"] - 0.95) < 1e-9]
    assert at95 and (at95[0].get("coverage") is None or at95[0]["coverage"] >= 0.90), at95
    assert "warning" not in verdict["intervals"] and "held-out coverage at 95 % nominal" not in full_summary(out)
