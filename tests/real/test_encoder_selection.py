"""Encoder selection end to end: asked-for encoders make the corpus, a failing one is
refused with its real reason, `auto` survives a GPU without NVENC, and corpus jobs
keep a session cap while the scoring stays parallel."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import re
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kit.corpus.jobs import JobRunner, Provenance, plan_jobs
from kit.infra import typed
from kit.infra.host import cpu_name
from kit.infra.invocation import kit_command
from kit.infra.tree import Tree, read_out_dir
from kit.media.cache import Sha256Cache
from kit.media.discovery import discover
from kit.rundir import RunDir
from tests.conftest import (
    FAST,
    LENIENT,
    ROOT,
    TINY_FRAMES,
    TINY_SOURCES,
    assert_clean_failure,
    copy_prereqs,
    run_here,
    run_kit,
)

NO_GPU_HERE = not Path("/dev/dri").exists() and not any(
    (Path(p) / "nvidia-smi").exists() for p in os.environ.get("PATH", "").split(os.pathsep))


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.mark.slow
def test_two_named_encoders_make_one_corpus_with_both(tiny_refs: Path, tmp_path: Path) -> None:
    """The prereqs and corpus steps of a run (`run` would go on to train on the corpus: nothing this test reads)."""
    out = tmp_path / "out"
    said = ""
    for step in ("prereqs", "corpus"):
        res = run_kit("step", step, "--ref-dir", tiny_refs, "--out-dir", out, "--encoders", "libx264,libx265", *FAST,
                      *LENIENT)
        assert res.returncode == 0, res.stdout + res.stderr
        said += res.stdout
    prereqs = json.loads((out / "01_prereqs" / "prereqs.json").read_text())
    assert prereqs["requested_encoders"] == prereqs["resolved_encoders"] == ["libx264", "libx265"]
    assert all(prereqs["encoders"][e]["available"] and prereqs["encoders"][e]["fps"] > 0
               for e in ("libx264", "libx265"))
    df = pq.read_table(out / "02_corpus" / "shard.parquet").to_pandas()
    assert set(df["encoder"]) == {"libx264", "libx265"}
    assert len(df) == len(TINY_SOURCES) * 2 * 2 * TINY_FRAMES  # clips x encoders x cqs x frames
    assert set(df["device"]) == {typed.device(prereqs["host"]["cpu"])}  # software rows name the CPU, typed (issue 96)
    manifest = json.loads((out / "02_corpus" / "shard.manifest.json").read_text())
    assert manifest["encoders"] == ["libx264", "libx265"]
    cpu = typed.device(prereqs["host"]["cpu"])  # typed, as the corpus records it (issue 96)
    assert manifest["devices"] == {"libx264": cpu, "libx265": cpu}
    assert "libx265" in said and "corpus uses libx264, libx265" in said


@pytest.mark.skipif(not NO_GPU_HERE, reason="needs a box without a GPU (nvidia-smi or /dev/dri is here)")
def test_a_named_encoder_that_fails_its_probe_exits_2_with_the_real_reason(tiny_refs: Path, tmp_path: Path) -> None:
    res = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", tmp_path / "out", "--encoders", "libx264,h264_nvenc",
                  *FAST, env={"KIT_CACHE_DIR": str(tmp_path / "cache")})
    assert_clean_failure(res, "encoder h264_nvenc does not work on this box", "Cannot load libcuda.so.1")
    hint = next(ln for ln in res.stderr.splitlines() if ln.startswith("hint: "))
    assert "NVIDIA driver" in hint and "drop h264_nvenc from --encoders" in hint
    assert not (tmp_path / "out" / "02_corpus" / "shard.parquet").exists()
    # the step log holds every probe command line and the failing one's stderr, to reproduce by hand
    log = (tmp_path / "out" / "01_prereqs" / "logs" / "prereqs.log").read_text()
    probe_lines = [ln for ln in log.splitlines() if " $ " in ln]
    assert any("-c:v h264_nvenc" in ln for ln in probe_lines)
    assert any("libvmaf=" in ln for ln in probe_lines) and any("-c:v libx264" in ln for ln in probe_lines)
    assert "Cannot load libcuda.so.1" in log
    assert re.search(r"ffmpeg \S+ \(from [^)]+\): .*libvmaf filter: yes; video encoders: .*h264_nvenc", log)
    assert "host signals: {" in log


def test_auto_on_a_gpu_without_nvenc_says_nvenc_unavailable_and_keeps_libx264(
        ffmpeg: str, tmp_path: Path) -> None:
    """nvidia-smi answers (an H100), but NVENC's test encode fails as it does on data-centre GPUs."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _script(bindir / "nvidia-smi", 'echo "0, NVIDIA H100 80GB HBM3, 550.54.15"\n')
    wrapper = _script(tmp_path / "ffmpeg-h100", (
        'case " $* " in *"_nvenc "*)\n'
        '  echo "[h264_nvenc @ 0x5581] OpenEncodeSessionEx failed: unsupported device (2): (no details)" >&2\n'
        '  echo "[h264_nvenc @ 0x5581] No capable devices found" >&2\n'
        '  echo "Conversion failed!" >&2; exit 187;;\n'
        f"esac\nexec '{ffmpeg}' \"$@\"\n"))
    out = tmp_path / "out"
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "KIT_CACHE_DIR": str(tmp_path / "cache")}
    res = run_kit("step", "prereqs", "--out-dir", out, "--ffmpeg", wrapper, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"NVENC unavailable: test encode failed: exit code \d+: OpenEncodeSessionEx failed: unsupported "
                     r"device \(2\)", res.stdout), res.stdout
    assert "no NVENC engine" in res.stdout and "NVIDIA H100 80GB HBM3 (driver 550.54.15)" in res.stdout
    prereqs = json.loads((out / "01_prereqs" / "prereqs.json").read_text())
    assert prereqs["requested_encoders"] == ["auto"] and prereqs["resolved_encoders"] == ["libx264"]
    assert [f["key"] for f in prereqs["families"]] == ["nvidia", "cpu"]
    assert not prereqs["encoders"]["av1_nvenc"]["available"]


