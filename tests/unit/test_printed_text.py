"""What the kit prints about names and commands is what they are, on a terminal 80 columns wide and redirected: rich
reads `[bold]` and `[/]` as markup and `:v:` as an emoji code wherever it is let, and a table folds a long cell
onto its next lines. Every print path gets names that invite both: the step lines and the bars (kit/report/terminal),
the check table and its hints, `detect`'s table, and the CLI's error lines (kit/cli/guard). The commands themselves
run as printed in tests/real/test_commands_as_printed.py."""

from __future__ import annotations

import io
import shlex
import sys

import pytest

from kit import events as ev
from kit.errors import KitError
from kit.infra.invocation import kit_cli, kit_command
from kit.report.terminal import KitConsole, Renderer
from tests.printed import NARROW, cli_accepts, kit_words, screen_lines

# what rich would take for markup or an emoji code, and a path and a command holding them
NAMES = ["clip[1]", "[bold]loud[/bold]", "x:v:0", ":smile: [/]", "été [red]", "a\\[b]"]
PATH = "/clips/[bold]a b/clip[1] :v: é.y4m"
COMMAND = kit_command("ffmpeg", "-i", PATH, "-map", "0:v:0", "-an", "-c:v", "ffv1", "/clips/out [i].mkv")


def shown(text: str) -> list[str]:
    """The lines a person reads (tests/printed.screen_lines)."""
    return screen_lines(text.encode())


def renderers() -> list[tuple[str, Renderer, io.StringIO]]:
    """A terminal 80 columns wide (bars and tables) and a redirect (plain lines)."""
    out = []
    for live in (True, False):  # the console the Renderer makes itself, on a terminal or not
        buf = io.StringIO()
        console = KitConsole(file=buf, force_terminal=live, width=NARROW, highlight=False, soft_wrap=True,
                             color_system="standard" if live else None)
        out.append(("terminal" if live else "redirected", Renderer(console=console), buf))
    return out


@pytest.mark.parametrize("where", ["terminal", "redirected"])
def test_names_show_as_they_are_through_every_event(where: str) -> None:
    ((_, r, buf),) = [(w, r, b) for w, r, b in renderers() if w == where]
    r(ev.RunStarted(PATH, ["prereqs", "corpus"], "2.0.0"))
    r(ev.StepStarted("corpus", f"input {NAMES[1]} changed"))
    r(ev.JobsPlanned(len(NAMES), 0))
    for i, name in enumerate(NAMES):
        job = f"j{i}"
        r(ev.JobStarted(job, name, "libx264", 25, 8))
        r(ev.JobProgress(job, "encode", 4, 8, 30.0))
        if r.bars is not None:  # drawn now, as rich's refresh thread draws them ten times a second
            r.bars.progress.refresh()
            assert any(ln.startswith(f"  {name}") for ln in shown(buf.getvalue())), name  # its bar, as named
        r(ev.JobFailed(job, f"{name} failed", name) if i == 0 else ev.JobDone(job, i + 1, len(NAMES), False, 8, 100.0,
                                                                             90.0))
    r(ev.Info("corpus", f"skipped {PATH}: odd; fix: {COMMAND}"))
    r.close()
    lines = shown(buf.getvalue())  # the bars gone, the lines printed above them stay
    assert lines[:3] == [f"ensemble-kit 2.0.0: steps prereqs, corpus in {PATH}",
                         f"[02 corpus] runs: input {NAMES[1]} changed",
                         f"[02 corpus] {len(NAMES)} jobs (clip x encoder x cq), 0 already done and reused"], lines
    assert f"[02 corpus] FAILED {NAMES[0]} libx264 cq25: {NAMES[0]} failed" in lines
    assert f"[02 corpus] skipped {PATH}: odd; fix: {COMMAND}" in lines  # the command whole on its line
    assert "✌" not in buf.getvalue() and "😄" not in buf.getvalue()


