"""A gate is declared once (issue 61, item 2): a copy of the kit given a new gate in three files (its record in
kit/verdict/gates.py, its computation in kit/verdict/consumer_gates.py, its threshold's field in
kit/verdict/thresholds.py) shows it in the verdict, the recommendation, `verify`, the summary and the report, with
nothing else edited."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kit.bundle.tarball import write_results_tarball
from kit.infra.tree import Tree
from tests.conftest import ROOT, run_kit
from tests.pipeline.test_pipeline import args_of, copy_of

pytestmark = pytest.mark.slow  # a rerun of a whole run's verdict and bundle

# the gate of the issue: the largest miss at the consumer at most X (X tiny here, so it fails and is said everywhere)
RECORD = '''
def consumer_max_miss(gate: Gate, e: Evidence) -> tuple[LimitGate, ...]:
    from kit.verdict.consumer_gates import max_miss_gate

    if e.assessed is None or e.assessed.consumer is None:
        return ()
    return (max_miss_gate(e.assessed.consumer, gate.limit_of(e.thresholds), gate.measure),)


CONSUMER_MAX_MISS = Gate("consumer_max_miss", False, "max_consumer_miss", CONSUMER_GATES,
                         "largest miss of a held-out encode as vmaf-tune predicts it", "consumer largest miss", beyond,
                         consumer_max_miss, noun="encode")
'''
COMPUTATION = '''

def max_miss_gate(fit: ConsumerFit, threshold: float | None, measure: str) -> LimitGate:
    failing = [fit.worst_encode] if threshold is not None and not fit.max_miss <= threshold else []
    return LimitGate(enabled=threshold is not None, measure=measure, threshold=threshold, worst=fit.worst_encode,
                     worst_value=fit.max_miss, failing=failing, passed=not failing,
                     statement=f"encode {fit.worst_encode} is {fit.max_miss:.2f} VMAF from its teacher")
'''
# its threshold's field: the default, the rule, the step it changes (the verdict) and the flag (`run
# --max-consumer-miss`, its place in the help). Off by default: at its default a new setting leaves every fingerprint
# as it was (kit.steps.view.settings_fingerprint), so an old out-dir keeps its verdict until the flag is given; a gate
# on by default that old verdicts must meet is a change of the verdict's numbers, whose release raises the verdict's
# format version (kit/steps/__init__.py), as for any step
FIELD = '''    max_consumer_miss: float | None = setting(None, LIMIT, changes=DECIDES, flag=Flag(
        "--max-consumer-miss", Limit(), "Gate: the largest miss of a held-out encode as vmaf-tune predicts it at most "
        "X; off to drop it.", metavar=OFF_METAVAR, rank=445))
'''


def edit(path: Path, anchor: str, added: str, before: bool = False) -> None:
    text = path.read_text()
    assert text.count(anchor) == 1, (path, anchor)
    path.write_text(text.replace(anchor, added + anchor if before else anchor + added))


def add_the_gate(kit: Path) -> list[Path]:
    """The three files a new gate touches, edited in the copy."""
    gates, consumer = kit / "verdict" / "gates.py", kit / "verdict" / "consumer_gates.py"
    gate = kit / "verdict" / "thresholds.py"
    edit(gates, "\n# the order of the verdict's rows", RECORD, before=True)
    edit(gates, "CONSUMER_SHARE, CONSUMER_CONTENT_SHARE", ", CONSUMER_MAX_MISS")
    consumer.write_text(consumer.read_text() + COMPUTATION)
    edit(gate, "\n\n@dataclass(frozen=True)\nclass EvidenceGate", FIELD, before=True)
    return [gates, consumer, gate]


def forged_promote(out: Path, tmp_path: Path) -> Path:
    """The run's tarball with its HOLD.json said to be a PROMOTE.json (the manifest made to match): what `verify`
    must refuse by the new gate's own row."""
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    top = tmp_path / "unpacked"
    with tarfile.open(tarball) as tar:
        tar.extractall(top, filter="data")
    (root,) = list(top.iterdir())
    hold = root / "04_verdict" / "HOLD.json"
    doc = json.loads(hold.read_text())
    hold.unlink()
    (root / "04_verdict" / "PROMOTE.json").write_text(json.dumps({**doc, "verdict": "PROMOTE"}))
    files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json"}
    meta = {"verdict": "PROMOTE", "box_id": "jsonbox", "corpus_sha256": doc["corpus"]["sha256"]}
    with Tree.open(tmp_path) as tree:
        write_results_tarball(tree, tmp_path / "forged.tar.gz", root.name, files, meta)
    return tmp_path / "forged.tar.gz"


def test_a_gate_added_in_three_files_shows_everywhere(json_run: tuple[Path, subprocess.CompletedProcess[str]],
                                                      tiny_refs: Path, tmp_path: Path) -> None:
    out = copy_of(json_run, tmp_path)
    kit = tmp_path / "kit copy"
    shutil.copytree(ROOT / "kit", kit / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    edited = add_the_gate(kit / "kit")
    assert len(edited) <= 3
    entry = [sys.executable, str(kit / "kit" / "run_full_pipeline.py")]
    res = run_kit(*args_of(out, tiny_refs), entry=entry, env={"PYTHONPATH": ""}, cwd=tmp_path)
    assert res.returncode == 0 and "[04 verdict] skipped: up to date" in res.stdout, res.stdout[-3000:]  # off: as was
    res = run_kit(*args_of(out, tiny_refs), "--max-consumer-miss", "0.001", entry=entry, env={"PYTHONPATH": ""},
                  cwd=tmp_path)
    assert res.returncode == 1, res.stdout[-3000:] + res.stderr[-3000:]  # the new gate fails: HOLD
    verdict = json.loads((out / "04_verdict" / "HOLD.json").read_text())
    rows = {g["measure"]: g for g in verdict["consumer_gates"]}
    assert rows["consumer_max_miss"]["threshold"] == 0.001 and not rows["consumer_max_miss"]["passed"], rows
    assert verdict["provenance"]["thresholds"]["max_consumer_miss"] == 0.001
    assert "VMAF from its teacher, beyond --max-consumer-miss 0.001" in verdict["recommendation"]
    assert "consumer largest miss" in res.stdout, res.stdout[-3000:]  # the closing summary: a failing gate in full
    report = (out / "05_bundle" / "report.html").read_text()
    assert "largest miss of a held-out encode as vmaf-tune predicts it" in report  # the gate table
    assert "(--max-consumer-miss, gate 0.001: FAIL)" in report  # the consumer's section
    verify = [sys.executable, str(kit / "kit" / "__main__.py")]
    said = run_kit("verify", forged_promote(out, tmp_path), entry=verify, env={"PYTHONPATH": ""}, cwd=tmp_path)
    assert said.returncode == 2 and "its own consumer_gates consumer_max_miss fails: it lists" in said.stderr, \
        said.stdout + said.stderr
