"""The report at 1,000 sources and with the verdict's interval and breakdown blocks: on synthetic run directories
written as the kit writes them (tests/report_run.py), each figure checked against the file it comes from."""

from __future__ import annotations

import html
import re
import time
from dataclasses import replace

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
    """1,000 sources of 1080 lines (the teacher's own size: the page says nothing of their height)."""
    return make_run(tmp_path_factory.mktemp("report-1000"), 1000, seeds=(0, 1), height=1080)


@pytest.fixture(scope="module")
def big_page(big: SyntheticRun) -> tuple[str, ReportData, float]:
    """The 1,000-source page, rendered once for the tests that read it, and its build's CPU time (this process's:
    the page is built here), which a busy box does not stretch as it stretches wall time."""
    started = time.process_time()
    page, data = page_of(big)
    return page, data, time.process_time() - started


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> SyntheticRun:
    return make_run(tmp_path_factory.mktemp("report-6"), 6, seeds=(0, 1))


@pytest.fixture(scope="module")
def small_page(small: SyntheticRun) -> str:
    """The 6-source page (360 lines high) with the verdict's blocks, rendered once for the tests that read it."""
    return page_of(small)[0]


def page_of(run: SyntheticRun, with_blocks: bool = True) -> tuple[str, ReportData]:
    """The page of the run's verdict; without its blocks, as a verdict of an older kit (none of them)."""
    verdict = run.verdict if with_blocks else replace(run.verdict, intervals=None, breakdown=None)
    data = load_report_data(verdict, run.predictions, intervals=run.intervals if with_blocks else None)
    return render_report(verdict, data), data


def cells(page: str, heading: str, tables: int = 1) -> list[list[str]]:
    """The body rows of the first `tables` tables after the <h2> `heading`, as the page shows them."""
    start, rows = page.index(f">{heading}</h2>"), []
    for _ in range(tables):
        start = page.index("<tbody>", start)
        body = page[start:page.index("</tbody>", start)]
        rows += [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in body.split("<tr>")[1:]]
        start += len(body)
    return rows


def grouped(page: str, grouping: str) -> list[list[str]]:
    """The rows of one grouping in the table of errors by group, without the grouping's column."""
    return [r[1:] for r in cells(page, "Error by encoder, box, quality setting, resolution and rung")
            if r[0] == grouping]


def test_a_thousand_sources_give_a_bounded_page_of_aggregates_and_the_worst(
        big: SyntheticRun, big_page: tuple[str, ReportData, float]) -> None:
    page, _, seconds = big_page
    assert seconds < 120  # of CPU: about 15 s on this box (bench/README.md)
    assert len(page.encode()) < 1_500_000, len(page.encode())
    # 6 worst panels, spread, pooled, 2 rate-quality, coverage
    assert page.count("<figure class='plot") == 11
    assert "<!-- 1,000 held-out sources, lowest PLCC first -->" in page  # the spread chart, not 1,000 ticks
    assert "the 5 worst of the ranking marked by rank" in page
    assert len(cells(page, "Error by source, worst first")) == 10  # the worst ten open, the next 90 folded
    ranked = cells(page, "Error by source, worst first", tables=2)
    assert len(ranked) == 100 and "And 900 more sources" in page and "03_loso/folds.parquet" in page
    assert {r[1] for r in ranked[:len(big.bad)]} == set(big.bad)  # the bad sources rank first
    assert "(seed, source) rows: 03_loso/folds.parquet holds them all" in page  # no 2,000-row table
    assert page.count("<tr>") < 400


