"""Developer sessions, run in the environment the README sets up (no new virtualenvs).

The tests come in three tiers; this text is the one place that says which test runs where:

* **fast** (`-m "not slow"`): pure tests (tests/unit/) and single real-ffmpeg steps (tests/real/), under two
  minutes on two cores: run it while you work.
* **CI** (everything but the release tier: the README's test command, `.ci/run`): the fast tier plus the slow
  one (`@pytest.mark.slow`: whole runs on tiny clips in tests/pipeline/, heavy training), on two workers. It
  keeps one or two cases of each kind of check: the kill harness kills at 2 random instants per test
  (`KIT_KILL_COUNT`), the damaged-state matrix keeps a representative case of each record, cache and reader.
* **release** (`@pytest.mark.release`, run only with `pytest --release`): the rest of those matrices, every
  damage of every record and cache, every signal and target where CI takes one of each (a failed bundle, a
  stopped ray union, the exit signals, a killed probe, an interrupted incumbent), every hostile tarball and
  bad `--corpus` through the command, and the kill harness at 6 random instants per test; and the whole runs
  whose every check CI makes elsewhere (a second run of a retimed corpus: its hash is a unit test's, equal
  bytes the training-task, Ray and Slurm tests'; the shared decode against the per-job one at 8 bit, which
  the killed-decode test compares too; a real full disk in the bundle, where CI fills it in LOSO; SIGTERM
  to a kit whose children hang, where CI sends Ctrl-C and SIGTERM mid-corpus; a merge killed between its
  two renames, a state a unit test makes and a real kill inside the commit reaches; a broken `--incumbent`,
  which the hanging incumbent's run and a unit test refuse). Run it before a release, and nightly where a
  machine is at hand.

The CI tier's whole runs are shared where their checks allow: the session makes json_run, x264_run (also the
kill harness's uninterrupted reference), ladder_run and the others in tests/conftest.py once, and a test that
changes one works on a copy; a test that needs only a corpus stops at that step.

    .venv/bin/nox -s lint       ruff check
    .venv/bin/nox -s type       mypy on kit/
    .venv/bin/nox -s fast       the fast tier
    .venv/bin/nox -s test       the CI tier, as CI runs it
    .venv/bin/nox -s release    the CI tier and the release tier (KIT_KILL_COUNT=6 unless set)
    .venv/bin/nox -s kill       the interruption harness alone, at its release count
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "none"  # the README's .venv already holds every tool
nox.options.sessions = ["lint", "type", "fast"]

RELEASE_KILLS = "6"  # random instants per kill test before a release (CI: 2)


@nox.session
def lint(session: nox.Session) -> None:
    session.run("ruff", "check", ".")


@nox.session
def type(session: nox.Session) -> None:
    session.run("mypy")


@nox.session
def fast(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", "-q", "-m", "not slow", *session.posargs)


@nox.session
def test(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", *session.posargs)


@nox.session
def release(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", "--release", *session.posargs,
                env={"KIT_KILL_COUNT": os.environ.get("KIT_KILL_COUNT", RELEASE_KILLS)})


@nox.session
def kill(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", "-q", "--release", "tests/pipeline/test_kill.py", *session.posargs,
                env={"KIT_KILL_COUNT": os.environ.get("KIT_KILL_COUNT", RELEASE_KILLS)})
