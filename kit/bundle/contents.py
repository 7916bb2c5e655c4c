"""What a results tarball holds (the verdict's corpus, LOSO, verdict, models, report, logs), under their run paths."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from kit.infra.tree import Tree
from kit.rundir import LAYOUT, RunDir
from kit.verdict.document import Verdict

Checked = Callable[[Path, str], Path]  # (upstream output, producing step) -> the path, verified


def tarball_files(tree: Tree, run: RunDir, verdict: Verdict, verdict_path: Path, exports: Mapping[Path, Path],
                  report: Path, checked: Checked, corpus: Path, kept: bool = False) -> dict[str, Path]:
    """Archive path -> file; `exports`: each export's place -> where it is now; `corpus`: the verdict's corpus where
    it is now (kit.steps.base.recorded_corpus), checked by the bundle step against the verdict's sha256; `kept`
    (--keep-paths): the logs and skipped.json as they are, not their sent twins (in_place)."""
    files = _run_files(tree, run)
    if corpus == run.shard:  # the verdict was reached on this box's shard (wherever the out-dir lies): it goes
        files |= {run.rel(p): p for p in (run.shard, run.shard_manifest, run.skipped_clips, run.samples)
                  if p == run.shard or tree.is_file(p)}
    # LOSO's and the verdict's files, each checked against its step's record
    optional = [p for p in (run.clips, run.encodes, run.samplings,
                            *(run.holdout(b.kind) for b in verdict.holdout or ())) if tree.is_file(p)]
    files |= {run.rel(path): checked(path, "loso") for path in (run.folds, run.predictions, run.baselines,
                                                                *(run.loso_seed(s) for s in verdict.seeds), *optional)}
    if verdict.intervals is not None:  # the held-out rows with their intervals, and vmaf-tune's sidecar (kit 0.4)
        for path in (run.intervals, run.calibration):
            if path == run.intervals or tree.is_file(path):  # no sidecar from a LOSO without clips.parquet
                files[run.rel(path)] = checked(path, "verdict")
    if verdict.clip_pooling is not None:  # each held-out clip's poolings, which the block is recomputed from (0.6)
        files[run.rel(run.clip_pooling)] = checked(run.clip_pooling, "verdict")
    files[run.rel(verdict_path)] = verdict_path
    for place, path in exports.items():  # named by the layout: never through what may sit at exports/ now
        files[(LAYOUT.exports / place.relative_to(run.exports)).as_posix()] = path
    files[run.rel(report)] = report
    return files if kept else in_place(tree, run, files)


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
