"""The report at 1,000 sources and with the verdict's interval and breakdown blocks: on synthetic run directories
written as the kit writes them (tests/report_run.py), each figure checked against the file it comes from."""

from __future__ import annotations

import html
import re
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.report import figures
from kit.report.html import ReportData, load_report_data, render_report
from kit.verdict.document import Verdict
from tests.report_run import SyntheticRun, make_run

pytestmark = pytest.mark.slow  # renders the figures of 1,000 sources


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> SyntheticRun:
    return make_run(tmp_path_factory.mktemp("report-1000"), 1000, seeds=(0, 1))


@pytest.fixture(scope="module")
def big_page(big: SyntheticRun) -> tuple[str, ReportData, float]:
    """The 1,000-source page, rendered once for the tests that read it, and its build time."""
    started = time.monotonic()
    page, data = page_of(big)
    return page, data, time.monotonic() - started


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> SyntheticRun:
    return make_run(tmp_path_factory.mktemp("report-6"), 6, seeds=(0, 1))


def page_of(run: SyntheticRun, with_blocks: bool = True) -> tuple[str, ReportData]:
    """The page of the run's verdict; without its blocks, as a verdict of an older kit (none of them)."""
    verdict = run.verdict if with_blocks else replace(run.verdict, intervals=None, breakdown=None)
    data = load_report_data(verdict, run.predictions, intervals=run.intervals if with_blocks else None)
    return render_report(verdict, data), data


def cells(page: str, heading: str) -> list[list[str]]:
    """The body rows of the first table after the <h2> `heading`, as the page shows them."""
    start = page.index(f">{heading}</h2>")
    body = page[page.index("<tbody>", start):page.index("</tbody>", start)]
    return [[html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)] for row in body.split("<tr>")[1:]]


def test_a_thousand_sources_give_a_bounded_page_of_aggregates_and_the_worst(
        big: SyntheticRun, big_page: tuple[str, ReportData, float]) -> None:
    page, _, seconds = big_page
    assert seconds < 120  # about 15 s of CPU on this box (bench/README.md)
    assert len(page.encode()) < 1_500_000, len(page.encode())
    assert page.count("<figure class='plot") == 6  # spread, pooled, worst panels, 2 rate-quality, coverage
    assert "<!-- 1,000 held-out sources, lowest PLCC first -->" in page  # the spread chart, not 1,000 ticks
    assert "sorted; the 5 worst of the ranking below named" in page
    ranked = cells(page, "Error by source, worst first")
    assert len(ranked) == 100 and "and 900 more sources" in page and "03_loso/folds.parquet" in page
    assert {r[1] for r in ranked[:len(big.bad)]} == set(big.bad)  # the bad sources rank first
    assert "(seed, source) rows: 03_loso/folds.parquet holds them all" in page  # no 2,000-row table
    assert page.count("<tr>") < 400


def test_the_panels_are_the_worst_sources_on_shared_axes_coloured_by_quality(
        big: SyntheticRun, big_page: tuple[str, ReportData, float]) -> None:
    _, data, _ = big_page
    assert data.predictions is not None
    worst = big.bad[:12]
    fig = figures.pred_vs_teacher_figure(data.predictions, worst)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split("\n")[0] for ax in panels] == worst
    assert len({(ax.get_xlim(), ax.get_ylim()) for ax in panels}) == 1  # one range for every panel
    low, high = panels[0].get_xlim()
    assert low <= 0 and high >= 100
    settings = len(data.predictions.groupby(["encoder", "cq"]))
    for ax in panels:  # one colour per quality setting, each a different colour
        colours = {tuple(np.round(c.get_facecolor()[0], 3)) for c in ax.collections}
        assert len(ax.collections) == settings == len(colours) == 8
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {f"{e} cq{cq}" for e in ("libx264", "h264_nvenc")
                                                                  for cq in (19, 25, 31, 37)}


