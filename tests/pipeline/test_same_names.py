"""Two boxes that each have a different `intro` clip: the union completes its bundle and report, and every
fold, figure and table tells the two apart as intro~<6 hex of src_sha256> (issue 23, item 4).

Before, the union crashed the bundle (exit 70, `cannot reindex on an axis with duplicate labels` in the per-fold
figure), on every rerun, with half-written ONNX files left in 05_bundle/exports/.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import FAST, LENIENT, TINY_SOURCES, copy_prereqs, render, run_kit

pytestmark = pytest.mark.slow  # two shards made by real runs, a merge and a whole run on the union

BOXES = {  # each box's clips: the two `intro` clips are different pictures
    "a": {"alpha": TINY_SOURCES["alpha"], "intro": TINY_SOURCES["beta"], "zeta": "cellauto=s=176x144:r=25:seed=3"},
    "b": {"intro": TINY_SOURCES["gamma"], "delta": TINY_SOURCES["delta"], "eta": "testsrc=s=176x144:r=25"},
}


def _ok(res: subprocess.CompletedProcess[str]) -> None:
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


@pytest.fixture(scope="module")
def union(ffmpeg: str, twin_run: tuple[Path, subprocess.CompletedProcess[str]],
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two boxes' shards (each box's prereqs: twin_run's, made with these flags), merged, and a whole run on the union;
    returns their paths."""
    root = tmp_path_factory.mktemp("same-names")
    shards = []
    for box, clips in BOXES.items():
        for name, lavfi in clips.items():
            render(ffmpeg, lavfi, root / f"refs_{box}" / f"{name}.y4m")
        out = root / f"box_{box}"
        copy_prereqs(twin_run[0], out)
        _ok(run_kit("step", "corpus", "--ref-dir", root / f"refs_{box}", "--out-dir", out, "--box-id", f"box{box}",
                    *FAST))
        shards.append(out)
    _ok(run_kit("merge", *shards, "-o", root / "union.parquet"))
    _ok(run_kit("merge", *reversed(shards), "-o", root / "union_ba.parquet"))
    out = root / "out"
    _ok(run_kit("run", "--corpus", root / "union.parquet", "--out-dir", out, *FAST, *LENIENT))
    return {"root": root, "corpus": root / "union.parquet", "corpus_ba": root / "union_ba.parquet", "out": out}


def intro_names(corpus: Path) -> dict[str, str]:
    """src_sha256 -> the name the kit gives each `intro` of the corpus file."""
    rows = pq.read_table(corpus, columns=["src", "src_sha256"]).to_pylist()
    return {r["src_sha256"]: f"intro~{r['src_sha256'][:6]}" for r in rows if r["src"] == "intro"}


def test_the_union_completes_and_names_each_intro_apart(union: dict[str, Path]) -> None:
    out = union["out"]
    names = intro_names(union["corpus"])
    assert len(names) == 2 and len(set(names.values())) == 2
    verdict = json.loads((out / "04_verdict" / "PROMOTE.json").read_text())
    # folds: one per source, each intro its own, named apart in every seed's report and the verdict
    for seed in (0, 1):
        folds = json.loads((out / "03_loso" / f"loso_seed{seed}.json").read_text())["folds"]
        assert {f["src_sha256"]: f["src"] for f in folds if f["src_sha256"] in names} == names
    assert {f["src_sha256"]: f["src"] for f in verdict["per_fold"] if f["src_sha256"] in names} == names
    assert sorted(verdict["corpus"]["sources"]) == sorted(["alpha", "zeta", "delta", "eta", *names.values()])
    assert {c["src_sha256"]: c["src"] for c in verdict["corpus"]["clips"] if c["src_sha256"] in names} == names
    assert verdict["corpus"]["n_contents"] == 6 and verdict["corpus"]["n_files"] == 6
    # the merge warns of the one name (tests/unit/test_warning_kinds.py: "one name, several files"), as the union's
    # summary does
    said = f"source name 'intro' is used by 2 different files: told apart as {', '.join(sorted(names.values()))}"
    manifest = json.loads((union["root"] / "union.manifest.json").read_text())
    assert [w for w in manifest["warnings"] if "is used by" in w] == [w for w in verdict["corpus"]["warnings"]
                                                                       if "is used by" in w]
    assert any(w.startswith(said) for w in manifest["warnings"]), manifest["warnings"]
    # the bundle completed: models in place, the report, a tarball that verifies, nothing half-built left
    bundle = out / "05_bundle"
    assert sorted(p.name for p in (bundle / "exports").glob("*.onnx")) == [
        "fr_regressor_v2_seed0.onnx", "fr_regressor_v2_seed1.onnx"]
    assert (bundle / "exports" / "vmaftune" / "registry-rows.json").is_file()
    assert not [p for p in bundle.iterdir() if p.name.startswith(".tmp-")]
    tarballs = sorted(bundle.glob("results-*.tar.gz"))
    assert len(tarballs) == 1
    _ok(run_kit("verify", tarballs[0]))
    report = (bundle / "report.html").read_text()
    for name in names.values():
        assert report.count(f"<td>{name}</td>") >= 3  # every-fold table (two seeds), the sources table
    status = run_kit("status", out)
    _ok(status)
    assert "next:" not in status.stdout, status.stdout


