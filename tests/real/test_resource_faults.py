"""Faults named by their cause (issue 24 F): the box's limits and where the output goes, with real faults.

Each ends with exit 2 and one `error:` line naming the real cause (not "internal error", "ffmpeg is broken",
"check that the program exists" or "choose another --out-dir"), a hint, and nothing finished lost. The
limits are set with the shell's `ulimit` in the child alone; the full disk is a small tmpfs, the full
standard output /dev/full.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pace
from tests.conftest import FAST, LENIENT, ROOT, assert_clean_failure, run_kit


def kit_args(refs: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--ref-dir", str(refs), "--out-dir", str(out), *FAST, *LENIENT, *extra]


def run_limited(ulimit: str, args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    """The kit under `ulimit <ulimit>` (set in a shell that then execs it: the limit is the kit's alone)."""
    return pace.run(["bash", "-c", f'ulimit {ulimit} && exec "$0" "$@"', sys.executable, "-m", "kit", *args],
                    cwd=ROOT, capture_output=True, text=True, timeout=300,
                    env={**os.environ, "PYTHONPATH": str(ROOT)}, **kw)  # type: ignore[call-overload]


def run_guarded(code: str, ulimit: str) -> subprocess.CompletedProcess[str]:
    """`code` (the body of a function) run under the kit's guard in a child Python under `ulimit <ulimit>`."""
    program = "from kit.cli.guard import guarded\ndef fn():\n" + textwrap.indent(textwrap.dedent(code), "    ") + \
        "\n    return 0\nguarded(fn, retry=False)\n"
    return pace.run(["bash", "-c", f'ulimit {ulimit} && exec "$0" -c "$1"', sys.executable, program],
                    cwd=ROOT, capture_output=True, text=True, timeout=120,
                    env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_an_address_space_the_kit_cannot_live_in_is_refused_before_any_work(tiny_refs: Path, tmp_path: Path) -> None:
    res = run_limited("-v 800000", kit_args(tiny_refs, tmp_path / "out"))
    # was exit 70, "internal error (a bug)" (ArrowMemoryError, "failed to map segment"), or here a SIGSEGV
    assert_clean_failure(res, "the address-space limit (ulimit -v) is 781.2 MiB", "below the 2.5 GiB")
    assert "ulimit -v unlimited" in res.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was made


@pytest.mark.parametrize("code", ["import pyarrow as pa\npa.allocate_buffer(1 << 31)",
                                  "bytearray(1 << 31)"], ids=["ArrowMemoryError", "MemoryError"])
def test_memory_running_out_mid_run_is_named(code: str) -> None:
    res = run_guarded("import pyarrow, resource\n" + code, "-v 2000000")  # after the imports: 2 GiB never fits
    assert_clean_failure(res, "out of memory (the address-space limit, ulimit -v, is 1.9 GiB)")
    assert "MemoryError" in res.stderr  # what failed, after the cause


def test_a_thread_that_cannot_start_names_the_process_limit() -> None:
    """root is exempt from ulimit -u, so the failure Python raises when it hits it is raised here as it is."""
    res = run_guarded("raise RuntimeError(\"can't start new thread\")", "-u 4000")
    assert_clean_failure(res, "cannot start a thread (the limit on processes and threads, ulimit -u, is 4000)")
    assert "ulimit -u" in res.stderr.split("hint: ", 1)[1]


def test_standard_output_on_a_full_device_is_named_not_the_out_dir(tiny_refs: Path, tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        res = pace.run([sys.executable, "-m", "kit", *kit_args(tiny_refs, tmp_path / "out")], cwd=ROOT,
                       stdout=full, stderr=subprocess.PIPE, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    res.stdout = ""
    # was "disk full while writing an output … (or choose another --out-dir)"
    assert_clean_failure(res, "cannot write to standard output: no space left on device")
    assert "the out-dir is fine" in res.stderr and "choose another --out-dir" not in res.stderr


def test_the_file_size_limit_is_named_not_a_broken_ffmpeg(tiny_refs: Path, tmp_path: Path) -> None:
    res = run_limited("-f 60", kit_args(tiny_refs, tmp_path / "out"))
    # was "ffmpeg cannot render a test clip … the ffmpeg in use is broken"
    assert_clean_failure(res, "was killed (SIGXFSZ) as it wrote a file: past the file-size limit (ulimit -f) of 60 KiB")
    assert "ulimit -f unlimited" in res.stderr and "broken" not in res.stderr


def test_the_kit_s_own_write_past_the_file_size_limit_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "big.json"
    res = run_guarded(f"from pathlib import Path\nfrom kit.infra.tree import Tree\n"
                      f"Tree.open(Path({str(tmp_path)!r})).write_bytes(Path({str(target)!r}), bytes(200_000))",
                      "-f 60")
    assert_clean_failure(res, f"cannot write {target}: past the file-size limit (ulimit -f) of 60 KiB")
    assert not target.exists() and list(tmp_path.iterdir()) == []  # no half-written file either


def test_too_many_open_files_is_named_not_a_missing_program(tiny_refs: Path, tmp_path: Path) -> None:
    res = run_limited("-n 12", kit_args(tiny_refs, tmp_path / "out"))
    # was "cannot start …: Too many open files" with "check that the program exists and is executable"
    assert_clean_failure(res, "too many open files (the limit, ulimit -n, is 12): cannot start")
    assert "ulimit -n 4096" in res.stderr and "exists" not in res.stderr


def test_an_out_dir_deleted_mid_run_stops_the_run_and_is_not_made_again(tiny_refs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "kit", *kit_args(tiny_refs, out, "--cqs", "14,18,22,26,30,34,38,42",
                                                                    "--jobs", "1")],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    jobs = out / "02_corpus" / "jobs"
    pace.until(lambda: jobs.is_dir() and list(jobs.glob("*.json")), 60, poll_s=0.02)  # tests/pace.py
    gone = tmp_path / "deleted"
    out.rename(gone)  # `rm -rf OUT`, as one instant (a recursive delete races with the kit's new files)
    shutil.rmtree(gone, ignore_errors=True)  # the kit may still be writing a file in it
    stdout, stderr = pace.communicate(proc, 120)
    res = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    # was "libx264 encode failed (exit 0): kb/s:252.19", while the run made 02_corpus/jobs/ again and went on. Until
    # 2.0 the failure named the out-dir as deleted; issue 55 dropped that promise: now it is a clean exit 2, naming
    # what could not be written (the folder that went, or the encodes ffmpeg could not write there)
    assert_clean_failure(res)
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs whose size the test sets: a real ENOSPC where it chooses."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1100m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


def resize(disk: Path, kib: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={kib}k", str(disk)], check=True)


def used_kib(disk: Path) -> int:
    st = os.statvfs(disk)
    return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024


@pytest.mark.slow  # two whole runs
def test_a_full_disk_in_the_bundle_names_the_file_and_keeps_the_rest(tiny_refs: Path, small_disk: Path) -> None:
    out = small_disk / "out"
    first = run_kit(*kit_args(tiny_refs, out, "--only", "prereqs"))  # it wants 1 GiB free: the tmpfs has it
    assert first.returncode == 0, first.stderr
    resize(small_disk, 16 * 1024)
    first = run_kit(*kit_args(tiny_refs, out))
    assert first.returncode == 0, first.stderr
    tarball_kib = next((out / "05_bundle").glob("results-*.tar.gz")).stat().st_size // 1024
    shutil.rmtree(out / "05_bundle")
    resize(small_disk, used_kib(small_disk) + 2 * tarball_kib)  # the bundle (models, report, tarball) does not fit
    res = run_kit(*kit_args(tiny_refs, out))
    # was "disk full while writing an output"; the folder named with its role since issue 98
    assert_clean_failure(res, f"no space left on {out} (out-dir), writing {out / '05_bundle'}/")
    assert "an output" not in res.stderr
    resize(small_disk, 16 * 1024)
    again = run_kit(*kit_args(tiny_refs, out))
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skipped: up to date") == 4, again.stdout  # only the bundle is redone
