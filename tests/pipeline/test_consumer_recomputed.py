"""Every consumer figure a run prints, recomputed from the files of its results tarball with pandas (issue 90, item
5): the demo as the README shows it (PROMOTE), and the session's small real box trained again by the frames recipe and
judged at stricter consumer thresholds (HOLD, its failing gates said in full). The demo's student is its teacher's
function (issue 92), whose ceiling lands within on all its encodes: every share is 100 % and no content is under its
ceiling, so only a student that misses, on a box whose input falls short on some encodes and whose clips outlast the
consumer's window, gives every kind of figure to recompute. 04_verdict/consumer_encodes.parquet lists each judged
encode (its identity, the student's and the ceiling's hits per encode and as vmaf-tune samples it, its place in the
pool), and is 03_loso/encodes.parquet's counted rows at the tolerance; every "X% of N" a gate line, the summary's
rows, the recommendation or the report's table says of a group is that group's count there, and so is every gap,
shortfall, median and largest miss, and every "at or above the ceiling"."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.conftest import run_kit

pytestmark = pytest.mark.slow  # the shared demo run, and its verdict and bundle again
STRICT = ("--min-consumer-share", "0.99", "--min-consumer-content-share", "0.95", "--max-consumer-ceiling-gap", "0.05")
LABEL = r"\b(?P<label>all|CRF [\d-]+|encoder [\w-]+|rung [\w.]+|content [\w.+ -]+?)"
SHARE = re.compile(LABEL + r" (?P<pct>\d+\.\d)% of (?P<n>\d+)\b")
GAP = re.compile(LABEL + r" (?P<gap>-?\d+\.\d)% under \(the student (?P<s>\d+) of (?P<n>\d+), the ceiling "
                         r"(?P<c>\d+) of (?P=n)\)")
HEAD = re.compile(r"(?P<pct>\d+\.\d)% of (?P<pool>\d+) held-out encodes within [\d.]+ VMAF \(per encode, as "
                  r"vmaf-tune predicts it\), of the (?P=pool) the input can carry \(the ceiling lands within on "
                  r"(?:all )?(?P=pool) of (?P<n>\d+)")
PAIRED = re.compile(r"the student (?P<s>\d+) of (?P<n>\d+) held-out encodes within [\d.]+ VMAF \((?P<sp>\d+\.\d)%\), "
                    r"its ceiling (?P<c>\d+) \((?P<cp>\d+\.\d)%\): (?P<lift>[+-]\d+) encodes \((?P<pts>[+-]\d+\.\d) "
                    r"points; (?P<b>\d+) only the student, (?P<d>\d+) only the ceiling; exact McNemar p = "
                    r"(?P<p>[\d.e+-]+)\)")
MISSES = re.compile(r"median miss (?P<median>\d+\.\d\d), largest (?P<largest>\d+\.\d\d)")
SHORT = re.compile(r"the input falls short on (?P<short>\d+) of (?P<n>\d+) encodes \(the ceiling misses them, so no "
                   r"gate counts them against the student\): (?P<named>[^;]+)")
SHORT_CONTENT = re.compile(r"content (?P<group>[\w.+-]+) (?P<short>\d+) of (?P<n>\d+)")
ABOVE = "the student at or above the ceiling on every content group"
# the frames recipe, briefly: a student that misses (the teacher recipe's is its teacher's function here)
MISSING = ("--recipe", "frames", "--seeds", "0,1", "--epochs", "10")


def unpacked(out: Path, folder: Path) -> Path:
    """The run's results tarball, unpacked: its top folder."""
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    with tarfile.open(tarball) as tar:
        tar.extractall(folder, filter="data")
    (root,) = folder.iterdir()
    return root


def counts(judged: pd.DataFrame) -> dict[str, tuple[int, int, int, int]]:
    """Per group, as the gates name it: (encodes, the student within, the ceiling within, the student within on the
    pool), as vmaf-tune samples."""
    out = {}
    keys = {"all": pd.Series("all", index=judged.index), "CRF": judged["crf_band"], "encoder": judged["encoder"],
            "rung": judged["rung"], "content": judged["content_group"]}
    for word, key in keys.items():
        for name, part in judged.groupby(key):
            label = "all" if word == "all" else f"{word} {name}"
            s, c = part["sampled_within"].astype(bool), part["sampled_ceiling_within"].astype(bool)
            out[label] = (len(part), int(s.sum()), int(c.sum()), int((s & c).sum()))
    return out


