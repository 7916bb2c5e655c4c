"""Writing a merged corpus into its -o: the checks on -o, the one merge into it at a time, the pair
(the parquet and its manifest) replaced so that a kill at any instant leaves the old pair or the new one.

One merge into one `-o` at a time: while a merge holds the lock file `.<name>.merge-lock` beside -o
(removed when it ends), another one into the same -o is refused at once (exit 2). The renames that replace
the pair are written down first (`.<name>.merge-commit.json`), so a merge killed while replacing is
completed by the next merge into the same -o.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from kit.corpus.manifests import MergeManifest
from kit.corpus.schema import COLUMNS, SCHEMA
from kit.errors import InputError
from kit.infra.faults import kill_point
from kit.infra.files import (
    TMP_MARK,
    new_temp,
    open_temp,
    pid_alive,
    remove_stale,
    replace,
    seal,
    write_json,
)
from kit.infra.locks import LockBusy, locked
from kit.infra.nofollow import check_target
from kit.infra.outside import read_json
from kit.infra.parquet import WRITE_OPTIONS
from kit.infra.records import Record
from kit.rundir import LAYOUT, RunDir, manifest_path

ROW_GROUP_ROWS = 1 << 20
COMMIT_SUFFIX = ".merge-commit.json"
LOCK_SUFFIX = ".merge-lock"
COMMIT_STALE_S = 60.0  # a commit journal older than this belongs to no running merge, whatever its pid

def write_corpus(table: pa.Table, fh: BinaryIO) -> None:
    """The current schema's parquet with fixed settings: equal rows give equal bytes."""
    table = table.select(list(COLUMNS)).cast(SCHEMA).combine_chunks()
    pq.write_table(table, fh, row_group_size=ROW_GROUP_ROWS, **WRITE_OPTIONS)


@dataclass(frozen=True)
class Commit(Record):
    """`.<name>.merge-commit.json` beside -o while the new pair replaces the old one: the renames left to do.

    Written (atomically) once both temporaries are complete; a merge killed before it leaves the old pair,
    one killed after it is completed by the next merge into the same -o, before anything else.
    """

    pid: int
    sha256: str  # of the new parquet
    moves: list[list[str]]  # [temporary, final] names in -o's folder, in the order they are renamed


def commit_journal(out: Path) -> Path:
    return out.with_name(f".{out.name}{COMMIT_SUFFIX}")


def merge_lock(out: Path) -> Path:
    """`.<name>.merge-lock` beside -o: held by the one merge into `out`, from its first look at `out` to its end."""
    return out.with_name(f".{out.name}{LOCK_SUFFIX}")


@contextlib.contextmanager
def writing(out: Path) -> Iterator[None]:
    """This process is the one merge into `out` while inside; another one is refused at once (exit 2)."""
    try:
        with locked(merge_lock(out), tidy=True):
            yield
    except LockBusy as busy:
        raise InputError(f"another merge ({busy.holder}) is writing {out} right now",
                         hint="wait for it to finish, or merge into another -o") from None


def _temp_prefixes(out: Path) -> list[str]:
    return [f"{TMP_MARK}{n}." for n in (out.name, manifest_path(out).name, commit_journal(out).name)]


