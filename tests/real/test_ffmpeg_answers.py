"""ffmpeg's answers that depend on the binary alone (`-version`, `-filters`, `-encoders`, `-hwaccels`) are kept in the
kit's cache per version of the binary (kit.media.ffmpeg.ask_binary, issue 77: `status` spawns no ffmpeg): read back
while the binary is the same file, asked again as soon as any part of its version differs (its path, size, mtime,
inode, ctime), and a record that is missing, damaged or not the one its name says is asked again, never trusted. The
real ffmpeg throughout (imageio-ffmpeg's); a query asked is counted at the one place that spawns it."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kit.errors import ToolError
from kit.media import ffmpeg as ff
from kit.media.ffmpeg import ANSWERS, BINARY_QUERIES, ask_binary, describe
from kit.platforms.signals import gather_signals

DESCRIBED = ("-version", "-filters", "-encoders")  # what describe asks, in its order


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """The queries ffmpeg is really asked from now on (in a cache of the test's own), in order."""
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))
    queries: list[str] = []
    real = ff.run_process

    def counted(argv: list[str], **kw: Any) -> Any:
        queries.append(argv[-1])
        return real(argv, **kw)

    monkeypatch.setattr(ff, "run_process", counted)
    return queries


def records(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / ANSWERS).glob("*.json"))


def test_answers_kept_by_a_run_are_read_back_and_status_keeps_none(ffmpeg: str, asked: list[str],
                                                                   tmp_path: Path) -> None:
    """`kept=False` (status) asks and writes nothing; a run's describe asks each query once and keeps it; the next
    describe and the host's signals of the same binary ask nothing and give the same record as the binary's answers."""
    fresh = describe(Path(ffmpeg), "test", kept=False)
    assert asked == list(DESCRIBED) and records(tmp_path) == []
    asked.clear()
    assert describe(Path(ffmpeg), "test") == fresh and asked == list(DESCRIBED)
    assert len(records(tmp_path)) == 3
    asked.clear()
    kept = describe(Path(ffmpeg), "test", kept=False)
    signals = gather_signals(kept)  # -hwaccels asked once, kept
    assert kept == fresh and asked == ["-hwaccels"]
    asked.clear()
    assert gather_signals(kept, kept=False) == signals and asked == []
    assert kept.has_libvmaf and "libx264" in kept.encoders


def copied(ffmpeg: str, tmp_path: Path) -> Path:
    """A copy of the real binary of the test's own (never the venv's file: its ctime moves with a link to it)."""
    binary = tmp_path / "bin" / "ffmpeg"
    binary.parent.mkdir()
    shutil.copy2(ffmpeg, binary)
    return binary


@pytest.mark.wide  # a copy of the 170 MB binary
def test_a_binary_at_another_path_is_asked_again(ffmpeg: str, asked: list[str], tmp_path: Path) -> None:
    """The same file at another path (a link of its own, made first: a link moves its file's ctime) is another
    version of the binary: asked again, each version's answers kept apart."""
    binary = copied(ffmpeg, tmp_path)
    other = binary.with_name("elsewhere")
    os.link(binary, other)
    describe(binary, "test")
    asked.clear()
    assert describe(other, "test") == replace(describe(binary, "test"), path=str(other))
    assert asked == [*DESCRIBED, "-version"] and len(records(tmp_path)) == 6  # and the run's -version of `binary`


def _touched(binary: Path) -> None:
    later = binary.stat().st_mtime_ns + 10**9
    os.utime(binary, ns=(later, later))


def _chmodded(binary: Path) -> None:  # only its ctime moves (the system sets it: no one can set it back)
    time.sleep(0.01)
    binary.chmod(0o755 if binary.stat().st_mode & 0o777 != 0o755 else 0o775)


def _grown(binary: Path) -> None:  # an ELF runs with bytes after its end: the same answers, another size
    with binary.open("ab") as fh:
        fh.write(b"\0" * 8)


def _replaced(binary: Path) -> None:  # another file put in its place (another inode), its times and size kept
    st = binary.stat()
    new = binary.with_name("new")
    shutil.copyfile(binary, new)
    new.chmod(0o755)
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    new.replace(binary)