def test_every_figure_names_each_intro(union: dict[str, Path]) -> None:
    """The figures mark a source by its rank or colour; the page names each in HTML beside the chart: the fold
    chart's key, the worst panels' captions, the rate-quality legend."""
    from kit.report import frames, sections
    from kit.report.html import load_report_data, rate_quality_section
    from kit.verdict.document import Verdict

    out, names = union["out"], set(intro_names(union["corpus"]).values())
    verdict = Verdict.from_json(json.loads((out / "04_verdict" / "PROMOTE.json").read_text()))
    data = load_report_data(verdict, out / "03_loso" / "predictions.parquet")
    assert data.predictions is not None and data.rate_quality is not None
    assert names <= set(data.predictions.names) and names <= set(data.rate_quality["src"])
    folds = frames.folds_frame(verdict.per_fold)
    worst_first = frames.ranked_sources(folds, verdict.corpus.clips, data.coverage)
    # the report's figure sections, as render_report lays them out
    page = "".join([*sections.panels_section(data.predictions, worst_first),
                    *sections.agreement_section(verdict, folds, worst_first, data.predictions),
                    *rate_quality_section(data, worst_first)])
    keys = re.findall(r"<div class='key'>(.*?)</div>", page, flags=re.S)
    fold_key, legend = keys[-2], keys[-1]  # the fold chart's ranks, the rate-quality colours
    for name in names:
        assert f"</b> {name}</span>" in fold_key and f"</i>{name}</span>" in legend, name
        assert f". {name}</b>" in page  # a panel's caption (the union has 5 sources: all among the worst six)


def test_the_same_corpus_in_another_order_gives_the_same_names(union: dict[str, Path], tmp_path: Path) -> None:
    from kit.corpus.summary import summarise_corpus
    from kit.corpus.training import training_corpus

    table = pq.read_table(union["corpus"])
    reversed_rows = tmp_path / "reversed.parquet"
    pq.write_table(table.take(pa.array(range(table.num_rows - 1, -1, -1))), reversed_rows)
    seen = []
    for corpus in (union["corpus"], union["corpus_ba"], reversed_rows):
        df = training_corpus(corpus)[0]
        seen.append(dict(zip(df["src_sha256"], df["src"], strict=True)))
        assert summarise_corpus(corpus, "0" * 64).sources == sorted(set(seen[-1].values()))
    assert seen[0] == seen[1] == seen[2]
    assert {seen[0][sha] for sha in intro_names(union["corpus"])} == set(intro_names(union["corpus"]).values())


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("signal", ["SIGTERM", "SIGKILL"])
def test_a_failed_bundle_leaves_the_earlier_exports_intact(union: dict[str, Path], tmp_path: Path,
                                                           signal: str) -> None:
    out = tmp_path / "out"
    shutil.copytree(union["out"], out, symlinks=True)
    bundle = out / "05_bundle"
    before, tarballs = _digests(bundle / "exports"), sorted(p.name for p in bundle.glob("results-*.tar.gz"))
    assert any(name.endswith(".onnx") for name in before)
    again = ["run", "--corpus", union["corpus"], "--out-dir", out, "--only", "bundle", "--force", *FAST, *LENIENT]
    res = run_kit(*again, env={"KIT_KILL_AT": "bundle-exported", "KIT_KILL_SIGNAL": signal})
    assert res.returncode != 0, res.stdout[-2000:] + res.stderr[-2000:]
    # killed once the models were rebuilt: the earlier exports are where they were, byte for byte
    assert _digests(bundle / "exports") == before
    assert sorted(p.name for p in bundle.glob("results-*.tar.gz")) == tarballs
    assert not (bundle / "previous").exists()
    left = [p for p in bundle.iterdir() if p.name.startswith(".tmp-")]
    assert len(left) == (0 if signal == "SIGTERM" else 1)  # SIGKILL: no cleanup; the next bundle removes it
    _ok(run_kit(*again))
    assert not [p for p in bundle.iterdir() if p.name.startswith(".tmp-")]
    aside = list((bundle / "previous").iterdir())
    assert len(aside) == 1 and _digests(aside[0] / "exports") == before
    assert sorted(p.name for p in (bundle / "exports").glob("*.onnx")) == [
        "fr_regressor_v2_seed0.onnx", "fr_regressor_v2_seed1.onnx"]


def test_a_set_with_twins_and_a_near_duplicate_says_its_contents_and_files(
        twin_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """Seven files (twin_refs in tests/conftest.py): the four tiny clips, alpha's frame-exact ffv1 copy and gamma's
    lossless x264 copy (twins, skipped) and beta's lossy copy (kept, in beta's content group): 4 contents in 7 files,
    from 5 sources. twin_run is the session's `run` on them (exit 0)."""
    out = twin_run[0]
    corpus = json.loads((out / "04_verdict" / "PROMOTE.json").read_text())["corpus"]
    assert (corpus["n_contents"], corpus["n_files"], corpus["n_sources"]) == (4, 7, 5)
    [group] = corpus["groups"]
    assert sorted(m["src"] for m in group["members"]) == ["beta", "beta_lossy"] and group["why"]
    from kit.report.summary import summary_rows
    from kit.verdict.document import Verdict

    verdict = Verdict.from_json(json.loads((out / "04_verdict" / "PROMOTE.json").read_text()))
    rows = dict(summary_rows(out, verdict))  # as the closing summary prints them (wrapped to the terminal there)
    assert "4 contents in 7 files (5 sources), 1 group(s) of more than one source" in rows["corpus"]
    assert rows["content group"].split(": ")[0] in ("beta, beta_lossy", "beta_lossy, beta")
    report = (out / "05_bundle" / "report.html").read_text()
    assert "4 contents in 7 files (5 sources)" in report and "<td>beta_lossy</td>" in report
