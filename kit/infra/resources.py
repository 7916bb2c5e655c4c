"""The box's limits (memory, open files, threads, a file's size), named when a fault comes from one: `resource_error`
turns such a fault into one line naming the limit and how to lift it (exit 2).

`give_back_memory` hands what a phase freed back to the system (arrow's pool, glibc's arenas) before the next, so a
phase's peak never carries an earlier one's freed memory (bench/README.md).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from dataclasses import dataclass

from kit.errors import ResourceLimit
from kit.infra.variables import MEMORY_CHECK

MIN_ADDRESS_SPACE = int(2.5 * 2**30)  # below it pyarrow crashed the process with SIGSEGV, which no message explains
OUT_OF_MEMORY_SIGNS = ("failed to map segment", "cannot allocate memory", "can't allocate memory",
                       "std::bad_alloc")
NO_THREAD_SIGN = "can't start new thread"  # the process limit (ulimit -u, a container's pids.max), or memory
LIFT = "and rerun; finished work is kept"
MEMORY_HINT = f"free memory (close other programs) {LIFT}"
# the same, as a command with --jobs says it (KitError.by_flag: a hint never names a flag its command lacks)
MEMORY_BY_FLAG = (("--jobs", f"free memory (close other programs, or run fewer --jobs) {LIFT}"),)


def _limit(which: str) -> int | None:
    """The soft limit in bytes (or files), None when there is none (Windows has no rlimits)."""
    if sys.platform == "win32":
        return None
    import resource

    soft = resource.getrlimit(getattr(resource, which))[0]
    return None if soft == resource.RLIM_INFINITY else soft


def size_text(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


def require_address_space() -> None:
    """Refuse, before any work, an address-space limit the kit cannot run in."""
    limit = _limit("RLIMIT_AS")
    if limit is not None and limit < MIN_ADDRESS_SPACE:
        raise ResourceLimit(f"the address-space limit (ulimit -v) is {size_text(limit)}, below the "
                            f"{size_text(MIN_ADDRESS_SPACE)} the kit needs: torch and pyarrow reserve far more "
                            f"address space than they use",
                            hint=f"raise it (ulimit -v unlimited, or at least ulimit -v {MIN_ADDRESS_SPACE // 1024}) "
                                 f"{LIFT}")


def out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
        return True  # pyarrow's ArrowMemoryError and numpy's are MemoryErrors
    text = str(exc).lower()
    return isinstance(exc, ImportError | OSError | RuntimeError) and any(s in text for s in OUT_OF_MEMORY_SIGNS)


def memory_error(what: str) -> ResourceLimit:
    limit = _limit("RLIMIT_AS")
    if limit is None:
        return ResourceLimit(f"out of memory: {what}", hint=MEMORY_HINT, by_flag=MEMORY_BY_FLAG)
    return ResourceLimit(f"out of memory (the address-space limit, ulimit -v, is {size_text(limit)}): {what}",
                         hint=f"raise the limit (ulimit -v unlimited) {LIFT}")


def open_files_error(what: str, err: int = errno.EMFILE) -> ResourceLimit:
    if err == errno.ENFILE:
        return ResourceLimit(f"the system's table of open files is full: {what}",
                             hint=f"close other programs (or raise fs.file-max) {LIFT}")
    limit = _limit("RLIMIT_NOFILE")
    shown = f" (the limit, ulimit -n, is {limit})" if limit is not None else ""
    return ResourceLimit(f"too many open files{shown}: {what}", hint=f"raise the limit (ulimit -n 4096) {LIFT}")


def file_size_error(what: str) -> ResourceLimit:
    """`what` ("cannot write X", "ffmpeg was killed ...") ran into the file-size limit, or the file system's."""
    limit = _limit("RLIMIT_FSIZE")
    if limit is None:
        return ResourceLimit(f"{what}: the file is too large for its file system",
                             hint=f"write it on a file system that holds larger files {LIFT}",
                             by_flag=(("--out-dir", f"choose an --out-dir on a file system that holds larger files "
                                                    f"{LIFT}"),
                                      ("-o", f"give -o a file on a file system that holds larger files {LIFT}")))
    return ResourceLimit(f"{what}: past the file-size limit (ulimit -f) of {size_text(limit)}",
                         hint=f"raise the limit (ulimit -f unlimited) {LIFT}")


def killed_by_file_size(returncode: int) -> bool:
    """A child that SIGXFSZ ended (it wrote past the file-size limit), directly or as its shell reports it."""
    xfsz = getattr(signal, "SIGXFSZ", None)
    return xfsz is not None and returncode in (-xfsz, 128 + xfsz)


