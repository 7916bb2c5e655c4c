"""The run directory, through whose files the steps meet: the one place that names them (ARCHITECTURE.md draws it).
A results tarball holds the same relative paths under one top folder, plus RESULTS_MANIFEST.

A new file is an attribute of RunDir (`_At(step, name)`, or a property where the path is computed), its place and fields
in docs/reference/files.md."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

STEP_NAMES: tuple[str, ...] = ("prereqs", "corpus", "loso", "verdict", "bundle")
VERDICTS: tuple[str, ...] = ("PROMOTE", "HOLD")
RESULTS_MANIFEST = "manifest.json"  # the sha256 list at the top of a results tarball
CORPUS_CONTENTS = "corpus"  # manifest.json's `contents` of a corpus-only bundle (a box that cannot train)
ENSEMBLE_MANIFEST = "ensemble.json"  # beside a promoted ensemble's ONNX files
SEED_FILE = re.compile(r"loso_seed\d+\.json")
# the folder of a file's twin as the results tarball sends it (RunDir.sent); `sent`, `sent-v2` and `sent-v3`, older
# kits', are never sent (2.3's twins held what a child said; 2.4's what a door of words let through)
SENT = "sent-v4"


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


def is_results_tarball(name: str) -> bool:
    """`results-<box>-<utc>.tar.gz`: a results tarball's name (RunDir.results_stem)."""
    return name.startswith("results-") and name.endswith(".tar.gz")


def step_number(name: str) -> int:
    return STEP_NAMES.index(name) + 1


def step_dirname(name: str) -> str:
    """`03_loso` for `loso`: zero-padded so the folders list in run order."""
    return f"{step_number(name):02d}_{name}"


