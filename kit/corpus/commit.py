"""Writing a merged corpus into its -o: one merge at a time (`.<name>.merge-lock`), the pair (the parquet and its
manifest) replaced so that a kill at any instant leaves the old pair or the new one (the renames written down first,
`.<name>.merge-commit.json`). What is beside -o must be absent or provably the command's own (`check_replaceable`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from kit.corpus.manifests import MergeManifest
from kit.corpus.schema import COLUMNS, SCHEMA
from kit.errors import InputError
from kit.infra.faults import kill_point
from kit.infra.files import TMP_MARK, pid_alive, remembered_sha256, sha256_stream
from kit.infra.outside import open_for_reading, read_json_object
from kit.infra.parquet import WRITE_OPTIONS, write_table
from kit.infra.perms import euid
from kit.infra.records import Record, keep
from kit.infra.rules import COUNT
from kit.infra.tree import LockBusy, Tree
from kit.rundir import LAYOUT, RunDir, manifest_path

ROW_GROUP_ROWS = 1 << 20
COMMIT_STALE_S = 60.0  # a commit journal older than this belongs to no running merge, whatever its pid
LOCK_LINE = re.compile(r"pid \d+ on .{1,300} since \S+")  # what Tree.lock writes into a lock it holds


def write_corpus(table: pa.Table, fh: BinaryIO) -> None:
    """The current schema's parquet with fixed settings: equal rows give equal bytes."""
    table = table.select(list(COLUMNS)).cast(SCHEMA).combine_chunks()
    write_table(table, fh, WRITE_OPTIONS, ROW_GROUP_ROWS)


@dataclass(frozen=True)
class Commit(Record):
    """`.<name>.merge-commit.json` beside -o while the new pair replaces the old one: the renames left to do."""

    pid: int = field(metadata=keep(COUNT))
    sha256: str  # of the new parquet
    moves: list[list[str]]  # [temporary, final] names in -o's folder, in the order they are renamed


def commit_journal(out: Path) -> Path:
    return out.with_name(f".{out.name}.merge-commit.json")


def merge_lock(out: Path) -> Path:
    return out.with_name(f".{out.name}.merge-lock")


@contextlib.contextmanager
def writing(tree: Tree, out: Path) -> Iterator[None]:
    """This process is the one merge into `out` while inside; another one is refused at once (exit 2)."""
    with contextlib.ExitStack() as held:
        try:  # `.<name>.merge-lock` beside -o, held from the merge's first look at `out` to its end
            held.enter_context(tree.lock(merge_lock(out), tidy=True))
        except LockBusy as busy:
            raise InputError(f"another merge ({busy.holder}) is writing {out} right now",
                             hint="wait for it to finish, or merge into another -o") from None
        yield


def recover_output(tree: Tree, out: Path) -> list[str]:
    """Finish what a killed merge into `out` left, under its merge lock; a note per thing done."""
    notes: list[str] = []
    journal = commit_journal(out)
    for target in (out, manifest_path(out), journal):  # a planted link is refused before any work, not after it
        tree.check_target(target)
    if tree.entry(journal) is not None:
        for temporary, final in trusted_commit(out).moves:  # the two renames, of files it names by their sha256
            if tree.is_file(out.parent / temporary):
                tree.replace(out.parent / temporary, out.parent / final)
        tree.remove(journal)
        notes.append(f"completed the interrupted merge into {out} (it was killed while replacing its files)")
    if removed := tree.remove_stale(out.parent, names=(out.name, manifest_path(out).name, journal.name)):
        notes.append(f"removed {removed} temporary file(s) of a killed merge beside {out}")
    return notes


def trusted_commit(out: Path) -> Commit:
    """The journal beside `out`, when it is a killed merge's own; any other is refused (exit 2)."""
    journal = commit_journal(out)
    data, why = read_json_object(journal)
    try:
        commit = Commit.from_json(data, str(journal)) if data is not None else None
    except (ValueError, TypeError):
        commit = None
    with contextlib.suppress(OSError):
        fresh = time.time() - os.lstat(journal).st_mtime < COMMIT_STALE_S  # a live commit lasts milliseconds
        if commit is not None and commit.pid != os.getpid() and pid_alive(commit.pid) and fresh:
            raise InputError(f"another merge (pid {commit.pid}) is writing {out} right now",
                             hint="wait for it to finish, or merge into another -o")
    problem = _journal_problem(out, commit, why if data is None else "")
    if problem is not None or commit is None:
        raise InputError(f"{journal} beside -o {out} is no earlier merge's commit journal ({problem}): the merge "
                         "would follow it, so nothing was written",
                         hint=f"a merge killed while replacing {out.name} leaves a journal that names its files; "
                              f"this one is not such: remove {journal} if it may go, or merge into another -o")
    return commit


