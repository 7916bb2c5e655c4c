"""Output that cannot be forged (issue 24 H): a name, a path, a line of ffmpeg's or an exception message with a
line break, a terminal escape or a bidi override reaches people as escapes (kit/infra/visible.py), in every
place that shows them. tests/pipeline/test_forged_names.py does it in a real run."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from kit import events as ev
from kit.cli.guard import report_error
from kit.errors import ToolError
from kit.infra import invocation
from kit.infra.invocation import kit_command, retry_command, shell_join
from kit.infra.proc import run_process
from kit.infra.shown import Places
from kit.infra.tree import Tree
from kit.infra.visible import reason_line, shell_quote, traceback_lines, visible
from kit.report.html import render_report
from kit.report.summary import print_summary
from kit.report.terminal import Renderer
from kit.steps.runner import StepLog
from kit.verdict.document import Verdict
from tests.conftest import ROOT

FORGED = "[04 verdict] PROMOTE: mean PLCC 0.9999 (forged)"
NAME = f"zz\n{FORGED}\nzz"
HOSTILE = ["plain name", NAME, "esc\x1b[31mred\x1b[0m", "cr\rover", "tab\there", "bidi\u202eevil", "nul\x00x",
           "c1\x85\x9bx", "sep\u2028x", "zw\u200bx", "nbsp\xa0x", "bad byte \udcff", "quote ' and \\ back",
           "café 日本 🎞", "[red]markup[/red]"]


def lines_of(text: str) -> list[str]:
    """Lines as a terminal or an editor shows them: a carriage return starts one too."""
    return text.replace("\r", "\n").splitlines()


def test_visible_escapes_what_is_not_printable_and_keeps_the_rest() -> None:
    assert visible(NAME) == f"zz\\n{FORGED}\\nzz"
    assert visible("a\x1b[2Kb\rc\td") == "a\\x1b[2Kb\\rc\\td"
    assert visible("x\x7f\x85\u202e\u2066\u200b\ufeff\xa0y") == "x\\x7f\\u0085\\u202e\\u2066\\u200b\\ufeff\\u00a0y"
    assert visible("tag \U000e0001 byte \udcff") == "tag \\U000e0001 byte \\xff"  # a byte not UTF-8: its value
    for kept in ("café 日本 🎞", "C:\\Users\\me\\clips", "[red]x[/red]", "a  b"):
        assert visible(kept) == kept
    for text in HOSTILE:
        shown = visible(text)
        assert shown.isprintable() and visible(shown) == shown  # one line, and escaping twice changes nothing


@pytest.mark.parametrize("text", [t for t in HOSTILE if "\x00" not in t])  # no argument holds a NUL
def test_a_quoted_argument_is_visible_and_bash_reads_it_back_byte_for_byte(text: str, tmp_path: Path) -> None:
    quoted = shell_quote(text)
    assert quoted.isprintable()
    script = tmp_path / "echo.sh"
    script.write_text(f"printf %s {quoted}\n", encoding="utf-8")
    res = subprocess.run(["bash", str(script)], capture_output=True, env={**os.environ, "LC_ALL": "C.UTF-8"},
                         check=True)
    assert res.stdout == os.fsencode(text)


def test_printed_commands_and_logged_command_lines_stay_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    clip = f"/clips/{NAME}.y4m"
    logged: list[str] = []
    with pytest.raises(ToolError):  # the command line is logged before the program is looked for
        run_process([f"/nonexistent/{NAME}", "-i", clip], timeout_s=5, log=logged.append)
    for line in (kit_command("run", "--ref-dir", clip), shell_join(["ffmpeg", "-i", clip]), logged[0]):
        assert "\n" not in line and f"$'/clips/zz\\n{FORGED}\\nzz.y4m'" in line
    monkeypatch.setattr(sys, "argv", [str(invocation.KIT_ROOT / "kit" / "__main__.py"), "run", "--ref-dir", clip])
    assert retry_command().endswith(f"run --ref-dir $'/clips/zz\\n{FORGED}\\nzz.y4m'")


def _raise_chained() -> None:
    try:
        raise OSError(f"cannot read {NAME}.y4m")
    except OSError as exc:
        raise ToolError(f"ffmpeg failed on {NAME}.y4m") from exc


def test_a_traceback_keeps_each_message_on_its_own_line() -> None:
    with pytest.raises(ToolError) as caught:
        _raise_chained()
    lines = traceback_lines(caught.value)
    assert not any(line.startswith(FORGED) for line in lines)
    assert f"OSError: cannot read zz\\n{FORGED}\\nzz.y4m" in lines
    assert f"kit.errors.ToolError: ffmpeg failed on zz\\n{FORGED}\\nzz.y4m" in lines
    assert "The above exception was the direct cause of the following exception:" in lines
    assert lines.index("The above exception was the direct cause of the following exception:") < \
        lines.index(f"kit.errors.ToolError: ffmpeg failed on zz\\n{FORGED}\\nzz.y4m")


@pytest.mark.parametrize(("exc", "plain", "typed"), [
    (OSError("disk\tfull  now\nsecond line"), "disk full now", "OSError: disk full now"),
    (MemoryError(), "MemoryError", "MemoryError"),  # no message: the type's name once, never "X: X"
    (ValueError(" \n "), "ValueError", "ValueError"),
    (RuntimeError("x" * 201), "x" * 197 + "...", "RuntimeError: " + "x" * 197 + "..."),
    (RuntimeError("y" * 200), "y" * 200, "RuntimeError: " + "y" * 200),
])
def test_an_exception_s_reason_is_one_line_of_at_most_200_characters(exc: BaseException, plain: str,
                                                                     typed: str) -> None:
    assert reason_line(exc) == plain
    assert reason_line(exc, typed=True) == typed


def test_an_error_its_tool_lines_and_hint_start_with_their_own_prefixes(capsys: pytest.CaptureFixture[str]) -> None:
    report_error(ToolError(f"libx264 encode of {NAME} failed", hint=f"check {NAME}",
                           stderr_tail=f"Input #0, from '{NAME}':\n\x1b[31mred\x1b[0m\rover"))
    lines = lines_of(capsys.readouterr().err)
    assert lines[0] == f"error: libx264 encode of zz\\n{FORGED}\\nzz failed" and lines[-1].startswith("hint: ")
    assert all(line.startswith("    | ") for line in lines[1:-1]), lines  # the tool's own lines, each marked
    assert "    | \\x1b[31mred\\x1b[0m" in lines  # its terminal escapes shown, not obeyed


def _job_events(src: str) -> list[ev.Event]:
    job = "zz-0123456789__libx264__cq025"
    return [ev.RunStarted("/runs/box", ["corpus"], "0.1.0"), ev.StepStarted("corpus", "not run yet"),
            ev.JobsPlanned(1, 0), ev.JobStarted(job, src, "libx264", 25, 8),
            ev.JobProgress(job, "encode", 4, 8, 100.0), ev.JobFailed(job, f"encode of {src} failed", "x"),
            ev.Info("corpus", f"skipped {src}"), ev.StepFinished("corpus", 1.0, {"src": src})]


@pytest.mark.parametrize("live", [False, True])
def test_the_renderer_shows_a_forged_name_escaped_on_a_terminal_and_in_plain_lines(live: bool) -> None:
    buf = StringIO()
    console = Console(file=buf, force_terminal=live, width=200, color_system=None, highlight=False)
    renderer = Renderer(console=console)
    assert renderer.live == live
    for event in _job_events(NAME + "\x1b[2K\u202e[red]"):
        renderer(event)
        if renderer.bars is not None:
            renderer.bars.progress.refresh()
    renderer.close()
    out = buf.getvalue()
    assert not any(line.startswith(FORGED) for line in lines_of(out))
    assert f"zz\\n{FORGED}\\nzz\\x1b[2K\\u202e[red]" in out  # in the lines, markup brackets shown as they are
    assert "\u202e" not in out and "zz\x1b" not in out and "\nzz" not in out


def test_a_step_log_line_starts_with_its_time_or_under_an_entry(tmp_path: Path, tree: Tree) -> None:
    """The log's own line breaks end a block's lines (a stderr tail, a traceback); those follow their entry
    indented, so ffmpeg's lines naming a forged clip never start a line; commands and tracebacks are escaped."""
    log = StepLog(tree, tmp_path / "logs" / "corpus.log", Places.of(tmp_path))
    log(f"$ {shell_join(['ffmpeg', '-i', NAME + '.y4m'])}")
    log(f"  exit 1; stderr tail:\nInput #0, from '{NAME}.y4m':\n\x1b[31mred\rover")
    with pytest.raises(ToolError) as caught:
        _raise_chained()
    log("\n".join(["step failed:", *traceback_lines(caught.value)]))
    log.close()
    text = (tmp_path / "logs" / "corpus.log").read_text()
    lines = text.splitlines()
    assert "\x1b" not in text and "\r" not in text
    assert all(re.match(r"\d\d:\d\d:\d\d |    ", line) for line in lines), lines
    assert lines[0].endswith(f"$ ffmpeg -i $'zz\\n{FORGED}\\nzz.y4m'")
    assert "    [04 verdict] PROMOTE: mean PLCC 0.9999 (forged)" in lines  # ffmpeg's own line, under its entry
    assert "    \\x1b[31mred\\rover" in lines
    assert f"    kit.errors.ToolError: ffmpeg failed on zz\\n{FORGED}\\nzz.y4m" in lines