class _At:
    """A RunDir attribute: the path `name` inside step `step`'s folder ("": the run directory itself)."""

    def __init__(self, step: str, name: str) -> None:
        self.step, self.name = step, name

    def __get__(self, run: RunDir, owner: object = None) -> Path:
        return (run.step(self.step) if self.step else run.root) / self.name


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

    @staticmethod
    def sent(path: Path) -> Path:
        """`sent-v4/<name>` beside `path`: the file as the results tarball sends it, written with it, the box's
        folders shown and what a child said left out (kit.infra.shown), each text then checked by its kind where the
        tarball is made (kit.bundle.texts): a step's log (`logs/sent-v4/<step>.log`), `02_corpus/sent-v4/skipped.json`.
        The twins of older kits (`sent/` before 2.3.0 showed the folders below home; `sent-v2/` of 2.3 held a child's
        words, `sent-v3/` of 2.4 what a door of words let through): a log appended by this kit starts a twin of its
        own, and the old one is never sent."""
        return path.parent / SENT / path.name

    def rel(self, path: Path) -> str:
        """`03_loso/folds.parquet`: a path inside the run directory as status files name it (a link never resolved)."""
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(self.root))).as_posix()

    def recorded(self, path: Path) -> str:
        """How a record names a file: relative to the out-dir when it lies in it (`02_corpus/shard.parquet`), so the
        out-dir may be moved, copied or renamed and the record still names its own file; else absolute (the lead's
        --corpus elsewhere). `found` reads it back."""
        inside = self.rel(path)
        return str(Path(os.path.abspath(path))) if inside == ".." or inside.startswith("../") else inside

    def found(self, recorded: str) -> Path:
        """The file a record names (`recorded`): a relative path lies in this out-dir, wherever it is now."""
        path = Path(recorded)
        return path if path.is_absolute() else self.root / path

    def names_shard(self, recorded: str) -> bool:
        """Whether a record names an out-dir's own shard: `02_corpus/shard.parquet` as this kit records it, or the
        absolute path a kit before 2.2.0 recorded (`<out-dir then>/02_corpus/shard.parquet`, wherever it was)."""
        return Path(recorded).parts[-len(LAYOUT.shard.parts):] == LAYOUT.shard.parts

    run_json = _At("", "run.json")
    lock = _At("", ".lock")
    prereqs_json = _At("prereqs", "prereqs.json")
    probe_work = _At("prereqs", "probe")  # scratch of step 01's test encodes, removed when it ends

    # -- 02 corpus -------------------------------------------------------------------------
    shard = _At("corpus", "shard.parquet")
    skipped_clips = _At("corpus", "skipped.json")  # the clips left out (not --strict): each one's reason and fix
    jobs = _At("corpus", "jobs")
    corpus_work = _At("corpus", "work")
    redo_stamp = _At("corpus", "redo.json")  # a forced run's: ledgers of an older generation are redone, not reused
    jobs_plan = _At("corpus", "plan.json")  # the jobs a corpus run planned, while it runs (what `status` counts)
    jobs_done = _At("corpus", "done.txt")  # the jobs this run finished, a line each as it ends (kit.corpus.progress)
    # the clips the last run left out for the box's or the moment's cause, and in how many runs in a row (never sent)
    repeats = _At("corpus", "repeats.json")
    # the consumer's samplings, each window encoded on its own and scored per frame (kit.corpus.samples)
    samples = _At("corpus", "samples.parquet")

    @property
    def shard_manifest(self) -> Path:
        return manifest_path(self.shard)

    @property
    def teacher_work(self) -> Path:  # scratch of the teacher checks at smaller sizes
        return self.corpus_work / "teacher-check"

    @property
    def decoded_refs(self) -> Path:  # masters decoded once for all their jobs, a folder per clip
        return self.corpus_work / "decoded"

    # -- 03 loso ---------------------------------------------------------------------------
    def loso_seed(self, seed: int) -> Path:
        return self.step("loso") / f"loso_seed{seed}.json"

    def loso_seed_files(self, tree: Listing) -> list[Path]:
        folder = self.step("loso")
        return [folder / n for n in tree.names(folder) if SEED_FILE.fullmatch(n)]

    folds = _At("loso", "folds.parquet")
    predictions = _At("loso", "predictions.parquet")
    clips = _At("loso", "clips.parquet")  # held-out encodes predicted from their mean features (kit.model.clips)
    encodes = _At("loso", "encodes.parquet")  # each held-out encode as vmaf-tune predicts it (kit.model.encodes)
    samplings = _At("loso", "samplings.parquet")  # each as vmaf-tune predicts it from a sample (kit.model.samplings)
    floor = _At("loso", "floor.parquet")  # what the teacher recipe's correction factor was chosen on (kit.model.floor)
    baselines = _At("loso", "baselines.json")
    incumbent = _At("loso", "incumbent.json")
    # a copy of an --incumbent that lies in this out-dir, with `source.json` naming what was copied
    incumbent_models = _At("loso", "incumbent")
    incumbent_work = _At("loso", "incumbent-work")  # scratch of kit.model.incumbent_child, removed when it ends
    # who trained each member the figures come from, with its sha256 and seconds (kept once the members are removed)
    training = _At("loso", "training.json")
    members = _At("loso", "members")  # every LOSO member trained so far (kit.model.tasks), removed once LOSO completes

    def holdout(self, kind: str) -> Path:
        """--holdout encoder|box|rung: the held-out predictions of that validation (kit.model.holdout)."""
        return self.step("loso") / f"holdout_{kind}.parquet"

    def members_of(self, fingerprint: str) -> Path:
        """The members of one LOSO: a folder per fingerprint of what their weights depend on."""
        return self.members / fingerprint[:16]

    def train_task_log(self, k: int, n: int) -> Path:
        """The log of training task K of N (`step loso --train-task K/N`), beside the step's own."""
        return self.log("loso").parent / f"train-task{k}of{n}.log"

    # -- 04 verdict ------------------------------------------------------------------------
    intervals = _At("verdict", "intervals.parquet")  # every held-out row: prediction, spread, interval per level
    calibration = _At("verdict", "calibration.json")  # vmaf-tune's split-conformal sidecar
    clip_pooling = _At("verdict", "clip_pooling.parquet")  # every held-out clip pooled by each statistic
    consumer_encodes = _At("verdict", "consumer_encodes.parquet")  # every encode the consumer gates judge

    def verdict_file(self, verdict: str) -> Path:
        return self.step("verdict") / f"{verdict}.json"

    def verdicts_on_disk(self, tree: Listing) -> list[tuple[str, Path]]:
        """(PROMOTE|HOLD, path) for each verdict file present; the verdict step leaves exactly one."""
        return [(v, self.verdict_file(v)) for v in VERDICTS if tree.is_file(self.verdict_file(v))]

    def verdict_on_disk(self, tree: Listing) -> tuple[str, Path] | None:
        """The verdict file when exactly one is present, else None."""
        found = self.verdicts_on_disk(tree)
        return found[0] if len(found) == 1 else None

    # -- 05 bundle -------------------------------------------------------------------------
    exports = _At("bundle", "exports")
    report = _At("bundle", "report.html")
    bundle_ledger = _At("bundle", "ledger.json")  # the sha256 of each tarball and export not moved aside
    previous = _At("bundle", "previous")  # the earlier exports and tarballs a bundle replaced: never deleted

    def set_aside(self, utc_compact: str) -> Path:
        """`05_bundle/previous/<utc>/`: what the bundle that made results-<box>-<utc>.tar.gz moved aside."""
        return self.previous / utc_compact

    def set_aside_for(self, tarball: Path) -> Path:
        return self.set_aside(tarball.name.removesuffix(".tar.gz").rsplit("-", 1)[-1])

    @staticmethod
    def results_stem(box_id: str, utc_compact: str) -> str:
        """`results-<box>-<utc>`: the tarball's name and its top folder."""
        return f"results-{box_id}-{utc_compact}"

    def tarball(self, stem: str) -> Path:
        return self.step("bundle") / f"{stem}.tar.gz"

    def tarballs(self, tree: Listing) -> list[Path]:
        folder = self.step("bundle")
        return [folder / n for n in tree.names(folder)
                if is_results_tarball(n) and tree.is_file(folder / n)]

    def latest_tarball(self, tree: Listing) -> Path | None:
        return next(reversed(self.tarballs(tree)), None)


LAYOUT = RunDir(Path())  # relative paths, as a results tarball holds them under its top folder
