"""No process of the kit writes where another user can reach (issue 89, item 2; kit.infra.scratch).

The enumeration is itself the test: the kit's commands (`run --only prereqs` twice, `status`, `verify`, `merge`,
`corpus export`) run under `strace -f` with a TMPDIR and a HOME of their own, and every path any process of them
(the kit, its ffmpeg, the reaper) creates, writes, renames, links or removes is listed: none lies outside the
command's out-dir, the kit's cache and the process's private folder (`.tmp-kit.<pid>.<host>.<random>`, gone once the
command ends), and the names written the same in both prereqs runs (the fixed names the libraries use: onnxruntime's
`.ses` and its telemetry's files) lie inside that folder. Without strace the test skips, saying so (.ci/run
installs it).

Then another user (nobody, a real other uid: the tests run as root in CI) plants a link under each fixed name at
the top of a shared TMPDIR, sticky (as /tmp) and not, each with fs.protected_symlinks 0 and 1 where this machine lets
the test set it (it is machine-wide: set for the case, put back after): onnxruntime loaded there directly writes
through the link where the kernel lets it (the plant is real), the kit's run does not (sticky), or is refused naming
the folder (not sticky), and no file outside the kit's folders changed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests import pace
from tests.conftest import KIT, ROOT, cannot_run_here

NOBODY = 65534
STRACE = shutil.which("strace")
PROTECTED = Path("/proc/sys/fs/protected_symlinks")
WRITES = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
PRIVATE = re.compile(r"\.tmp-kit\.\d+\.[0-9a-f]{8}\.[a-z0-9_]{8}")
CALL = re.compile(r"^(?P<pid>\d+)\s+(?P<call>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>-?\d+)")
# the syscalls that make, change or remove a name, and the position of each of their paths as (dirfd, path) pairs
NAMED = {"open": [(None, 0)], "creat": [(None, 0)], "openat": [(0, 1)], "mkdir": [(None, 0)], "mkdirat": [(0, 1)],
         "unlink": [(None, 0)], "unlinkat": [(0, 1)], "rmdir": [(None, 0)], "rename": [(None, 0), (None, 1)],
         "renameat": [(0, 1), (2, 3)], "renameat2": [(0, 1), (2, 3)], "link": [(None, 1)], "linkat": [(2, 3)],
         "symlink": [(None, 1)], "symlinkat": [(1, 2)]}


class Traced(NamedTuple):
    code: int
    output: str
    written: set[str]  # every path a process created, wrote, renamed, linked or removed


def split_args(args: str) -> list[str]:
    """strace's arguments, split at the top-level commas (a string may hold one)."""
    parts, depth, quoted, current = [], 0, False, ""
    i = 0
    while i < len(args):
        ch = args[i]
        if quoted and ch == "\\":
            current += args[i:i + 2]
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "[{(<":
            depth += 1
        elif not quoted and ch in "]})>":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    return [*parts, current.strip()]