def _journal_problem(out: Path, commit: Commit | None, why: str) -> str | None:
    """Why the journal is not a killed merge's own that places the pair of the sha256 it names; None when it is."""
    journal, side = commit_journal(out), manifest_path(out)
    if commit is None:
        return f"it is {why}" if why else "it is no record of a merge's renames"
    if _own_regular(journal) is None:
        return "it is not a regular file of yours"
    expected = [(f"{TMP_MARK}{out.name[:100]}.", out.name), (f"{TMP_MARK}{side.name[:100]}.", side.name)]
    if len(commit.moves) != 2 or any(len(m) != 2 or not _plain_name(m[0]) or not m[0].startswith(prefix)
                                     or m[1] != name for m, (prefix, name) in zip(commit.moves, expected, strict=True)):
        return f"its renames are not the two of {out.name} and {side.name}"
    placed = [out.parent / m[0] if os.path.lexists(out.parent / m[0]) else out.parent / m[1] for m in commit.moves]
    if _sha256(placed[0]) != commit.sha256:
        return f"{placed[0].name} is not the file of the sha256 it names"
    record, _ = read_json_object(placed[1]) if _own_regular(placed[1]) is not None else (None, "")
    if record is None or record.get("kind") != MERGED_KIND or record.get("sha256") != commit.sha256:
        return f"{placed[1].name} is no manifest of the sha256 it names"
    return None


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def _own_regular(path: Path, own: bool = True) -> os.stat_result | None:
    """The file's lstat when it is a regular file (not a link, a folder or a pipe) and, with `own`, this user's."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    mine = not own or os.name != "posix" or st.st_uid == euid()
    return st if stat.S_ISREG(st.st_mode) and mine else None


def _sha256(path: Path, own: bool = True) -> str | None:
    """The sha256 of a regular file (with `own`, this user's); None otherwise."""
    if (st := _own_regular(path, own)) is None:
        return None

    def digest(p: Path) -> str:
        with open_for_reading(p) as fh:
            return sha256_stream(fh)

    try:
        return remembered_sha256(path, st, digest)
    except OSError:
        return None


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
            tree.remove(tmp)
    return manifest


def _stands_for(given: Path, read: Path) -> list[tuple[Path, str]]:
    """The files an input is or stands for (a results tarball in a run's bundle folder: that run's shard too)."""
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
    """What a command writes at its -o, and the file beside it, which names the command's kind and -o's sha256."""

    suffix: str
    kind: str  # "a merged corpus is a parquet file"
    command: str
    example: str
    beside: Callable[[Path], Path]
    record_kind: str  # the `kind` the file beside -o holds: "merged", "export"
    record: str  # what people call it: "manifest", "record"
    journaled: bool = False  # merge: a commit journal and a lock file beside -o too


MERGED_KIND = "merged"
MERGED = Output(".parquet", "a merged corpus is a parquet file", "merge", "merged.parquet", manifest_path,
                MERGED_KIND, "manifest", journaled=True)


def check_output(out: Path, inputs: Sequence[tuple[Path, Path]], output: Output = MERGED) -> None:
    """Refuse an -o (or the file beside it) that would write over an input or what it stands for."""
    if not out.name.lower().endswith(output.suffix) or out.name.lower() == output.suffix:
        raise InputError(f"-o {out}: {output.kind}, and its name must end in {output.suffix}; nothing was written",
                         hint=f"name a new file, e.g. -o {output.example} ({output.command} never writes over its "
                              "inputs)")
    for target, (given, read) in itertools.product((out, output.beside(out)), inputs):
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
    """The one rule for what is beside -o (the module's), before anything is written."""
    if output.journaled:
        _check_lock(out, output)
        if os.path.lexists(commit_journal(out)):
            trusted_commit(out)
            return
    beside = output.beside(out)
    if (problem := _pair_problem(out, output)) is None:
        return
    at, why = problem
    if at == out:
        raise InputError(f"-o {out} exists and is no earlier {output.command}'s output ({why}): the "
                         f"{output.command} would write over it, so nothing was written",
                         hint=f"name a new file, e.g. -o {output.example}, or move {out} away first if it may go")
    raise InputError(f"{beside} beside -o {out} is no earlier {output.command}'s {output.record} ({why}): the "
                     f"{output.command} would write over it, so nothing was written",
                     hint=f"remove {beside} if it may go, or name a new file, e.g. -o {output.example}")


def _pair_problem(out: Path, output: Output) -> tuple[Path, str] | None:
    """None when -o and the file beside it are absent or the command's earlier pair; else (the file, why)."""
    beside = output.beside(out)
    at_out, at_beside = os.path.lexists(out), os.path.lexists(beside)
    if not at_out and not at_beside:
        return None
    record, why = read_json_object(beside) if _own_regular(beside, own=False) is not None else (None, "")
    kind = record.get("kind") if record is not None else None
    if record is None:
        said = f"{beside.name} beside it is {why}" if why else f"{beside.name} beside it is not a regular file"
        return (out, said if at_beside else f"there is no {beside.name} beside it") if at_out else \
            (beside, f"it is {why}" if why else "it is not a regular file")
    if kind != output.record_kind:
        shown = f"kind {str(kind)[:40]!r}" if kind is not None else "no kind"
        return (out if at_out else beside,
                f"{beside.name}{' beside it' if at_out else ''} is no {output.command}'s {output.record} ({shown})")
    if not at_out:
        return beside, f"it names a file at -o, and there is none: {out.name} was moved or removed"
    if not isinstance(record.get("sha256"), str) or record.get("sha256") != _sha256(out, own=False):
        return out, f"{beside.name} beside it does not name its sha256"
    return None


def _check_lock(out: Path, output: Output) -> None:
    """The merge's lock file beside -o: absent, or a merge's (its line, or nothing: the instant after it is made)."""
    lock = merge_lock(out)
    if not os.path.lexists(lock):
        return
    text = None
    if _own_regular(lock) is not None and os.lstat(lock).st_size <= 1024:
        with contextlib.suppress(OSError, UnicodeDecodeError), open_for_reading(lock) as fh:
            text = fh.read().decode("utf-8").strip()
    if text is None or not (text == "" or LOCK_LINE.fullmatch(text)):
        raise InputError(f"{lock} beside -o {out} is no earlier {output.command}'s lock file (it is not one of "
                         f"yours that holds a merge's line): the {output.command} would write over it, so nothing "
                         "was written", hint=f"remove {lock} if it may go, or name a new file, e.g. -o "
                                             f"{output.example}")
