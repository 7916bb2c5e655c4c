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
check's libvmaf, kit.platforms.teacher; any clip); and, outside the matrix of a clip's stages, `probe` and `probe10` (an
encoder's test encode in the prereqs step, 8 or 10 bit, FAULT_CLIP naming the encoder).

A build of the box's own: FAULT_BUILD, words its `-version` says in its name (`ffmpeg version 9.0.2-WORD`) and its
configuration line (`--prefix=WORD`), as a build made on the box says its folders and host.

Many cells at once: FAULT_PLAN, a JSON object of clip (or encoder) -> [stage, fault]. The box's own lines:
FAULT_CHATTER, a file holding a JSON list of lines (base64), of which each call says a few on stderr before anything
else (and an `exit1` after its line, its last words), noting which in FAULT_CHATTER.said, a line per call.

Faults: `exit1` (says one line, exits 1), `segv`, `abrt`, `kill` (the wrapper kills itself with that signal, as a
crash, an assert and the OOM killer end ffmpeg), `hang` (sleeps until the kit kills it at its timeout or stall),
`truncate` (runs the real ffmpeg, then cuts its output short: an encode's file, a lossless copy or a libvmaf log to
a third, a look's thumbnails to half), `garble` (runs the real ffmpeg, then writes over its output: an encode's file
or a copy with zeros after its first bytes, a libvmaf log with text that is not JSON, a look's pixel hash with one
that is not hex, an open's stream line).

The box's and the moment's (issue 91: TRANSIENT, never the clip's): `slow` (the real ffmpeg, its progress given out
slowly: a look's thumbnails a frame's worth, or ffmpeg's `-progress` frame count one frame, every SLOW_STEP_S, for
longer than a limit on the child's whole time would allow: a busy box's child), `stop` (the wrapper stops itself with
SIGSTOP for STOP_S, longer than any of its limits, a process of its own sending SIGCONT after; then the real ffmpeg),
`full` (says ffmpeg's words of a full disk, exits 1), `oom` (says ffmpeg's words of the box out of memory, exits 1),
`moved` (renames the out-dir FAULT_OUT names to FAULT_OUT-moved,
once, then runs the real ffmpeg, which cannot write there any more).

A child alone is not the box (issue 98, item 1: STOPS), each stop STOP_S long, by a process of the wrapper's own in a
session of its own: `stop` (the child alone, SIGSTOP), `stopgroup` (its process group), `stopkit` (the kit's process
group: the child waits for its end, giving no frame, then runs the real ffmpeg), `freeze` (the whole box: the cgroup
FAULT_FREEZER names frozen, where the test made one and put the kit in it, else SIGSTOP to the kit and every process
below it; the child waits as for `stopkit`).
"""

from __future__ import annotations

import base64
import functools
import inspect
import ipaddress
import os
import random
import re
import string
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import strategies as st

from kit.corpus.oracle import CHECK_LOG

STAGES = ("open", "look", "copy", "copycheck", "encode", "score", "check", "sample", "teacher")
FAULTS = ("exit1", "segv", "abrt", "kill", "hang", "truncate", "garble")
TRANSIENT = ("slow", "stop", "kill", "full", "moved")  # the box's or the moment's (`kill`: from outside)
REPEATS = ("oom",)  # the box out of memory (ffmpeg's words of it, exit 1), run after run
FOLDER_FAULTS = ("rmdir", "unwritable", "fill")  # the box's own folder FAULT_FOLDER, then the real ffmpeg
STOPS = ("stop", "stopgroup", "stopkit", "freeze")  # the child alone, its group; the kit's group, the whole box
FREEZER_ENV = "FAULT_FREEZER"  # `freeze`: the cgroup (v1 freezer or v2) the kit runs in
STOP_S_ENV = "FAULT_STOP_S"  # a stop's seconds, where not STOP_S
STOPPED_ENV = "FAULT_STOPPED"  # a file: a line `CLIP STAGE KIND` for each stop made
SLOW_STEP_S = 1.0  # `slow`: one frame's progress this often, 8 of them for the tests' 8-frame clips
STOP_S = 10.0  # `stop`: how long the child is stopped
FULL_SAID = "No space left on device"
SIGNALS = {"segv": "SIGSEGV", "abrt": "SIGABRT", "kill": "SIGKILL"}
ENV = ("FAULT_CLIP", "FAULT_STAGE", "FAULT_KIND")
OUT_ENV = "FAULT_OUT"  # `moved`: the out-dir to rename
PLAN, CHATTER = "FAULT_PLAN", "FAULT_CHATTER"  # many cells at once ({clip: [stage, kind]}); the box's lines (a file)
BUILD = "FAULT_BUILD"  # words the wrapper's `-version` says in its build's name and configuration
SAID = "[fault] injected failure"  # what `exit1` says on stderr (ffmpeg's telling line of it)

# the wrapper itself: the standard library only, started isolated (-I -S: no site, no user's paths) by the test's
# Python, the real ffmpeg's path written in
WRAPPER = r'''
import json, os, re, signal, subprocess, sys, time

REAL = {real!r}
argv = sys.argv[1:]
clip, stage, kind = (os.environ.get(k, "") for k in ("FAULT_CLIP", "FAULT_STAGE", "FAULT_KIND"))
inputs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-i"]
joined = " ".join(argv)
CHATTER = os.environ.get("FAULT_CHATTER", "")


def chatter():
    """Lines of the box (FAULT_CHATTER's pool: a JSON list of base64 lines), a few at each call, which ones noted in
    FAULT_CHATTER.said (a line per call)."""
    if not CHATTER:
        return b""
    import base64, json, random
    with open(CHATTER) as fh:
        pool = json.load(fh)
    picked = random.Random(os.urandom(8)).sample(range(len(pool)), min(3, len(pool)))
    with open(CHATTER + ".said", "a") as fh:
        fh.write(" ".join(map(str, picked)) + "\n")
    return b"".join(base64.b64decode(pool[i]) + b"\n" for i in picked)


def stage_of():
    """The stage this command is, for `clip`: None where it is not the clip's (or not one the wrapper knows)."""
    if "probe_" + clip + "." in joined:  # `clip` an encoder: its test encode in the prereqs step, 8 or 10 bit
        return "probe10" if "10le" in joined else "probe"
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
        return "check" if {check_log!r} in joined else "score"
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


BUILD = os.environ.get("FAULT_BUILD", "")
if BUILD and argv[-1:] == ["-version"]:  # a build of the box's own: its name and its configuration say its words
    res = subprocess.run([REAL, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    text = res.stdout.decode()
    text = re.sub(r"^(ffmpeg version \S+)", lambda m: m.group(1) + "-" + BUILD.split()[0], text, count=1)
    text = re.sub(r"^(configuration:)", lambda m: m.group(1) + " --prefix=" + " --extra-cflags=".join(BUILD.split()),
                  text, count=1, flags=re.MULTILINE)
    sys.stdout.write(text)
    sys.exit(res.returncode)

STOPS = ("stop", "stopgroup", "stopkit", "freeze")


def descendants(root):
    """`root` and every process below it (a child of the kit is in a session of its own, still its child)."""
    parents = {{}}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{{name}}/stat") as fh:
                    parents[int(name)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [root], [root]
    while todo:
        kids = [p for p, ppid in parents.items() if ppid == todo.pop()]
        found += kids
        todo += kids
    return found


def freezer(value):
    """FAULT_FREEZER's cgroup frozen (True) or thawed: v2's cgroup.freeze, v1's freezer.state."""
    folder = os.environ["FAULT_FREEZER"]
    v2 = os.path.exists(os.path.join(folder, "cgroup.freeze"))
    with open(os.path.join(folder, "cgroup.freeze" if v2 else "freezer.state"), "w") as fh:
        fh.write(("1" if value else "0") if v2 else ("FROZEN" if value else "THAWED"))


def hold(kind, kit):
    """Stop what `kind` names: the kit's process group (`stopkit`), or the whole box (`freeze`: FAULT_FREEZER's
    cgroup frozen where the test made one, else SIGSTOP to the kit and every process below it, twice, for what the
    first round started); `stop` and `stopgroup` stop themselves. What is held, for release."""
    if kind == "stopkit":
        group = os.getpgid(kit)
        os.killpg(group, signal.SIGSTOP)
        return [group]
    if kind != "freeze":
        return []
    if os.environ.get("FAULT_FREEZER"):
        with open(os.path.join(os.path.dirname(os.environ["FAULT_FREEZER"]), "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))  # out of the cgroup it freezes
        freezer(True)
        return []
    held = []
    for _ in range(2):
        for pid in descendants(kit):
            if pid not in held:
                try:
                    os.kill(pid, signal.SIGSTOP)
                    held.append(pid)
                except ProcessLookupError:
                    continue
    return held


def release(kind, held, wrapper, group):
    """Continue what hold() or the wrapper itself stopped (the wrapper and its group may be gone: the kit ended them
    at their limit)."""
    if kind == "freeze" and os.environ.get("FAULT_FREEZER"):
        freezer(False)
    for send, target in ([(os.kill, wrapper)] if kind == "stop" else [(os.killpg, group)] if kind == "stopgroup" else
                         [(os.killpg, held[0])] if kind == "stopkit" else [(os.kill, p) for p in reversed(held)]):
        try:
            send(target, signal.SIGCONT)
        except ProcessLookupError:
            continue


FOLDER_FAULTS = ("rmdir", "unwritable", "fill")


{folder_fault}

box_lines = chatter()
if box_lines:
    sys.stderr.buffer.write(box_lines)
    sys.stderr.flush()
for clip, (stage, kind) in [*json.loads(os.environ.get("FAULT_PLAN") or "{{}}").items(), (clip, (stage, kind))]:
    if stage and kind and stage_of() == stage:
        break
else:
    os.execv(REAL, [REAL, *argv])
if kind in STOPS:  # a stop of STOP_S by a process of its own, in a session of its own (it holds no pipe of ours)
    ready, done = os.pipe(), os.pipe()
    kit, wrapper, group = os.getppid(), os.getpid(), os.getpgid(0)
    if os.fork() == 0:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.write(ready[1], b"x")
        held = hold(kind, kit)
        if os.environ.get("FAULT_STOPPED"):  # a line for each stop made, for the test to count
            with open(os.environ["FAULT_STOPPED"], "a") as fh:
                fh.write(f"{{clip}} {{stage}} {{kind}}\n")
        time.sleep(float(os.environ.get("FAULT_STOP_S") or {stop_s!r}))
        release(kind, held, wrapper, group)
        os.write(done[1], b"x")
        os._exit(0)
    os.read(ready[0], 1)  # the helper is out of our group before the group is stopped
    if kind == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif kind == "stopgroup":
        os.killpg(0, signal.SIGSTOP)
    else:  # the kit stopped, or the whole box frozen: the child waits for the end of it, giving no frame
        os.read(done[0], 1)
    os.execv(REAL, [REAL, *argv])
if kind == "moved":
    out = os.environ.get("FAULT_OUT", "")
    if out and os.path.isdir(out):
        os.rename(out, out + "-moved")
    os.execv(REAL, [REAL, *argv])
if kind == "full":
    sys.stderr.write("[out#0 @ 0x1] [error] Error writing trailer: {full}\nError closing file: {full}\n")
    sys.exit(1)
if kind in FOLDER_FAULTS:  # the box's own folder FAULT_FOLDER, then the real ffmpeg
    folder_fault(kind, os.environ["FAULT_FOLDER"])
    os.execv(REAL, [REAL, *argv])
if kind == "oom":
    sys.stderr.write("[libx264 @ 0x1] [error] malloc of size 9437184 failed\n[vost#0:0 @ 0x2] [error] Error while "
                     "opening encoder - maybe incorrect parameters: Cannot allocate memory\n")
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
    sys.stderr.write({said!r} + " (" + stage + ")" + (": " if box_lines else ""))
    sys.stderr.flush()
    sys.stderr.buffer.write(box_lines or b"\n")  # its last words, in its telling line and after it
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


def folder_fault(kind: str, folder: str) -> None:
    """`folder` removed (whole), made unwritable (immutable, chattr -R +i: root cannot write there either), or its
    file system filled to its last byte (`folder` a tmpfs the test mounted: shrunk to what it holds, then filled);
    once (FAULT_FOLDER_DONE, a file, says it was)."""
    done = os.environ.get("FAULT_FOLDER_DONE", "")
    if done and os.path.exists(done):
        return
    if done:
        open(done, "w").close()
    if kind == "rmdir":
        import shutil
        shutil.rmtree(folder, ignore_errors=True)
    elif kind == "unwritable":
        subprocess.run(["chattr", "-R", "+i", folder], check=True, stderr=subprocess.DEVNULL)
    else:
        st = os.statvfs(folder)
        used_k = (st.f_blocks - st.f_bfree) * st.f_frsize // 1024
        subprocess.run(["mount", "-o", f"remount,size={used_k + 256}k", folder], check=True)
        fd = os.open(os.path.join(folder, ".fill"), os.O_WRONLY | os.O_CREAT)
        for size in (65536, 1):
            try:
                while True:
                    os.write(fd, bytes(size))
            except OSError:
                pass
        os.close(fd)


def faulty_ffmpeg(folder: Path, ffmpeg: str) -> Path:
    """The wrapper, executable, in `folder` (which must pass the kit's trust rule: a tmp_path does)."""
    wrapper = folder / "ffmpeg-faults"
    own = inspect.getsource(folder_fault).replace("kind: str, folder: str) -> None", "kind, folder)")
    wrapper.write_text(f"#!{sys.executable} -IS\n" + WRAPPER.format(
        folder_fault=own, real=ffmpeg, said=SAID, stop_s=STOP_S,
        step_s=SLOW_STEP_S, full=FULL_SAID, check_log=CHECK_LOG))
    wrapper.chmod(0o755)
    return wrapper


def inject(monkeypatch: pytest.MonkeyPatch, clip: str, stage: str, kind: str) -> None:
    """Have the wrapper fail for the clip named `clip` (its file name) at `stage`, in the way `kind` names."""
    assert stage in STAGES and kind in (*FAULTS, *TRANSIENT, *STOPS, *REPEATS, *FOLDER_FAULTS), (stage, kind)
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


# -- the box's own words, for FAULT_CHATTER: what a real ffmpeg may say of the box it runs on ----------------------
TOKEN_CHARS = string.ascii_letters + string.digits
# a random token's first letter: one that begins no counter, commit or number of the kit's (cq037, v9, g2a571b6, 0x1f)
TOKEN_FIRST = "ijklmowyzIJKLMOWYZ"
# what a box says that nobody needs to guess: common given names and surnames, and the words of a person's own files
# (8 letters or more: a scan of a tarball looks for no shorter spelling), none a word the kit sends (kit_words)
COMMON = ("Elizabeth", "Jennifer", "Patricia", "Margaret", "Jonathan", "Giovanni", "Francesca", "Mohammed",
          "Alexander", "Christopher", "Benjamin", "Katharina", "Svetlana", "Anastasia", "Srinivasan", "Kowalski",
          "Williams", "Johansson", "Rodriguez", "Martinez", "Hernandez", "Gonzalez", "Anderson", "Thompson",
          "Schneider", "Takahashi", "Watanabe", "Lefebvre", "Fernandez", "Nakamura", "Chowdhury",
          "passport", "birthday", "girlfriend", "mortgage", "pregnancy", "honeymoon", "vacation", "hospital",
          "password", "grandmother", "invoices", "medication", "therapist", "christmas")
# a system's error in another locale (glibc's de, fr, es, it strerror texts): what an ffmpeg started under LANG=de_DE
# says of a file, none of it English, so no list of English words could tell it from the kit's
TRANSLATED = ("Keine Berechtigung", "Datei oder Verzeichnis nicht gefunden", "Kein Speicherplatz mehr auf dem Geraet",
              "Aucun fichier ou dossier de ce type", "Permission non accordee", "No existe el fichero o el directorio",
              "Nessun file o directory", "Ungueltiges Argument")
HOSTS = ("example.org", "cs.uni-hamburg.de", "local", "lab.internal", "ac.uk")
ENV_NAMES = ("HOME", "USER", "LOGNAME", "HOSTNAME", "MAIL", "SSH_CONNECTION", "PWD", "KIT_SECRET_TOKEN")


@functools.cache
def kit_words() -> frozenset[str]:
    """Every word of 3 letters or more the catalogue's kinds hold (kit.bundle.catalogue: its messages, its lists):
    a token drawn is none of them, so that one the scan finds came from the box."""
    from kit.bundle import catalogue, messages, values
    from kit.infra.kinds import Exact, Match, Template

    words: set[str] = set()
    for module in (catalogue, messages, values):
        for kind in vars(module).values():
            texts = [*getattr(kind, "texts", ())] if isinstance(kind, Exact) else \
                [kind.text] if isinstance(kind, Template) else [kind.regex] if isinstance(kind, Match) else []
            words |= {w.lower() for t in texts for w in re.findall(r"[A-Za-z]{3,}", t)}
    return frozenset(words)


def token() -> st.SearchStrategy[str]:
    """A word of the box: a common name or word (as it is, lower or upper case), or 8 to 12 letters and digits
    nobody could guess; none of kit_words (the scan would find the kit's own)."""
    common = st.sampled_from([w for w in COMMON if w.lower() not in kit_words()])
    common = common.flatmap(lambda w: st.sampled_from((w, w.lower(), w.upper())))
    drawn = st.builds(str.__add__, st.sampled_from(TOKEN_FIRST), st.text(TOKEN_CHARS, min_size=7, max_size=11))
    return st.one_of(common, drawn)


@st.composite
def box_line(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """One line the box's ffmpeg says, and its secrets (what no member may hold, in any spelling)."""
    t, u = draw(token()), draw(token())
    host = f"{u}.{draw(st.sampled_from(HOSTS))}"
    ipv4 = str(ipaddress.IPv4Address(draw(st.integers(0x0B000000, 0xDFFFFFFF))))
    ipv6 = str(ipaddress.IPv6Address(draw(st.integers(1 << 112, (1 << 128) - 1))))
    key = draw(st.binary(min_size=20, max_size=20)).hex()  # a 40-hex key (a git or API token's form)
    b64 = base64.b64encode(draw(st.binary(min_size=12, max_size=24))).decode()
    said = draw(st.sampled_from(TRANSLATED))
    shapes: dict[str, tuple[str, list[str]]] = {
        "preset": (f"/home/{t}/.ffmpeg/libx264-fast.ffpreset: No such file or directory", [t]),
        "config": (f"(/home/{t}/.config/ffmpeg/decoder.cfg: Permission denied)", [t]),
        "windows": (f"C:\\Users\\{t}\\AppData\\Local\\ffmpeg\\fonts.conf: cannot open", [t]),
        "quoted": (f"'/srv/{t} clips/{u}.mp4': Invalid data found when processing input", [t, u]),
        "user": (f"[libx264 @ 0x55d5c1a2b3c0] user {t} on {host}", [t, u]),
        "email": (f"mailto {t}@{host}", [t, u, f"{t}@{host}"]),
        "env": (f"{draw(st.sampled_from(ENV_NAMES))}={draw(st.sampled_from([t, f'/home/{t}', f'{t}:{u}']))}", [t]),
        "address": (f"fetching https://{host}/{t}/model.json from {ipv4} ([{ipv6}]:8443)", [t, u, ipv4, ipv6]),
        "home": (f"~/{t}/bin/ffmpeg: warning", [t]),
        "glued": (f"Unrecognized option 'i/home/{t}/video/{u}.mp4'.", [t, u, f"i/home/{t}/video"]),
        "key": (f"[tls @ 0x1] session {key} token {b64}", [key, b64]),
        "translated": (f"/home/{t}/b.mp4: {said}", [t, said]),
        "addresses": (f"[tcp @ 0x2] Connection to tcp://{ipv4}:554 failed; trying {ipv6}", [ipv4, ipv6]),
    }
    shape = draw(st.sampled_from([*shapes, "bytes", "unicode"]))
    if shape == "bytes":
        return draw(st.binary(max_size=24)) + t.encode() + draw(st.binary(max_size=24)) + b" " + u.encode(), [t, u]
    if shape == "unicode":
        text = f"{draw(st.text(max_size=16))} {t} {draw(st.text(max_size=16))}/{u}"
        return text.encode("utf-8", "surrogatepass"), [t, u]
    line, secrets = shapes[shape]
    return line.encode(), secrets


def pools() -> st.SearchStrategy[list[tuple[bytes, list[str]]]]:
    return st.lists(box_line(), min_size=24, max_size=24)


def random_token(rng: random.Random) -> str:
    """A token as token() draws them, from `random`'s (a module's fixture, outside a test)."""
    common = [w for w in COMMON if w.lower() not in kit_words()]
    if rng.random() < 0.5:
        return rng.choice(common)
    return rng.choice(TOKEN_FIRST) + "".join(rng.choices(TOKEN_CHARS, k=9))


def random_lines(count: int) -> list[tuple[bytes, list[str]]]:
    """Box lines drawn outside a test (a module's fixture): a preset's path under home and a user, a host, an address
    and a key, around tokens of `random`'s."""
    rng = random.Random()
    lines = []
    for _ in range(count):
        t, u = random_token(rng), random_token(rng)
        ipv4 = str(ipaddress.IPv4Address(rng.randrange(0x0B000000, 0xDFFFFFFF)))
        key = rng.randbytes(20).hex()
        lines += [(f"/home/{t}/.ffmpeg/libx264-fast.ffpreset: No such file or directory".encode(), [t]),
                  (f"user {t} on {u}.example.org, {u}@{t}.edu, from {ipv4}, key {key}".encode(), [t, u, ipv4, key])]
    return lines