@pytest.mark.slow  # a whole run first
def test_corpus_refuses_prereqs_made_for_other_encoders(x264_run: Path, tmp_path: Path) -> None:
    # the session's x264_run made its prereqs step with --encoders libx264
    assert json.loads((x264_run / "01_prereqs" / "prereqs.json").read_text())["requested_encoders"] == ["libx264"]
    copy_prereqs(x264_run, tmp_path / "out")
    res = run_kit("step", "corpus", "--out-dir", tmp_path / "out", "--encoders", "libx265")
    assert_clean_failure(res, "01_prereqs was run for --encoders libx264, not libx265")


COUNTING_FFMPEG = """\
log={log}
case " $* " in *" -c:v "*) kind=enc;; *) kind=score;; esac
mkdir "{active}/$kind.$$"
echo "$kind $(ls {active} | grep -c '^enc') $(ls {active} | wc -l)" >> "$log"
sleep 0.3
'{ffmpeg}' "$@"; rc=$?
rmdir "{active}/$kind.$$"
exit $rc
"""


def test_a_session_cap_of_one_is_never_exceeded_while_scoring_runs_in_parallel(
        ffmpeg: str, tiny_refs: Path, tmp_path: Path) -> None:
    active, log = tmp_path / "active", tmp_path / "concurrency.log"
    active.mkdir()
    slow = _script(tmp_path / "slow-ffmpeg", COUNTING_FFMPEG.format(log=log, active=active, ffmpeg=ffmpeg))
    clips = discover(tiny_refs, ffmpeg, Sha256Cache(None))
    prov = Provenance("box", "linux-x86_64", cpu_name(), str(slow), "9", "9+x", "3.0")
    runner = JobRunner(ffmpeg=str(slow), prov=prov, tree=Tree.open(tmp_path), jobs_dir=tmp_path / "jobs",
                       work_dir=tmp_path / "work",
                       vmaf_threads=1, encoder_threads=1, sessions={"libx264": threading.Semaphore(1)},
                       log=lambda line: None)
    (tmp_path / "jobs").mkdir()
    jobs = plan_jobs(clips, {"libx264": [25, 37]})
    with cf.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(runner.run, jobs))
    assert [r.rows for r in results] == [TINY_FRAMES] * len(jobs)
    records = [ln.split() for ln in log.read_text().splitlines()]
    encodes = [int(enc) for kind, enc, _ in records if kind == "enc"]
    assert len(encodes) == len(jobs) and max(encodes) == 1  # never two encodes at once
    assert max(int(total) for _, _, total in records) >= 2  # scoring overlapped other work


def test_auto_names_the_opt_in_encoders_it_leaves_out_with_the_command_that_tests_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 54: `--encoders auto` used libx264 alone while `detect` showed libx265 and libsvtav1 working, and nothing
    said so. Never tested on this box (a fresh cache): the check row and the summary give the command that tests
    them (tests/real/test_commands_as_printed.py runs it), and nothing more is encoded for them."""
    from kit.report.summary import left_out_lines

    out = tmp_path / "out"
    monkeypatch.chdir(ROOT)
    res = run_here("step", "prereqs", "--out-dir", out, env={"KIT_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 0, res.stderr
    record = json.loads(RunDir(out).prereqs_json.read_text())
    assert record["resolved_encoders"] == ["libx264"] and record["left_out"] == []
    assert record["untested"] == ["libx265", "libsvtav1"] and set(record["encoders"]) == {"libx264"}
    command = kit_command("detect", "--encoders", "libx265,libsvtav1")
    assert (f"[01 prereqs] opt-in    skip  libx265, libsvtav1: --encoders auto leaves them out, and no test encode "
            f"has tried them here yet - hint: test them with `{command}`, then add those that work with --encoders "
            "libx264,libx265,libsvtav1") in res.stdout.splitlines(), res.stdout
    with read_out_dir(out) as tree:
        ((said, shown),) = left_out_lines(tree, out)
    assert shown == command and "libx265, libsvtav1" in said and "--encoders libx264,libx265,libsvtav1" in said
