"""Rendering events: live rich bars, plain lines, NDJSON; the closing summary and events."""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
import threading
import time
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from kit import events as ev
from kit.cli.guard import failure_events
from kit.errors import InputError
from kit.infra.invocation import kit_command
from kit.infra.tree import Tree
from kit.report.summary import closing_rows, finished_event, path_lines, print_summary, summary_rows
from kit.report.terminal import PLAIN_JOB_LINES, Renderer, duration
from kit.verdict.document import Verdict
from kit.verdict.lift import ChallengerGate
from kit.verdict.thresholds import FoldGate
from tests.conftest import ROOT

STEPS = ["prereqs", "corpus", "loso", "verdict", "bundle"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def corpus_events(n_jobs: int, reused: int = 0) -> list[ev.Event]:
    out: list[ev.Event] = [ev.RunStarted("/runs/box", STEPS, "0.1.0"), ev.StepSkipped("prereqs", "up to date"),
                           ev.StepStarted("corpus", "not run yet in this out-dir"), ev.JobsPlanned(n_jobs, reused)]
    for i in range(n_jobs):
        job = f"clip{i}-0123456789__libx264__cq025"
        if i < reused:
            out.append(ev.JobDone(job, i + 1, n_jobs, True, 75, 100.0, 90.0))
            continue
        out += [ev.JobStarted(job, f"clip{i}", "libx264", 25, 75),
                ev.JobProgress(job, "encode", 75, 75, 250.0), ev.JobProgress(job, "score", 40, 75, 120.0),
                ev.JobDone(job, i + 1, n_jobs, False, 75, 300.0, 91.5, 600.0, 250.0)]
    return [*out, ev.StepFinished("corpus", 3.5, {"rows": 75 * n_jobs})]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def live_renderer(clock: FakeClock | None = None) -> tuple[Renderer, StringIO]:
    buf = StringIO()
    console = Console(file=buf, force_terminal=True, width=150, color_system=None, highlight=False)
    return Renderer(console=console, clock=clock or time.monotonic), buf


def test_live_mode_draws_step_job_and_training_bars_with_log_lines_above() -> None:
    r, buf = live_renderer()
    assert r.live
    events = corpus_events(3)
    for e in events[:7]:  # up to the first job's score progress
        r(e)
    assert r.bars is not None
    r.bars.progress.refresh()
    mid = ANSI.sub("", buf.getvalue())
    assert "steps" in mid and "1/5" in mid and "[02 corpus] running" in mid
    assert "corpus jobs" in mid and "0/3" in mid
    assert "clip0 libx264 cq25" in mid and "score 40/75" in mid and "120 fps" in mid and "eta" in mid
    for e in events[7:-1]:
        r(e)
    r.bars.progress.refresh()
    r(events[-1])
    r(ev.StepStarted("loso", "input corpus changed"))
    for epoch in range(1, 4):
        r(ev.Epoch("loso", epoch, 10, 8, 5.0 / epoch))
        time.sleep(0.05)
    r.bars.progress.refresh()
    r(ev.Info("loso", "a log line while bars are shown"))
    r.close()
    text = ANSI.sub("", buf.getvalue())
    assert "training 8 models" in text and "epoch 3/10" in text and "loss 1.667" in text
    assert "last: clip2 libx264 cq25, vmaf 91.5" in text
    assert "[02 corpus] done in 3.5 s: rows 225" in text
    assert "[03 loso] a log line while bars are shown" in text
    assert r.bars is None  # stopped: the summary prints below, not inside the bars


def test_live_mode_counts_reused_and_failed_jobs_once() -> None:
    r, _ = live_renderer()
    for e in corpus_events(4, reused=2)[:-1]:
        r(e)
    assert r.bars is not None and r.bars.corpus_done == 4 and not r.bars.jobs
    r(ev.JobStarted("x", "x", "libx264", 25, 75))
    r(ev.JobFailed("x", "libx264 encode failed (exit 1)", "line 1\nline 2"))
    assert r.bars.corpus_done == 5 and not r.bars.jobs
    r.close()


def test_plain_mode_is_readable_and_bounded() -> None:
    buf = StringIO()
    r = Renderer(stream=buf)
    assert not r.live  # a StringIO is not a terminal
    for e in corpus_events(100):
        r(e)
    for epoch in range(1, 61):
        r(ev.Epoch("loso", epoch, 60, 10, 1.0))
    r(ev.JobFailed("bad-job", "encoder wrote 3 frames, the reference has 8", "err a\nerr b"))
    lines = buf.getvalue().splitlines()
    job_lines = [line for line in lines if "jobs run;" in line]
    assert PLAIN_JOB_LINES <= len(job_lines) <= PLAIN_JOB_LINES + 1
    assert job_lines[-1].startswith("[02 corpus] 100/100 jobs run; clip99 libx264 cq25: 75 frames, vmaf 91.5, "
                                    "encode 250 fps, score 0.6 s; the run: ")
    assert len([line for line in lines if "epoch" in line]) == 5
    assert "[02 corpus] FAILED bad-job: encoder wrote 3 frames, the reference has 8" in lines
    assert "    err b" in lines
    assert not any("\x1b" in line for line in lines)
    assert "[01 prereqs] skipped: up to date" in lines


def test_a_run_of_prereqs_alone_says_no_time_left() -> None:
    """Issue 60: `run --only prereqs` once said `the run's time left: about 0 s (; by the speeds step 01 measured)`:
    prereqs' time is never estimated, so a run of it alone has no estimate to say, in any mode."""
    events = [ev.RunStarted("/o", ["prereqs"], "2.0.0"), ev.StepStarted("prereqs", "not run yet"),
              ev.StepFinished("prereqs", 3.0)]
    plain, out, human = StringIO(), StringIO(), StringIO()
    for renderer in (Renderer(stream=plain), Renderer(json_mode=True, console=Console(file=human), json_stream=out)):
        for e in events:
            renderer(e)
    assert "time left" not in plain.getvalue() and "[01 prereqs]" in plain.getvalue()
    kinds = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert kinds == ["run_started", "step_started", "step_finished"]


def test_json_mode_writes_to_stderr_the_lines_a_plain_run_writes_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    """One renderer's lines, the stream aside: what `run --json` writes to stderr is what `run` writes to stdout, at
    the same width (the session's demo run is made with --json, and the README's summary read from its stderr:
    tests/conftest.py's demo_run)."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setattr(sys, "stderr", StringIO())
    clock, plain, out = FakeClock(), StringIO(), StringIO()
    renderers = (Renderer(stream=plain, clock=clock), Renderer(json_mode=True, json_stream=out, clock=clock))
    events = [*corpus_events(40), ev.StepStarted("loso", "not run yet"), ev.Forecast("loso", 100, 80),
              *(ev.Epoch("loso", k, 30, 10, 1.0 / k) for k in range(1, 31)), ev.StepFinished("loso", 9.0),
              ev.Info("bundle", "PROMOTE: refitting 5 seeds on all 3000 rows"),
              ev.BundleWritten("/runs/box/05_bundle/results-box.tar.gz", 12, "0" * 64)]
    for e in events:
        clock.t += 0.5
        for r in renderers:
            r(e)
    for r in renderers:
        r.console.print("│ a row of the closing summary, as print_summary writes it to the renderer's console │")
        r.close()
    said = sys.stderr.getvalue()  # type: ignore[attr-defined]
    assert renderers[0].console.width == renderers[1].console.width == 100
    assert "[02 corpus] 40/40 jobs run" in said and "results-box.tar.gz" in said and said == plain.getvalue()
    assert len(out.getvalue().splitlines()) >= len(events)  # the events (and eta) went to stdout, one a line


def test_json_mode_writes_one_object_per_line_and_humans_elsewhere() -> None:
    out, human = StringIO(), StringIO()
    r = Renderer(json_mode=True, console=Console(file=human), json_stream=out)

    def worker(k: int) -> None:
        for i in range(50):
            r(ev.JobProgress(f"job{k}", "encode", i, 50, float("nan")))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r(ev.StepSkipped("loso", "up to date (settings and inputs unchanged)"))
    lines = out.getvalue().splitlines()
    parsed = [json.loads(line) for line in lines]
    assert len(parsed) == 201 and all("event" in p for p in parsed)
    assert parsed[0]["fps"] is None  # NaN is written as null, never as bare NaN
    assert parsed[-1] == {"event": "step_skipped", "step": "loso",
                          "reason": "up to date (settings and inputs unchanged)"}
    assert "skipped: up to date" in human.getvalue() and "{" not in human.getvalue()


def verdict_doc(corpus: Path) -> Verdict:
    """A HOLD verdict with a failing gate, a NaN worst fold and an enabled champion/challenger."""
    v = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    gate = replace(v.gate, passed=False, mean_plcc=0.94, mean_plcc_pass=False, plcc_spread=0.002,
                   per_seed_plccs={"0": 0.939, "1": 0.941}, per_seed_pass=False, failing_seeds=[0, 1])
    worst = (replace(v.worst_folds[0], src="perlin", plcc=0.81, reason="RMSE 9.5, bias +7.7"),
             replace(v.worst_folds[1], src="life", plcc=math.nan))
    return replace(
        v, verdict="HOLD", gate=gate, worst_folds=worst,
        baselines={"ridge": replace(v.baselines["ridge"], mean_plcc=0.93, mean_rmse=4.2),
                   "linear": replace(v.baselines["linear"], mean_plcc=0.9, mean_rmse=6.0)},
        lift=replace(v.lift, statement="The ensemble cuts RMSE to 0.50x the ridge baseline's."),
        challenger_gate=ChallengerGate(True, True, statement="The challenger beats the incumbent by +0.0100 PLCC."),
        bias_gate=FoldGate(True, "abs_bias", 10.0, "perlin", 7.66, [], True),
        corpus=replace(v.corpus, path=str(corpus), rows=2700, n_sources=9, encoders=["libx264"], boxes=["a"],
                       demo_corpus=True))


def finished_run(out: Path, tarball_name: str) -> Path:
    """An out-dir as a finished HOLD run leaves it (verdict, report, tarball); returns the tarball."""
    (out / "04_verdict").mkdir(parents=True)
    (out / "05_bundle").mkdir()
    corpus = out / "shard.parquet"
    corpus.write_bytes(b"x" * 3000)
    (out / "run.json").write_text(json.dumps({"settings": {"corpus": None}}))  # the box's own corpus step
    (out / "04_verdict" / "HOLD.json").write_text(json.dumps(verdict_doc(corpus).to_json()))
    tarball = out / "05_bundle" / tarball_name
    tarball.write_bytes(b"y" * 5000)
    (out / "05_bundle" / "report.html").write_text("<html></html>")
    return tarball


def test_summary_names_verdict_figures_baselines_and_what_to_send_back(tmp_path: Path, tree: Tree) -> None:
    tarball = finished_run(tmp_path, "results-a-20260101T000000Z.tar.gz")
    rows = dict(summary_rows(tmp_path, Verdict.from_json(json.loads((tmp_path / "04_verdict" / "HOLD.json")
                                                                    .read_text()))))
    assert rows["verdict"] == "HOLD"
    assert rows["mean LOSO PLCC"] == "0.9400, mean over content groups  (gate >= 0.95, FAIL)"  # its kind named
    assert rows["per seed"].startswith("seed 0 0.9390, seed 1 0.9410, each a mean over content groups")
    assert rows["worst folds"] == "perlin (RMSE 9.5, bias +7.7); life (PLCC n/a) (per source)"
    assert rows["largest source bias"] == "7.7 on perlin, per source  (gate <= 10, pass)"
    assert "linear and mlp_small: seed document 000's" in rows["the baselines"]
    assert rows["linear baseline"] == "PLCC 0.9000, RMSE 6.00, mean over content groups"
    assert rows["champion/challenger"].startswith("The challenger beats")
    assert "2700 frames, 9 sources" in rows["corpus"] and "3 KiB on disk" in rows["corpus"] and "DEMO" in rows["corpus"]
    report = ("report (open it in a browser; it works offline)", str(tmp_path / "05_bundle" / "report.html"))
    assert path_lines(tree, tmp_path) == [
        report, ("results tarball (5 KiB): send it to the lead as it is", str(tarball)),
        ("check it here with", kit_command("verify", tarball)),
        ("read every text it sends, file by file, before you send it", kit_command("verify", "--show-sent", tarball)),
        ("the lead checks it, in the folder they saved it in, with",
         "ensemble-kit verify results-a-20260101T000000Z.tar.gz"),
        ("or, from the folder of an untarred kit (the tarball's path in place of its name)",
         "python -m kit verify results-a-20260101T000000Z.tar.gz")]
    assert path_lines(tree, tmp_path, demo=True) == [
        report, ("results tarball (5 KiB) of the DEMO corpus (synthetic clips, no --ref-dir): it shows that the kit "
                 "works on this box, not how the models do on your content, so it is not what the lead needs",
                 str(tarball)),
        ("check it here with", kit_command("verify", tarball)),
        ("the results to send are made from your own reference clips: run (with the other flags you used)",
         kit_command("run", "--ref-dir", "/path/to/clips", "--box-id", "mybox"))]
    buf = StringIO()
    print_summary(tmp_path, Console(file=buf, width=100))
    assert "ensemble-kit summary" in buf.getvalue() and "…" not in buf.getvalue()  # never cut
    finished = finished_event(tmp_path, 1, 12.5, with_results=True)
    assert (finished.verdict, finished.tarball) == ("HOLD", str(tarball))
    assert finished_event(tmp_path, 0, 1.0, with_results=False).verdict is None


def test_plain_summary_prints_long_paths_whole_on_lines_of_their_own(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A log of a narrow terminal: every path and the verify command can be copied as they are."""
    out = tmp_path / ("an-out-dir-whose-name-is-longer-than-the-terminal-is-wide-" * 2) / "runs" / "mybox"
    tarball = finished_run(out, "results-vm-20261122T101500Z.tar.gz")
    monkeypatch.setenv("COLUMNS", "60")
    buf = StringIO()
    renderer = Renderer(stream=buf)  # not a terminal: plain mode, as in CI or a log file
    assert not renderer.live and renderer.console.width == 60
    print_summary(out, renderer.console)
    lines = buf.getvalue().splitlines()
    assert f"  {tarball}" in lines and f"  {out / '05_bundle' / 'report.html'}" in lines
    verify = lines[lines.index("check it here with:") + 1]
    assert verify == f"  {kit_command('verify', tarball)}" and len(verify) > 60
    table = lines[:lines.index("report (open it in a browser; it works offline):")]
    assert table and max(len(ln) for ln in table) <= 60  # the table above still fits the terminal


def test_failure_events_match_the_exit_codes() -> None:
    kinds = [(e.kind, getattr(e, "exit_code", None)) for e in
             failure_events(InputError("bad", hint="fix"), "ensemble-kit run", 1.0)]
    assert kinds == [("error", 2), ("run_finished", 2)]
    assert [e.kind for e in failure_events(KeyboardInterrupt(), "r", 1.0)] == ["run_finished"]
    assert failure_events(BrokenPipeError(), "r", 1.0) == []
    internal = failure_events(ValueError("boom"), "r", 1.0)
    assert internal[0].to_json()["exit_code"] == 70 and "ValueError: boom" in internal[0].to_json()["message"]


def test_duration_reads_like_a_person_would_write_it() -> None:
    assert [duration(s) for s in (0.4, 42, 185, 3720)] == ["0 s", "42 s", "3m05s", "1h02m"]


def test_the_bars_say_estimating_until_a_tenth_of_the_work_then_the_time_left_at_the_runs_pace() -> None:
    """On a terminal the steps and corpus bars' eta is kit.report.eta's: the run's work left at its own pace, and
    "estimating" (no figure) until a tenth of its work is done."""
    clock = FakeClock()
    r, buf = live_renderer(clock)
    for e in corpus_events(4)[:3]:
        r(e)
    r(ev.JobsPlanned(4, 0, {"libx264": {f"clip{i}": 1e9 for i in range(4)}}, 1))
    assert r.bars is not None and r.bars.corpus is not None
    r(ev.JobStarted("j0", "clip0", "libx264", 25, 100, "", 1e9))
    for phase, frame in [(phase, frame) for phase in ("encode", "score") for frame in range(10, 101, 10)]:
        clock.t += 1.0
        r(ev.JobProgress("j0", phase, frame, 100, 10.0))
        left = r.bars.progress.tasks[r.bars.corpus].fields["left"]
        r.bars.progress.refresh()
        if phase == "encode" and frame < 90:  # less than a tenth of the run's work
            assert left is None and re.search(r"corpus jobs.* estimating", ANSI.sub("", buf.getvalue()))
    assert left is not None and 50 < left < 70  # 5e7 of work a second, 3e9 left
    assert re.search(r"corpus jobs.*eta 1 min", ANSI.sub("", buf.getvalue()))
    r.close()


def test_the_closing_summary_is_the_answer_in_at_most_twelve_rows_and_points_to_the_rest(tmp_path: Path) -> None:
    finished_run(tmp_path, "results-a-20260101T000000Z.tar.gz")
    verdict = Verdict.from_json(json.loads((tmp_path / "04_verdict" / "HOLD.json").read_text()))
    full, shown = summary_rows(tmp_path, verdict), dict(closing_rows(tmp_path, verdict))
    assert len(full) > 12 and len(shown) <= 12, (len(full), list(shown))
    # a HOLD: its failing gates first, then its validation and the gates that pass (issue 98, item 7)
    assert list(shown)[:5] == ["verdict", "mean LOSO PLCC", "per seed", "validation", "seed spread"]
    assert shown["mean LOSO PLCC"].endswith("FAIL)") and shown["worst folds"].startswith("perlin")
    assert "largest source bias" in shown["other gates"] and "the report" in shown["the rest"]
    assert "linear baseline" not in shown and "the baselines" not in shown  # detail: in the report
    buf = StringIO()
    print_summary(tmp_path, Console(file=buf, width=200, color_system=None))
    table = buf.getvalue().split("report (open it")[0]
    assert len([ln for ln in table.splitlines() if ln.startswith("│ ") and not ln.startswith("│  ")]) == len(shown)


def test_which_gates_failed_is_read_from_the_verdict_not_from_a_sources_name(tmp_path: Path) -> None:
    """A source named "FAIL" beside a passing gate, and one named "no gate" beside a failing one: the closing summary
    read the outcome off the row's text, so it listed the first as failing and hid the second among the passing."""
    v = verdict_doc(tmp_path / "shard.parquet")
    v = replace(v, bias_gate=FoldGate(True, "abs_bias", 10.0, "FAIL", 7.66, [], True),
                fold_rmse_gate=FoldGate(True, "rmse", 5.0, "no gate", 9.5, ["no gate"], False))
    shown = dict(closing_rows(tmp_path, v))
    assert "largest source bias" not in shown and "largest source bias" in shown["other gates"], shown
    assert shown["largest source RMSE"] == "9.5 on no gate, per source  (gate <= 5, FAIL)", shown
    assert "largest source RMSE" not in shown["other gates"]


def test_a_run_on_a_given_corpus_speaks_to_the_lead(tmp_path: Path) -> None:
    """The union's run (--corpus): its tarball is the lead's own, not one to send to the lead."""
    tarball = finished_run(tmp_path, "results-union-20260101T000000Z.tar.gz")
    (tmp_path / "run.json").write_text(json.dumps({"settings": {"corpus": str(tmp_path / "union.parquet")}}))
    buf = StringIO()
    print_summary(tmp_path, Console(file=buf, width=400, color_system=None))
    said = buf.getvalue()
    assert "send it to the lead" not in said and "the lead checks it" not in said
    assert "yours as the lead: nothing to send" in said and f"  {tarball}" in said.splitlines()


def test_the_skipped_row_reads_the_record_and_says_a_damaged_one(tmp_path: Path) -> None:
    """02_corpus/skipped.json is a typed record: its clips named with why (the path said once), and a damaged one
    is a row that says so, not a traceback in the closing summary."""
    from kit.infra.tree import Tree
    from kit.media.discovery import SkippedClips, Unusable
    from kit.report.summary import skipped_rows
    from kit.rundir import RunDir

    run = RunDir(tmp_path / "out")
    with Tree.open(run.root) as tree:
        assert skipped_rows(tree, run.root) == []
        clip = "/refs/odd.y4m"
        tree.write_json(run.skipped_clips, SkippedClips((Unusable(clip, f"{clip}: odd width 175", "crop"),)).to_json())
        ((key, text),) = skipped_rows(tree, run.root)
        assert key == "SKIPPED clips" and "1 left out" in text and "odd.y4m (odd width 175)" in text
        tree.write_json(run.skipped_clips, [])
        ((_, text),) = skipped_rows(tree, run.root)
        assert "damaged" in text and "rerun the corpus step" in text


def test_a_clip_left_out_for_the_moment_is_given_its_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 91: a clip left out for the box's or the moment's cause (skipped.json's `again`) is named in the `retry`
    row, in words, and the command that tries it again, this run's own (kit.infra.invocation.retry_command), is
    printed under the table (retry_lines), never in a cell; a clip left out for its own cause is not."""
    import sys

    from kit.infra.invocation import retry_command
    from kit.infra.tree import Tree
    from kit.media.discovery import SkippedClips, Unusable
    from kit.report.summary import retry_lines, skipped_rows
    from kit.rundir import RunDir

    monkeypatch.setattr(sys, "argv", ["ensemble-kit", "run", "--ref-dir", "/refs"])
    run = RunDir(tmp_path / "out")
    with Tree.open(run.root) as tree:
        odd = Unusable("/refs/odd.y4m", "/refs/odd.y4m: odd width 175", "crop")
        killed = Unusable("/refs/cam.mp4", "/refs/cam.mp4: ffmpeg was killed (SIGKILL) from outside the kit",
                          "not the clip's fault: the same command again tries its jobs again", True)
        tree.write_json(run.skipped_clips, SkippedClips((odd,)).to_json())
        assert [key for key, _ in skipped_rows(tree, run.root)] == ["SKIPPED clips"] and not retry_lines(tree, run.root)
        tree.write_json(run.skipped_clips, SkippedClips((odd, killed)).to_json())
        (_, (key, text)) = skipped_rows(tree, run.root)
        assert key == "retry" and "cam.mp4" in text and text.endswith("the same command tries them again, below")
        assert "odd.y4m" not in text and retry_command() not in text  # words in the cell, the command under it
        ((label, command),) = retry_lines(tree, run.root)
        assert label == "the same command tries cam.mp4 again, the rest reused" and command == retry_command()


def test_a_printed_command_keeps_every_colon_whatever_rich_would_read_in_it() -> None:
    """rich reads `:v:` as an emoji code even with markup off: the crop and conversion hints' `-map 0:v:0` printed
    as `-map 0✌0`, and ran as printed, ffmpeg exited 234 (issue 54). The kit's console prints no emoji code."""
    import io

    from kit.report.terminal import KitConsole

    for line in ("ensemble-kit ffmpeg -i '/clips/a b.avi' -map 0:v:0 -an -c:v ffv1 out.mkv", ":smile: :v: :1st_place:"):
        out = io.StringIO()
        console = KitConsole(file=out, highlight=False, soft_wrap=True, width=200)
        console.print(line, markup=False)
        console.print(line)
        assert out.getvalue() == f"{line}\n{line}\n"



def test_piped_output_says_what_a_slow_step_does_at_least_every_30_s() -> None:
    """Piped (not a terminal), a corpus step that reads its clips for 100 s, checks its jobs for 110 s, then runs two
    5-minute encodes, each printing nothing of its own: a line comes at least every 30 s (the heartbeat, called each
    second as its thread does), naming what is being done and how far (kit 2.0: 1m47s, 1m50s and 5 minutes
    silent)."""
    buf, clock = StringIO(), FakeClock()
    r = Renderer(stream=buf, clock=clock)
    lines: list[tuple[float, str]] = []

    def seen() -> None:
        lines.extend((clock.t, line) for line in buf.getvalue().splitlines()[len(lines):])

    def at(seconds: float, *events: ev.Event) -> None:
        while clock.t < seconds:
            clock.t += 1.0
            r.heartbeat()
            seen()
        for e in events:
            r(e)
        seen()

    at(1000.0, ev.RunStarted("/runs/box", STEPS, "2.1.0"), ev.StepSkipped("prereqs", "up to date"))
    for i in range(1, 11):
        at(1000.0 + 10 * i, ev.Doing("corpus", f"reading clip {i} of 10: clip{i}.mp4"))
    at(1110.0, ev.StepStarted("corpus", "not run yet"), ev.Doing("corpus", "checking which of the 2 jobs ..."))
    at(1220.0, ev.JobsPlanned(2, 0, {"h264_nvenc": {"a": 1e9, "b": 1e9}}, 2), ev.Forecast("loso", 1e8))
    jobs = [f"{c}__h264_nvenc__cq025" for c in "ab"]
    at(1220.0, *(ev.JobStarted(j, j[0], "h264_nvenc", 25, 3000, "", 1e9) for j in jobs))
    for s in range(1, 301):
        at(1220.0 + s, *(ev.JobProgress(j, "encode", 5 * s, 3000, 5.0) for j in jobs))
    at(1521.0, *(ev.JobDone(j, k + 1, 2, False, 3000, 3e5, 90.0) for k, j in enumerate(jobs)),
       ev.StepFinished("corpus", 411.0, {}))
    r.close()
    times = [t for t, _ in lines]
    assert max(b - a for a, b in itertools.pairwise(times)) <= 30.0, lines
    said = [line for _, line in lines]
    assert any(line.startswith("[02 corpus] reading clip ") and " of 10: clip" in line for line in said), said
    assert any("checking which of the 2 jobs" in line for line in said), said
    encoding = [line for line in said if re.search(r"encode [ab] h264_nvenc cq25: frame \d+/3000", line)]
    assert encoding and all(line.startswith("[02 corpus] 0/2 jobs run; ") for line in encoding), said
    assert any("the run: estimating its time left" in line for line in said)
    assert any(re.search(r"the run: about \d+ (s|min) left \(\d+ % of its work done\)", line) for line in said), said


def test_a_hold_opens_with_the_gates_that_failed_then_what_no_gate_counts(tmp_path: Path) -> None:
    """Issue 98, item 7: a HOLD's closing summary and report opened with the validation and the passing PLCC gates,
    and the report with the input's shortfall that no gate counts, the one reason for the HOLD second. Now the
    verdict, each gate that fails, what no gate counts, then the rest; a PROMOTE keeps its order."""
    from kit.report.html import recommendation_html
    from kit.report.summary import UNCOUNTED_LABEL, closing_rows
    from kit.verdict.consumer import consumer_fit
    from tests.unit.test_ceiling_gate import CRF_RANGE, FRAME

    fit = consumer_fit(FRAME, 1.5, CRF_RANGE)
    short = fit.judged.shortfall_words() if fit.judged is not None else None
    assert short is not None
    hold = replace(verdict_doc(tmp_path / "shard.parquet"), consumer=fit)
    hold = replace(hold, reasons=["seeds [0, 1] are below 0.95", "4 content groups; PROMOTE needs at least 5"],
                   recommendation="HOLD: seeds [0, 1] are below 0.95; 4 content groups; PROMOTE needs at least 5. "
                                  f"Send the results tarball back; do not ship these models. As vmaf-tune samples, "
                                  f"{short}.")
    labels = [label for label, _ in closing_rows(tmp_path, hold)]
    texts = dict(closing_rows(tmp_path, hold))
    failing = [label for label, text in closing_rows(tmp_path, hold) if "FAIL" in text]
    assert failing and labels[:len(failing) + 3] == ["verdict", *failing, UNCOUNTED_LABEL, "validation"], labels
    assert texts[UNCOUNTED_LABEL] == short and short not in texts["as vmaf-tune uses it"]  # said once, where it goes
    promote = replace(hold, verdict="PROMOTE", reasons=None)
    assert [label for label, _ in closing_rows(tmp_path, promote)][:2] == ["verdict", "validation"]
    page = "".join(recommendation_html(hold))
    assert page.index("Seeds [0, 1] are below 0.95") < page.index("Send the results tarball back") < \
        page.index("What no gate counts: as vmaf-tune samples, the input falls short on"), page


def test_the_verdict_line_says_the_seed_spread_not_judged_where_the_seeds_are_one_student(tmp_path: Path) -> None:
    """Issue 97: where every seed is one student (the teacher's function, no correction kept) their spread is 0 by
    construction; the verdict's line says it not judged, as the report does, never `seed spread 0.0000`. Seeds that
    are students of their own still show their spread."""
    from kit.steps.s04_verdict import reached
    from kit.verdict.decide import SEEDS_ALIKE
    from tests.unit.test_words_said import golden

    real = golden()
    alike = replace(real, gate=replace(real.gate, plcc_spread=0.0).seeds_unjudged(SEEDS_ALIKE))
    for verdict, spread in ((real, f"seed spread {real.gate.plcc_spread:.4f}"),
                            (alike, f"seed spread not judged: {SEEDS_ALIKE}")):
        buf = StringIO()
        Renderer(stream=buf)(reached(verdict, tmp_path / "PROMOTE.json"))
        said = buf.getvalue()
        assert spread in said and said.count("seed spread") == 1, said
    assert "0.0000" not in said
