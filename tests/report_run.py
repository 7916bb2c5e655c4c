"""A synthetic run directory for the report, at any number of sources: the files the kit writes
(03_loso/predictions.parquet, folds.parquet, a verdict, 04_verdict/intervals.parquet, a corpus with bitrates),
shaped as the kit writes them, and the verdict's interval and breakdown blocks as the contract gives them.

Per source: 2 encoders x 4 cqs x 38 frames (304 rows). The teacher falls with cq; the prediction is the teacher
plus a per-source offset and noise, and every 50th source (from the 8th) is bad (offset 8, noise 6), so the worst
sources are known. Folds are LOSO (fold = source index); SROCC and KROCC are set to the PLCC (not shown by
the report's charts). Intervals: split-conformal on |pred - teacher| over the other sources' rows, which is
what a normalised score with std = 1 gives.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from kit.corpus.summary import SourceInfo
from kit.model.conformal import LEVELS
from kit.model.results import FoldResult
from kit.verdict.document import Verdict, WorstFold
from kit.verdict.intervals import column

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_VERDICT = ROOT / "tests" / "data" / "verdict_promote.json"
ENCODERS = ("libx264", "h264_nvenc")
CQS = (19, 25, 31, 37)
FRAMES = 38


@dataclass(frozen=True)
class SyntheticRun:
    out: Path
    verdict: Verdict
    blocks: dict[str, object]  # the verdict's intervals / breakdown blocks, as its JSON holds them
    bad: list[str]  # the sources made bad

    @property
    def predictions(self) -> Path:
        return self.out / "03_loso" / "predictions.parquet"

    @property
    def intervals(self) -> Path:
        return self.out / "04_verdict" / "intervals.parquet"


def make_run(out: Path, n_sources: int, seeds: tuple[int, ...] = (0, 1, 2, 3, 4), height: int = 360,
             names: list[str] | None = None) -> SyntheticRun:
    """`names` (n_sources of them) in place of s0000, s0001, ..."""
    rng = np.random.default_rng(7)
    names = names or [f"s{i:04d}" for i in range(n_sources)]
    shas = [hashlib.sha256(n.encode()).hexdigest() for n in names]
    bad = [n for i, n in enumerate(names) if i % 50 == 8 or (n_sources <= 8 and i == n_sources - 1)]
    grid = pd.MultiIndex.from_product([range(n_sources), ENCODERS, CQS, range(FRAMES)],
                                      names=["i", "encoder", "cq", "frame_index"]).to_frame(index=False)
    i = grid["i"].to_numpy()
    level = rng.uniform(-6, 6, n_sources)
    vmaf = np.clip(100 - 2.2 * (grid["cq"].to_numpy() - 17) + level[i] + rng.normal(0, 2.5, len(grid)), 0, 100)
    is_bad = np.isin(np.array(names)[i], bad)
    offset = np.where(np.isin(np.array(names), bad), 8.0, rng.normal(0, 0.8, n_sources))
    rows = pd.DataFrame({"corpus_row": np.arange(len(grid), dtype=np.int64), "src": np.array(names)[i],
                         "src_sha256": np.array(shas)[i], "encoder": grid["encoder"].to_numpy(),
                         "cq": grid["cq"].to_numpy(np.int32), "frame_index": grid["frame_index"].to_numpy(np.int32),
                         "vmaf": vmaf, "fold": i.astype(np.int32)})
    preds = pd.concat([rows.assign(seed=np.int32(s), pred=vmaf + offset[i] + rng.normal(0, 1.0, len(rows))
                                   + is_bad * rng.normal(0, 6.0, len(rows))) for s in seeds], ignore_index=True)
    (out / "03_loso").mkdir(parents=True, exist_ok=True)
    (out / "04_verdict").mkdir(parents=True, exist_ok=True)
    preds.drop(columns="src").to_parquet(out / "03_loso" / "predictions.parquet", index=False)
    folds = fold_figures(preds)
    folds.to_parquet(out / "03_loso" / "folds.parquet", index=False)
    corpus = out / "corpus.parquet"
    rows.assign(bitrate_kbps=40000.0 / rows["cq"] * (1 + i % 7)).drop(columns=["corpus_row", "fold"]).to_parquet(corpus)
    ensemble = preds.groupby("corpus_row")["pred"].mean().to_numpy()
    blocks = interval_blocks(out, rows, ensemble)
    verdict = Verdict.from_json({**synthetic_verdict(folds, names, shas, list(seeds), corpus, height).to_json(),
                                 **blocks})
    (out / "04_verdict" / "PROMOTE.json").write_text(json.dumps(verdict.to_json()))
    return SyntheticRun(out, verdict, blocks, bad)


def fold_figures(preds: pd.DataFrame) -> pd.DataFrame:
    """Per (seed, source): the figures kit.model.loso writes to folds.parquet."""
    err = preds["pred"] - preds["vmaf"]
    g = preds.assign(err=err, abs_err=err.abs(), out=(preds["pred"] < 0) | (preds["pred"] > 100),
                     at100=preds["vmaf"] >= 100).groupby(["seed", "fold", "src", "src_sha256"], as_index=False)
    out = g.agg(n_frames=("corpus_row", "size"), share_vmaf_100=("at100", "mean"), bias=("err", "mean"),
                max_abs_error=("abs_err", "max"), share_out_of_range=("out", "mean"),
                rmse=("err", lambda e: float(np.sqrt(np.mean(e ** 2)))))
    plcc = preds.groupby(["seed", "fold"])[["vmaf", "pred"]].corr().xs("vmaf", level=2)["pred"]
    out["plcc"] = plcc.to_numpy()
    return out.assign(srocc=out["plcc"], krocc=out["plcc"], teacher_constant=False)


def synthetic_verdict(folds: pd.DataFrame, names: list[str], shas: list[str], seeds: list[int], corpus: Path,
                      height: int) -> Verdict:
    golden = Verdict.from_json(json.loads(GOLDEN_VERDICT.read_text()))
    per_fold = tuple(FoldResult(seed=int(r.seed), fold=int(r.fold), src=str(r.src), src_sha256=str(r.src_sha256),
                                n_frames=int(r.n_frames), share_vmaf_100=float(r.share_vmaf_100), plcc=float(r.plcc),
                                srocc=float(r.srocc), krocc=float(r.krocc), rmse=float(r.rmse), bias=float(r.bias),
                                max_abs_error=float(r.max_abs_error), share_out_of_range=float(r.share_out_of_range))
                     for r in folds.itertuples())
    per_seed = {int(s): f for s, f in folds.groupby("seed")}
    width = height * 16 // 9
    clips = tuple(SourceInfo(n, h, h, width, height, 25.0, FRAMES, "yuv420p") for n, h in zip(names, shas, strict=True))
    first = per_fold[0]
    template = golden.per_seed[0]
    return replace(golden, seeds=seeds, per_fold=per_fold,
                   per_seed=tuple(replace(template, seed=s, mean_plcc=float(f["plcc"].mean()),
                                          std_plcc=float(f["plcc"].std()), min_plcc=float(f["plcc"].min()),
                                          max_plcc=float(f["plcc"].max()), mean_srocc=float(f["srocc"].mean()),
                                          mean_rmse=float(f["rmse"].mean()), n_folds=len(f))
                                  for s, f in per_seed.items()),
                   worst_folds=(WorstFold(first.src, first.src_sha256, first.plcc, first.srocc, first.rmse,
                                          first.n_frames, 0.0),),
                   corpus=replace(golden.corpus, path=str(corpus), rows=len(names) * len(ENCODERS) * len(CQS) * FRAMES,
                                  n_sources=len(names), sources=sorted(names), encoders=list(ENCODERS),
                                  cq_grid=list(CQS), n_contents=len(names), n_files=len(names), groups=(),
                                  clips=clips))


def interval_blocks(out: Path, rows: pd.DataFrame, pred: np.ndarray) -> dict[str, object]:
    """intervals.parquet and the verdict's `intervals` and `breakdown` blocks (the lead's contract)."""
    score = np.abs(pred - rows["vmaf"].to_numpy())
    frame = rows.assign(pred=pred, std=1.0, box_id=np.where(rows["fold"] % 2 == 0, "boxa", "boxb"), width=640,
                        height=360, content=rows["src_sha256"])
    levels = []
    for level in LEVELS:
        n = len(score)
        rank = int(np.ceil((n + 1) * level))
        q = float(np.sort(score)[rank - 1]) if rank <= n else float("inf")
        lo, hi = column(level, "lo"), column(level, "hi")
        frame[lo], frame[hi] = pred - q, pred + q
        inside = (frame[lo] <= frame["vmaf"]) & (frame["vmaf"] <= frame[hi])
        levels.append({"level": level, "rank": rank, "q": q, "q_abs": q, "unbounded": False,
                       "coverage": float(inside.mean()), "mean_width": 2 * q,
                       "source_coverage_min": float(inside.groupby(frame["src_sha256"]).mean().min()),
                       "share_unbounded": 0.0})
    frame["lo"], frame["hi"] = frame["lo_95"], frame["hi_95"]
    frame.drop(columns="fold").to_parquet(out / "04_verdict" / "intervals.parquet", index=False)
    nominal = frame[(frame["lo"] <= frame["vmaf"]) & (frame["vmaf"] <= frame["hi"])]
    breakdown = []
    for by, key in (("encoder", frame["encoder"]), ("box", frame["box_id"]),
                    ("quality", frame["encoder"] + " cq" + frame["cq"].astype(str))):
        for group, part in frame.groupby(key):
            err = part["pred"] - part["vmaf"]
            breakdown.append({"by": by, "group": str(group), "n_frames": len(part),
                              "n_sources": int(part["src_sha256"].nunique()),
                              "plcc": float(np.corrcoef(part["vmaf"], part["pred"])[0, 1]),
                              "rmse": float(np.sqrt(np.mean(err ** 2))), "bias": float(err.mean()),
                              "max_abs_error": float(err.abs().max()),
                              "share_out_of_range": float(((part["pred"] < 0) | (part["pred"] > 100)).mean()),
                              "coverage": float(part.index.isin(nominal.index).mean()),
                              "mean_width": float((part["hi"] - part["lo"]).mean())})
    return {"intervals": {"method": "split conformal over content groups", "formula": "|pred - teacher| <= q",
                          "score": "absolute", "unit": "a new frame of a new source", "nominal": 0.95,
                          "n_groups": int(rows["src_sha256"].nunique()), "levels": levels,
                          "conformal_q_residual": None, "q_reason": "absolute scores: no multiplier of the std",
                          "clip_use": {"n_clips": 8 * int(rows["src_sha256"].nunique()), "rmse": 1.1,
                                       "max_abs_error": 4.0, "coverage": 0.97, "holds": True,
                                       "note": "per-clip errors fall inside the frame intervals"}},
            "breakdown": breakdown}
