"""Kill points: where the interruption harness kills the kit at an exact instant.

Timing sweeps cannot hit a window of microseconds (between two renames), so a command
that must survive a kill there names the instant: with KIT_KILL_AT=<point> in its
environment, reaching `kill_point("<point>")` kills the process with SIGKILL, as a
power cut or the OOM killer would. Unset (always, outside tests/pipeline/test_kill.py),
a kill point does nothing.
"""

from __future__ import annotations

import os
import signal

KILL_ENV = "KIT_KILL_AT"


def kill_point(name: str) -> None:
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
