"""The kit's own records and caches, damaged in every way a crash, a bad copy or a stray edit can
damage them: each is treated as absent and rebuilt, the rerun completes and says so, `status` works.

Each case reads or reruns a copy of a whole out-dir. The readers themselves take every damage in the unit tests
(tests/unit/test_control_records.py, test_records.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FAST, LENIENT, run_kit

pytestmark = pytest.mark.slow  # reruns of a whole out-dir


def truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def wrong_shape(path: Path) -> None:
    path.write_text("[]")


def wrong_types(path: Path) -> None:
    data = json.loads(path.read_text())
    swap = {dict: [], list: {"x": 1}, str: 12, int: "twelve", float: [1.5], bool: "yes"}
    path.write_text(json.dumps({k: swap.get(type(v)) for k, v in data.items()}))


def garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xff\xfe\x89PNG\r\n\x1a\n" + bytes(range(256)))


def empty(path: Path) -> None:
    path.write_bytes(b"")


def nested_list(path: Path) -> None:  # the case: valid JSON, `outputs` (or the first object) a list
    data = json.loads(path.read_text())
    key = "outputs" if "outputs" in data else next(k for k, v in data.items() if isinstance(v, dict | list))
    data[key] = list(data[key]) if isinstance(data[key], dict) else {"x": data[key]}
    path.write_text(json.dumps(data))


DAMAGE: dict[str, Callable[[Path], None]] = {"truncated": truncated, "wrong-shape": wrong_shape,
                                             "wrong-types": wrong_types, "garbage": garbage, "empty": empty,
                                             "nested-list": nested_list}
RECORDS = {"prereqs status": "01_prereqs/status.json", "corpus status": "02_corpus/status.json",
           "loso status": "03_loso/status.json", "run.json": "run.json", "prereqs.json": "01_prereqs/prereqs.json",
           "job ledger": "02_corpus/jobs/*.json"}


@pytest.fixture(scope="module")
def finished(json_run: tuple[Path, object], tiny_refs: Path) -> tuple[Path, list[str | Path]]:
    """The session's finished run and the arguments that made it (every test damages a copy of it)."""
    args: list[str | Path] = ["run", "--ref-dir", tiny_refs, "--box-id", "jsonbox", *FAST, *LENIENT]
    return json_run[0], args


def damaged_copy(finished: tuple[Path, list[str | Path]], tmp_path: Path, record: str, how: str) -> Path:
    out = tmp_path / "out"
    shutil.copytree(finished[0], out)
    (target,) = sorted(out.glob(RECORDS[record]))[:1]
    DAMAGE[how](target)
    return out


# what `status` reads: every step's status.json and run.json (a ledger is the corpus step's own detail)
STATUS_CASES = ([("corpus status", h) for h in sorted(DAMAGE)] + [("run.json", h) for h in sorted(DAMAGE)]
                + [("prereqs status", "wrong-shape"), ("loso status", "truncated")])
RERUN_CASES = [("prereqs status", "garbage"), ("corpus status", "nested-list"), ("loso status", "empty"),
               ("run.json", "wrong-shape"), ("prereqs.json", "truncated"), ("prereqs.json", "wrong-types"),
               ("job ledger", "wrong-shape"), ("job ledger", "wrong-types")]
CACHE_CASES = [(cache, how) for how in ("truncated", "wrong-shape", "garbage", "wrong-types")
               for cache in ("hash cache", "probe cache")]


@pytest.mark.parametrize(("record", "how"), STATUS_CASES)
def test_status_reads_a_damaged_record_as_absent(record: str, how: str, tmp_path: Path,
                                                 finished: tuple[Path, list[str | Path]]) -> None:
    out = damaged_copy(finished, tmp_path, record, how)
    res = run_kit("status", out)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stdout + res.stderr
    assert "damaged" in res.stdout or "unreadable" in res.stdout, res.stdout


@pytest.mark.parametrize(("record", "how"), RERUN_CASES)
def test_a_rerun_rebuilds_a_damaged_record_and_completes(record: str, how: str, tmp_path: Path,
                                                         finished: tuple[Path, list[str | Path]]) -> None:
    out = damaged_copy(finished, tmp_path, record, how)
    res = run_kit(*finished[1], "--out-dir", out)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    assert "Traceback" not in res.stderr
    logs = "".join(p.read_text() for p in out.glob("0*/logs/*.log"))
    if record.endswith("status"):
        assert "status.json is damaged" in res.stdout + logs
    if record == "job ledger":
        assert "1 already done" not in res.stdout  # the damaged job was redone, the others reused
    again = run_kit("status", out)
    assert again.returncode == 0 and "stale" not in again.stdout and "pending" not in again.stdout, again.stdout


CACHES = {"probe cache": "probes/*.json", "hash cache": "sha256.json"}


@pytest.mark.parametrize(("cache", "how"), CACHE_CASES)
def test_a_damaged_cache_is_rebuilt(cache: str, how: str, tmp_path: Path, tiny_refs: Path,
                                    finished: tuple[Path, list[str | Path]]) -> None:
    env = {"KIT_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    if cache == "hash cache":  # a copy of the finished run: its corpus step, run again, hashes the clips into the cache
        shutil.copytree(finished[0], out)
        args: list[str | Path] = [*finished[1], "--only", "corpus", "--out-dir", out]
    else:
        args = ["run", "--only", "prereqs", "--ref-dir", tiny_refs, "--out-dir", out, *FAST]
    first = run_kit(*args, env=env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr
    (target,) = sorted((tmp_path / "cache").glob(CACHES[cache]))
    DAMAGE[how](target)
    # prereqs must probe again to read the probe cache; the corpus plan hashes the clips on every run
    res = run_kit(*args, *(["--force"] if cache == "probe cache" else []), env=env)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stdout[-2000:] + res.stderr
    json.loads(target.read_text())  # rewritten whole
    if cache == "probe cache":
        logs = "".join(p.read_text() for p in (tmp_path / "out").glob("0*/logs/*.log"))
        assert "rebuilt" in logs or "probed again" in logs, logs[-3000:]


def test_a_demo_clip_cut_short_in_the_cache_is_rendered_again(tmp_path: Path) -> None:
    env = {"KIT_CACHE_DIR": str(tmp_path / "cache")}
    # three demo clips (the fewest contents the corpus step takes) at one cq, each encoded once: the check is the
    # cache's, a clip cut short in it rendered again
    args: list[str | Path] = ["run", "--out-dir", tmp_path / "out", "--demo-clips", "3", "--demo-seconds", "0.4",
                              *FAST, "--cqs", "25"]
    assert run_kit(*args, "--only", "prereqs", env=env).returncode == 0
    first = run_kit(*args, "--only", "corpus", env=env)
    assert first.returncode == 0, first.stderr
    clips = sorted((tmp_path / "cache").glob("demo-*/*.y4m"))
    whole = clips[0].read_bytes()
    truncated(clips[0])
    res = run_kit(*args, "--only", "corpus", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "--ref-dir" not in res.stderr and "damaged" in res.stdout + res.stderr, res.stdout
    assert clips[0].read_bytes() == whole  # rendered again, byte for byte
    assert "up to date" in res.stdout  # the same content: the corpus stands