def test_each_figure_is_recomputed_from_the_file_it_names(big: SyntheticRun,
                                                         big_page: tuple[str, ReportData, float]) -> None:
    page, _, _ = big_page
    preds = pd.read_parquet(big.predictions)
    per_row = preds.groupby("corpus_row").agg(encoder=("encoder", "first"), cq=("cq", "first"), vmaf=("vmaf", "first"),
                                       pred=("pred", "mean"))
    # the per-quality table: the verdict's breakdown (same rows as intervals.parquet), RMSE of the seeds' mean
    quality = {r[0]: r for r in cells(page, "Error by quality setting")}
    for (encoder, cq), rows in per_row.groupby(["encoder", "cq"]):
        rmse = float(np.sqrt(np.mean((rows["pred"] - rows["vmaf"]) ** 2)))
        assert quality[f"{encoder} cq{cq}"][4] == f"{rmse:.4f}"
    # per source: out-of-range share from folds.parquet, coverage from intervals.parquet
    folds = pd.read_parquet(big.out / "03_loso" / "folds.parquet")
    intervals = pd.read_parquet(big.intervals)
    top = cells(page, "Error by source, worst first")[0]
    sha = folds.loc[folds["src"] == top[1], "src_sha256"].iloc[0]
    assert top[10] == f"{folds.loc[folds['src'] == top[1], 'share_out_of_range'].mean():.4f}"
    mine = intervals[intervals["src_sha256"] == sha]
    assert top[11] == f"{((mine['lo'] <= mine['vmaf']) & (mine['vmaf'] <= mine['hi'])).mean():.4f}"
    assert top[3:6] == ["640x360", "25", "38"]  # resolution, frame rate, frames from the corpus block
    shares = folds.groupby("src_sha256")["share_out_of_range"].mean()
    assert f"{int((shares > 0).sum())} of 1000 sources have predictions outside [0, 100]" in page


def test_the_contract_blocks_become_sections_and_an_older_verdict_has_none(small: SyntheticRun) -> None:
    page, _ = page_of(small)
    for heading in ("Error by encoder", "Error by box", "Prediction intervals: coverage", "Error by quality setting"):
        assert f">{heading}</h2>" in page, heading
    levels = cells(page, "Prediction intervals: coverage")
    assert [r[0] for r in levels] == ["0.5000", "0.8000", "0.9000", "0.9500"]
    intervals = pd.read_parquet(small.intervals)
    inside = ((intervals["lo_80"] <= intervals["vmaf"]) & (intervals["vmaf"] <= intervals["hi_80"])).mean()
    assert levels[1][6] == f"{inside:.4f}"  # the pooled coverage: recomputable from intervals.parquet
    assert [r[0] for r in cells(page, "Error by box")] == ["boxa", "boxb"]
    assert "Per-clip use" in page and "coverage at 0.95" in page
    assert page.count("<figure class='plot") == 6  # ... and the coverage chart
    older, _ = page_of(small, with_blocks=False)
    for heading in ("Error by encoder", "Error by box", "Prediction intervals: coverage", "Held out by"):
        assert f">{heading}" not in older, heading
    assert ">Error by quality setting</h2>" in older  # from predictions.parquet, without coverage
    assert "the verdict's breakdown" not in older and "coverage at" not in older


def test_holdout_and_the_new_gates_show_when_present(small: SyntheticRun) -> None:
    group = {"by": "encoder", "group": "h264_nvenc", "n_frames": 10, "n_sources": 2, "plcc": 0.9, "rmse": 3.0,
             "bias": 1.0, "max_abs_error": 9.0, "share_out_of_range": 0.0, "coverage": 0.9, "mean_width": 8.0}
    gate = {"enabled": True, "measure": "plcc", "threshold": 0.95, "worst": "h264_nvenc", "worst_value": 0.9,
            "failing": ["h264_nvenc"], "passed": False}
    verdict = Verdict.from_json({**small.verdict.to_json(), "holdout": [
        {"kind": "encoder", "scheme": "leave one encoder out x 5 grouped folds", "groups": [group], "gate": gate}],
        "coverage_gate": {**gate, "measure": "coverage", "threshold": 0.9, "worst": "pooled", "worst_value": 0.93,
                          "failing": [], "passed": True},
        "completeness": {"expected_sources": 7, "with_results": 6, "missing": ["lost"], "passed": False}})
    page = render_report(verdict, load_report_data(verdict, small.predictions, intervals=small.intervals))
    assert ">Held out by encoder (--holdout)</h2>" in page and "<td>h264_nvenc</td>" in page
    assert "<td>lowest PLCC of a held-out encoder: h264_nvenc</td><td>0.9000</td><td>&gt;= 0.95</td>" in page
    gate_row = "<td>coverage at the nominal level (pooled over frames): pooled</td><td>0.9300</td><td>&gt;= 0.9</td>"
    assert gate_row in page
    assert "<td>sources with held-out results (missing: lost)</td><td>6</td><td>= 7</td><td class='FAIL'>" in page
    older = render_report(replace(verdict, holdout=None, coverage_gate=None, completeness=None))
    assert "of a held-out encoder" not in older and "(--holdout)" not in older
    assert "coverage at the nominal level (pooled over frames)" not in older


def test_sources_far_below_1080p_are_said_and_1080p_ones_are_not(tmp_path: Path) -> None:
    low = make_run(tmp_path / "low", 4, seeds=(0,), height=144)
    page, _ = page_of(low)
    assert "4 of 4 sources are at most 540 lines high (the smallest s0000, 256x144)" in page
    full = make_run(tmp_path / "full", 4, seeds=(0,), height=1080)
    assert "lines high" not in page_of(full)[0]
