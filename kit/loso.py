"""Leave-one-source-out evaluation of the ensemble.

One fold per distinct content (`src_sha256`), so a piece of content never sits
on both sides of a fold, even when two boxes named it differently. Every
(seed, fold) member is trained in one batched run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from kit.errors import InputError
from kit.metrics import agreement, summarise
from kit.model import TrainConfig, design_matrix
from kit.recipe import MIN_SOURCES
from kit.train import Member, train_members
from kit.vmaf import FEATURES

TRAIN_COLUMNS = ("src", "src_sha256", "encoder", "cq", "frame_index", *FEATURES, "vmaf")
VMAF_CEILING = 100.0


@dataclass(frozen=True)
class Fold:
    index: int
    src: str
    src_sha256: str
    rows: np.ndarray  # held-out row indices


def load_corpus(path: Path, extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read the training columns of a shard or merged corpus, validated."""
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable parquet corpus ({exc})",
                         hint="pass a shard.parquet or a corpus written by `ensemble-kit merge`") from exc
    wanted = [c for c in (*TRAIN_COLUMNS, *extra_columns) if c in schema.names or c in TRAIN_COLUMNS]
    missing = [c for c in TRAIN_COLUMNS if c not in schema.names]
    if missing:
        raise InputError(f"{path}: corpus lacks column {missing[0]!r}",
                         hint="the file is not a schema-1 corpus shard; re-create it with the kit or merge it")
    df = pq.read_table(path, columns=list(dict.fromkeys(wanted))).to_pandas()
    validate_values(df, path)
    return df


def validate_values(df: pd.DataFrame, path: Path) -> None:
    if df.empty:
        raise InputError(f"{path}: corpus holds no rows", hint="re-run the corpus step")
    for col in ("src", "src_sha256", "encoder", "cq"):
        missing = np.flatnonzero(df[col].isna().to_numpy())
        if len(missing):
            raise InputError(f"{path}: row {missing[0]} column {col!r} is empty",
                             hint="the corpus is damaged; re-create it or merge it with `ensemble-kit merge`")
    for col in (*FEATURES, "vmaf"):
        values = df[col].to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise InputError(f"{path}: row {bad[0]} column {col!r} is {values[bad[0]]} (not finite)",
                             hint="the corpus is damaged; re-create it or drop the bad rows")
    vmaf = df["vmaf"].to_numpy(dtype=np.float64)
    out = np.flatnonzero((vmaf < 0) | (vmaf > VMAF_CEILING))
    if len(out):
        raise InputError(f"{path}: row {out[0]} has vmaf {vmaf[out[0]]} outside [0, 100]",
                         hint="the corpus was edited or damaged; re-create it")


def make_folds(df: pd.DataFrame) -> list[Fold]:
    """One fold per src_sha256, ordered by source name; refuses fewer than 3 sources."""
    groups = df.groupby("src_sha256", sort=False).indices
    names = df.groupby("src_sha256", sort=False)["src"].first()
    order = sorted(groups, key=lambda s: (str(names[s]), s))
    if len(order) < MIN_SOURCES:
        raise InputError(f"the corpus has {len(order)} distinct source(s); LOSO needs at least {MIN_SOURCES}",
                         hint="add reference clips (--ref-dir) or train on a merged corpus (--corpus)")
    return [Fold(i, str(names[s]), s, np.sort(groups[s])) for i, s in enumerate(order)]


@dataclass
class LosoResult:
    seed_reports: list[dict[str, object]]
    folds: pd.DataFrame
    predictions: pd.DataFrame
    n_members: int


def run_loso(df: pd.DataFrame, seeds: list[int], config: TrainConfig,
             on_epoch: Callable[[int, int, float], None] | None = None) -> LosoResult:
    folds = make_folds(df)
    feats, codec = design_matrix(df)
    target = df["vmaf"].to_numpy(dtype=np.float64)
    all_rows = np.arange(len(df))
    members = [Member(seed, fold.index, np.setdiff1d(all_rows, fold.rows, assume_unique=True))
               for seed in seeds for fold in folds]
    ens = train_members(feats, codec, target, members, config, on_epoch)
    fold_rows, pred_frames = [], []
    for m, mem in enumerate(members):
        fold = folds[mem.fold]
        pred = ens.predict(m, feats[fold.rows], codec[fold.rows])
        y = target[fold.rows]
        fold_rows.append({
            "seed": mem.seed, "fold": fold.index, "src": fold.src, "src_sha256": fold.src_sha256,
            "n_frames": len(fold.rows), "share_vmaf_100": float(np.mean(y >= VMAF_CEILING)),
            **agreement(y, pred),
        })
        pred_frames.append(pd.DataFrame({
            "seed": np.int32(mem.seed), "fold": np.int32(fold.index), "row": fold.rows.astype(np.int64),
            "src_sha256": fold.src_sha256, "encoder": df["encoder"].to_numpy()[fold.rows],
            "cq": df["cq"].to_numpy()[fold.rows], "frame_index": df["frame_index"].to_numpy()[fold.rows],
            "vmaf": y, "pred": pred,
        }))
    folds_df = pd.DataFrame(fold_rows)
    reports = [seed_report(seed, folds_df[folds_df["seed"] == seed]) for seed in seeds]
    return LosoResult(reports, folds_df, pd.concat(pred_frames, ignore_index=True), len(members))


def seed_report(seed: int, folds: pd.DataFrame) -> dict[str, object]:
    plcc = summarise(folds["plcc"].tolist())
    return {
        "seed": seed,
        "mean_plcc": plcc["mean"], "std_plcc": plcc["std"], "min_plcc": plcc["min"], "max_plcc": plcc["max"],
        "mean_srocc": summarise(folds["srocc"].tolist())["mean"],
        "mean_krocc": summarise(folds["krocc"].tolist())["mean"],
        "mean_rmse": summarise(folds["rmse"].tolist())["mean"],
        "n_folds": len(folds),
        "folds": folds.drop(columns=["seed"]).to_dict(orient="records"),
    }