def unquote(text: str) -> str:
    return text[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape") if text.startswith('"') else text


def folder_of(fd: str, cwd: Path) -> Path:
    """The folder strace -y shows for a descriptor (`3</a/b>`, `AT_FDCWD</a>`)."""
    found = re.search(r"<(.*)>$", fd)
    return Path(found.group(1)) if found else cwd


def written(trace: Path, cwd: Path) -> set[str]:
    """The paths of `trace` (strace -f -y) that a successful call made, changed or removed."""
    pending: dict[str, str] = {}
    found: set[str] = set()
    for raw in trace.read_text(errors="replace").splitlines():
        if raw.rstrip().endswith("<unfinished ...>"):
            pid = raw.split()[0]
            pending[pid] = raw.rstrip()[:-len("<unfinished ...>")]
            continue
        if (resumed := re.match(r"^(\d+)\s+<\.\.\. \w+ resumed>(.*)", raw)) is not None:
            raw = pending.pop(resumed.group(1), "") + resumed.group(2)
        m = CALL.match(raw)
        if m is None or m["call"] not in NAMED or int(m["ret"]) < 0:
            continue
        args = split_args(m["args"])
        if m["call"] in ("open", "openat") and not WRITES.search(args[2 if m["call"] == "openat" else 1]):
            continue
        for fd, at in NAMED[m["call"]]:
            path = Path(unquote(args[at]))
            found.add(os.path.normpath(path if path.is_absolute() else
                                       (folder_of(args[fd], cwd) if fd is not None else cwd) / path))
    return found


def traced(tag: str, base: Path, *args: str | Path, env: dict[str, str]) -> Traced:
    """The kit's command run whole (as a user starts it) under strace."""
    trace = base / f"trace.{tag}"
    assert STRACE is not None
    res = pace.run([STRACE, "-f", "-y", "-qq", "-s", "4096", "-o", str(trace),
                          "-e", "trace=" + ",".join(NAMED), *KIT, *map(str, args)], cwd=base, env=env,
                         capture_output=True, text=True, timeout=600)
    return Traced(res.returncode, res.stdout + res.stderr, written(trace, base))


def outside(paths: set[str], *kept: Path) -> list[str]:
    """The paths under none of `kept`, nor a private folder, nor the system's devices and processes, nor Python's
    bytecode of the kit's own modules (in the kit's folder, as Python writes it)."""
    roots = tuple(f"{k}/" for k in kept)
    return sorted(p for p in paths if not (p + "/").startswith(roots) and not PRIVATE.search(p)
                  and not p.startswith(("/dev/", "/proc/"))
                  and not (p.startswith(f"{ROOT}/kit/") and "/__pycache__/" in p))


def fixed(first: set[str], second: set[str]) -> set[str]:
    """The names written in both runs' private folders (the part below the folder), the random ones set apart."""
    def below(paths: set[str]) -> set[str]:
        found = set()
        for path in paths:
            if (m := PRIVATE.search(path)) is not None and len(path) > m.end():
                found.add(re.sub(r"(child|cache)\.[a-z0-9_]{8}", r"\1.*", path[m.end() + 1:]))
        return found
    return below(first) & below(second)


# the variables with which onnxruntime writes no telemetry (no `.ses`, no database): a CI service's own, which a
# collaborator's box does not set; dropped, so that the children load it as on that box (read from its library's
# strings, each checked by hand: `CI=1 python -c "import onnxruntime"` writes nothing in TMPDIR)
TELEMETRY_OFF = ("CI", "ORT_DISABLE_TELEMETRY", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS",
                 "JENKINS_URL", "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR",
                 "BITBUCKET_BUILD_NUMBER")


def environment(tmpdir: Path, home: Path, cache: Path) -> dict[str, str]:
    dropped = ("TMP", "TEMP", "XDG_CACHE_HOME", "MPLCONFIGDIR", *TELEMETRY_OFF)
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    return {**env, "TMPDIR": str(tmpdir), "HOME": str(home), "KIT_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}


FOUND: dict[str, object] = {}


@pytest.mark.slow
def test_every_process_writes_only_in_the_kit_s_folders(json_run: tuple[Path, object], tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    if STRACE is None:
        cannot_run_here("strace is not installed (apt-get install strace): the enumeration of what the kit's "
                        "processes write needs it")
    base, tmpdir, home, cache = tmp_path, tmp_path / "tmp", tmp_path / "home", tmp_path / "cache"
    for folder in (tmpdir, home):
        folder.mkdir()
    tmpdir.chmod(0o1777)
    env = environment(tmpdir, home, cache)
    run, _ = json_run
    (tarball,) = (run / "05_bundle").glob("results-*.tar.gz")
    outs = [base / "out1", base / "out2"]
    runs = {f"prereqs{i}": traced(f"prereqs{i}", base, "run", "--only", "prereqs", "--out-dir", out, "--encoders",
                                  "libx264", env=env) for i, out in enumerate(outs)}
    runs["status"] = traced("status", base, "status", outs[0], env=env)
    runs["verify"] = traced("verify", base, "verify", tarball, env=env)
    runs["merge"] = traced("merge", base, "merge", tarball, "-o", base / "union" / "union.parquet", env=env)
    runs["export"] = traced("export", base, "corpus", "export", run / "02_corpus" / "shard.parquet", "--format",
                            "vmaftune", "-o", base / "export" / "corpus.jsonl", env=env)
    assert {tag: r.code for tag, r in runs.items()} == dict.fromkeys(runs, 0), {t: r.output[-2000:] for t, r in
                                                                                runs.items() if r.code}
    every = set().union(*(r.written for r in runs.values()))
    assert outside(every, *outs, cache, base / "union", base / "export") == []
    names = fixed(runs["prereqs0"].written, runs["prereqs1"].written)
    assert ".ses" in names, names  # onnxruntime's, as it loads: in the private folder, not TMPDIR
    assert list(tmpdir.iterdir()) == [] and list(home.iterdir()) == []  # each private folder gone with its command
    FOUND["fixed"] = sorted(n for n in names if not n.startswith("child.*"))
    request.node.user_properties.append(("timing", f"private temp: {len(every)} paths written by 6 commands, 0 "
                                                   f"outside the kit's folders; fixed names: {FOUND['fixed']}"))


VICTIM = "the box's own words, which no process of the kit may change\n"


@pytest.fixture(params=[0, 1], ids=["protected_symlinks=0", "protected_symlinks=1"])
def protected_symlinks(request: pytest.FixtureRequest) -> Iterator[int]:
    """fs.protected_symlinks set to the case's value for the case where this machine lets the test set it (it is
    the whole machine's: put back after), else the case skips unless it is the value already."""
    value: int = request.param
    now = int(PROTECTED.read_text()) if PROTECTED.is_file() else None
    if now == value:
        yield value
        return
    try:
        PROTECTED.write_text(str(value))
    except OSError as exc:
        pytest.skip(f"fs.protected_symlinks is {now} and cannot be set here ({exc.strerror}): the case runs where it "
                    "can be")
    try:
        yield value
    finally:
        PROTECTED.write_text(str(now))


def as_nobody(action: Callable[[], None]) -> None:
    """`action` done by another user (nobody), in a forked child that became that user."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "nobody could not plant the links"


def snapshot(*folders: Path) -> dict[str, str]:
    """Every entry below `folders`: a link's target, a file's sha256, a folder's mode."""
    found = {}
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            if path.is_symlink():
                found[str(path)] = f"link {os.readlink(path)}"
            elif path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[str(path)] = oct(path.stat().st_mode)
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="another user's links need root to make that user (nobody) act")
@pytest.mark.parametrize("sticky", [True, False], ids=["sticky", "not sticky"])
def test_links_another_user_plants_in_a_shared_tmpdir_are_never_followed(tmp_path: Path, sticky: bool,
                                                                          protected_symlinks: int,
                                                                          request: pytest.FixtureRequest) -> None:
    """The issue's case: nobody's `.ses -> victim.txt` (and the other fixed names at TMPDIR's top) in a shared
    TMPDIR; root's `run --only prereqs`."""
    victims, home, cache = (tmp_path / n for n in ("victims", "home", "cache"))
    for folder in (victims, home):
        folder.mkdir()
    shared = Path(tempfile.mkdtemp(dir="/tmp", prefix="shared-tmpdir."))  # a folder nobody reaches, as /tmp's are
    request.addfinalizer(lambda: shutil.rmtree(shared, ignore_errors=True))
    shared.chmod(0o1777 if sticky else 0o777)
    victim = victims / "victim.txt"
    names = [".ses", *(n for n in FOUND.get("fixed", ()) if isinstance(n, str) and "/" not in n and n != ".ses")]
    as_nobody(lambda: [os.symlink(victim, shared / name) for name in names])
    assert all((shared / name).is_symlink() and (shared / name).lstat().st_uid == NOBODY for name in names)
    env = environment(shared, home, cache)
    # the plant is real: onnxruntime loaded with that TMPDIR as it is writes through the link where the kernel lets it
    victim.write_text(VICTIM)
    pace.run([sys.executable, "-c", "import onnxruntime"], env=env, capture_output=True, timeout=120)
    followed = victim.read_text() != VICTIM
    assert followed == (protected_symlinks == 0 or not sticky), (sticky, protected_symlinks)
    victim.write_text(VICTIM)
    before = snapshot(shared, victims)
    res = pace.run([*KIT, "run", "--only", "prereqs", "--out-dir", tmp_path / "out", "--encoders", "libx264"],
                   env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    said = res.stdout + res.stderr
    if sticky:
        assert res.returncode == 0, said[-3000:]
    else:
        assert res.returncode == 2 and f"the temporary folder TMPDIR {shared} belongs to you" in said, said[-3000:]
        assert "hint: export TMPDIR=a folder of your own" in said
    assert snapshot(shared, victims) == before  # nothing outside the kit's folders changed, the links as planted
    assert victim.read_text() == VICTIM
