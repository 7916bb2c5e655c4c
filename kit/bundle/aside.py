"""What a bundle moves aside (into `05_bundle/previous/<utc>/`, never deleted): only the earlier tarballs and exports
the kit can prove it wrote, by their sha256 in the bundle's ledger or the status.json of the bundle before. Anything
else there is refused, naming it, before the refit and again before the move."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from kit.errors import InputError
from kit.infra.perms import whose
from kit.infra.records import Record, keep, read_record
from kit.infra.rules import COUNT, INSIDE, Keys
from kit.infra.tree import Tree
from kit.rundir import RunDir


@dataclass(frozen=True)
class BundleLedger(Record):
    """`05_bundle/ledger.json`: the sha256 of each tarball and export the bundle wrote still in `05_bundle/`."""

    SCHEMA_VERSION: ClassVar[int] = 1

    files: dict[str, str] = field(metadata=keep(Keys(INSIDE)))  # by its path in 05_bundle/: none outside it
    schema_version: int = field(default=1, metadata=keep(COUNT))


def read_ledger(tree: Tree, run: RunDir) -> dict[str, str]:
    """The ledger's files; none when it is missing (one not the user's own is refused by the read). One damaged (a
    file it names outside 05_bundle/, a value of another type) is refused naming it (exit 2): it is the proof of what
    the bundle may move aside, which the kit cannot make again."""
    ledger, why = read_record(BundleLedger, tree, run.bundle_ledger)
    if ledger is None and why != "missing":
        raise InputError(f"{run.bundle_ledger} is {why}: the bundle cannot prove which of the tarballs and exports in "
                         f"{run.step('bundle')} it wrote, so it moves none aside",
                         hint=f"move {run.bundle_ledger.name}, the earlier results tarballs and exports/ out of "
                              f"{run.step('bundle')} (keep what you need of them), then rerun: the bundle writes a new "
                              "ledger")
    return dict(ledger.files) if ledger is not None else {}


def write_ledger(tree: Tree, run: RunDir, files: Mapping[str, str]) -> None:
    tree.write_json(run.bundle_ledger, BundleLedger(dict(sorted(files.items())), BundleLedger.SCHEMA_VERSION).to_json())


def key(run: RunDir, path: Path) -> str:
    return path.relative_to(run.step("bundle")).as_posix()


def adopt_recorded(tree: Tree, run: RunDir, outputs: Mapping[str, str]) -> None:
    """What the bundle before recorded in its status.json (which the runner removes), added to the ledger."""
    step = run.rel(run.step("bundle"))
    found = {rel.removeprefix(f"{step}/"): digest for rel, digest in outputs.items()
             if rel.startswith(f"{step}/") and rel.removeprefix(f"{step}/") != run.report.name}
    ledger = read_ledger(tree, run)
    if not found.items() <= ledger.items():
        write_ledger(tree, run, {**ledger, **found})


def record(tree: Tree, run: RunDir, files: Mapping[Path, str]) -> None:
    """Files this bundle wrote, in the ledger before they are put in place; entries whose file is gone dropped."""
    ledger = {k: v for k, v in read_ledger(tree, run).items() if tree.entry(run.step("bundle") / k) is not None}
    write_ledger(tree, run, {**ledger, **{key(run, p): digest for p, digest in files.items()}})


def earlier(tree: Tree, run: RunDir, keep: Path | None = None) -> list[Path]:
    """What the rotation would move: a non-empty exports/ and every results tarball but `keep`."""
    exports = [run.exports] if tree.entry(run.exports) is not None and not (
        tree.is_folder(run.exports) and not tree.names(run.exports)) else []
    return exports + [old for old in run.tarballs(tree) if old != keep]


def check_written(tree: Tree, run: RunDir, keep: Path | None = None) -> None:
    """Refuse (exit 2) when the rotation would move anything the kit cannot prove it wrote, naming it."""
    ledger, said = read_ledger(tree, run), []
    for path in earlier(tree, run, keep):
        for found in tree.walk_files(path) if tree.is_folder(path) else filter(None, [tree.entry(path)]):
            file, owner = found.path, whose(found.st)
            if (what := found.planted) is not None:
                said.append(f"{file} ({owner}) is {what}")
            elif key(run, file) not in ledger:
                said.append(f"{file} ({owner}) is named in no record of the kit's")
            elif ledger[key(run, file)] != tree.sha256(file):
                said.append(f"{file} ({owner}) differs from the file the kit recorded under its name")
    if said:
        more = f" (and {len(said) - 1} more)" if len(said) > 1 else ""
        raise InputError(f"{said[0]}{more}: the bundle moves aside only the tarballs and exports it wrote, by the "
                         f"sha256 its records hold, so it leaves it where it is",
                         hint=f"it is not the kit's: move it out of {run.step('bundle')} (or ask its owner to), "
                              "then rerun; a tarball or export of yours the kit did not write goes elsewhere too")


def set_aside(tree: Tree, run: RunDir, aside: Path, keep: Path | None = None) -> list[Path]:
    """The earlier exports/ and tarballs but `keep`, each proven the kit's, moved into `aside` (returned)."""
    tree.check_planted(run.exports)  # a folder or nothing: a link, pipe or file there is refused, never moved
    check_written(tree, run, keep)
    if tree.is_folder(run.exports) and not tree.names(run.exports):
        tree.remove_folder(run.exports)
    return [tree.move_into(path, aside) for path in earlier(tree, run, keep)]
