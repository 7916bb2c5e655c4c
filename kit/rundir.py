"""The run directory: the one place that names its folders and files (drawn in ARCHITECTURE.md, "The run directory").

Steps meet only through these files. A results tarball holds the same relative paths under one top folder, plus
`manifest.json` (RESULTS_MANIFEST).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

STEP_NAMES: tuple[str, ...] = ("prereqs", "corpus", "loso", "verdict", "bundle")
VERDICTS: tuple[str, ...] = ("PROMOTE", "HOLD")
RESULTS_MANIFEST = "manifest.json"  # the sha256 list at the top of a results tarball
ENSEMBLE_MANIFEST = "ensemble.json"  # beside a promoted ensemble's ONNX files
_SEED_FILE = re.compile(r"loso_seed\d+\.json")


class Listing(Protocol):
    """What RunDir's look-ups read the folder with: the out-dir's Tree (kit.infra.tree), never following a link."""

    def names(self, path: Path) -> list[str]: ...

    def is_file(self, path: Path) -> bool: ...


def default_out_dir(box_id: str) -> Path:
    """Where a run writes without --out-dir (and what `status` looks at without an argument)."""
    return Path("runs") / box_id


def manifest_path(corpus: Path) -> Path:
    """`<stem>.manifest.json`: where a corpus file's manifest sits (a shard's, a merged corpus's)."""
    return corpus.with_name(corpus.stem + ".manifest.json")


def step_number(name: str) -> int:
    return STEP_NAMES.index(name) + 1


def step_dirname(name: str) -> str:
    """`03_loso` for `loso`: zero-padded so the folders list in run order."""
    return f"{step_number(name):02d}_{name}"