def table_rows(stdout: str) -> dict[str, str]:
    """The printed summary's rows, each cell's wrapped lines joined (a label's continuation lines have none)."""
    rows: list[list[str]] = []
    for line in stdout.splitlines():
        if line.startswith("│"):
            label, text = (cell.strip() for cell in line.split("│")[1:3])
            if label:
                rows.append([label, text])
            else:
                rows[-1][1] += " " + text
    return {label: text for label, text in rows if label != "WARNING"} | {
        f"WARNING {i}": text for i, (label, text) in enumerate(rows) if label == "WARNING"}


def page_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", path.read_text()))


def report_table(path: Path) -> list[list[str]]:
    """The report's consumer table: each row's cells."""
    page = path.read_text()
    section = page[page.index("<h2 id='consumer'>"):]
    body = section[section.index("<tbody>"):section.index("</tbody>")]
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in body.split("<tr>")[1:]]


BY = {"all": "all", "encoder": "encoder", "CRF band (vmaf-tune's)": "CRF", "rung": "rung", "content group": "content"}


def recomputed(out: Path, stdout: str, folder: Path) -> dict[str, int]:
    """Every consumer figure printed by the run in `out` checked against its tarball's files; how many of each kind
    were found (a kind found nowhere tests nothing)."""
    root = unpacked(out, folder)
    judged = pd.read_parquet(root / "04_verdict" / "consumer_encodes.parquet")
    encodes = pd.read_parquet(root / "03_loso" / "encodes.parquet")
    (doc,) = [json.loads(p.read_text()) for p in (root / "04_verdict").glob("*.json") if p.stem in ("PROMOTE", "HOLD")]
    tol = doc["consumer"]["tolerance"]
    # the file: encodes.parquet's counted rows, each hit its miss at the tolerance, as vmaf-tune samples (its window)
    counted = encodes[encodes["counted"]].reset_index(drop=True)
    assert len(judged) == len(counted) == doc["consumer"]["n_encodes"]
    sampled = "window_predicted" if counted["window_teacher"].notna().any() else "predicted"
    assert np.allclose(judged["sampled_miss"], (counted[sampled] - counted["teacher"]).abs())
    assert (judged["sampled_within"] == (judged["sampled_miss"] <= tol)).all()
    assert (judged["pool"] == judged["sampled_ceiling_within"]).all()
    assert (judged["within"] == (counted["miss"] <= tol)).all()
    n = counts(judged)
    texts = [*table_rows(stdout).values(), *(g["statement"] for g in doc["consumer_gates"]), doc["recommendation"],
             page_text(out / "05_bundle" / "report.html")]
    found = dict.fromkeys(("share", "gap", "head", "misses", "table", "short", "above", "paired"), 0)
    s_hit, c_hit = judged["sampled_within"].astype(bool), judged["sampled_ceiling_within"].astype(bool)
    only_s, only_c = int((s_hit & ~c_hit).sum()), int((c_hit & ~s_hit).sum())
    p_value = stats.binomtest(only_s, only_s + only_c, 0.5).pvalue if only_s + only_c else 1.0
    for text in texts:
        for m in SHARE.finditer(text):
            if m["label"] in n and not text[:m.start()].endswith("the student "):
                total, _, ceiling, hits = n[m["label"]]
                assert (f"{100 * hits / ceiling:.1f}", int(m["n"])) == (m["pct"], ceiling), (m[0], text[:300])
                found["share"] += 1
        for m in GAP.finditer(text):
            total, s, c, _ = n[m["label"]]
            assert (int(m["s"]), int(m["c"]), int(m["n"])) == (s, c, total), m[0]
            assert m["gap"] == f"{100 * (c - s) / total:.1f}", m[0]
            found["gap"] += 1
        for m in HEAD.finditer(text):
            total, _, ceiling, hits = n["all"]
            assert (m["pct"], int(m["pool"]), int(m["n"])) == (f"{100 * hits / ceiling:.1f}", ceiling, total), m[0]
            found["head"] += 1
        for m in PAIRED.finditer(text):  # what the student adds to its ceiling, on all of them (McNemar's test)
            total = len(judged)
            assert (int(m["s"]), int(m["n"]), int(m["c"]), int(m["b"]), int(m["d"])) == (
                s_hit.sum(), total, c_hit.sum(), only_s, only_c), m[0]
            assert (m["sp"], m["cp"], int(m["lift"])) == (f"{100 * s_hit.sum() / total:.1f}",
                                                         f"{100 * c_hit.sum() / total:.1f}", s_hit.sum() - c_hit.sum())
            assert m["p"] == f"{min(1.0, p_value):.2g}", m[0]
            found["paired"] += 1
        for m in MISSES.finditer(text):
            assert (m["median"], m["largest"]) == (f"{judged['sampled_miss'].median():.2f}",
                                                   f"{judged['sampled_miss'].max():.2f}"), m[0]
            found["misses"] += 1
        for m in SHORT.finditer(text):
            total, _, ceiling, _ = n["all"]
            assert (int(m["short"]), int(m["n"])) == (total - ceiling, total), m[0]
            named = list(SHORT_CONTENT.finditer(m["named"]))
            assert named, m[0]
            for c in named:
                total, _, ceiling, _ = n[f"content {c['group']}"]
                assert (int(c["short"]), int(c["n"])) == (total - ceiling, total), c[0]
            found["short"] += 1
        if ABOVE in text:  # said of every content: none has fewer hits than its ceiling
            assert all(s >= c for label, (_, s, c, _) in n.items() if label.startswith("content ")), n
            found["above"] += 1
    for cells in report_table(out / "05_bundle" / "report.html"):
        label = "all" if cells[0] == "all" else f"{BY[cells[0]]} {cells[1]}"
        total, s, c, hits = n[label]
        assert cells[2:7] == [str(total), f"{c} ({100 * c / total:.1f}%)", f"{100 * hits / c:.1f}% of {c}",
                              f"{s} ({100 * s / total:.1f}%)", f"{100 * (c - s) / total:.1f}%"], (label, cells)
        found["table"] += 1
    return found