def test_a_check_rows_hint_is_whole_under_its_table_on_an_80_column_terminal() -> None:
    """A prereqs row's hint holds a command (a cached failure's retest): in a table 80 columns wide it was folded
    over three lines between the borders, and copied it ran nothing; it is said under the table, whole."""
    retest = kit_command("detect", "--refresh", "--encoders", "h264_nvenc", "--ffmpeg", "/opt/[bold]ff mpeg/ffmpeg")
    rows = [["ffmpeg", "ok", f"9.0 from PATH: {PATH}"],
            ["h264_nvenc", "no", f"NVENC unavailable: [red]no driver{ev.HINT_MARK}cached from an earlier test "
                                 f"encode; test it again with `{retest}`"]]
    for where, r, buf in renderers():
        r(ev.CheckTable("prereqs", rows))
        lines = shown(buf.getvalue())
        (line,) = [ln for ln in lines if retest in ln]
        assert line.endswith(f"test it again with `{retest}`"), (where, lines)
        if where == "terminal":
            assert line == f"[01 prereqs] h264_nvenc: hint: cached from an earlier test encode; test it again with " \
                           f"`{retest}`"
            assert any("NVENC unavailable: [red]no driver" in ln for ln in lines), lines  # the cell, as it is
        words = kit_words(line.split("`")[1], kit_cli())
        assert words[-1] == "/opt/[bold]ff mpeg/ffmpeg" and cli_accepts(words) == "", words


def detect_report(hint: str) -> dict[str, object]:
    """A detect document (kit/cli/detect.detect_report's shape) with one working encoder and one failing with
    `hint`."""
    row = {"family": "NVIDIA", "name": "h264_nvenc", "role": "not detected", "available": False, "fps": None,
           "reason": "Cannot load libcuda.so.1", "failure": "NVENC unavailable: Cannot load [red]libcuda",
           "cached": True, "hint": hint}
    ok = {**row, "family": "CPU", "name": "libx264", "role": "default", "available": True, "fps": 40.0,
          "reason": "640x360 test encode decoded back, 30 frames exact", "failure": "", "cached": False, "hint": ""}
    return {"host": {"system": "linux", "machine": "x86_64", "cpu": "cpu", "gpus": [], "nvidia_smi": "",
                     "render_nodes": [], "libva_driver_name": "", "hwaccels": []},
            "ffmpeg": {"version": "9.0", "source": "PATH", "path": PATH},
            "families": [{"label": "CPU", "evidence": "cpu", "defaults": ["libx264"]}],
            "auto_encoders": ["libx264"], "encoders": [ok, row]}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [True, False])
