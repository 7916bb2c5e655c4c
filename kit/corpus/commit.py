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
from kit.infra.files import TMP_MARK, pid_alive, remembered_sha256, sha256_stream
from kit.infra.outside import open_for_reading, read_json_object
from kit.infra.parquet import WRITE_OPTIONS
from kit.infra.records import Record
from kit.infra.tree import LockBusy, Tree
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


@contextlib.contextmanager
def writing(tree: Tree, out: Path) -> Iterator[None]:
    """This process is the one merge into `out` while inside; another one is refused at once (exit 2)."""
    with contextlib.ExitStack() as held:
        try:  # `.<name>.merge-lock` beside -o, held from the merge's first look at `out` to its end
            held.enter_context(tree.lock(out.with_name(f".{out.name}{LOCK_SUFFIX}"), tidy=True))
        except LockBusy as busy:
            raise InputError(f"another merge ({busy.holder}) is writing {out} right now",
                             hint="wait for it to finish, or merge into another -o") from None
        yield


def recover_output(tree: Tree, out: Path) -> list[str]:
    """Finish what a killed merge into `out` left: its commit completed, its temporaries removed.

    Returns a note per thing done. Called under `out`'s merge lock (merge_files), so a journal found is a
    killed merge's; one whose process still runs, written a moment ago, is refused all the same (a merge of a
    kit that took no lock).
    """
    notes: list[str] = []
    journal = commit_journal(out)
    folder = tree.folder(out.parent)
    for target in (out, manifest_path(out), journal):  # a planted link is refused before any work, not after it
        tree.check_target(folder, target.name)
    if (st := tree.lstat(journal)) is not None:
        data, _ = tree.read_json_object(journal)  # written atomically, so never half: None if edited
        commit = _commit(data, journal)
        fresh = time.time() - st.st_mtime < COMMIT_STALE_S  # a live commit lasts milliseconds
        if commit is not None and commit.pid != os.getpid() and pid_alive(commit.pid) and fresh:
            raise InputError(f"another merge (pid {commit.pid}) is writing {out} right now",
                             hint="wait for it to finish, or merge into another -o")
        for move in commit.moves if commit is not None else []:
            if len(move) == 2 and all(map(_plain_name, move)) and move[0].startswith(TMP_MARK) \
                    and tree.is_file(out.parent / move[0]):
                tree.replace(out.parent / move[0], out.parent / move[1])
        tree.remove(journal)
        if commit is not None:
            notes.append(f"completed the interrupted merge into {out} (it was killed while replacing its files)")
    removed = tree.remove_stale(out.parent, names=(out.name, manifest_path(out).name, journal.name))
    if removed:
        notes.append(f"removed {removed} temporary file(s) of a killed merge beside {out}")
    return notes


def _commit(data: dict[str, object] | None, journal: Path) -> Commit | None:
    try:
        return Commit.from_json(data, str(journal)) if data is not None else None
    except (ValueError, TypeError):
        return None


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def commit_pair(tree: Tree, table: pa.Table, out: Path,
                manifest_of: Callable[[str], MergeManifest]) -> MergeManifest:
    """Write the parquet and its manifest so that a kill at any instant leaves the old pair or the new one."""
    (data_tmp, data_fh), (side_tmp, side_fh) = tree.new_temp(out), tree.new_temp(manifest_path(out))
    committed = False
    try:
        write_corpus(table, data_fh)
        kill_point("merge-writing")
        tree.seal(data_fh)
        manifest = manifest_of(tree.sha256(data_tmp))  # the manifest names the bytes just written
        side_fh.write((json.dumps(manifest.to_json(), indent=2, default=str) + "\n").encode())
        tree.seal(side_fh)
        moves = [[data_tmp.name, out.name], [side_tmp.name, manifest_path(out).name]]
        check_replaceable(out, MERGED)  # again, just before: a file put at -o while the merge ran is kept too
        tree.write_json(commit_journal(out), Commit(os.getpid(), manifest.sha256, moves).to_json())
        committed = True  # from here on the renames are written down: a failure leaves them to the next merge
        kill_point("merge-committed")
        tree.replace(data_tmp, out)
        kill_point("merge-renamed")
        tree.replace(side_tmp, manifest_path(out))
        tree.remove(commit_journal(out))
    finally:
        data_fh.close()
        side_fh.close()
        for tmp in (data_tmp, side_tmp) if not committed else ():
            tree.remove_temp(tmp)
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
    try:
        return os.path.abspath(a) == os.path.abspath(b) or os.path.samefile(a, b)
    except OSError:
        return False


@dataclass(frozen=True)
class Output:
    """What a command writes at its -o: the file's kind and suffix, the command, an example name, and the file it
    writes beside it (merge: the corpus manifest; corpus export: the export's record)."""

    suffix: str
    kind: str  # "a merged corpus is a parquet file"
    command: str
    example: str
    beside: Callable[[Path], Path]


MERGED = Output(".parquet", "a merged corpus is a parquet file", "merge", "merged.parquet", manifest_path)


def check_output(out: Path, inputs: Sequence[tuple[Path, Path]], output: Output = MERGED) -> None:
    """Refuse an -o that would write over something the user gave the command (a merge, an export): -o must be a
    new file of its own of the command's kind, not an input (same path or same file), the corpus a run directory
    stands for, or a run's shard that a results tarball of that run packs; nor may the file beside it land on an
    input.

    `inputs` are (as given, the file read): a run directory is read as its 02_corpus/shard.parquet.
    """
    if not out.name.lower().endswith(output.suffix) or out.name.lower() == output.suffix:
        raise InputError(f"-o {out}: {output.kind}, and its name must end in {output.suffix}; nothing was written",
                         hint=f"name a new file, e.g. -o {output.example} ({output.command} never writes over its "
                              "inputs)")
    for target in (out, output.beside(out)):
        for given, read in inputs:
            for path, what in _stands_for(given, read):
                if not same_file(target, path):
                    continue
                how = "is" if target == out else f"would write {target.name} over"
                alias = "" if os.path.abspath(target) == os.path.abspath(path) else \
                    " (the same file under another name: a hard link, or a path through a linked folder)"
                raise InputError(f"-o {out} {how} {what}{alias}; the {output.command} would replace it, so nothing "
                                 "was written", hint=f"{output.command} into a new file, e.g. -o {output.example}, and "
                                                     "move it into place yourself once you have checked it")
    check_replaceable(out, output)


def check_replaceable(out: Path, output: Output) -> None:
    """An -o that exists is replaced only when it is this command's earlier output, as the file beside it (the
    merge's manifest, the export's record) proves by naming its sha256; any other file there is the user's, and the
    command refuses (exit 2) rather than write over it. A killed merge's pair is completed by recover_output."""
    if not os.path.lexists(out) or os.path.lexists(commit_journal(out)):
        return
    record, _ = read_json_object(output.beside(out))
    recorded = record.get("sha256") if record is not None else None
    def digest(path: Path) -> str:
        with open_for_reading(path) as fh:
            return sha256_stream(fh)

    with contextlib.suppress(OSError):  # a folder, a pipe, unreadable: not the command's earlier output either
        if isinstance(recorded, str) and recorded == remembered_sha256(out, os.stat(out), digest):
            return
    raise InputError(f"-o {out} exists and is no earlier {output.command}'s output ({output.beside(out).name} beside "
                     f"it does not name its sha256): the {output.command} would write over it, so nothing was written",
                     hint=f"name a new file, e.g. -o {output.example}, or move {out} away first if it may go")