def resource_error(exc: BaseException, what: str | None = None) -> ResourceLimit | None:
    """The box's limit behind `exc`, named, with `what` failed (by default the exception); None if none is."""
    if isinstance(exc, ResourceLimit):
        return exc
    filename = os.fsdecode(exc.filename) if isinstance(exc, OSError) and exc.filename else None
    said = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        return open_files_error(what or (f"cannot open {filename}" if filename else said), exc.errno)
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return file_size_error(what or (f"cannot write {filename}" if filename else said))
    if isinstance(exc, RuntimeError) and NO_THREAD_SIGN in str(exc).lower():
        return thread_error(what or said)
    if out_of_memory(exc):
        return memory_error(what or said)
    return None


def thread_error(what: str) -> ResourceLimit:
    """A thread that cannot start: on a cluster node most often the limit on processes, else memory."""
    limit = _limit("RLIMIT_NPROC")
    shown = f" (the limit on processes and threads, ulimit -u, is {limit})" if limit is not None else ""
    start = "raise the limit (ulimit -u), or the container's pids limit, or free memory (close other programs"
    return ResourceLimit(f"cannot start a thread{shown}: {what}", hint=f"{start}) {LIFT}",
                         by_flag=(("--jobs", f"{start}, or run fewer --jobs) {LIFT}"),))


def box_memory() -> tuple[int | None, int | None]:
    """(the memory this process may use in all: the box's, or its cgroup's limit where lower; what is free of it now),
    in bytes; None where the system does not say (not Linux)."""
    total = free = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            info = {k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in fh) if v.split()}
    except (OSError, ValueError):
        return None, None
    total, free = info.get("MemTotal"), info.get("MemAvailable")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):  # cgroup v2, v1
        try:
            with open(path, encoding="ascii") as fh:
                limit = fh.read().strip()
        except OSError:
            continue
        if limit.isdigit() and total is not None and int(limit) < total:
            total, free = int(limit), min(free or int(limit), int(limit))
        break
    return total, free


# over a measured peak line: the rounds' spread (4 to 6 %), the points between and another box's allocator
PEAK_MARGIN = 1.15


@dataclass(frozen=True)
class PeakLine:
    """A command's peak resident memory, as a line through its measured peaks: what no input changes (the libraries)
    and what each row of its corpus adds at the peak."""

    fixed: int
    per_row: int

    def at(self, rows: int) -> int:
        """The peak on `rows` rows, with PEAK_MARGIN."""
        return round((self.fixed + self.per_row * rows) * PEAK_MARGIN)


def memory_checked() -> bool:
    """KIT_MEMORY_CHECK: on (the default) refuses work whose estimated peak is more memory than the box has."""
    return MEMORY_CHECK.read() is True


@dataclass(frozen=True)
class Shortfall:
    """Why this box cannot give a command the memory it needs: in all ("more than the 15 GiB of this box"), or now
    ("3 GiB of this box's 15 GiB is free now")."""

    why: str
    in_all: bool

    @property
    def refused(self) -> bool:
        """Less in all, and KIT_MEMORY_CHECK on: the command refuses (off: it runs, and says so)."""
        return self.in_all and memory_checked()


def memory_short(need: int) -> Shortfall | None:
    """Why this box cannot give `need` bytes; None where it can, or where the system does not say."""
    total, free = box_memory()
    if total is not None and need > total:
        return Shortfall(f"more than the {size_text(total)} of this box", in_all=True)
    if total is not None and free is not None and need > free:
        return Shortfall(f"{size_text(free)} of this box's {size_text(total)} is free now", in_all=False)
    return None


def give_back_memory() -> None:
    """Hand memory the process holds but no longer uses back to the system, after a phase that freed much of it:
    arrow's pool (mimalloc or jemalloc keep what a table's temporaries freed: 1.6 GiB after reading a 3,000,000-row
    corpus) and, on glibc, malloc's arenas (the training threads' freed tensors and arrays stay in their arenas
    otherwise: malloc_trim). Without it the peak of a later phase carried the freed memory of every earlier one."""
    if (arrow := sys.modules.get("pyarrow")) is not None:
        arrow.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        import ctypes

        try:  # the C library the process runs on, by its own symbols (no search of the system's libraries)
            trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
        except OSError:
            trim = None
        if trim is not None:  # musl has none: nothing to give back this way
            trim(0)
