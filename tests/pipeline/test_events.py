"""The --json event stream: documented in docs/events.md, one JSON object per line on stdout."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kit import events as ev
from tests.conftest import FAST, LENIENT, ROOT, run_here

pytestmark = pytest.mark.slow  # whole runs of the pipeline

DOC = ROOT / "docs" / "events.md"
# what the issue asks the stream to carry, at least
REQUIRED = {"step_started", "step_skipped", "job_done", "job_failed", "epoch", "verdict", "bundle_written", "error",
            "run_finished"}


def doc_sections() -> dict[str, str]:
    """`### \\`kind\\`` heading -> the text up to the next heading."""
    parts = re.split(r"^### `([a-z_]+)`\s*$", DOC.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def all_event_classes() -> set[type[ev.Event]]:
    """Every event type of the stream: each subclass of Event (kit/events.py)."""
    found, todo = set(), [ev.Event]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return found


def test_every_event_and_every_field_is_documented() -> None:
    sections, types = doc_sections(), all_event_classes()
    for cls in types:
        assert cls.kind in sections, f"docs/events.md lacks a section for {cls.kind}"
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` |" in sections[cls.kind], f"{cls.kind}.{f.name} is not documented"
    assert set(sections) >= REQUIRED
    assert len({cls.kind for cls in types}) == len(types)


def parse_ndjson(stdout: str) -> list[dict[str, object]]:
    lines = stdout.splitlines()
    assert lines, "no events on stdout"
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(p, dict) and isinstance(p.get("event"), str) for p in parsed)
    return parsed


def check_fields(parsed: list[dict[str, object]]) -> None:
    kinds = {cls.kind: cls for cls in all_event_classes()}
    for obj in parsed:
        cls = kinds[str(obj["event"])]
        assert set(obj) == {"event", *(f.name for f in dataclasses.fields(cls))}, obj


def test_a_real_json_run_parses_line_by_line(json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, res = json_run
    parsed = parse_ndjson(res.stdout)
    check_fields(parsed)
    kinds = [str(p["event"]) for p in parsed]
    for kind in ("run_started", "step_started", "checks", "doing", "jobs_planned", "forecast", "eta", "job_started",
                 "job_progress", "job_done", "epoch", "verdict", "bundle_written", "step_finished", "run_finished"):
        assert kind in kinds, kind
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert parsed[-1]["exit_code"] == 0 and parsed[-1]["verdict"] == "PROMOTE"
    assert Path(str(parsed[-1]["tarball"])).is_file() and Path(str(parsed[-1]["report"])).is_file()
    done = [p for p in parsed if p["event"] == "job_done"]
    assert len(done) == 8 and all(p["enc_fps"] > 0 and p["rows"] == 8 for p in done)
    assert {p["phase"] for p in parsed if p["event"] == "job_progress"} == {"encode", "score"}
    # humans read stderr: the step lines and the summary table, no JSON
    assert "[02 corpus] runs:" in res.stderr and "ensemble-kit summary" in res.stderr
    assert not any(line.startswith("{") for line in res.stderr.splitlines())


def test_loso_says_its_work_after_training_as_it_goes(json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """LOSO's evaluation and files after its training, said by `doing` events with their share done: after its
    forecast and any epoch, never back, each model's rows summing to all it predicts (the evaluation's part ends at
    exactly 1 - AFTER_FILES_SHARE), then the files, the predictions last."""
    from kit.model.cost import AFTER_FILES_SHARE

    parsed = parse_ndjson(json_run[1].stdout)
    loso = parsed[next(k for k, p in enumerate(parsed) if p["event"] == "step_started" and p["step"] == "loso"):]
    loso = loso[:next(k for k, p in enumerate(loso) if p["event"] == "step_finished")]
    said = [(k, p) for k, p in enumerate(loso) if p["event"] == "doing" and p["done"] is not None]
    assert said and said[0][0] > max(k for k, p in enumerate(loso) if p["event"] in ("epoch", "forecast"))
    shares = [float(p["done"]) for _, p in said]  # type: ignore[arg-type]
    assert shares == sorted(shares) and shares[0] == 0 and shares[-1] < 1
    evaluated = [p for _, p in said if not str(p["what"]).startswith("writing")]
    assert evaluated[-1]["done"] == pytest.approx(1 - AFTER_FILES_SHARE, abs=1e-4)
    # the teacher's function (this run proves it) is the last model: all rows but its own said before it, none after
    teacher = next(p for p in evaluated if p["what"] == "evaluating the teacher's own function on every fold")
    assert float(teacher["done"]) < 1 - AFTER_FILES_SHARE - 0.05 and evaluated[-1]["what"] == "every model evaluated"
    assert evaluated[0]["what"] == "evaluating ridge on every fold"
    assert [p["what"] for _, p in said][-1] == "writing 03_loso/predictions.parquet"


def test_the_bundle_says_its_work_after_its_refit_part_by_part(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """A PROMOTE's bundle says its exports (each vmaf-tune model checked), its report, its texts checked and its
    tarball packed, in that order, their shares never back, each member packed named."""
    parsed = parse_ndjson(json_run[1].stdout)
    bundle = parsed[next(k for k, p in enumerate(parsed) if p["event"] == "step_started" and p["step"] == "bundle"):]
    said = [p for p in bundle if p["event"] == "doing" and p["done"] is not None]
    whats = [str(p["what"]) for p in said]
    shares = [float(p["done"]) for p in said]  # type: ignore[arg-type]
    assert shares == sorted(shares) and 0 < shares[-1] <= 1
    assert whats[:2] == ["checking the vmaf-tune profile's model 1 of 2 on every row",
                         "checking the vmaf-tune profile's model 2 of 2 on every row"]
    firsts = [next(k for k, w in enumerate(whats) if w.startswith(head)) for head in (
        "writing the report", "the records sent", "checking every text of the tarball's records",
        "checking every text of the tarball's tables", "packing ")]
    assert firsts == sorted(firsts)
    assert "packing 04_verdict/PROMOTE.json into the tarball" in whats


def test_each_step_after_the_corpus_says_how_far_it_is_never_back(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """LOSO, the verdict and the bundle each say their share done as they go, never back within the step; the
    verdict its parts in its order, from the corpus's check to its verdict file."""
    parsed = parse_ndjson(json_run[1].stdout)
    for step in ("loso", "verdict", "bundle"):
        shares = [float(p["done"]) for p in parsed  # type: ignore[arg-type]
                  if p["event"] == "doing" and p["step"] == step and p["done"] is not None]
        assert shares and shares == sorted(shares), (step, shares)
    verdict = [str(p["what"]) for p in parsed if p["event"] == "doing" and p["step"] == "verdict"]
    assert verdict[0] == "checking the corpus against LOSO's record of it"
    assert verdict[-1] == "writing 04_verdict/PROMOTE.json"
    firsts = [verdict.index(what) for what in ("summarising the corpus", "calibrating the intervals",
                                               "judging every gate", "writing 04_verdict/intervals.parquet")]
    assert firsts == sorted(firsts)


