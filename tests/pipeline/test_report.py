"""report.html: self-contained, with its figures, and rendered by a real headless chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.infra.tree import Tree
from kit.model.results import BaselineResult, FoldResult
from kit.platforms.prereqs import read_prereqs
from kit.report.html import ReportData, load_report_data, render_report
from kit.steps.s05_bundle import invocation
from kit.verdict.document import Verdict, WorstFold
from kit.verdict.gate import GateResult
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # whole runs of the pipeline

GOLDEN_VERDICT = ROOT / "tests" / "data" / "verdict_promote.json"  # a real run's PROMOTE.json

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1280,3000"]
# After load, write what the browser made of every figure into the DOM, for --dump-dom to show.
PROBE = """<script>
addEventListener('load', () => {
  const figs = [...document.querySelectorAll('figure.plot')].map(f => {
    const el = f.querySelector('svg, img'); const r = el.getBoundingClientRect();
    return {tag: el.tagName.toLowerCase(), width: r.width, height: r.height,
            drawn: el.tagName === 'IMG' ? el.naturalWidth : el.querySelectorAll('path').length};
  });
  document.body.setAttribute('data-figures', JSON.stringify(figs));
});
</script>"""


def synthetic_verdict() -> Verdict:
    """A HOLD on three sources a, b, c: the real document with its figures replaced."""
    golden = Verdict.from_json(json.loads(GOLDEN_VERDICT.read_text()))
    per_fold = tuple(FoldResult(seed=s, fold=f, src=src, src_sha256=src * 4, n_frames=50,
                                plcc=0.9 + 0.01 * f + s / 1000, srocc=0.9, krocc=0.8, rmse=2.0)
                     for s in (0, 1) for f, src in enumerate(("a", "b", "c")))
    first = per_fold[0]
    return replace(
        golden, verdict="HOLD", seeds=[0, 1], recommendation="HOLD: do not export.",
        gate=GateResult(passed=False, mean_plcc=0.92, mean_plcc_threshold=0.95, mean_plcc_pass=False,
                        plcc_spread=0.001, plcc_spread_max=0.005, plcc_spread_pass=True,
                        per_seed_plccs={"0": 0.919, "1": 0.92}, per_seed_min=0.95, per_seed_pass=False,
                        failing_seeds=[0, 1]),
        baselines={"ridge": BaselineResult("ridge", {"inputs": "features"}, mean_plcc=0.91, mean_rmse=3.0),
                   "linear": BaselineResult("linear", {"inputs": "features"}, mean_plcc=0.88, mean_rmse=4.0)},
        lift=replace(golden.lift, ensemble_mean_plcc=0.92, ensemble_mean_rmse=2.0, statement="cuts RMSE <b>"),
        per_fold=per_fold, per_seed=(),
        worst_folds=(WorstFold(first.src, first.src_sha256, first.plcc, first.srocc, first.rmse, first.n_frames,
                               float("nan")),),
        corpus=replace(golden.corpus, rows=300, demo_corpus=False))


def synthetic_data() -> ReportData:
    rng = np.random.default_rng(1)
    teacher = rng.uniform(30, 100, 150)
    preds = pd.DataFrame({"src": np.repeat(["a", "b", "c"], 50), "vmaf": teacher,
                          "pred": teacher + rng.normal(0, 2, 150)})
    rq = pd.DataFrame([{"src": s, "encoder": e, "cq": cq, "bitrate_kbps": 4000 / cq * (i + 1), "vmaf": 100 - cq}
                       for i, s in enumerate("abc") for e in ("libx264", "h264_nvenc") for cq in (19, 25, 31)])
    return ReportData(preds, rq, {"ffmpeg": "n9.0 (imageio-ffmpeg)"})


def assert_self_contained(page: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page), "fetches something from a network"
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(http" not in page


def test_the_page_holds_its_figures_and_tables() -> None:
    page = render_report(synthetic_verdict(), synthetic_data())
    assert_self_contained(page)
    # folds, pooled predictions, the worst sources' panels, and one rate-quality chart per encoder (2)
    assert page.count("<figure class='plot") == 5
    assert page.count("<svg") == 3 and page.count("src='data:image/png;base64,") == 2
    for heading in ("Gate", "Per-source PLCC per seed", "Predicted vs teacher VMAF", "Error by source, worst first",
                    "Rate-quality curves", "Ensemble vs baselines (same folds)", "Corpus", "Provenance"):
        assert f">{heading}</h2>" in page, heading
    assert "<td class='FAIL'>FAIL</td>" in page and "Failing seeds: 0, 1" in page
    assert "linear (features)" in page and "cuts RMSE &lt;b&gt;" in page  # escaped, never raw HTML
    assert "n9.0 (imageio-ffmpeg)" in page


def test_missing_data_is_said_not_drawn() -> None:
    page = render_report(synthetic_verdict())
    assert page.count("<figure") == 1  # the folds come from the verdict itself
    assert "No held-out predictions available." in page and "The corpus records no bitrate." in page


def test_the_bundle_writes_a_self_contained_report(json_run: tuple[Path, object]) -> None:
    out, _ = json_run
    page = (out / "05_bundle" / "report.html").read_text()
    assert_self_contained(page)
    # folds, pooled predictions, worst panels, one rate-quality chart (one encoder), intervals' coverage
    assert page.count("<figure class='plot") == 5 and "PROMOTE" in page
    assert ">Error by quality setting</h2>" in page and ">Error by encoder</h2>" in page
    assert "are at most 540 lines high" in page  # the tiny clips, far below the teacher's 1080p
    assert "ffmpeg build" in page and "libvmaf version" in page  # provenance of the run, not just the kit
    verdict = Verdict.from_json(json.loads((out / "04_verdict" / "PROMOTE.json").read_text()))
    started = time.process_time()  # CPU, not wall: the box's other work must not fail this test
    tree = Tree.open(out)
    data = load_report_data(verdict, out / "03_loso" / "predictions.parquet", invocation(tree, out / "run.json"),
                            read_prereqs(tree, out / "01_prereqs" / "prereqs.json")[0])
    render_report(verdict, data)
    assert time.process_time() - started < 10  # a few seconds at most, matplotlib's import included
    assert set(data.predictions["src"]) == set(verdict.corpus.sources)  # type: ignore[index]
    assert len(data.rate_quality) == 4 * 2  # type: ignore[arg-type]  # sources x cqs, one encoder
    assert data.provenance["encoders_used"] == "libx264" and "command" in data.provenance


def find_or_install_chromium() -> str:
    """Debian's chromium; installed with apt-get when missing. Skips only when that is impossible."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("chromium is not installed and cannot be installed here (needs apt-get as root); "
                    "run: apt-get update && apt-get install -y chromium")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if res.returncode != 0:
            pytest.skip(f"chromium could not be installed ({' '.join(cmd)} failed): {res.stderr[-300:]}")
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("apt-get installed chromium but it is not on PATH")
    return path


def chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=180)


def test_chromium_renders_the_figures(json_run: tuple[Path, object], tmp_path: Path) -> None:
    browser = find_or_install_chromium()
    out, _ = json_run
    probe = tmp_path / "probe.html"
    probe.write_text((out / "05_bundle" / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(browser, tmp_path / "profile1", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'data-figures="([^"]*)"', dom.stdout)
    assert found, "the page did not finish loading in chromium"
    figures = json.loads(html.unescape(found.group(1)))
    assert [f["tag"] for f in figures] == ["svg", "img", "img", "svg", "svg"]
    for fig in figures:  # laid out at a real size, and actually drawn (decoded image, svg paths)
        assert fig["width"] > 300 and fig["height"] > 150 and fig["drawn"] > 20, fig
    shot = tmp_path / "report.png"
    res = chromium(browser, tmp_path / "profile2", f"--screenshot={shot}", (out / "05_bundle" / "report.html").as_uri())
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    assert_not_blank(shot)


def assert_not_blank(png: Path) -> None:
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1200
    ink = (pixels.min(axis=2) < 200).mean()  # anything not near-white: text, axes, points
    colour = ((pixels.max(axis=2) - pixels.min(axis=2)) > 80).sum()  # saturated pixels: plot markers and lines
    assert ink > 0.02, f"only {ink:.1%} of the screenshot is drawn on"
    assert colour > 2000, f"only {colour} coloured pixels: the figures did not render"