def test_the_panels_are_the_worst_few_each_on_axes_fitted_to_its_points_coloured_by_quality(
        big: SyntheticRun, big_page: tuple[str, ReportData, float]) -> None:
    page, data, _ = big_page
    assert data.predictions is not None
    start = page.index("<div class='panels'>")
    panels = page[start:page.index("<div class='key'>", start)]
    ranked = [r[1] for r in cells(page, "Error by source, worst first")]
    assert re.findall(r"<b>\d+\. (\w+)</b>", panels) == ranked[:6]  # the worst six, named as text, in order
    assert set(ranked[:6]) <= set(big.bad)
    assert set(data.predictions.panels["src"]) == set(ranked[:6])  # the rows of the sources drawn, only
    settings = data.predictions.panels.groupby(["encoder", "cq"])
    styles = figures.quality_styles(sorted((str(e), int(c)) for e, c in settings.groups))
    for name in ranked[:2]:
        rows = data.predictions.panels[data.predictions.panels["src"] == name]
        ax = figures.source_panel(rows, styles, np.random.default_rng(0)).axes[0]
        values = np.concatenate([rows["vmaf"], rows["pred"]])
        low, high = ax.get_xlim()
        assert ax.get_ylim() == (low, high) and low <= values.min() and high >= values.max()
        assert high - low < 1.2 * (values.max() - values.min()) + 2  # fitted, not the teacher's whole 0-100
        colours = {tuple(np.round(c.get_facecolor()[0], 3)) for c in ax.collections}
        assert len(ax.collections) == len(settings) == len(colours) == 8  # one colour per quality setting
    legend = page[page.index("<b>quality</b>"):]
    for e in ("libx264", "h264_nvenc"):
        for cq in (19, 25, 31, 37):
            assert f"{e} cq{cq}</span>" in legend


def test_each_figure_is_recomputed_from_the_file_it_names(big: SyntheticRun,
                                                         big_page: tuple[str, ReportData, float]) -> None:
    page, _, _ = big_page
    preds = pd.read_parquet(big.predictions)
    per_row = preds.groupby("corpus_row").agg(encoder=("encoder", "first"), cq=("cq", "first"), vmaf=("vmaf", "first"),
                                       pred=("pred", "mean"))
    # the per-quality table: the verdict's breakdown (same rows as intervals.parquet), RMSE of the seeds' mean
    quality = grouped(page, "quality setting")
    errors = {}
    for (encoder, cq), rows in per_row.groupby(["encoder", "cq"]):
        errors[f"{encoder} cq{cq}"] = rmse = float(np.sqrt(np.mean((rows["pred"] - rows["vmaf"]) ** 2)))
        assert {r[0]: r for r in quality}[f"{encoder} cq{cq}"][4] == f"{rmse:.4f}"
    assert [r[0] for r in quality] == sorted(errors, key=lambda k: -errors[k])  # worst first
    # per source: out-of-range share from folds.parquet, coverage from intervals.parquet
    folds = pd.read_parquet(big.out / "03_loso" / "folds.parquet")
    intervals = pd.read_parquet(big.intervals)
    top = cells(page, "Error by source, worst first")[0]
    sha = folds.loc[folds["src"] == top[1], "src_sha256"].iloc[0]
    assert top[10] == f"{folds.loc[folds['src'] == top[1], 'share_out_of_range'].mean():.4f}"
    mine = intervals[intervals["src_sha256"] == sha]
    assert top[11] == f"{((mine['lo'] <= mine['vmaf']) & (mine['vmaf'] <= mine['hi'])).mean():.4f}"
    assert top[3:6] == ["1920x1080", "25", "38"]  # resolution, frame rate, frames from the corpus block
    shares = folds.groupby("src_sha256")["share_out_of_range"].mean()
    assert f"{int((shares > 0).sum())} of 1000 sources have predictions outside [0, 100]" in page


