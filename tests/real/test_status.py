"""`ensemble-kit status`: done, stale or pending, and why; it never runs or changes anything."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kit import __version__
from kit.cli.main import cli
from kit.corpus.split import ShardSpec
from kit.infra.invocation import RunProvenance, kit_command
from kit.infra.tree import Tree
from kit.model.recipe import TrainConfig
from kit.model.threads import choose_threads
from kit.platforms.grids import CqGrid
from kit.steps.records import RunRecord, read_run_record
from kit.steps.runner import out_dir_lock
from kit.steps.settings import RunSettings
from kit.verdict.thresholds import GateThresholds
from tests import pace
from tests.conftest import FAST, LENIENT, ROOT, assert_clean_failure, run_here, run_kit

STEPS = ["prereqs", "corpus", "loso", "verdict", "bundle"]


def status(out: Path) -> dict[str, object]:
    res = CliRunner().invoke(cli, ["status", str(out), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def states(report: dict[str, object]) -> dict[str, tuple[str, str]]:
    return {s["step"]: (s["state"], s["reason"]) for s in report["steps"]}  # type: ignore[union-attr, index]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture
def copied(json_run: tuple[Path, object], tmp_path: Path) -> Path:
    """A copy of the finished run, free to change."""
    out = tmp_path / "copy"
    shutil.copytree(json_run[0], out)
    return out


# every way run.json can be unreadable while the steps' records stand (a kill, an editor, a disk)
RUN_JSON_DAMAGE = {"cut short": lambda p: p.write_bytes(p.read_bytes()[:50]), "empty": lambda p: p.write_bytes(b""),
                   "not JSON": lambda p: p.write_text("run.json\n"), "a list": lambda p: p.write_text("[]"),
                   "no settings": lambda p: p.write_text(json.dumps({
                       k: v for k, v in json.loads(p.read_text()).items() if k != "settings"})),
                   "a setting of the wrong type": lambda p: p.write_text(json.dumps({
                       **(run := json.loads(p.read_text())), "settings": {**run["settings"], "seeds": "zero"}}))}


@pytest.mark.parametrize("damage", sorted(RUN_JSON_DAMAGE))
def test_a_damaged_run_json_says_no_command_that_would_drop_the_settings(copied: Path, damage: str) -> None:
    """The settings are lost with run.json: a `next:` without them (the defaults, another box id) would redo every
    step (a hostile tester's did: box hb became vm, 79 s of work); status says so instead, and what each step's own
    record says it completed."""
    RUN_JSON_DAMAGE[damage](copied / "run.json")
    report = status(copied)
    assert report["next_command"] is None and str(report["settings_lost"]).startswith("run.json is "), report
    for st in report["steps"]:  # type: ignore[union-attr]
        assert st["state"] == "pending" and st["completed_at_utc"], st  # type: ignore[index]
        assert "a rerun with the same flags keeps it if its inputs are unchanged" in st["reason"], st  # type: ignore
    res = CliRunner().invoke(cli, ["status", str(copied)])
    assert res.exit_code == 0, res.output
    assert "no run in this out-dir yet" not in res.output and "the settings of the latest run are lost" in res.output
    (last,) = [line for line in res.output.splitlines() if line.startswith("next:")]
    assert "with the same flags" in last and "--out-dir" not in last, last


def edit_settings(out: Path, **changes: object) -> None:
    run = json.loads((out / "run.json").read_text())
    run["settings"].update(changes)
    (out / "run.json").write_text(json.dumps(run))


def test_a_fresh_out_dir_is_all_pending(tmp_path: Path) -> None:
    report = status(tmp_path)
    assert list(states(report)) == STEPS
    assert {s for s, _ in states(report).values()} == {"pending"}
    assert report["next_command"] == kit_command("run", "--out-dir", tmp_path) and report["invoked_at_utc"] is None
    res = CliRunner().invoke(cli, ["status", str(tmp_path)])
    assert res.exit_code == 0 and "no run in this out-dir yet" in res.output and "01 prereqs  pending" in res.output


def test_a_folder_that_does_not_exist_is_an_error_naming_the_out_dirs_beside_it(tmp_path: Path) -> None:
    typo = tmp_path / "runs" / "mybxo"
    res = run_kit("status", typo)
    assert_clean_failure(res, str(typo), "does not exist")
    assert "start a run there: " in res.stderr and not typo.exists()
    for name in ("mybox", "other"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "run.json").write_text("{}")
    res = run_kit("status", typo)
    assert_clean_failure(res, str(typo))
    assert f"out-dirs in {tmp_path / 'runs'}: mybox, other" in res.stderr


def test_while_a_run_holds_the_out_dir_status_suggests_no_run(tmp_path: Path) -> None:
    with out_dir_lock(RunSettings(out_dir=tmp_path)):
        res = run_kit("status", tmp_path)
        report = json.loads(run_kit("status", tmp_path, "--json").stdout)
    assert res.returncode == 0, res.stderr
    assert f"a run is in progress in this out-dir (pid {os.getpid()} on {platform.node()} since " in res.stdout
    assert "next:" not in res.stdout and report["next_command"] is None
    assert str(report["running"]).startswith(f"pid {os.getpid()} on ")
    assert run_kit("status", tmp_path).stdout.splitlines()[-1].startswith("next: ")  # the lock is gone


@pytest.mark.slow  # a whole run first
def test_a_completed_run_is_all_done_and_status_changes_nothing(json_run: tuple[Path, object]) -> None:
    out = json_run[0]
    before = snapshot(out)
    report = status(out)
    assert snapshot(out) == before
    assert {k: v[0] for k, v in states(report).items()} == dict.fromkeys(STEPS, "done")
    assert all(s["completed_at_utc"] for s in report["steps"])  # type: ignore[union-attr, index]
    assert report["verdict"] == "PROMOTE" and report["next_command"] is None and report["running"] is None
    res = CliRunner().invoke(cli, ["status", str(out)])
    assert "nothing to do: every step is up to date" in res.output and "verdict on disk: PROMOTE" in res.output


HEAVY = ("numpy", "pandas", "pyarrow", "torch", "scipy", "matplotlib", "onnx", "onnxruntime")
# the other commands' modules: `run`'s flags are made from every setting, the cluster commands' from them
OTHER_COMMANDS = ("kit.cli.run", "kit.cli.flags", "kit.cli.cluster", "kit.cli.slurm", "kit.cli.ray", "kit.cli.merge",
                  "kit.cli.verify", "kit.cli.detect", "kit.cli.binaries", "kit.cli.ffmpeg", "kit.cli.export")


def test_status_of_a_finished_run_imports_no_heavy_module(json_run: tuple[Path, object]) -> None:
    """`status` on a finished out-dir (every step planned, the corpus's identity among LOSO's inputs) loads no table
    or training library: what took 16 s on a busy box was pandas, pyarrow and a pass over the whole corpus. Nor numpy
    (~0.1 s of CPU, issue 77: status at most 0.5 s): the signatures' likeness is read from what the run kept
    (identity.remembered_pairs); nor another command's module (usage.Commands imports the one asked for). And it
    starts no process (issue 77: four ffmpeg queries and the reaper before them, each status): ffmpeg's answers are
    read from what the run kept in the kit's cache (kit.media.ffmpeg.ask_binary)."""
    code = ("import sys; from click.testing import CliRunner; from kit.cli.main import cli\n"
            "from kit.infra import proc\n"
            f"r = CliRunner().invoke(cli, ['status', {str(json_run[0])!r}]); assert r.exit_code == 0, r.output\n"
            "assert 'nothing to do' in r.output, r.output\n"
            f"print([m for m in {HEAVY + OTHER_COMMANDS!r} if m in sys.modules], proc._reaper._proc is None)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[] True", res.stdout  # no module of them, and no child: the reaper never started


@pytest.mark.slow  # a whole run first
def test_changed_settings_and_outputs_say_why(copied: Path) -> None:
    edit_settings(copied, seeds=[0, 1, 2])
    got = states(status(copied))
    assert got["prereqs"][0] == got["corpus"][0] == "done"
    assert got["loso"] == ("stale", "setting seeds: [0, 1] -> [0, 1, 2]")
    assert got["verdict"][0] == "pending" and "LOSO ran with seeds [0, 1], not [0, 1, 2]" in got["verdict"][1]
    edit_settings(copied, seeds=[0, 1])
    with (copied / "03_loso" / "folds.parquet").open("ab") as fh:
        fh.write(b"edited")
    got = states(status(copied))
    assert got["loso"] == ("stale", "output 03_loso/folds.parquet was modified")
    assert got["verdict"][0] == "pending" and "was changed after step 'loso' wrote it" in got["verdict"][1]
    (copied / "02_corpus" / "shard.parquet").unlink()
    got = states(status(copied))
    assert got["corpus"] == ("stale", "output 02_corpus/shard.parquet is missing")
    # the corpus step's record holds it: removed since that step made it (not "has not completed", as at 2.2.0)
    assert got["loso"][0] == "pending" and "step 'corpus' made it" in got["loso"][1]
    assert "has been removed since" in got["loso"][1]
    report = status(copied)
    box = json.loads((copied / "run.json").read_text())["settings"]["box_id"]
    # the latest settings, in this out-dir (not the one copied)
    assert report["next_command"] == kit_command("run", "--settings", copied / "run.json", "--out-dir", copied,
                                                 "--box-id", box)


@pytest.mark.slow  # a whole run first
def test_a_done_step_after_a_stale_one_says_it_may_rerun(copied: Path) -> None:
    edit_settings(copied, cqs=[25])
    got = states(status(copied))
    assert got["corpus"] == ("stale", "setting grid.libx264: [25, 37] -> [25]")
    assert got["loso"] == ("done", "up to date; reruns if corpus changes its outputs")


@pytest.mark.slow  # a whole run first
def test_corpus_given_demo_clips_missing_and_a_running_run(copied: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    edit_settings(copied, corpus=str(copied / "02_corpus" / "shard.parquet"))
    assert states(status(copied))["corpus"][0] == "unused"
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    monkeypatch.setenv("KIT_CACHE_DIR", str(cache))
    edit_settings(copied, corpus=None, ref_dir=None)
    state, why = states(status(copied))["corpus"]
    assert state == "stale" and "not in the cache or are damaged; the next run renders them" in why
    assert not any(cache.rglob("*.y4m"))  # status never renders them itself
    with out_dir_lock(RunSettings(out_dir=copied)):
        assert str(status(copied)["running"]).startswith("pid ")


def test_run_json_settings_come_back_exactly(tmp_path: Path) -> None:
    settings = RunSettings(out_dir=tmp_path, ref_dir=tmp_path / "refs", encoders=("libx264", "h264_nvenc"),
                           cqs=CqGrid((22, 30), {"libsvtav1": (20, 40)}), scales=("native", "540"), seeds=(3,),
                           corpus=None, jobs=3, box_id="b", shard=ShardSpec(2, 3),
                           gate=GateThresholds(0.9, 0.01, 0.9, 0.7), train=TrainConfig(epochs=7))
    assert RunSettings.from_json(json.loads(json.dumps(settings.to_json()))) == settings
    record = RunRecord("0.1.0", "2026-11-23T00:00:00Z", ["run"], settings, RunProvenance.here(), choose_threads(), 2)
    write_run_record_for_test = tmp_path / "run.json"
    write_run_record_for_test.write_text(json.dumps(record.to_json()))
    assert read_run_record(Tree.open(tmp_path), write_run_record_for_test) == (record, "")


def test_next_command_is_the_recorded_settings_placed_by_their_own_flags(tmp_path: Path) -> None:
    from kit.steps.settings import settings_command

    settings = RunSettings(out_dir=tmp_path / "moved here", box_id="b", corpus=Path("/abs/c.parquet"), seeds=(0, 1))
    assert settings_command(settings, tmp_path / "moved here" / "run.json", "run") == (
        f"{kit_command('run')} --settings '{tmp_path / 'moved here' / 'run.json'}' --out-dir "
        f"'{tmp_path / 'moved here'}' --box-id b --corpus /abs/c.parquet")


def planted_out_dir(out: Path, version: str = __version__) -> Path:
    """An out-dir whose run.json is the kit's (of kit `version`: one no kit writes makes it damaged), with a HOLD.json
    and, where the verdict step's status.json belongs, a link someone planted."""
    with Tree.open(out) as tree:
        tree.write_json(out / "run.json", RunRecord(
            version, "2026-11-23T00:00:00Z", ["run"], RunSettings(out_dir=out, box_id="b"), RunProvenance.here(),
            choose_threads(), 2).to_json())
        tree.write_json(out / "04_verdict" / "HOLD.json", {})
    (out / "04_verdict" / "status.json").symlink_to("/etc/passwd")
    return out


def test_a_planted_status_json_link_is_said_as_a_link_not_a_missing_verdict(tmp_path: Path) -> None:
    """`status` said HOLD.json was missing (step 'verdict' has not completed) when the verdict's status.json was a
    link planted in its place (issue 52)."""
    out = planted_out_dir(tmp_path / "out")
    got = states(status(out))
    assert got["bundle"] == ("pending", f"{out / '04_verdict' / 'status.json'} is a symbolic link to /etc/passwd, "
                                        "not a file step 'verdict' wrote: the kit reads nothing through it")
    assert not any("HOLD.json is missing" in why for _, why in got.values())


def test_a_planted_status_json_beside_a_damaged_run_json_is_said_too(tmp_path: Path) -> None:
    """With run.json damaged (its kit_version none a kit writes: `x`, which this test's out-dir once held unread),
    status reads each step's own record, and a link planted at one is said as it is, never exit 2."""
    out = planted_out_dir(tmp_path / "out", version="x")
    res = run_here("status", out)
    assert res.returncode == 0, res.stderr
    got = states(status(out))
    assert got["verdict"] == ("pending", f"{out / '04_verdict' / 'status.json'} is a symbolic link to /etc/passwd, "
                                         "not a regular file the kit wrote; nothing was read through it"), got


def test_a_run_json_that_is_a_fifo_is_said_as_one_with_no_word_of_writing(tmp_path: Path) -> None:
    """`status` spoke of writing ("where the kit writes …; nothing was written through it") for a FIFO at run.json:
    it writes nothing; it now says what it found, as a read."""
    os.mkfifo(tmp_path / "run.json")
    res = run_here("status", tmp_path)
    assert_clean_failure(res, f"{tmp_path / 'run.json'} is a named pipe (FIFO), not a regular file the kit wrote; "
                              "nothing was read through it")
    assert "writ" not in res.stderr


def figures_from_files(out: Path, now: float) -> tuple[int, int, float | None]:
    """The corpus's jobs planned and done and their time left, recomputed by hand from what the run wrote: plan.json
    (each job's work, when the jobs started) and the ledgers of 02_corpus/jobs/ (one per job done)."""
    import calendar
    import time

    def seconds(stamp: str) -> int:
        return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))

    plan = json.loads((out / "02_corpus" / "plan.json").read_text())
    started = seconds(plan["started_at_utc"])
    ledgers = {p.stem: json.loads(p.read_text()) for p in (out / "02_corpus" / "jobs").glob("*.json")}
    done = [j for j in plan["jobs"] if j in plan["reused"] or (
        j in ledgers and ledgers[j]["completed_at_utc"] >= plan["started_at_utc"])]
    fresh = [j for j in done if j not in plan["reused"]]
    ran = sum(plan["jobs"][j] for j in fresh)
    to_run = sum(w for j, w in plan["jobs"].items() if j not in plan["reused"])
    # the pace of the jobs done, from the plan to the last one's end, once three times the jobs that run at once are
    last = max((seconds(ledgers[j]["completed_at_utc"]) - started for j in fresh), default=0)
    if len(fresh) < 3 * plan["workers"] or not ran or last <= 0:
        return len(plan["jobs"]), len(done), None
    return len(plan["jobs"]), len(done), max(0.0, to_run * last / ran - (now - started))


@pytest.mark.slow  # a corpus step in a process of its own
def test_status_during_a_run_shows_the_corpus_jobs_done_of_planned_and_the_time_left(tiny_refs: Path,
                                                                                       tmp_path: Path) -> None:
    """A real corpus step in a child process (one job at a time, 40 jobs on the tiny clips); `status`, reading the
    out-dir without its lock, shows its jobs done of planned and the time left, each figure recomputed here from the
    files; stopped, the step says what a rerun keeps."""
    import signal
    import time

    out = tmp_path / "out"
    grid = ["--encoders", "libx264", "--cqs", ",".join(str(q) for q in range(18, 48, 3)), "--scales", "native"]
    assert run_here("step", "prereqs", "--out-dir", out, *grid).returncode == 0
    child = subprocess.Popen([sys.executable, "-m", "kit", "step", "corpus", "--ref-dir", str(tiny_refs), "--out-dir",
                              str(out), "--box-id", "busy", *grid, "--jobs", "1"], cwd=ROOT, start_new_session=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        seen: list[str] = []
        limit = pace.Deadline(300)  # the box's own time (tests/pace.py)
        while not limit.expired() and child.poll() is None:
            corpus = next(s for s in status(out)["steps"] if s["step"] == "corpus")  # type: ignore[union-attr]
            seen.append(str(corpus["reason"]))
            if corpus["state"] == "running" and corpus["seconds_left"] is not None and corpus["jobs_done"] >= 2:
                break
            time.sleep(0.3)
        assert child.poll() is None, f"the run ended before status saw its jobs: {seen[-3:]}"
        os.killpg(child.pid, signal.SIGSTOP)  # held still (its ffmpeg too), so the files stay as status reads them
        before = time.time()
        shown = run_here("status", out, "--json")  # the command, without the lock the run holds
        after = time.time()
        assert shown.returncode == 0, shown.stderr
        corpus = next(s for s in json.loads(shown.stdout)["steps"] if s["step"] == "corpus")
        planned, done, _ = figures_from_files(out, before)
        assert corpus["state"] == "running" and (corpus["jobs_done"], corpus["jobs_planned"]) == (done, planned) == (
            done, 40), corpus
        # the run's own list of the jobs it finished, which status counts by (each line its ledger's end)
        listed = dict(line.split("\t") for line in (out / "02_corpus" / "done.txt").read_text().splitlines())
        ledgers = {p.stem: json.loads(p.read_text())["completed_at_utc"]
                   for p in (out / "02_corpus" / "jobs").glob("*.json")}
        # (a job whose ledger is written and not yet listed: the moment the child may have been stopped in)
        assert 0 <= done - len(listed) <= 1 and all(ledgers[job] == at for job, at in listed.items())
        at_before, at_after = figures_from_files(out, before)[2], figures_from_files(out, after)[2]
        assert at_before is not None and at_after is not None  # the time left falls as the clock runs
        assert at_after - 1e-6 <= corpus["seconds_left"] <= at_before + 1e-6
        line = next(ln for ln in run_here("status", out).stdout.splitlines() if " corpus " in ln)
        assert f"running now, in the run that holds this out-dir: {done} of 40 jobs done, about " in line, line
        assert line.endswith(" left for its jobs"), line
        assert any("reading the clips, no job planned yet" in r or "jobs done" in r for r in seen)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGCONT)
            os.killpg(child.pid, signal.SIGTERM)
        pace.wait(child, 60)
    # stopped: the step is unfinished, and status says how many of its jobs the next run keeps
    planned, done, _ = figures_from_files(out, time.time())
    corpus = next(s for s in status(out)["steps"] if s["step"] == "corpus")  # type: ignore[union-attr]
    assert corpus["state"] == "pending" and (corpus["jobs_done"], corpus["jobs_planned"]) == (done, planned)
    assert f"{done} of 40 jobs done, each of which the next run reuses if its files still match its ledger" in \
        str(corpus["reason"])


def test_the_corpus_s_progress_in_words() -> None:
    from kit.steps.status import JobsProgress

    assert JobsProgress(40, 12, 0, 250.0).words() == "12 of 40 jobs done, about 4 min left for its jobs"
    assert JobsProgress(40, 12, 10, None).words() == (
        "12 of 40 jobs done (10 reused), estimating the time left (until this run has done three times as many jobs "
        "as run at once)")
    assert JobsProgress(40, 40, 40, None).words() == "40 of 40 jobs done (40 reused), its rows going into the shard"


def test_the_corpus_plan_counts_its_sample_jobs_until_they_are_done(tiny_refs: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """While the corpus step encodes the consumer's samplings (the sample jobs, after the shard: they can take most of
    the step), its plan is still there for `status`, and lists them: the jobs done are the corpus's, the sample jobs
    still planned; once they are written the plan is gone."""
    import kit.steps.corpus_samples as corpus_samples
    from kit.infra.tree import read_out_dir
    from kit.rundir import RunDir
    from kit.steps.status import jobs_progress

    out, run = tmp_path / "out", RunDir(tmp_path / "out")
    # a window of 0.2 s: the tiny clips (8 frames at 25 fps) are longer than it, so each job at a CRF vmaf-tune
    # queries has its sample job
    grid = ["--encoders", "libx264", "--cqs", "25,37", "--scales", "native", "--consumer-window", "0.2"]
    assert run_here("step", "prereqs", "--out-dir", out, *grid).returncode == 0
    seen = []

    def samples_watched(*args: object, **kwargs: object) -> object:
        with read_out_dir(out) as tree:
            plan = json.loads(tree.read_bytes(run.jobs_plan)) if tree.is_file(run.jobs_plan) else {"jobs": {}}
            seen.append((jobs_progress(tree, run, None), plan))
        return run_samples(*args, **kwargs)

    run_samples = corpus_samples.run_samples
    monkeypatch.setattr(corpus_samples, "run_samples", samples_watched)
    res = run_here("step", "corpus", "--ref-dir", tiny_refs, "--out-dir", out, "--box-id", "sampled", *grid,
                   "--consumer-samplings", "encoded", "--json")
    assert res.returncode == 0, res.stderr
    # one count of the step's jobs (issue 77): the run's line and bar (jobs_planned, each job_done) count the sample
    # jobs as plan.json does, and the last job done is the step's last
    events = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    [planned] = [e for e in events if e["event"] == "jobs_planned"]
    done = [e for e in events if e["event"] == "job_done"]
    assert (planned["total"], planned["samples"]) == (16, 8), planned
    assert [e["done"] for e in done] == list(range(1, 17)) and {e["total"] for e in done} == {16}
    assert {e["job_id"] for e in done[8:]} == {j for j in json.loads(json.dumps(seen[0][1]))["jobs"]
                                                if j.endswith("__samples")}
    # priced before they start: their pixel-frames (each window's frames encoded, then scored), as the plan has them
    [price] = [e["message"] for e in events if e["event"] == "info" and "sample jobs encode" in e["message"]]
    work = sum(w for j, w in seen[0][1]["jobs"].items() if j.endswith("__samples"))
    assert f"8 sample jobs encode the consumer's samplings on their own after the corpus jobs (0 done before): " \
           f"{work / 1e9:.2f} G pixel-frames to do" in price and "min of CPU" in price, price
    assert events.index(next(e for e in events if e.get("message") == price)) < \
        events.index(next(e for e in events if e["event"] == "job_started"))
    [(progress, plan)] = seen
    samples = [j for j in plan["jobs"] if j.endswith("__samples")]
    assert len(samples) == 8 and len(plan["jobs"]) == 16, plan["jobs"]  # 4 clips x 2 CRFs, each with its samplings
    assert progress is not None and (progress.planned, progress.done) == (16, 8), progress  # the corpus's 8 done
    assert not run.jobs_plan.exists() and run.samples.exists()


STEP_CLASSES = {"prereqs": ("kit.steps.s01_prereqs", "PrereqsStep"), "corpus": ("kit.steps.s02_corpus", "CorpusStep"),
                "loso": ("kit.steps.s03_loso", "LosoStep"), "verdict": ("kit.steps.s04_verdict", "VerdictStep"),
                "bundle": ("kit.steps.s05_bundle", "BundleStep")}


def watch_steps(monkeypatch: pytest.MonkeyPatch, out: Path, steps: tuple[str, ...]) -> dict[str, object]:
    """Each step's run replaced by one that first asks `status` of the out-dir (as another process would: no lock
    taken), and how long that took in CPU; what each saw, by the step that was running."""
    import importlib
    import resource

    from kit.steps.status import run_status

    seen: dict[str, object] = {}
    for name in steps:
        module, cls = STEP_CLASSES[name]
        step_class = getattr(importlib.import_module(module), cls)

        def watched(self: object, ctx: object, plan: object, _real: Any = step_class.run, _name: str = name) -> object:
            before = resource.getrusage(resource.RUSAGE_SELF)
            report = run_status(out)
            after = resource.getrusage(resource.RUSAGE_SELF)
            seen[_name] = (report, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            return _real(self, ctx, plan)

        monkeypatch.setattr(step_class, "run", watched)
    return seen


def assert_running(report: object, step: str) -> None:
    """The step the run is in is `running`, each before it done, each after it pending until the run reaches it."""
    from kit.steps.status import RUNNING, RunStatus

    assert isinstance(report, RunStatus)
    names = [st.step for st in report.steps]
    for st in report.steps:
        if st.step == step:
            assert (st.state, st.reason.split(":")[0]) == ("running", RUNNING), st
        elif names.index(st.step) > names.index(step):
            assert (st.state, st.reason) == ("pending", f"after {step}, in the run that holds this out-dir"), st
        else:
            assert st.state == "done", st


def test_status_says_running_of_the_prereqs_step_another_run_is_in(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast tier's case of the class below: during a run's prereqs step `status` said `pending ...
    prereqs.json is missing` (it planned the corpus step, whose plan needs the file the running step writes); it says
    `running`, and plans no step after it."""
    out = tmp_path / "out"
    seen = watch_steps(monkeypatch, out, ("prereqs",))
    assert run_here("step", "prereqs", "--out-dir", out, "--encoders", "libx264").returncode == 0
    report, _ = seen["prereqs"]  # type: ignore[misc]
    assert_running(report, "prereqs")


@pytest.mark.slow  # a whole run
def test_status_says_running_of_every_step_a_run_is_in_at_a_fraction_of_a_cpu_second(
        tiny_refs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The class: a run on the tiny clips, `status` asked as each step starts: that step `running`, those before it
    done, those after it pending without a plan; each answer under 0.5 s of CPU in this process (its imports paid)."""
    out = tmp_path / "out"
    seen = watch_steps(monkeypatch, out, tuple(STEP_CLASSES))
    res = run_here("run", "--ref-dir", tiny_refs, "--out-dir", out, "--encoders", "libx264", *FAST, *LENIENT)
    assert res.returncode in (0, 1), res.stderr
    assert list(seen) == list(STEP_CLASSES)
    for step, (report, cpu_s) in seen.items():  # type: ignore[misc]
        assert_running(report, step)
        assert cpu_s < 0.5, (step, cpu_s)


def test_status_reads_no_clip_its_cache_has_not_read(tiny_refs: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A corpus made with one kit cache, `status` asked with another (a cleared cache, another user, another copy of
    the kit): it decoded, hashed and copied every clip into that cache (issue 77: 7.4 s of CPU, 22 s of wall on three
    whole real files, and a lossless copy written by a command that writes nothing); now it reads none, writes
    nothing there, and says the corpus step is not checked. With the run's own cache it is up to date."""
    out, made, other = tmp_path / "out", tmp_path / "cache", tmp_path / "other-cache"
    monkeypatch.setenv("KIT_CACHE_DIR", str(made))
    grid = ["--encoders", "libx264", "--cqs", "30", "--scales", "native"]
    assert run_here("run", "--only", "prereqs", "--out-dir", out, *grid).returncode == 0
    assert run_here("run", "--only", "corpus", "--ref-dir", tiny_refs, "--out-dir", out, *grid).returncode == 0
    assert states(status(out))["corpus"] == ("done", "up to date")
    other.mkdir()
    monkeypatch.setenv("KIT_CACHE_DIR", str(other))
    state, why = states(status(out))["corpus"]
    assert state == "stale" and why.startswith("not checked: ") and "status reads no clip" in why, why
    assert not any(other.rglob("*"))  # nothing decoded into it, hashed into it, copied into it
