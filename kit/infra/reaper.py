"""What the reaper runs (kit/infra/proc._Reaper starts it): it reads `+PGID` and `-PGID` lines on a pipe only the kit
holds, and when the pipe closes (the kit is gone) SIGKILLs the groups still listed, and, where /proc shows environments,
the group of every process whose environment carries this kit's SPAWN_MARK (a child not yet told to it); then it
removes the kit process's temporary folder (its second argument, kit.infra.scratch), no link in it followed. Neither
the reaper nor a child handed work meant to outlive the kit (run_process's `handed_over`) carries the mark.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SPAWN_MARK = "ENSEMBLE_KIT_SPAWNED_BY"  # in each child's environment: which kit process started it

CODE = (
    "import os, signal, sys\n"
    "mark = ('" + SPAWN_MARK + "=' + sys.argv[1]).encode()\n"
    "groups = set()\n"
    "for line in sys.stdin.buffer:\n"
    "    (groups.add if line[:1] == b'+' else groups.discard)(int(line[1:]))\n"
    "for pid in (os.listdir('/proc') if os.path.isdir('/proc') else []):\n"
    "    try:\n"
    "        with open('/proc/' + pid + '/environ', 'rb') as fh:\n"
    "            if mark in fh.read().split(b'\\0'):\n"
    "                groups.add(os.getpgid(int(pid)))\n"
    "    except (OSError, ValueError):\n"
    "        pass\n"
    "for pgid in groups:\n"
    "    try:\n"
    "        os.killpg(pgid, signal.SIGKILL)\n"
    "    except OSError:\n"
    "        pass\n"
    "if len(sys.argv) > 2:\n"
    "    import shutil\n"
    "    shutil.rmtree(sys.argv[2], ignore_errors=True)\n"
)

_mark = ("", 0)  # (the mark, the pid it is the mark of: a forked copy of the kit makes its own)


def process_mark() -> str:
    """This kit process's mark: its pid and a random part (pids are reused)."""
    global _mark
    import secrets  # with the first child: a command that starts none (`status`) loads no random source

    if _mark[1] != os.getpid():
        _mark = (f"{os.getpid()}-{secrets.token_hex(8)}", os.getpid())
    return _mark[0]


def child_environment(base: Mapping[str, str], marked: bool) -> dict[str, str]:
    """`base` without a mark it inherited (from a kit that started this one), and with this kit's when `marked`."""
    env = {k: v for k, v in base.items() if k != SPAWN_MARK}
    if marked:
        env[SPAWN_MARK] = process_mark()
    return env