def test_the_contract_blocks_become_sections_and_an_older_verdict_has_none(small: SyntheticRun,
                                                                           small_page: str) -> None:
    page = small_page
    for grouping in ("encoder", "box", "quality setting"):
        assert grouped(page, grouping), grouping
    assert ">Prediction intervals: coverage</h2>" in page
    levels = cells(page, "Prediction intervals: coverage")
    assert [r[0] for r in levels] == ["0.5000", "0.8000", "0.9000", "0.9500"]
    intervals = pd.read_parquet(small.intervals)
    inside = ((intervals["lo_80"] <= intervals["vmaf"]) & (intervals["vmaf"] <= intervals["hi_80"])).mean()
    assert levels[1][6] == f"{inside:.4f}"  # the pooled coverage: recomputable from intervals.parquet
    by_box = intervals.assign(err=(intervals["pred"] - intervals["vmaf"]) ** 2).groupby("box_id")["err"].mean()
    assert [r[0] for r in grouped(page, "box")] == by_box.sort_values(ascending=False).index.tolist()  # worst first
    assert "Per-clip use" in page and "coverage at 0.95" in page
    assert page.count("<figure class='plot") == 11  # 6 panels, agreement (2), rate-quality (2), coverage
    older, _ = page_of(small, with_blocks=False)
    for said in ("<td>encoder</td>", "<td>box</td>", ">Prediction intervals: coverage</h2>", "Held out by"):
        assert said not in older, said
    assert grouped(older, "quality setting")  # from predictions.parquet, without coverage
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
    assert ("<td>lowest PLCC of a held-out encoder: h264_nvenc</td><td class='g2'>0.9000</td><td>&gt;= 0.95</td>"
            "<td>-0.05</td><td class='FAIL'>") in page
    gate_row = ("<td>coverage at the nominal level (pooled over frames): pooled</td><td class=''>0.9300</td>"
                "<td>&gt;= 0.9</td><td>+0.03</td>")
    assert gate_row in page
    assert ("<td>sources with held-out results (missing: lost)</td><td class='g2'>6</td><td>= 7</td><td>-1</td>"
            "<td class='FAIL'>") in page
    worst = page[page.index("<table class='worst'>"):]  # the encoder's gate, on the first screen
    said = "<td class='g2'>held out, lowest: h264_nvenc PLCC 0.9000 &gt;= 0.95 (--holdout-min-plcc)</td>"
    assert said in worst.split("</table>")[0]
    older = render_report(replace(verdict, holdout=None, coverage_gate=None, completeness=None))
    assert "of a held-out encoder" not in older and "(--holdout)" not in older
    assert "coverage at the nominal level (pooled over frames)" not in older


def test_sources_far_below_1080p_are_said_and_1080p_ones_are_not(
        small_page: str, big_page: tuple[str, ReportData, float]) -> None:
    # the module's two pages: 6 sources of 360 lines, 1,000 of 1080
    assert "6 of 6 sources are at most 540 lines high (the smallest s0000, 640x360)" in small_page
    assert "lines high" not in big_page[0]


def test_the_worst_source_on_the_first_screen_is_recomputed_from_the_folds(small: SyntheticRun,
                                                                          small_page: str) -> None:
    """The rule restated: per source the means over seeds, each figure's distance from perfect (1 - PLCC, RMSE,
    |bias|, each as the summary prints it) over its median; the source and figure furthest out; how far (the figures
    unrounded), against a floored median."""
    page = small_page
    folds = pd.read_parquet(small.out / "03_loso" / "folds.parquet")
    per = folds.groupby("src")[["plcc", "rmse", "bias"]].mean()
    dist = pd.DataFrame({"plcc": 1 - per["plcc"], "rmse": per["rmse"], "bias": per["bias"].abs()})
    shown = per.round({"plcc": 3, "rmse": 1, "bias": 1})  # ranked as the summary prints them
    near = pd.DataFrame({"plcc": 1 - shown["plcc"], "rmse": shown["rmse"], "bias": shown["bias"].abs()})
    score = near / near.median().clip(lower=pd.Series({"plcc": 1e-3, "rmse": 0.1, "bias": 0.1}))  # a printed unit
    worst = str(score.max(axis=1).idxmax())
    measure = str(score.loc[worst].idxmax())
    start = page.index("<table class='worst'>")
    rows = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in page[start:page.index("</table>", start)].split("<tr>")[2:]]
    source = next(r for r in rows if r[0] == "source")
    value = {"plcc": f"PLCC {per.loc[worst, 'plcc']:.4f}", "rmse": f"RMSE {per.loc[worst, 'rmse']:.2f}",
             "bias": f"bias {per.loc[worst, 'bias']:+.2f}"}[measure]
    floor = {"plcc": 0.002, "rmse": 0.5, "bias": 0.5}[measure]
    assert source[1:3] == [worst, f"{value} (per source)"]
    assert source[4] == f"{dist.loc[worst, measure] / max(dist[measure].median(), floor):.1f}x the median"
    assert worst in small.bad