CHANGES: dict[str, Callable[[Path], None]] = {"mtime": _touched, "ctime": _chmodded, "size": _grown,
                                              "inode": _replaced}


# a copy of the 170 MB binary each (~1 s): the fast tier takes the touched one
@pytest.mark.parametrize("change", [pytest.param(c, marks=() if c == "mtime" else pytest.mark.wide)
                                    for c in sorted(CHANGES)])
def test_a_changed_binary_is_asked_again(change: str, ffmpeg: str, asked: list[str], tmp_path: Path) -> None:
    """Each part of a binary's version changed alone (the file edited in place, touched, replaced by another file of
    the same size and times) and it is asked again, whatever it answered before; unchanged, it is not (but a run's
    -version, asked each time: an ffmpeg whose libraries went is found at once), and status asks nothing."""
    binary = copied(ffmpeg, tmp_path)
    first = describe(binary, "test")
    asked.clear()
    assert describe(binary, "test") == first and asked == ["-version"]
    asked.clear()
    assert describe(binary, "test", kept=False) == first and asked == []
    CHANGES[change](binary)
    assert describe(binary, "test") == first and asked == list(DESCRIBED)


def _damages(record: dict[str, Any]) -> dict[str, str | bytes]:
    """A record of the kit's cache as one may find it: cut short, not JSON, another shape, another query's or
    binary's (its name another's), a field of another type."""
    def doc(**change: object) -> str:
        return json.dumps({**record, **change})

    return {"empty": b"", "cut short": doc()[:40], "not json": b"\xff\xfe garbage", "a list": "[]",
            "another key": doc(key="0" * 64), "another query": doc(query="-filters" if record["query"] != "-filters"
                                                                    else "-version"),
            "an unknown query": doc(query="-buildconf"), "answer a number": doc(answer=5),
            "answer missing": json.dumps({k: v for k, v in record.items() if k != "answer"}),
            "answer null": doc(answer=None), "key missing": json.dumps({k: v for k, v in record.items() if k != "key"})}


def test_a_damaged_record_is_asked_again_never_trusted(ffmpeg: str, asked: list[str], tmp_path: Path) -> None:
    """Every damage of a kept answer (_damages) makes it asked again and kept anew: the answer given is ffmpeg's own,
    never the damaged record's."""
    truth = ask_binary(Path(ffmpeg), "-version")
    (path,) = records(tmp_path)
    record = json.loads(path.read_text())
    assert record["answer"] == truth
    for name, damaged in _damages(record).items():
        path.write_bytes(damaged if isinstance(damaged, bytes) else damaged.encode())
        asked.clear()
        assert ask_binary(Path(ffmpeg), "-version") == truth, name
        assert asked == ["-version"], name
        assert json.loads(path.read_text()) == record, name  # kept anew


def test_an_answer_that_fails_is_not_kept(tmp_path: Path, asked: list[str]) -> None:
    """A binary that exits 1 to a query (the system's `false`, a program as ffmpeg is): ToolError, nothing kept, asked
    again next time."""
    failing = tmp_path / "ffmpeg"
    shutil.copy2(shutil.which("false") or "/bin/false", failing)
    for _ in range(2):
        with pytest.raises(ToolError, match="does not run as ffmpeg"):
            ask_binary(failing, "-version")
    assert asked == ["-version", "-version"] and records(tmp_path) == []


def test_a_script_is_asked_each_time(ffmpeg: str, tmp_path: Path, asked: list[str]) -> None:
    """A wrapper script given as ffmpeg (a cluster's module wrapper: `#!/bin/sh` then exec) answers as whatever it
    runs, which its own version does not tell: asked each time, never kept."""
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\nexec "{ffmpeg}" "$@"\n')
    wrapper.chmod(0o755)
    assert describe(wrapper, "test").encoders == describe(Path(ffmpeg), "test").encoders
    asked.clear()
    assert describe(wrapper, "test").has_libvmaf and asked == list(DESCRIBED)
    assert len(records(tmp_path)) == 3  # the real binary's alone


def test_every_query_kept_is_one_the_binary_alone_answers() -> None:
    """What describe and the host's signals ask of ffmpeg is BINARY_QUERIES (the record's rule refuses any other)."""
    assert set(DESCRIBED) | {"-hwaccels"} == set(BINARY_QUERIES)