def test_detect_says_each_hint_whole_on_its_line(tty: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.cli.detect import print_detect

    command = kit_command("binaries", "stage", "--from", "/opt/[b] x:v:/ffmpeg")
    out = Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setenv("COLUMNS", str(NARROW))
    print_detect(detect_report(f"use an ffmpeg that has it: `{command}`"))
    lines = shown(out.getvalue())
    (line,) = [ln for ln in lines if command in ln]
    assert line.endswith(f"`{command}`"), lines
    if tty:
        assert line == f"hint for h264_nvenc: use an ffmpeg that has it: `{command}`"
    assert cli_accepts(kit_words(line.split("`")[1], kit_cli())) == ""
    assert f"ffmpeg: 9.0 from PATH: {PATH}" in lines and any("[red]libcuda" in ln for ln in lines)


def test_the_cli_s_error_lines_show_names_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    from kit.cli.guard import report_error

    report_error(KitError(f"{PATH}: odd :smile:", hint=f"crop it: {COMMAND}"))
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {PATH}: odd :smile:", f"hint: crop it: {COMMAND}"]
    assert shlex.split(err[1].removeprefix("hint: crop it: "))[-1] == "/clips/out [i].mkv"



@pytest.mark.parametrize("where", ["terminal", "redirected"])
def test_the_step_s_one_count_of_jobs_is_the_line_s_and_the_bar_s(where: str) -> None:
    """Issue 77: the line said 48 jobs where the step ran 68 (its sample jobs after), and the bar read 40/40 while
    they ran. The line says the one total with the sample jobs in it, and the bar is full only at the last."""
    ((_, r, buf),) = [(w, r, b) for w, r, b in renderers() if w == where]
    r(ev.RunStarted(PATH, ["corpus"], "2.3.0"))
    r(ev.StepStarted("corpus", "not completed in this out-dir yet"))
    r(ev.JobsPlanned(6, 1, {}, 2, 2))
    ids = [f"j{i}" for i in range(4)] + ["j0__samples", "j1__samples"]
    for n, job in enumerate(ids[1:], start=2):
        r(ev.JobStarted(job, "clip", "libx264", 25, 8))
        r(ev.JobDone(job, n, 6, False, 8, 100.0, 90.0))
        if r.bars is not None:
            task = r.bars.progress.tasks[r.bars.corpus]  # type: ignore[index]
            assert (task.completed, task.total) == (n, 6) and task.finished == (n == 6), (job, task)
    r.close()
    assert "[02 corpus] 6 jobs (4 clip x encoder x cq, 2 sample jobs of the consumer's samplings), 1 already done " \
           "and reused" in shown(buf.getvalue())


@pytest.mark.parametrize("where", ["terminal", "redirected"])
@pytest.mark.parametrize(("rungs", "grid"), [(True, "clip x rung x encoder x cq"), (False, "clip x encoder x cq")])
def test_the_count_of_jobs_says_what_it_counts(where: str, rungs: bool, grid: str) -> None:
    """`32 jobs (clip x encoder x cq)` counted the ladder's rungs too (issue 98, item 6): a plan whose jobs are one
    per rung as well says so, with the sample jobs or without."""
    for samples, said in ((0, f"8 jobs ({grid}), 0 already done and reused"),
                          (2, f"8 jobs (6 {grid}, 2 sample jobs of the consumer's samplings), 0 already done "
                              "and reused")):
        ((_, r, buf),) = [(w, r, b) for w, r, b in renderers() if w == where]
        r(ev.RunStarted(PATH, ["corpus"], "2.3.0"))
        r(ev.JobsPlanned(8, 0, {}, 2, samples, rungs))
        r.close()
        assert f"[02 corpus] {said}" in shown(buf.getvalue())


@pytest.mark.parametrize("where", ["terminal", "redirected"])
def test_the_sample_jobs_of_a_clip_left_out_leave_the_count_and_the_bar_ends_full(where: str) -> None:
    """Issue 77 item 5: with --consumer-samplings encoded, a clip left out by its corpus jobs kept its sample jobs in
    the bar's total, which then never filled. The step's jobs_dropped takes them out of the count (one of them done
    before, counted done when planned): the line says the new count and the bar is full at the step's last job."""
    ((_, r, buf),) = [(w, r, b) for w, r, b in renderers() if w == where]
    r(ev.RunStarted(PATH, ["corpus"], "2.3.0"))
    r(ev.StepStarted("corpus", "not completed in this out-dir yet"))
    r(ev.JobsPlanned(8, 1, {}, 2, 4))  # 4 corpus jobs, 4 sample jobs (a0__samples done before)
    r(ev.JobDone("a0__samples", 1, 8, True, 8, 100.0, 90.0))
    for n, job in enumerate(["a0", "a1", "b0", "b1"], start=2):
        r(ev.JobStarted(job, "a" if job < "b" else "b", "libx264", 25, 8))
        r(ev.JobFailed(job, "failed", "") if job == "a1" else ev.JobDone(job, n, 8, False, 8, 100.0, 90.0))
    r(ev.JobsDropped(6, 2, 2, 1, 1e6))  # a's two sample jobs: not run
    for n, job in enumerate(["b0__samples", "b1__samples"], start=5):
        if r.bars is not None:
            task = r.bars.progress.tasks[r.bars.corpus]  # type: ignore[index]
            assert (task.completed, task.total, task.finished) == (n - 1, 6, False), (job, task)
        r(ev.JobStarted(job, "b", "libx264", 25, 8))
        r(ev.JobDone(job, n, 6, False, 8, 100.0, 90.0))
    if r.bars is not None:
        task = r.bars.progress.tasks[r.bars.corpus]  # type: ignore[index]
        assert (task.completed, task.total) == (6, 6) and task.finished, task
    else:
        assert (r.fresh_done, r.fresh_total) == (6, 6)  # the plain lines' count: the 6 jobs left to run, failed too
    r.close()
    assert "[02 corpus] the 2 sample jobs of the clips left out are not run: the step's jobs are 6 from now on (2 " \
           "sample jobs)" in shown(buf.getvalue())
