"""Step 05: on PROMOTE export one ONNX per seed; always write the report and
the results tarball the collaborator sends back."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from kit import __version__
from kit.bundle import write_results_tarball
from kit.errors import InputError
from kit.events import BundleWritten, Epoch, Info
from kit.export import OPSET, PARITY_ATOL, build_onnx, parity
from kit.fsio import atomic_path, read_json, sha256_file, write_json, write_text
from kit.host import kit_cli, safe_box_id
from kit.loso import load_corpus
from kit.model import CODEC_DIM, N_FEATURES, TrainConfig, design_matrix
from kit.platforms.encoders import ENCODER_VOCAB, SPECS
from kit.report import load_report_data, render_report
from kit.steps.base import Context, Outcome, Plan, require_output
from kit.train import Member, train_members
from kit.vmaf import FEATURES, TEACHER_MODEL

PARITY_ROWS = 20_000


def find_verdict(ctx: Context) -> tuple[str, Path]:
    folder = ctx.path("04_verdict")
    found = [(v, folder / f"{v}.json") for v in ("PROMOTE", "HOLD") if (folder / f"{v}.json").is_file()]
    if len(found) != 1:
        raise InputError(f"expected exactly one of PROMOTE.json / HOLD.json in {folder}, found {len(found)}",
                         hint=f"rerun the verdict step: {kit_cli()} step verdict --out-dir {ctx.out_dir}")
    name, _ = found[0]
    # exactly as the verdict step wrote it: a hand-edited PROMOTE must never export models
    return name, require_output(ctx, "04_verdict", f"{name}.json", "verdict")


def export_members(ctx: Context, verdict: dict[str, object], exports: Path) -> list[Path]:
    """Refit every seed on the full corpus and export each as a checked ONNX + sidecar."""
    s = ctx.settings
    corpus = verdict["corpus"]
    assert isinstance(corpus, dict)
    corpus_file = Path(str(corpus["path"]))
    if not corpus_file.is_file() or sha256_file(corpus_file) != corpus["sha256"]:
        raise InputError(f"the corpus {corpus_file} changed since the verdict was reached",
                         hint=f"rerun from LOSO: {kit_cli()} run --from loso --out-dir {ctx.out_dir}")
    df = load_corpus(corpus_file)
    feats, codec = design_matrix(df)
    target = df["vmaf"].to_numpy(dtype=np.float64)
    rows = np.arange(len(df))
    seeds = [int(x) for x in verdict["seeds"]]  # the seeds the gate judged, whatever the flags say now
    members = [Member(seed, -1, rows) for seed in seeds]
    ctx.emit(Info("bundle", f"PROMOTE: refitting {len(members)} seeds on all {len(df)} rows"))
    ens = train_members(feats, codec, target, members, s.train,
                        lambda e, n, loss: ctx.emit(Epoch("bundle", e, n, len(members), loss)))
    pick = np.random.default_rng(0).permutation(len(df))[:PARITY_ROWS]
    per_seed = {int(r["seed"]): r for r in verdict.get("per_seed", [])}  # type: ignore[union-attr]
    written, entries = [], []
    for m, seed in enumerate(seeds):
        model = ens.export_member(m)
        name = f"fr_regressor_v2_seed{seed}"
        onnx_path = exports / f"{name}.onnx"
        proto = build_onnx(model, {"kit_version": __version__, "seed": str(seed),
                                   "corpus_sha256": str(corpus["sha256"]), "features": ",".join(FEATURES),
                                   "teacher_model": TEACHER_MODEL})
        with atomic_path(onnx_path) as tmp:
            tmp.write_bytes(proto.SerializeToString())
        diff = parity(model, onnx_path, feats[pick], codec[pick])
        if diff > PARITY_ATOL:
            onnx_path.unlink()
            raise RuntimeError(f"ONNX export of seed {seed} disagrees with torch by {diff:.2e} > {PARITY_ATOL}")
        sidecar = sidecar_doc(name, seed, onnx_path, model_stats(model), s.train, corpus, per_seed.get(seed), diff)
        sidecar_path = exports / f"{name}.json"
        write_json(sidecar_path, sidecar)
        written += [onnx_path, sidecar_path]
        entries.append({"seed": seed, "onnx": onnx_path.name, "sidecar": sidecar_path.name,
                        "sha256": sidecar["onnx_sha256"], "parity_max_abs_diff": diff})
    manifest = exports / "ensemble.json"
    write_json(manifest, {
        "name": "fr_regressor_v2_ensemble", "kit_version": __version__, "members": entries,
        "combine": "mean of the members' vmaf outputs", "seeds": seeds,
        "corpus_sha256": corpus["sha256"], "verdict": verdict["verdict"],
        "gate": verdict["gate"], "teacher_model": TEACHER_MODEL,
    })
    return [*written, manifest]


def model_stats(model: object) -> dict[str, list[float]]:
    mean = model.mean.reshape(-1).tolist()  # type: ignore[attr-defined]
    std = model.std.reshape(-1).tolist()  # type: ignore[attr-defined]
    return {"mean": mean, "std": std}


def sidecar_doc(name: str, seed: int, onnx_path: Path, scaler: dict[str, list[float]], train: TrainConfig,
                corpus: dict[str, object], loso: dict[str, object] | None, diff: float) -> dict[str, object]:
    return {
        "schema_version": 1, "name": name, "seed": seed, "onnx": onnx_path.name,
        "onnx_sha256": sha256_file(onnx_path), "onnx_opset": OPSET,
        "inputs": {"features": {"shape": ["batch", N_FEATURES], "order": list(FEATURES),
                                "note": "raw libvmaf integer_* values; the scaler is inside the graph"},
                   "codec": {"shape": ["batch", CODEC_DIM], "order": [*ENCODER_VOCAB, "cq_norm"],
                             "note": "one-hot encoder, then cq normalised within the encoder family"}},
        "output": {"name": "vmaf", "shape": ["batch"], "range_hint": [0, 100], "clipped": False,
                   "note": "the raw regression output (DESIGN: Linear(64->1), no clamp): it can fall a few points "
                           "outside the teacher's [0, 100]; clip it where a vmaf-range score is needed"},
        "normalisation": {"features": scaler,
                          "cq_ranges": {n: list(SPECS[n].cq_range) for n in ENCODER_VOCAB}},
        "encoder_vocab": list(ENCODER_VOCAB),
        "training_recipe": {**train.to_json(), "fit": "full corpus", "seed": seed},
        "corpus": {"sha256": corpus.get("sha256"), "rows": corpus.get("rows"), "sources": corpus.get("n_sources"),
                   "boxes": corpus.get("boxes"), "encoders": corpus.get("encoders")},
        "loso": loso, "teacher_model": TEACHER_MODEL, "parity_max_abs_diff": diff, "kit_version": __version__,
    }


def tarball_files(ctx: Context, verdict: dict[str, object], verdict_path: Path, exports: list[Path],
                  report: Path) -> dict[str, Path]:
    """What the receiver needs: the corpus the verdict was reached on, LOSO, verdict, models, logs."""
    out = ctx.out_dir
    files: dict[str, Path] = {}
    for rel in ("run.json", "01_prereqs/prereqs.json"):
        if (out / rel).is_file():
            files[rel] = out / rel
    corpus = verdict["corpus"]
    assert isinstance(corpus, dict)
    shard = out / "02_corpus" / "shard.parquet"
    if shard.is_file() and shard.resolve() == Path(str(corpus["path"])).resolve():
        # this box's own shard, exactly the one LOSO ran on (checked against the verdict's sha256)
        if sha256_file(shard) != corpus["sha256"]:
            raise InputError(f"{shard} changed since the verdict was reached",
                             hint=f"rerun from LOSO: {kit_cli()} run --from loso --out-dir {out}")
        files["02_corpus/shard.parquet"] = shard
        if (out / "02_corpus" / "shard.manifest.json").is_file():
            files["02_corpus/shard.manifest.json"] = out / "02_corpus" / "shard.manifest.json"
    for rel in ("03_loso/folds.parquet", "03_loso/predictions.parquet", "03_loso/baselines.json"):
        files[rel] = require_output(ctx, "03_loso", rel.split("/")[1], "loso")
    for seed in verdict["seeds"]:  # type: ignore[union-attr]
        files[f"03_loso/loso_seed{seed}.json"] = require_output(ctx, "03_loso", f"loso_seed{seed}.json", "loso")
    files[f"04_verdict/{verdict_path.name}"] = verdict_path
    for p in [*exports, report]:
        files[str(p.relative_to(out))] = p
    for log in sorted(out.glob("0[1-4]_*/logs/*.log")):  # not our own log: it is still growing
        files[str(log.relative_to(out))] = log
    return files


class BundleStep:
    number = 5
    name = "bundle"
    dirname = "05_bundle"

    def plan(self, ctx: Context) -> Plan:
        verdict, path = find_verdict(ctx)
        return Plan(settings={"train": ctx.settings.train.to_json(),
                              "box_id": safe_box_id(ctx.settings.box_id)},
                    inputs={"verdict": f"{verdict}:{sha256_file(path)}"})

    def run(self, ctx: Context) -> Outcome:
        verdict_name, verdict_path = find_verdict(ctx)
        verdict = read_json(verdict_path)
        exports_dir = ctx.step_dir / "exports"
        shutil.rmtree(exports_dir, ignore_errors=True)  # never ship models of an earlier verdict
        exports: list[Path] = []
        if verdict_name == "PROMOTE":
            exports_dir.mkdir(parents=True)
            exports = export_members(ctx, verdict, exports_dir)
        report = ctx.step_dir / "report.html"
        data = load_report_data(verdict, require_output(ctx, "03_loso", "predictions.parquet", "loso"),
                                ctx.out_dir / "run.json", ctx.path("01_prereqs", "prereqs.json"))
        write_text(report, render_report(verdict, data))
        box = safe_box_id(ctx.settings.box_id)
        utc = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        stem = f"results-{box}-{utc}"
        tarball = ctx.step_dir / f"{stem}.tar.gz"
        files = tarball_files(ctx, verdict, verdict_path, exports, report)
        write_results_tarball(tarball, stem, files, {"box_id": box, "verdict": verdict_name,
                                                     "created_utc": utc, "corpus_sha256": verdict["corpus"]["sha256"]})
        for old in ctx.step_dir.glob("results-*.tar.gz"):  # only once the new one is complete
            if old != tarball:
                old.unlink()
        digest = sha256_file(tarball)
        ctx.emit(BundleWritten(str(tarball), len(files) + 1, digest))
        return Outcome([report, tarball, *exports], {"verdict": verdict_name, "tarball": str(tarball),
                                                     "onnx_models": sum(p.suffix == ".onnx" for p in exports)})
