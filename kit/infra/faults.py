"""Kill points: where the interruption harness kills the kit at an exact instant.

Timing sweeps cannot hit a window of microseconds (between two renames), so a command
that must survive a kill there names the instant: with KIT_KILL_AT=<point> in its
environment, reaching `kill_point("<point>")` kills the process with SIGKILL, as a
power cut or the OOM killer would, or with the signal KIT_KILL_SIGNAL names (SIGTERM,
SIGHUP, SIGINT: what a scheduler, a dropped ssh session or Ctrl-C sends at that instant),
which the kill point then polls (kit/infra/interrupts.py): the stop comes at that instant.
Unset (always, outside the tests), a kill point does nothing.
"""

from __future__ import annotations

import os
import signal

from kit.infra.interrupts import check

KILL_ENV = "KIT_KILL_AT"
SIGNAL_ENV = "KIT_KILL_SIGNAL"


def kill_point(name: str) -> None:
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.Signals[os.environ.get(SIGNAL_ENV) or "SIGKILL"])
        check()
