"""A large output's sha256 is kept in the kit's cache per version of the file (kit.steps.base.cached_sha256, issue 77:
`status` at most 0.5 s of CPU on an out-dir of any size, where it hashed every output of every step at each call): a
run keeps it, `status` reads it and keeps nothing, and a file changed in any way (its bytes rewritten with its size
and mtime put back, replaced, moved) or a record missing, damaged or of another key is hashed again, never trusted.
Each call here as a new process makes it: this process's own memo of hashes emptied first."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from kit.infra import files
from kit.infra.tree import Tree, read_out_dir
from kit.steps.base import DIGEST_MIN_BYTES, DIGESTS, cached_sha256


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / DIGESTS


def out_dir(tmp_path: Path, size: int = DIGEST_MIN_BYTES) -> tuple[Path, bytes]:
    out = tmp_path / "out"
    (out / "02_corpus").mkdir(parents=True)
    data = os.urandom(size)
    (out / "02_corpus" / "shard.parquet").write_bytes(data)
    return out / "02_corpus" / "shard.parquet", data


def fresh(look: Callable[[], str]) -> str:
    """`look()` as a new process makes it: no hash remembered by this one."""
    files._sha_memo.clear()
    return look()


def as_run(path: Path, out: Path) -> str:
    return fresh(lambda: cached_sha256(Tree.open(out), path))


def as_status(path: Path, out: Path) -> str:
    return fresh(lambda: cached_sha256(read_out_dir(out), path))


def test_a_run_keeps_a_large_output_s_digest_and_status_reads_it(tmp_path: Path, cache: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path, data = out_dir(tmp_path)
    truth = hashlib.sha256(data).hexdigest()
    assert as_status(path, path.parents[1]) == truth and not cache.exists()  # status keeps nothing
    assert as_run(path, path.parents[1]) == truth and len(list(cache.glob("*.json"))) == 1
    hashed: list[Path] = []
    real = Tree.sha256
    monkeypatch.setattr(Tree, "sha256", lambda self, p: hashed.append(p) or real(self, p))
    assert as_status(path, path.parents[1]) == truth and hashed == []  # read, not hashed
    small, _ = out_dir(tmp_path / "small", DIGEST_MIN_BYTES - 1)
    assert as_run(small, small.parents[1]) == hashlib.sha256(small.read_bytes()).hexdigest()
    assert hashed == [small] and len(list(cache.glob("*.json"))) == 1  # a small one hashed each time, kept nowhere


def _rewritten(path: Path) -> None:  # another byte in place, its size and mtime put back: only its ctime tells
    st = path.stat()
    with path.open("r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _replaced(path: Path) -> None:  # other bytes of the same size put in its place, its times put back
    st = path.stat()
    other = path.with_name("other")
    other.write_bytes(os.urandom(st.st_size))
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    other.replace(path)


def _moved(path: Path) -> None:  # the out-dir moved: the same bytes, another path (its digest the same, read anew)
    path.parents[1].rename(path.parents[2] / "moved")


CHANGES = {"rewritten in place": _rewritten, "replaced": _replaced, "out-dir moved": _moved}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_changed_output_is_hashed_again(change: str, tmp_path: Path, cache: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """status says an output was modified exactly as when it hashed every output: the digest of the file as it is
    now, whatever was kept of its earlier version."""
    path, _ = out_dir(tmp_path)
    as_run(path, path.parents[1])
    CHANGES[change](path)
    if change == "out-dir moved":
        path = tmp_path / "moved" / "02_corpus" / "shard.parquet"
    hashed: list[Path] = []
    real = Tree.sha256
    monkeypatch.setattr(Tree, "sha256", lambda self, p: hashed.append(p) or real(self, p))
    assert as_status(path, path.parents[1]) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert hashed == [path]


def test_a_damaged_record_is_hashed_again_never_trusted(tmp_path: Path, cache: Path) -> None:
    path, data = out_dir(tmp_path)
    truth = hashlib.sha256(data).hexdigest()
    as_run(path, path.parents[1])
    (record,) = cache.glob("*.json")
    kept = json.loads(record.read_text())
    lie = "0" * 64
    damages = {"empty": "", "cut short": json.dumps(kept)[:30], "not json": "\x00garbage", "a list": "[]",
               "another key": json.dumps({**kept, "key": "f" * 64, "sha256": lie}),
               "sha256 a number": json.dumps({**kept, "sha256": 5}), "sha256 missing": json.dumps({"key": kept["key"]}),
               "key missing": json.dumps({"sha256": lie}),
               "sha256 not hex": json.dumps({**kept, "sha256": "abc"}),
               "sha256 in capitals": json.dumps({**kept, "sha256": kept["sha256"].upper()})}
    for name, text in damages.items():
        record.write_text(text)
        assert as_status(path, path.parents[1]) == truth, name
        assert as_run(path, path.parents[1]) == truth, name
        assert json.loads(record.read_text()) == kept, name  # kept anew by the run


@pytest.mark.parametrize("size", [DIGEST_MIN_BYTES, DIGEST_MIN_BYTES - 1])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_within_one_process_is_hashed_again_and_kept_as_it_is(change: str, size: int, tmp_path: Path,
                                                                       cache: Path) -> None:
    """Within one process too (a run that looks at an output twice, around someone's edit): the file's every change,
    an edit in place whose size and mtime are put back among them, is hashed again, for an output kept in the cache
    and for one only remembered; and what a run keeps for the new version is its true digest, which a later `status`
    reads."""
    path, _ = out_dir(tmp_path, size)
    files._sha_memo.clear()
    cached_sha256(Tree.open(path.parents[1]), path)  # no fresh(): this process remembers it
    CHANGES[change](path)
    if change == "out-dir moved":
        path = tmp_path / "moved" / "02_corpus" / "shard.parquet"
    truth = hashlib.sha256(path.read_bytes()).hexdigest()
    assert cached_sha256(Tree.open(path.parents[1]), path) == truth
    assert as_status(path, path.parents[1]) == truth
