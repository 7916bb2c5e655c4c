"""The pipeline fanned out over a cluster: what an adapter (slurm, ray) carries to the nodes (docs/cluster.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from kit.corpus.split import SHARD_FIELD, ShardSpec
from kit.errors import InputError
from kit.infra.tree import TREE_ENV
from kit.infra.variables import ARRAY_TASK, CACHE_DIR, KILL_AT, KILL_SIGNAL, TRAIN_RETRY
from kit.model.recipe import MIN_SOURCES
from kit.steps.settings import RunSettings

PATH_VARS = (CACHE_DIR.name,)
# set per task by the plan or an adapter, or test hooks: never pinned from the submitting shell
NOT_PINNED = (ARRAY_TASK.name, TREE_ENV, KILL_AT.name, KILL_SIGNAL.name, TRAIN_RETRY.name)
GATHERED = ("loso", "verdict", "bundle")  # the steps of the gather (ClusterPlan.gather_commands), in turn


@dataclass(frozen=True)
class ClusterLayout:
    """Every path under the shared folder of one submission."""

    root: Path
    scheduler: str  # slurm | ray: the folder its own files go in

    @property
    def own(self) -> Path:
        return self.root / self.scheduler

    @property
    def logs(self) -> Path:
        return self.own / "logs"

    @property
    def shards(self) -> Path:
        return self.root / "shards"

    def shard(self, k: int, n: int) -> Path:
        return self.shards / ShardSpec(k, n).tag

    @property
    def settings(self) -> Path:
        return self.own / "settings.json"

    @property
    def union_corpus(self) -> Path:
        return self.root / "union.parquet"

    @property
    def union_out(self) -> Path:
        return self.root / "union"


@dataclass(frozen=True)
class ClusterPlan:
    layout: ClusterLayout
    shards: int
    kit: tuple[str, ...]  # the kit's command, absolute (infra.invocation.kit_argv_absolute)
    cwd: Path  # where the user submitted from
    settings: RunSettings  # the submission's: every task reads them from layout.settings (settings_json)
    box_id: str
    env: tuple[tuple[str, str], ...] = ()  # KIT_* settings that are no run flag (KIT_CACHE_DIR, ...), pinned
    train_tasks: int = 0  # --train-tasks T: LOSO's members trained by T tasks between the merge and the gather
    # `ray --corpus`: the union given (no shard runs; shards 0): a corpus file trained on as it is, or what merge takes
    # (the boxes' results tarballs, run directories, corpora), which the union task merges first
    inputs: tuple[Path, ...] = ()

    @property
    def merges(self) -> bool:
        """Whether the union task merges first: the shards, or the inputs but one corpus file given alone."""
        return trained_as_given(self.inputs) is None

    @property
    def union_corpus(self) -> Path:
        """The corpus LOSO trains on: the merge's, or the one corpus file given."""
        return trained_as_given(self.inputs) or self.layout.union_corpus

    def settings_json(self) -> str:
        """The settings file every task reads, placed at the root (steps.settings.TASK_FLAGS come from the flags)."""
        at_root = replace(self.settings, out_dir=self.layout.root, box_id=self.box_id, shard=None, corpus=None)
        if self.inputs:  # the merge took the groups; a corpus trained on names its own (`run --corpus` refuses them)
            at_root = replace(at_root, content_groups=None)
        return json.dumps(at_root.to_json(), indent=2) + "\n"

    def shard_commands(self) -> list[list[str]]:
        """What every shard task runs, in order: prereqs, then the corpus of its shard (`{shard}`: shard<K>of<N>)."""
        where = ["--settings", str(self.layout.settings), "--shard", "auto", "--out-dir",
                 str(self.layout.shards / SHARD_FIELD), "--box-id", f"{self.box_id}-{SHARD_FIELD}"]
        return [[*self.kit, "step", "prereqs", *where], [*self.kit, "step", "corpus", *where]]

    def union_commands(self) -> list[list[str]]:
        """The union task's: the merge (of the shards or the inputs given, with the user's --content-groups; none for
        one corpus file given), then, without --train-tasks, the gather."""
        lay = self.layout
        merged = [str(p) for p in self.inputs] or [str(lay.shard(k, self.shards)) for k in range(1, self.shards + 1)]
        groups = self.settings.content_groups
        merge = [[*self.kit, "merge", *merged, "-o", str(lay.union_corpus),
                  *(("--content-groups", str(groups)) if groups is not None else ())]] if self.merges else []
        return merge if self.train_tasks else [*merge, *self.gather_commands()]

    def on_union(self, *command: str) -> list[str]:
        lay = self.layout
        return [*self.kit, *command, "--settings", str(lay.settings), "--corpus", str(self.union_corpus),
                "--out-dir", str(lay.union_out), "--box-id", self.box_id]

    def train_command(self, task: str) -> list[str]:
        """Training task `task` (K/T, its last argument: an adapter writes it as its scheduler numbers tasks)."""
        return [*self.on_union("step", "loso"), "--train-task", task]

    def gather_commands(self) -> list[list[str]]:
        """LOSO (gathering every member; trained here without --train-tasks), verdict and bundle on the union, each
        step in a process of its own, so that what one held is given back before the next starts (at 10,000 contents
        the three in one process peaked at 4,132 MiB, the verdict alone at 3,583); `run` last, which finds LOSO and
        the verdict done, bundles and prints the summary."""
        return [self.on_union("step", "loso"), self.on_union("step", "verdict"), self.on_union("run")]

    def ok_codes(self, commands: list[list[str]]) -> list[tuple[int, ...]]:
        """The exit codes each of `commands` (the plan's) ends well with: 0, and a verdict's 1 (HOLD) from the verdict
        on, whose bundle is made all the same."""
        verdicts = self.gather_commands()[1:]
        return [(0, 1) if argv in verdicts else (0,) for argv in commands]


def trained_as_given(inputs: tuple[Path, ...]) -> Path | None:
    """The corpus file `ray --corpus` trains on as it is (one .parquet given alone); None where the inputs are merged
    first (several, or a results tarball, a run directory)."""
    return inputs[0] if len(inputs) == 1 and inputs[0].suffix == ".parquet" else None


def check_shards(shards: int, clips: int, where: str) -> None:
    if clips < MIN_SOURCES:
        raise InputError(f"{where} holds {clips} clip(s); LOSO needs at least {MIN_SOURCES} sources",
                         hint="add reference clips to --ref-dir")
    if shards > clips:
        raise InputError(f"--shards {shards} but {where} holds only {clips} clip(s): some shards would be empty",
                         hint=f"use at most {clips} shards")


def check_root(root: Path) -> None:
    if SHARD_FIELD in str(root):
        raise InputError(f"--out-dir {str(root)!r} holds {SHARD_FIELD}; on a cluster it is the one shared folder of "
                         "all shards", hint="give the shared folder; each shard gets <folder>/shards/shard<K>of<N>")


def pinned_env(environ: Mapping[str, str], run_env_names: set[str]) -> tuple[tuple[str, str], ...]:
    """KIT_* variables set now that are no run flag (a folder made absolute): every task's, wherever submitted from."""
    return tuple(sorted((k, str(Path(v).absolute()) if k in PATH_VARS and v else v) for k, v in environ.items()
                        if k.startswith("KIT_") and k not in run_env_names and k not in NOT_PINNED
                        and "\n" not in v))


def task_env(plan: ClusterPlan) -> dict[str, str]:
    return {**os.environ, **dict(plan.env)}
