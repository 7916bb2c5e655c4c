"""Kill points, where the interruption harness kills the kit at an exact instant: with KIT_KILL_AT=<point>, reaching
`kill_point("<point>")` sends the process SIGKILL or the signal KIT_KILL_SIGNAL names, then polls it; unset, nothing.
"""

from __future__ import annotations

import os
import signal

from kit.infra.interrupts import check
from kit.infra.variables import KILL_AT, KILL_SIGNAL

KILL_ENV = KILL_AT.name  # both declared in kit.infra.variables (test hooks: unchecked)
SIGNAL_ENV = KILL_SIGNAL.name


def kill_point(name: str) -> None:
    if KILL_AT.read() == name:
        os.kill(os.getpid(), signal.Signals[str(KILL_SIGNAL.read() or "SIGKILL")])
        check()