def test_every_consumer_figure_the_demo_prints_is_a_count_of_its_tarball(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    out, res = demo_run
    found = recomputed(out, res.stdout, tmp_path / "promote")
    assert json.loads(next((out / "04_verdict").glob("PROMOTE.json")).read_text())["verdict"] == "PROMOTE"
    assert all(found[kind] for kind in ("share", "head", "misses", "table", "paired")), found
    # the ceiling's gate line, in the verdict and the report: a gap where a content is under its ceiling, else "at or
    # above" (the demo's student is its teacher's function)
    assert found["gap"] + found["above"] >= 2, found


def test_every_consumer_figure_of_a_hold_is_a_count_of_its_tarball(
        small_box: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """The small real box's corpus trained again by the frames recipe and judged at stricter consumer thresholds: the
    corpus is kept, LOSO, the verdict and the bundle run again, and every failing gate's figures, said in full in the
    closing summary and the report's reasons, are counts too, the input's shortfall with them."""
    out, _ = small_box
    copy = tmp_path / "runs" / "small"
    shutil.copytree(out, copy, symlinks=True)
    res = run_kit("run", "--ref-dir", out.parent / "refs", "--box-id", "small", "--encoders", "libx264",
                  "--out-dir", copy, *MISSING, *STRICT, env={"COLUMNS": "100"}, timeout=900)
    assert res.returncode == 1, res.stdout[-3000:] + res.stderr[-3000:]
    assert re.search(r"\[\d\d corpus\] skipped: up to date", res.stdout), res.stdout[:3000]
    assert "setting train.recipe: teacher -> frames" in res.stdout, res.stdout[:3000]
    rows = table_rows(res.stdout)
    assert {"consumer share", "consumer share per content", "consumer share under its ceiling"} <= set(rows), rows
    found = recomputed(copy, res.stdout, tmp_path / "hold")
    assert all(found[kind] for kind in ("share", "gap", "head", "misses", "table", "short", "paired")), found
    judged = pd.read_parquet(copy / "04_verdict" / "consumer_encodes.parquet")
    # what this test is about: a pool smaller than the encodes, and clips longer than the window, sampled
    assert 0 < judged["pool"].sum() < len(judged) and judged["longer"].any(), judged[["pool", "longer"]].sum()