@dataclass(frozen=True)
class RunDir:
    """Every path of one run directory. `RunDir(Path())` gives the relative layout."""

    root: Path

    def step(self, name: str) -> Path:
        return self.root / step_dirname(name)

    def status(self, name: str) -> Path:
        return self.step(name) / "status.json"

    def log(self, name: str) -> Path:
        return self.step(name) / "logs" / f"{name}.log"

    def logs(self, tree: Listing) -> list[Path]:
        """Every step's log, in step order."""
        return [folder / n for name in STEP_NAMES for folder in [self.step(name) / "logs"]
                for n in tree.names(folder) if n.endswith(".log") and tree.is_file(folder / n)]

    def rel(self, path: Path) -> str:
        """`03_loso/folds.parquet`: a path inside the run directory as the status files and tarball name it, from the
        path's text (a link is never resolved)."""
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(self.root))).as_posix()

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    # -- 01 prereqs ------------------------------------------------------------------------
    @property
    def prereqs_json(self) -> Path:
        return self.step("prereqs") / "prereqs.json"

    # -- 02 corpus -------------------------------------------------------------------------
    @property
    def shard(self) -> Path:
        return self.step("corpus") / "shard.parquet"

    @property
    def skipped_clips(self) -> Path:
        """The reference clips the corpus step left out (not --strict): each one's reason and fix."""
        return self.step("corpus") / "skipped.json"

    @property
    def shard_manifest(self) -> Path:
        return manifest_path(self.shard)

    @property
    def jobs(self) -> Path:
        return self.step("corpus") / "jobs"

    @property
    def corpus_work(self) -> Path:
        return self.step("corpus") / "work"

    @property
    def teacher_work(self) -> Path:
        """Scratch of step 02's teacher checks at the references' smaller sizes, removed when they end."""
        return self.corpus_work / "teacher-check"

    @property
    def decoded_refs(self) -> Path:
        """Compressed masters decoded once for all their jobs (kit.corpus.shared), one folder per clip."""
        return self.corpus_work / "decoded"

    @property
    def redo_stamp(self) -> Path:
        """Written by a forced corpus run: ledgers of an older generation are redone, not reused."""
        return self.step("corpus") / "redo.json"

    # -- 03 loso ---------------------------------------------------------------------------
    def loso_seed(self, seed: int) -> Path:
        return self.step("loso") / f"loso_seed{seed}.json"

    def loso_seed_files(self, tree: Listing) -> list[Path]:
        folder = self.step("loso")
        return [folder / n for n in tree.names(folder) if _SEED_FILE.fullmatch(n)]

    @property
    def folds(self) -> Path:
        return self.step("loso") / "folds.parquet"

    @property
    def predictions(self) -> Path:
        return self.step("loso") / "predictions.parquet"

    @property
    def clips(self) -> Path:
        """Held-out encodes (a source at one encoder, cq and rung) predicted from their mean features, per seed
        (kit.model.clips)."""
        return self.step("loso") / "clips.parquet"

    @property
    def encodes(self) -> Path:
        """Each held-out encode as vmaf-tune predicts it, the ensemble's (kit.model.encodes)."""
        return self.step("loso") / "encodes.parquet"

    def holdout(self, kind: str) -> Path:
        """--holdout encoder|box|rung: the held-out predictions of that validation (kit.model.holdout)."""
        return self.step("loso") / f"holdout_{kind}.parquet"

    @property
    def baselines(self) -> Path:
        return self.step("loso") / "baselines.json"

    @property
    def incumbent(self) -> Path:
        return self.step("loso") / "incumbent.json"

    @property
    def incumbent_models(self) -> Path:
        """A copy of an --incumbent that lies in this out-dir (its bundle step moves earlier models aside): the
        models LOSO scored, with `source.json` naming what was copied."""
        return self.step("loso") / "incumbent"

    @property
    def incumbent_work(self) -> Path:
        """Scratch of the child process that runs the incumbent's models (kit.model.incumbent_child), removed
        when it ends."""
        return self.step("loso") / "incumbent-work"

    @property
    def training(self) -> Path:
        """Who trained each member the figures come from, with its sha256 and seconds (the members' records, kept
        once the members are removed): train_seconds is their sum, plus the holdout's training."""
        return self.step("loso") / "training.json"

    @property
    def members(self) -> Path:
        """Every LOSO member trained so far, one file each (kit.model.tasks), removed once LOSO completes."""
        return self.step("loso") / "members"

    def members_of(self, fingerprint: str) -> Path:
        """The members of one LOSO: a folder per fingerprint of what their weights depend on."""
        return self.members / fingerprint[:16]

    def train_task_log(self, k: int, n: int) -> Path:
        """The log of training task K of N (`step loso --train-task K/N`), beside the step's own."""
        return self.log("loso").parent / f"train-task{k}of{n}.log"

    # -- 04 verdict ------------------------------------------------------------------------
    def verdict_file(self, verdict: str) -> Path:
        return self.step("verdict") / f"{verdict}.json"

    @property
    def intervals(self) -> Path:
        """Every held-out row: the ensemble's prediction, its spread and its interval at each level."""
        return self.step("verdict") / "intervals.parquet"

    @property
    def calibration(self) -> Path:
        """vmaf-tune's split-conformal sidecar: one absolute residual per content group."""
        return self.step("verdict") / "calibration.json"

    @property
    def clip_pooling(self) -> Path:
        """Every held-out clip: its teacher and its ensemble prediction pooled by each statistic (kit 0.6)."""
        return self.step("verdict") / "clip_pooling.parquet"

    def verdicts_on_disk(self, tree: Listing) -> list[tuple[str, Path]]:
        """(PROMOTE|HOLD, path) for each verdict file present; the verdict step leaves exactly one."""
        return [(v, self.verdict_file(v)) for v in VERDICTS if tree.is_file(self.verdict_file(v))]

    def verdict_on_disk(self, tree: Listing) -> tuple[str, Path] | None:
        """The verdict file when exactly one is present, else None."""
        found = self.verdicts_on_disk(tree)
        return found[0] if len(found) == 1 else None

    # -- 05 bundle -------------------------------------------------------------------------
    @property
    def exports(self) -> Path:
        return self.step("bundle") / "exports"

    @property
    def report(self) -> Path:
        return self.step("bundle") / "report.html"

    @property
    def bundle_ledger(self) -> Path:
        """The sha256 of each tarball and export the bundle step wrote and has not moved aside (kit.bundle.aside)."""
        return self.step("bundle") / "ledger.json"

    @property
    def previous(self) -> Path:
        """Where a bundle moves the earlier exports and results tarballs it replaces: never deleted."""
        return self.step("bundle") / "previous"

    def set_aside(self, utc_compact: str) -> Path:
        """`05_bundle/previous/<utc>/`: what the bundle that made results-<box>-<utc>.tar.gz moved aside."""
        return self.previous / utc_compact

    def set_aside_for(self, tarball: Path) -> Path:
        return self.set_aside(tarball.name.removesuffix(".tar.gz").rsplit("-", 1)[-1])

    @property
    def probe_work(self) -> Path:
        """Scratch of step 01's test encodes, removed when it ends."""
        return self.step("prereqs") / "probe"

    @staticmethod
    def results_stem(box_id: str, utc_compact: str) -> str:
        """`results-<box>-<utc>`: the tarball's name and its top folder."""
        return f"results-{box_id}-{utc_compact}"

    def tarball(self, stem: str) -> Path:
        return self.step("bundle") / f"{stem}.tar.gz"

    def tarballs(self, tree: Listing) -> list[Path]:
        folder = self.step("bundle")
        return [folder / n for n in tree.names(folder)
                if n.startswith("results-") and n.endswith(".tar.gz") and tree.is_file(folder / n)]

    def latest_tarball(self, tree: Listing) -> Path | None:
        found = self.tarballs(tree)
        return found[-1] if found else None


LAYOUT = RunDir(Path())  # relative paths, as a results tarball holds them under its top folder
