"""A fault-injecting ffmpeg for the tests (issue 74): `faulty_ffmpeg(folder, ffmpeg)` writes an executable wrapper,
given to the kit as its ffmpeg (`--ffmpeg`, KIT_FFMPEG), that runs the real `ffmpeg` for every command except, for one
named clip at one named stage (recognised from the argv), where it fails in one named way. It reads which from the
environment at each call (FAULT_CLIP, FAULT_STAGE, FAULT_KIND: `inject`), so one prereqs step made with it serves every
fault, and a test that sets none runs the real ffmpeg throughout.

Stages (what the kit starts for one clip): `open` (a master opened, nothing decoded), `look` (a look that
fingerprints the clip: a .y4m's pictures, a master's strict decode), `copy` (the lossless copy of a clip ffmpeg
cannot read directly, a .ts: its first look writing the copy), `copycheck` (that copy decoded again), `encode` (a
job's encode, or the shared decode feeding several), `score` (a job's libvmaf), `check` (the independent check's
libvmaf, kit.corpus.oracle), `sample` (a sample job's encode or scoring, kit.corpus.samples), `teacher` (the teacher
check's libvmaf, kit.platforms.teacher; any clip).

Faults: `exit1` (says one line, exits 1), `segv`, `abrt`, `kill` (the wrapper kills itself with that signal, as a
crash, an assert and the OOM killer end ffmpeg), `hang` (sleeps until the kit kills it at its timeout or stall),
`truncate` (runs the real ffmpeg, then cuts its output short: an encode's file, a lossless copy or a libvmaf log to
a third, a look's thumbnails to half), `garble` (runs the real ffmpeg, then writes over its output: an encode's file
or a copy with zeros after its first bytes, a libvmaf log with text that is not JSON, a look's pixel hash with one
that is not hex, an open's stream line).

The box's and the moment's (issue 91: TRANSIENT, never the clip's): `slow` (the real ffmpeg, its progress given out
slowly: a look's thumbnails a frame's worth, or ffmpeg's `-progress` frame count one frame, every SLOW_STEP_S, for
longer than a limit on the child's whole time would allow: a busy box's child), `stop` (the wrapper stops itself with
SIGSTOP for STOP_S, longer than any of its limits, a process of its own sending SIGCONT after: a suspended job, a
laptop's lid; then the real ffmpeg), `full` (says ffmpeg's words of a full disk, exits 1), `moved` (renames the
out-dir FAULT_OUT names to FAULT_OUT-moved, once, then runs the real ffmpeg, which cannot write there any more).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

STAGES = ("open", "look", "copy", "copycheck", "encode", "score", "check", "sample", "teacher")
FAULTS = ("exit1", "segv", "abrt", "kill", "hang", "truncate", "garble")
TRANSIENT = ("slow", "stop", "kill", "full", "moved")  # the box's or the moment's (`kill`: from outside)
SLOW_STEP_S = 1.0  # `slow`: one frame's progress this often, 8 of them for the tests' 8-frame clips
STOP_S = 10.0  # `stop`: how long the child is stopped
FULL_SAID = "No space left on device"
SIGNALS = {"segv": "SIGSEGV", "abrt": "SIGABRT", "kill": "SIGKILL"}
ENV = ("FAULT_CLIP", "FAULT_STAGE", "FAULT_KIND")
OUT_ENV = "FAULT_OUT"  # `moved`: the out-dir to rename
SAID = "[fault] injected failure"  # what `exit1` says on stderr (ffmpeg's telling line of it)

# the wrapper itself: the standard library only, started isolated (-I -S: no site, no user's paths) by the test's
# Python, the real ffmpeg's path written in
WRAPPER = r'''
import os, re, signal, subprocess, sys, time

REAL = {real!r}
argv = sys.argv[1:]
clip, stage, kind = (os.environ.get(k, "") for k in ("FAULT_CLIP", "FAULT_STAGE", "FAULT_KIND"))
inputs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-i"]
joined = " ".join(argv)


def stage_of():
    """The stage this command is, for `clip`: None where it is not the clip's (or not one the wrapper knows)."""
    if "teacher-ref.y4m" in joined:
        return "teacher" if "libvmaf=" in joined else None
    stem = clip.rsplit(".", 1)[0]
    if any("intermediates" in i and re.match(rf"(\.tmp-)?{{re.escape(stem)}}-", os.path.basename(i)) for i in inputs):
        return "copycheck"
    if not any(os.path.basename(i) == clip for i in inputs):
        return None
    if argv[-2:] == ["-i", inputs[-1]]:
        return "open"
    if "intermediates" in joined:
        return "copy"
    if "__samples" in joined:
        return "sample"
    if "libvmaf=" in joined:
        return "check" if "oracle.json" in joined else "score"
    if "-f" in argv and "hash" in argv and "-c:v" in argv and argv[argv.index("-c:v") + 1] == "rawvideo" \
            and "02_corpus" not in joined:
        return "look"
    if "-c:v" in argv and "02_corpus" in joined:
        return "encode"
    return None


