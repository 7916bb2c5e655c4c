"""Developer sessions, run in the environment the README sets up (no new virtualenvs):

    .venv/bin/nox -s lint     ruff check
    .venv/bin/nox -s type     mypy on kit/
    .venv/bin/nox -s fast     the fast tier: pure tests and single real-ffmpeg steps (under 2 minutes)
    .venv/bin/nox -s test     everything, as CI runs it
    .venv/bin/nox -s kill     the interruption harness alone (kill -9 at random instants, Ctrl-C)
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"  # the README's .venv already holds every tool
nox.options.sessions = ["lint", "type", "fast"]


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
def kill(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", "-q", "tests/pipeline/test_kill.py", *session.posargs)