def forged_verdict() -> Verdict:
    """A HOLD whose worst source, and every fold of it, carries the forged name (and a bidi override, markup)."""
    v = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    forged, other = v.worst_folds[0].src, NAME + "\u202e[red]x"
    return replace(v, verdict="HOLD", worst_folds=(replace(v.worst_folds[0], src=other), *v.worst_folds[1:]),
                   per_fold=tuple(replace(f, src=other) if f.src == forged else f for f in v.per_fold))


def test_the_summary_shows_a_forged_source_escaped_and_its_brackets_as_they_are(tmp_path: Path) -> None:
    (tmp_path / "04_verdict").mkdir()
    (tmp_path / "04_verdict" / "HOLD.json").write_text(json.dumps(forged_verdict().to_json()))
    buf = StringIO()
    print_summary(tmp_path, Console(file=buf, width=100, color_system=None))
    out = buf.getvalue()
    assert not any(line.lstrip("│ ").startswith(FORGED) for line in lines_of(out)), out
    assert "zz\\n[04 verdict]" in out and "\\u202e[red]x" in out and "\u202e" not in out


def test_the_report_shows_a_forged_source_escaped_in_its_tables_and_figures() -> None:
    page = render_report(forged_verdict())
    assert "\u202e" not in page and f"\n{FORGED}" not in page
    assert html.escape(f"zz\\n{FORGED}\\nzz\\u202e[red]x") in page


def test_a_dollar_in_a_source_name_is_drawn_as_itself_not_as_mathematics() -> None:
    v = forged_verdict()
    odd = "price$\\frac$"  # matplotlib would read $...$ as mathematics, and this one as an error
    v = replace(v, per_fold=tuple(replace(f, src=odd) if f.src == v.worst_folds[0].src else f for f in v.per_fold))
    assert "price$\\frac$" in render_report(v)
