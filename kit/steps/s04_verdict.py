"""Step 04: apply the gate to the LOSO reports; write PROMOTE.json or HOLD.json."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from kit import __version__
from kit.baselines import challenger_gate, lift, lift_gate
from kit.errors import EXIT_HOLD, EXIT_PROMOTE, InputError
from kit.events import VerdictReached, stamp
from kit.fsio import read_json, sha256_file, write_json
from kit.gate import (
    PLCC_MEANING,
    VERDICT_SCHEMA_VERSION,
    evaluate_gate,
    recommendation,
    thresholds_json,
)
from kit.host import kit_cli
from kit.merge import corpus_origin
from kit.metrics import agreement, json_safe
from kit.steps.base import Context, Outcome, Plan, require_output
from kit.vmaf import TEACHER_MODEL

WORST_FOLDS = 3


def corpus_summary(path: Path, sha: str) -> dict[str, object]:
    cols = [c for c in ("src", "src_sha256", "encoder", "cq", "box_id", "device", "platform", "vmaf")
            if c in pq.read_schema(path).names]
    df = pq.read_table(path, columns=cols).to_pandas()
    manifest_path = next((p for p in (path.with_name(path.stem + ".manifest.json"),
                                      path.parent / "shard.manifest.json") if p.is_file()), None)
    manifest = read_json(manifest_path) if manifest_path else {}

    def uniq(col: str) -> list[object]:
        return sorted(df[col].dropna().unique().tolist()) if col in df else []

    return {
        "path": str(path.resolve()), "sha256": sha, "rows": len(df),
        "n_sources": int(df["src_sha256"].nunique()),
        "sources": sorted(df.groupby("src_sha256")["src"].first().tolist()),
        "boxes": uniq("box_id"), "devices": uniq("device"), "platforms": uniq("platform"),
        "encoders": uniq("encoder"), "cq_grid": [int(c) for c in uniq("cq")],
        "vmaf_range": [float(df["vmaf"].min()), float(df["vmaf"].max())],
        "demo_corpus": bool(manifest.get("demo_corpus", False)),
        **corpus_origin(manifest if manifest.get("sha256") == sha else {}),
    }


def overall_figures(reports: dict[int, dict[str, object]], predictions: pd.DataFrame) -> dict[str, object]:
    """Across seeds: the mean of each seed's fold means, and the pooled ensemble.

    The pooled figures average the seeds' held-out predictions per frame and score
    all frames of all sources at once, which also shows whether the sources' scales line up.
    """
    means = {m: float(np.nanmean([np.nan if r[f"mean_{m}"] is None else float(r[f"mean_{m}"])  # type: ignore[arg-type]
                                  for r in reports.values()]))
             for m in ("plcc", "srocc", "krocc", "rmse")}
    pooled = predictions.groupby("row").agg(vmaf=("vmaf", "first"), pred=("pred", "mean"))
    return {"mean_over_seeds": means,
            "pooled_ensemble": {**agreement(pooled["vmaf"].to_numpy(), pooled["pred"].to_numpy()),
                                "n_frames": len(pooled)}}


def fold_table(folds: pd.DataFrame) -> list[dict[str, object]]:
    return folds.sort_values(["seed", "fold"]).to_dict(orient="records")


def worst_folds(folds: pd.DataFrame, n: int = WORST_FOLDS) -> list[dict[str, object]]:
    """The sources the ensemble predicts worst, averaged over seeds."""
    agg = folds.groupby(["src", "src_sha256"], as_index=False).agg(
        plcc=("plcc", "mean"), srocc=("srocc", "mean"), rmse=("rmse", "mean"),
        n_frames=("n_frames", "first"), share_vmaf_100=("share_vmaf_100", "first"))
    return agg.sort_values(["plcc", "src"], na_position="first").head(n).to_dict(orient="records")


class VerdictStep:
    number = 4
    name = "verdict"
    dirname = "04_verdict"

    def _reports(self, ctx: Context) -> dict[int, dict[str, object]]:
        return {seed: read_json(require_output(ctx, "03_loso", f"loso_seed{seed}.json", "loso"))
                for seed in ctx.settings.seeds}

    def plan(self, ctx: Context) -> Plan:
        loso_status = ctx.path("03_loso", "status.json")
        if loso_status.is_file():
            ran = read_json(loso_status).get("settings", {}).get("seeds")
            if ran is not None and list(ran) != list(ctx.settings.seeds):
                raise InputError(f"LOSO ran with seeds {ran}, not {list(ctx.settings.seeds)}",
                                 hint=f"pass --seeds {','.join(map(str, ran))}, or rerun LOSO with the new seeds: "
                                      f"{kit_cli()} run --from loso --out-dir {ctx.out_dir} --seeds "
                                      f"{','.join(map(str, ctx.settings.seeds))}")
        inputs = {f"loso_seed{s}": sha256_file(require_output(ctx, "03_loso", f"loso_seed{s}.json", "loso"))
                  for s in ctx.settings.seeds}
        inputs["folds"] = sha256_file(require_output(ctx, "03_loso", "folds.parquet", "loso"))
        inputs["baselines"] = sha256_file(require_output(ctx, "03_loso", "baselines.json", "loso"))
        if ctx.settings.incumbent is not None:
            inputs["incumbent"] = sha256_file(require_output(ctx, "03_loso", "incumbent.json", "loso"))
        inputs["predictions"] = sha256_file(require_output(ctx, "03_loso", "predictions.parquet", "loso"))
        return Plan(settings={"seeds": list(ctx.settings.seeds), "gate": thresholds_json(ctx.settings.gate)},
                    inputs=inputs)

    def run(self, ctx: Context) -> Outcome:
        s = ctx.settings
        reports = self._reports(ctx)
        corpus = reports[s.seeds[0]]["corpus"]
        assert isinstance(corpus, dict)
        corpus_file = Path(str(corpus["path"]))
        if not corpus_file.is_file() or sha256_file(corpus_file) != corpus["sha256"]:
            raise InputError(f"the corpus {corpus_file} changed or vanished since LOSO ran",
                             hint=f"rerun from LOSO: {kit_cli()} run --from loso --out-dir {s.out_dir}")
        folds = pd.read_parquet(require_output(ctx, "03_loso", "folds.parquet", "loso"))
        folds = folds[folds["seed"].isin(list(s.seeds))]
        predictions = pd.read_parquet(require_output(ctx, "03_loso", "predictions.parquet", "loso"),
                                      columns=["seed", "row", "vmaf", "pred"])
        predictions = predictions[predictions["seed"].isin(list(s.seeds))]
        per_seed = {seed: float(r["mean_plcc"]) if r["mean_plcc"] is not None else float("nan")
                    for seed, r in reports.items()}
        gate = evaluate_gate(per_seed, s.gate)
        baselines = read_json(require_output(ctx, "03_loso", "baselines.json", "loso"))
        baselines.pop("corpus_sha256", None)
        ridge = baselines["ridge"]
        incumbent = (read_json(require_output(ctx, "03_loso", "incumbent.json", "loso"))
                     if s.incumbent is not None else None)
        ens_rmse = [float(r["mean_rmse"]) if r["mean_rmse"] is not None else float("nan") for r in reports.values()]
        lifted = lift(float(gate["mean_plcc"]), sum(ens_rmse) / len(ens_rmse), ridge)
        extra_gate = lift_gate(float(lifted["rmse_ratio"]), s.gate.min_rmse_lift)
        champion = challenger_gate(float(gate["mean_plcc"]), incumbent, float(gate["plcc_spread"]))
        verdict = "PROMOTE" if gate["passed"] and extra_gate["passed"] and champion["passed"] else "HOLD"
        doc = {
            "schema_version": VERDICT_SCHEMA_VERSION,
            "verdict": verdict,
            "generated_at_utc": stamp(),
            "seeds": list(s.seeds),
            "gate": gate,
            "corpus": corpus_summary(corpus_file, str(corpus["sha256"])),
            "lift_gate": extra_gate,
            "challenger_gate": champion,
            "recommendation": recommendation(gate, extra_gate, champion),
            "baselines": baselines,
            "incumbent": incumbent,
            "lift": lifted,
            "per_seed": [{k: r[k] for k in ("seed", "mean_plcc", "std_plcc", "min_plcc", "max_plcc", "mean_srocc",
                                             "mean_krocc", "mean_rmse", "n_folds")} for r in reports.values()],
            "overall": overall_figures(reports, predictions),
            "per_fold": fold_table(folds),
            "worst_folds": worst_folds(folds),
            "teacher_model": TEACHER_MODEL,
            "plcc_measures": PLCC_MEANING,
            "provenance": {"kit_version": __version__, "python": sys.version.split()[0],
                           "train_config": reports[s.seeds[0]].get("train_config"),
                           "thresholds": thresholds_json(s.gate)},
        }
        keep = ctx.step_dir / f"{verdict}.json"
        stale = ctx.step_dir / ("HOLD.json" if verdict == "PROMOTE" else "PROMOTE.json")
        stale.unlink(missing_ok=True)  # a stale verdict must never trigger an export
        write_json(keep, json_safe(doc))
        ctx.emit(VerdictReached(verdict, float(gate["mean_plcc"]), float(gate["plcc_spread"]), str(keep)))
        return Outcome([keep], {"verdict": verdict, "mean_plcc": gate["mean_plcc"],
                                "plcc_spread": gate["plcc_spread"]},
                       exit_code=EXIT_PROMOTE if verdict == "PROMOTE" else EXIT_HOLD)
