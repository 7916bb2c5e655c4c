"""A missing output of an earlier step (issue 74, item 4): every output every step records in its status.json, removed,
cut short or edited, is seen by every way a run can start after it. `run` reruns the step that made it, saying why
(`status` says the same reason, as the run decides it); `run --from <the next step>` and `step <the next step>` are
refused before any work, naming the file, with the command that makes it again. Never a step run on without it (the
issue's case: 02_corpus/samples.parquet deleted, then LOSO ran without the windows encoded on their own and the
verdict blamed a setting nobody gave).

The outputs are those the run's own records list (generated, never a hand list): the issue's file and the corpus's
shard, each way, then every recorded output."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kit.rundir import STEP_NAMES, RunDir
from tests.conftest import FAST, LENIENT, run_here
from tests.pipeline.test_consumer_sampling import refs, sampled_run  # noqa: F401 (the fixtures: the issue's run)

pytestmark = pytest.mark.slow  # a copy of a whole out-dir, started in every way


def removed(path: Path) -> None:
    path.unlink()


def cut_short(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def edited(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\n")


DAMAGES: dict[str, Callable[[Path], None]] = {"removed": removed, "cut short": cut_short, "edited": edited}


def recorded_outputs(out: Path) -> list[tuple[str, str]]:
    """(step, output relative to the out-dir) for every output every step's status.json records, in run order."""
    return [(step, rel) for step in STEP_NAMES if (status := RunDir(out).status(step)).is_file()
            for rel in sorted(json.loads(status.read_text())["outputs"])]


@pytest.fixture(scope="module")
def finished(json_run: tuple[Path, object]) -> Path:
    """The session's finished run (whatever it made: the outputs are read from its records)."""
    return json_run[0]


def starts_after(step: str, out: Path) -> list[list[str | Path]]:
    """The commands that start a run after `step`, which must not run on without its outputs."""
    nxt = STEP_NAMES[STEP_NAMES.index(step) + 1]
    return [["run", "--settings", out / "run.json", "--out-dir", out, "--from", nxt],
            ["step", nxt, "--settings", out / "run.json", "--out-dir", out]]


def check_refused(out: Path, step: str, rel: str, how: str) -> None:
    for args in starts_after(step, out):
        before = {p: p.stat().st_mtime_ns for p in out.glob("0*/status.json")}
        res = run_here(*args)
        said = res.stdout + res.stderr
        assert res.returncode == 2, (rel, how, args, said[-3000:])
        assert "Traceback" not in said, said
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
        assert len(errors) == 1 and rel in errors[0], (rel, how, res.stderr)
        assert ("is missing" in errors[0].split(rel, 1)[1]) == (how == "removed"), errors[0]
        # the plain run, which reruns the producer for what is missing and reuses the rest (`--from` would force it)
        assert any(ln.startswith("hint: ") and " run " in ln and "--from" not in ln
                   for ln in res.stderr.splitlines()), res.stderr
        assert {p: p.stat().st_mtime_ns for p in out.glob("0*/status.json")} == before  # no step ran


def check_stale(out: Path, step: str, rel: str, how: str) -> None:
    """`status` (which decides as `run` does, runner.stale_reason) says the producer reruns, naming the file."""
    report = json.loads(run_here("status", out, "--json").stdout)
    (mine,) = [s for s in report["steps"] if s["step"] == step]
    word = "is missing" if how == "removed" else "was modified"
    assert mine["state"] == "stale" and f"output {rel} {word}" in mine["reason"], (rel, how, mine)


def damage_each(finished: Path, tmp_path: Path, chosen: Callable[[str, str], bool]) -> int:
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    cases = 0
    for step, rel in recorded_outputs(out):
        if not chosen(step, rel):
            continue
        target = out / rel
        kept = target.read_bytes()
        for how, damage in DAMAGES.items():
            damage(target)
            check_stale(out, step, rel, how)
            if step != STEP_NAMES[-1]:  # the bundle's outputs: no step starts after it
                check_refused(out, step, rel, how)
            target.write_bytes(kept)
            cases += 1
    return cases


SAMPLES = "02_corpus/samples.parquet"  # the file: the windows encoded on their own (a run that samples)


def test_the_shard_missing_or_changed_stops_a_later_start(finished: Path, tmp_path: Path) -> None:
    assert damage_each(finished, tmp_path, lambda step, rel: rel == "02_corpus/shard.parquet") == len(DAMAGES)


@pytest.mark.wide
@pytest.mark.parametrize("which", ["json_run", "sampled_run"])
def test_every_recorded_output_missing_or_changed_stops_a_later_start(which: str, tmp_path: Path,
                                                                      request: pytest.FixtureRequest) -> None:
    """Every output of the session's run, and of a run that encodes the consumer's windows (samples.parquet)."""
    made = request.getfixturevalue(which)
    finished = made[0] if isinstance(made, tuple) else made
    outputs = recorded_outputs(finished)
    assert {step for step, _ in outputs} == set(STEP_NAMES), outputs  # every step recorded its outputs
    assert which != "sampled_run" or ("corpus", SAMPLES) in outputs, outputs
    assert damage_each(finished, tmp_path, lambda step, rel: True) == len(DAMAGES) * len(outputs)


@pytest.mark.wide
def test_run_remakes_the_samples_it_lost_and_says_why(sampled_run: Path, refs: Path, tmp_path: Path) -> None:  # noqa: F811
    """The issue's case, run whole: samples.parquet removed, then `run`: the corpus step reruns saying the file is
    missing, makes it again (its jobs reused), and LOSO reads it."""
    out = tmp_path / "out"
    shutil.copytree(sampled_run, out)
    (out / SAMPLES).unlink()
    fast = [a if a != "25,37" else "25,45" for a in FAST]  # as the run was made
    # with its --consumer-samplings encoded (2.3.0's default is cut: without it the setting, not the file, reruns it)
    res = run_here("run", "--ref-dir", refs, "--box-id", "sampled", *fast, "--consumer-samplings", "encoded",
                   *LENIENT, "--out-dir", out)
    assert res.returncode in (0, 1), res.stdout[-3000:] + res.stderr
    assert f"output {SAMPLES} is missing" in res.stdout + res.stderr, res.stdout[-3000:]
    assert (out / SAMPLES).is_file()
    assert json.loads((out / "03_loso/status.json").read_text())["inputs"].get("samples"), "LOSO read no samples"