def log_path():
    found = re.findall(r"log_path=((?:\\.|[^:\\])+)", joined)
    return re.sub(r"\\(.)", r"\1", found[-1]) if found else None


def outputs():
    """The files this command writes: a libvmaf log, else its last argument."""
    return [log_path()] if "libvmaf=" in joined else [argv[-1]]


if not (stage and kind) or stage_of() != stage:
    os.execv(REAL, [REAL, *argv])
if kind == "stop":  # stopped before it starts, continued by a process of its own that holds none of its pipes
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        time.sleep({stop_s!r})
        os.kill(os.getppid(), signal.SIGCONT)
        os._exit(0)
    os.kill(os.getpid(), signal.SIGSTOP)
    os.execv(REAL, [REAL, *argv])
if kind == "moved":
    out = os.environ.get("FAULT_OUT", "")
    if out and os.path.isdir(out):
        os.rename(out, out + "-moved")
    os.execv(REAL, [REAL, *argv])
if kind == "full":
    sys.stderr.write("[out#0 @ 0x1] [error] Error writing trailer: {full}\nError closing file: {full}\n")
    sys.exit(1)
if kind == "slow":
    res = subprocess.run([REAL, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, frames = res.stdout, 8
    if "-progress" in argv:  # one frame more each step, then what it said
        for n in range(1, frames + 1):
            sys.stdout.buffer.write(f"frame={{n}}\nprogress=continue\n".encode())
            sys.stdout.buffer.flush()
            time.sleep({step_s!r})
        sys.stdout.buffer.write(out)
    elif not out:  # an open: nothing to give out, its time alone
        time.sleep(frames * {step_s!r})
    else:  # a look's thumbnails: a frame's worth each step
        size = max(1, len(out) // frames)
        for at in range(0, len(out), size):
            sys.stdout.buffer.write(out[at:at + size])
            sys.stdout.buffer.flush()
            time.sleep({step_s!r})
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(res.stderr)
    sys.exit(res.returncode)
if kind == "exit1":
    sys.stderr.write({said!r} + " (" + stage + ")\n")
    sys.exit(1)
if kind in ("segv", "abrt", "kill"):
    os.kill(os.getpid(), {{"segv": signal.SIGSEGV, "abrt": signal.SIGABRT, "kill": signal.SIGKILL}}[kind])
if kind == "hang":
    while True:
        time.sleep(60)
looks = stage in ("look", "copy", "copycheck", "open")
res = subprocess.run([REAL, *argv], stdout=subprocess.PIPE if looks else None,
                     stderr=subprocess.PIPE if looks else None)
copies = [a for a in argv if "intermediates" in a and a not in inputs] if stage == "copy" else []
if looks:
    out, err = res.stdout, res.stderr
    if copies:  # the lossless copy itself: its check is what must see it
        for path in copies:
            data = open(path, "rb").read()
            with open(path, "wb") as fh:
                fh.write(data[:len(data) // 3] if kind == "truncate" else data[:64] + bytes(len(data) - 64))
    elif kind == "truncate":
        out = out[:len(out) // 2]
    elif stage == "open":
        err = re.sub(rb"Stream #0:0.*Video: .*", b"Stream #0:0: Video: garbled", err)
    else:
        err = re.sub(rb"SHA256=[0-9a-f]+", b"SHA256=garbled", err)
    sys.stdout.buffer.write(out)
    sys.stderr.buffer.write(err)
    sys.exit(res.returncode)
if res.returncode == 0:
    for path in outputs():
        data = open(path, "rb").read()
        with open(path, "wb") as fh:
            if kind == "truncate":
                fh.write(data[:len(data) // 3])
            elif path.endswith(".json"):
                fh.write(b"libvmaf said nothing of the sort\n")
            else:
                fh.write(bytes(len(data)))
sys.exit(res.returncode)
'''


def faulty_ffmpeg(folder: Path, ffmpeg: str) -> Path:
    """The wrapper, executable, in `folder` (which must pass the kit's trust rule: a tmp_path does)."""
    wrapper = folder / "ffmpeg-faults"
    wrapper.write_text(f"#!{sys.executable} -IS\n" + WRAPPER.format(real=ffmpeg, said=SAID, stop_s=STOP_S,
                                                                      step_s=SLOW_STEP_S, full=FULL_SAID))
    wrapper.chmod(0o755)
    return wrapper


def inject(monkeypatch: pytest.MonkeyPatch, clip: str, stage: str, kind: str) -> None:
    """Have the wrapper fail for the clip named `clip` (its file name) at `stage`, in the way `kind` names."""
    assert stage in STAGES and kind in (*FAULTS, *TRANSIENT), (stage, kind)
    for name, value in zip(ENV, (clip, stage, kind), strict=True):
        monkeypatch.setenv(name, value)


@contextmanager
def injected(clip: str, stage: str, kind: str) -> Iterator[None]:
    """inject() for a block, outside a test's monkeypatch (a fixture made once)."""
    before = {k: os.environ.get(k) for k in ENV}
    os.environ.update(zip(ENV, (clip, stage, kind), strict=True))
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
