"""How `ensemble-kit ray` says what Ray did, without Ray: a SIGTERM Ray's handler took during ray.init read as the
kit's stop, Ray's error as one line, and a stop's one sentence with the tasks the driver stopped.
tests/pipeline/test_ray.py joins and starts real clusters (and addresses where none answers)."""

from __future__ import annotations

import os
import signal
import sys

from kit.cluster.ray import said
from kit.infra import interrupts
from tests import pace
from tests.conftest import ROOT


def test_ray_s_error_is_one_line_naming_its_kind() -> None:
    assert said(Exception("The current node timed out during startup.\nmore")) == \
        "The current node timed out during startup."  # Ray's bare Exception: its words alone
    assert said(ConnectionError("Could not find any running Ray instance.")) == \
        "ConnectionError: Could not find any running Ray instance."
    assert said(RuntimeError("")) == "RuntimeError" and said(Exception()) == "(no message)"


def test_a_stop_says_what_it_stopped_in_one_sentence() -> None:
    """The processes a stop ended, or the driver's Ray tasks in their stead: one sentence, never a second line that
    contradicts the first (`1 task(s) stopped`, then `0 running process(es) stopped`)."""
    try:
        assert interrupts.stop_lines(signal.SIGINT, 0, "ensemble-kit run")[0] == \
            "\ninterrupted (0 running process(es) stopped); finished work is kept."
        interrupts.stopped_elsewhere("1 Ray task(s) stopped, queued or running, each with the kit command it ran")
        first, second = interrupts.stop_lines(signal.SIGTERM, 0, "ensemble-kit ray --corpus u.parquet")
        assert first == ("\ninterrupted by SIGTERM (1 Ray task(s) stopped, queued or running, each with the kit "
                         "command it ran); finished work is kept.")
        assert second == "resume with: ensemble-kit ray --corpus u.parquet"
        assert "(1 Ray task(s) stopped, queued or running, each with the kit command it ran; 2 running process(es) " \
               "stopped)" in interrupts.stop_lines(signal.SIGINT, 2, "x")[0]  # both, where both were stopped
    finally:
        interrupts.end()
    assert "Ray" not in interrupts.stop_lines(signal.SIGINT, 0, "x")[0]  # the next command's stop says its own


CAUGHT = """
import signal, sys
from kit.errors import Interrupted
from kit.infra import interrupts
interrupts.install()
for code in (signal.SIGTERM, 1, 2):
    try:
        try:
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))  # Ray's, set in ray.init
            raise SystemExit(code)
        except SystemExit as exc:
            interrupts.caught_for_us(exc)
    except Interrupted as stop:
        print(code, "stop", stop.signum, signal.getsignal(signal.SIGTERM) is interrupts._on_signal)
    except SystemExit as exc:
        print(code, "exit", exc.code)
"""


def test_a_sigterm_ray_s_handler_took_is_the_kit_s_stop_and_no_other_exit_is() -> None:
    res = pace.run([sys.executable, "-c", CAUGHT], cwd=ROOT, capture_output=True, text=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.stdout.splitlines() == ["15 stop 15 True", "1 exit 1", "2 exit 2"], res.stdout + res.stderr
