"""The Tree: the one owner of a folder the kit writes in, opened once per command (kit.infra.folders says how).

    with Tree.open(out_dir, Rules(group_shared=...), label="the out-dir") as tree:
        with tree.lock(out_dir / ".lock"):
            tree.write_json(out_dir / "run.json", record)

Its parts, one module each, each on top of the one before: the held folders (kit.infra.folders), files written
and read (kit.infra.treeio), folders made, removed and moved (kit.infra.treeops), the lock (kit.infra.treelock).
Who may write where, and what is trusted, is kit.infra.perms.
"""

from __future__ import annotations

from pathlib import Path

from kit.infra.folders import TREE_ENV, FolderGone
from kit.infra.perms import GROUP_SHARED_ENV, Rules, Untrusted
from kit.infra.treelock import LockBusy, Locks


class Tree(Locks):
    """A folder and everything the kit writes below it, for one command."""


def read_out_dir(out_dir: Path) -> Tree:
    """An out-dir opened to be read (made by nobody): its files are checked as its owner's (kit.infra.perms: a lead
    reads a collaborator's run directory on shared storage)."""
    return Tree.open(out_dir, Rules(reading=True), make=False, label="the out-dir")


__all__ = ["GROUP_SHARED_ENV", "TREE_ENV", "FolderGone", "LockBusy", "Rules", "Tree", "Untrusted", "read_out_dir"]