def recover_output(out: Path) -> list[str]:
    """Finish what a killed merge into `out` left: its commit completed, its temporaries removed.

    Returns a note per thing done. Called under `out`'s merge lock (merge_files), so a journal found is a
    killed merge's; one whose process still runs, written a moment ago, is refused all the same (a merge of a
    kit that took no lock).
    """
    notes: list[str] = []
    journal = commit_journal(out)
    for target in (out, manifest_path(out), journal):  # a planted link is refused before any work, not after it
        check_target(target)
    if journal.is_file():
        try:
            commit = Commit.from_json(read_json(journal), str(journal))
        except (OSError, ValueError):  # written atomically, so never half: not ours, or edited
            commit = None
        try:
            fresh = time.time() - journal.stat().st_mtime < COMMIT_STALE_S  # a live commit lasts milliseconds
        except FileNotFoundError:  # a concurrent merge finished its commit a moment ago: nothing to recover
            return notes
        if commit is not None and commit.pid != os.getpid() and pid_alive(commit.pid) and fresh:
            raise InputError(f"another merge (pid {commit.pid}) is writing {out} right now",
                             hint="wait for it to finish, or merge into another -o")
        for move in commit.moves if commit is not None else []:
            if len(move) == 2 and all(map(_plain_name, move)) and move[0].startswith(TMP_MARK) \
                    and (out.parent / move[0]).is_file():
                replace(out.parent / move[0], out.parent / move[1])
        journal.unlink(missing_ok=True)
        if commit is not None:
            notes.append(f"completed the interrupted merge into {out} (it was killed while replacing its files)")
    removed = sum(remove_stale(out.parent, prefix) for prefix in _temp_prefixes(out))
    if removed:
        notes.append(f"removed {removed} temporary file(s) of a killed merge beside {out}")
    return notes


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def commit_pair(table: pa.Table, out: Path, manifest_of: Callable[[Path], MergeManifest]) -> MergeManifest:
    """Write the parquet and its manifest so that a kill at any instant leaves the old pair or the new one."""
    temps = [new_temp(out), new_temp(manifest_path(out))]
    committed = False
    try:
        with open_temp(temps[0]) as fh:  # written through the file new_temp made, never a link in its place
            write_corpus(table, fh)
        kill_point("merge-writing")
        seal(temps[0])
        manifest = manifest_of(temps[0])
        with open_temp(temps[1]) as fh:
            fh.write((json.dumps(manifest.to_json(), indent=2, default=str) + "\n").encode())
        seal(temps[1])
        moves = [[temps[0].name, out.name], [temps[1].name, manifest_path(out).name]]
        write_json(commit_journal(out), Commit(os.getpid(), manifest.sha256, moves).to_json())
        committed = True  # from here on the renames are written down: a failure leaves them to the next merge
        kill_point("merge-committed")
        replace(temps[0], out)
        kill_point("merge-renamed")
        replace(temps[1], manifest_path(out))
        commit_journal(out).unlink()
    finally:
        for tmp in temps if not committed else []:
            tmp.unlink(missing_ok=True)
    return manifest

def _stands_for(given: Path, read: Path) -> list[tuple[Path, str]]:
    """The files an input is or stands for, each with its name for a message: the file read (for a run directory,
    its shard), and for a results tarball in a run's bundle folder, that run's own shard, which it packs."""
    found = [(read, f"the input {given}" if read == given else f"the corpus of the input {given} ({read})")]
    if read.parent.name == LAYOUT.step("bundle").name and read.name.endswith(".tar.gz"):
        run = RunDir(read.parent.parent)
        found.append((run.shard, f"the shard of the run {run.root}, which the input {given} packs"))
    return found


def same_file(a: Path, b: Path) -> bool:
    """One path spelled twice (`x/../m.parquet`, through a linked folder) or one file under two names (a hard link)."""
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_output(out: Path, inputs: Sequence[tuple[Path, Path]]) -> None:
    """Refuse an -o that would write over something the user gave the merge: -o must be a new parquet file of
    its own, not an input (same path or same file), the corpus a run directory stands for, or a run's shard
    that a results tarball of that run packs; nor may its manifest land on an input.

    `inputs` are (as given, the file read): a run directory is read as its 02_corpus/shard.parquet.
    """
    if not out.name.lower().endswith(".parquet") or out.name.lower() == ".parquet":
        raise InputError(f"-o {out}: a merged corpus is a parquet file, and its name must end in .parquet; "
                         "nothing was written",
                         hint="name a new file, e.g. -o merged.parquet (merge never writes over its inputs)")
    for target in (out, manifest_path(out)):
        for given, read in inputs:
            for path, what in _stands_for(given, read):
                if not same_file(target, path):
                    continue
                how = "is" if target == out else f"would write its manifest {target.name} over"
                alias = "" if os.path.abspath(target) == os.path.abspath(path) else \
                    " (the same file under another name: a hard link, or a path through a linked folder)"
                raise InputError(f"-o {out} {how} {what}{alias}; the merge would replace it, so nothing was written",
                                 hint="merge into a new file, e.g. -o merged.parquet, and move it into place "
                                      "yourself once you have checked it")
