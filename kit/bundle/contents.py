"""What a results tarball holds: the corpus the verdict was reached on, LOSO, the verdict, the models and the logs,
under their run-directory paths. The report is not sent (it is the box's page, made of words no catalogue holds):
the lead reads the same figures in the verdict and its tables, and `verify --report` renders it from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from kit.infra.tree import Tree
from kit.rundir import LAYOUT, RunDir
from kit.verdict.document import Verdict

Checked = Callable[[Path, str], Path]  # (upstream output, producing step) -> the path, verified


def tarball_files(tree: Tree, run: RunDir, verdict: Verdict, verdict_path: Path, exports: Mapping[Path, Path],
                  checked: Checked, corpus: Path, kept: bool = False) -> dict[str, Path]:
    """Archive path -> file. `exports`: each exported file's place in the run directory -> where it is now (built
    in a temporary folder, it is moved into place once the tarball is written); `corpus`: the verdict's corpus where
    it is now (kit.steps.base.recorded_corpus), checked by the bundle step against the verdict's sha256; `checked`
    verifies an upstream output against its step's record and raises (InputError) for one missing, unfinished or
    edited since; `kept` (--keep-paths): the logs and skipped.json as they are, not their sent twins (in_place)."""
    files = _run_files(tree, run)
    files |= _own_shard(tree, run, corpus, checked)
    files |= _checked_outputs(tree, run, verdict, checked)
    files[run.rel(verdict_path)] = verdict_path
    files |= _exported(run, exports)
    return files if kept else in_place(tree, run, files)


def _own_shard(tree: Tree, run: RunDir, corpus: Path, checked: Checked) -> dict[str, Path]:
    """This box's shard, its manifest and its skipped.json, when the verdict was reached on this box's shard
    (wherever the out-dir lies; the bundle step checked it against the verdict's sha256), and its samplings encoded
    on their own where the corpus step wrote them, checked against its record (InputError from `checked`); nothing
    for a run on a corpus given with --corpus."""
    if corpus != run.shard:
        return {}
    files = {run.rel(p): p for p in (run.shard, run.shard_manifest, run.skipped_clips)
             if p == run.shard or tree.is_file(p)}
    return files | ({run.rel(run.samples): checked(run.samples, "corpus")} if tree.is_file(run.samples) else {})


def _checked_outputs(tree: Tree, run: RunDir, verdict: Verdict, checked: Checked) -> dict[str, Path]:
    """LOSO's and the verdict's files, each checked against its step's record (InputError from `checked`)."""
    # files an older LOSO, or one without clips, encodes or samplings, did not write: sent when there, checked then
    optional = [p for p in (run.clips, run.encodes, run.samplings, run.floor,
                            *(run.holdout(b.kind) for b in verdict.holdout or ())) if tree.is_file(p)]
    loso = (run.folds, run.predictions, run.baselines, *(run.loso_seed(s) for s in verdict.seeds), *optional)
    files = {run.rel(path): checked(path, "loso") for path in loso}
    if verdict.intervals is not None:  # the held-out rows with their intervals, and vmaf-tune's sidecar (kit 0.4)
        for path in (run.intervals, run.calibration):
            if path == run.intervals or tree.is_file(path):  # no sidecar from a LOSO without clips.parquet
                files[run.rel(path)] = checked(path, "verdict")
    if verdict.clip_pooling is not None:  # each held-out clip's poolings, which the block is recomputed from (0.6)
        files[run.rel(run.clip_pooling)] = checked(run.clip_pooling, "verdict")
    if verdict.consumer is not None and verdict.consumer.judged is not None:  # what the consumer gates count (2.4)
        files[run.rel(run.consumer_encodes)] = checked(run.consumer_encodes, "verdict")
    return files


def _exported(run: RunDir, exports: Mapping[Path, Path]) -> dict[str, Path]:
    """Each export under its place in the run directory, named by the layout: never through what may sit at
    exports/ now (the exports are still in their temporary folder)."""
    return {(LAYOUT.exports / place.relative_to(run.exports)).as_posix(): path for place, path in exports.items()}


def corpus_files(tree: Tree, run: RunDir, shard: Path, kept: bool = False) -> dict[str, Path]:
    """Archive path -> file of a corpus-only bundle (`shard`: checked against the corpus step's record)."""
    files = {**_run_files(tree, run), run.rel(run.shard): shard}
    files |= {run.rel(p): p for p in (run.shard_manifest, run.skipped_clips) if tree.is_file(p)}
    return files if kept else in_place(tree, run, files)


def in_place(tree: Tree, run: RunDir, files: dict[str, Path]) -> dict[str, Path]:
    """Each log and skipped.json sent as its twin (RunDir.sent: written with it, the box's folders shown); one an
    older kit wrote without a twin is not sent (the box keeps it)."""
    twinned = {run.rel(p) for p in run.logs(tree)} | {run.rel(run.skipped_clips)}
    return {arc: run.sent(path) if arc in twinned else path for arc, path in files.items()
            if arc not in twinned or tree.is_file(run.sent(path))}


def _run_files(tree: Tree, run: RunDir) -> dict[str, Path]:
    """run.json, prereqs.json and the logs, but the bundle's own (still growing)."""
    files = {run.rel(path): path for path in (run.run_json, run.prereqs_json) if tree.is_file(path)}
    return files | {run.rel(log): log for log in run.logs(tree) if not log.is_relative_to(run.step("bundle"))}
