"""Kill points: where the interruption harness kills the kit at an exact instant that timing sweeps cannot hit
(between two renames).

With KIT_KILL_AT=<point> in the environment, reaching `kill_point("<point>")` sends the process SIGKILL (a power cut,
the OOM killer) or the signal KIT_KILL_SIGNAL names (SIGTERM, SIGHUP, SIGINT), which the kill point then polls
(kit/infra/interrupts.py). Unset (always, outside the tests), a kill point does nothing.
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