def test_a_rerun_reports_skipped_steps_with_their_reason(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tiny_refs: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(json_run[0], out)  # the shared run stays as it is
    res = run_here("step", "verdict", "--json", "--ref-dir", tiny_refs, "--out-dir", out, "--box-id", "jsonbox",
                   *FAST, *LENIENT)  # the CLI in this process: the stream a real process writes, json_run's
    assert res.returncode == 0, res.stderr
    parsed = parse_ndjson(res.stdout)
    check_fields(parsed)
    told = [p for p in parsed if p["event"] != "eta"]  # the run's time left, said as it starts (docs/events.md)
    assert [p["event"] for p in told] == ["run_started", "step_skipped", "run_finished"]
    assert told[1] == {"event": "step_skipped", "step": "verdict",
                       "reason": "up to date (settings and inputs unchanged)"}


@pytest.mark.parametrize("bad", [["--cqs", "abc"], ["--from", "loso", "--only", "verdict"]])
def test_a_failed_run_ends_with_error_and_run_finished(bad: list[str], tmp_path: Path) -> None:
    res = run_here("run", "--json", "--out-dir", tmp_path / "out", *bad)
    assert res.returncode == 2
    parsed = parse_ndjson(res.stdout)
    check_fields(parsed)
    assert [p["event"] for p in parsed] == ["error", "run_finished"]
    assert parsed[0]["exit_code"] == 2 and parsed[0]["hint"] and parsed[0]["retry"] == ""  # bad input: no retry
    assert parsed[1]["exit_code"] == 2
    assert "error: " in res.stderr  # the person still reads it on stderr


def test_a_failing_step_emits_step_failed_before_the_error(tmp_path: Path) -> None:
    res = run_here("step", "loso", "--json", "--out-dir", tmp_path / "out", "--seeds", "0")
    assert res.returncode == 2
    parsed = parse_ndjson(res.stdout)
    check_fields(parsed)
    assert [p["event"] for p in parsed] == ["run_started", "step_failed", "error", "run_finished"]
    assert "has not completed" in str(parsed[1]["message"])
