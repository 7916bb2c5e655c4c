"""A verdict that means something: the ridge baseline and lift, a gate that can
fail, and determinism."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.model.baselines import ridge_loso
from kit.model.features import design_matrix
from kit.model.results import BaselineResult
from kit.verdict.lift import lift, lift_gate
from tests.conftest import LENIENT, ROOT, full_summary, run_kit, synthetic_corpus
from tests.training import fit_ridge, make_folds

pytestmark = pytest.mark.slow  # whole runs of the pipeline

FAST_LOSO = ["--seeds", "0,1", "--epochs", "25", "--batch-size", "16"]


def test_ridge_recovers_a_linear_teacher_exactly() -> None:
    rng = np.random.default_rng(1)
    feats = rng.uniform(0, 1, (200, 6)).astype(np.float32)
    codec = np.zeros((200, 15), dtype=np.float32)
    codec[:, 0] = 1
    spaced = feats.astype(np.float64).copy()
    spaced[:, 5] = np.log1p(spaced[:, 5])  # the model sees motion as log(1 + x)
    target = 10 + spaced @ np.array([30, 5, -4, 2, 1, 0.5])
    model = fit_ridge(feats, codec, target, alpha=1e-9)
    np.testing.assert_allclose(model.predict(feats, codec), target, atol=1e-3)


def test_ridge_loso_uses_the_same_folds() -> None:
    df = synthetic_corpus(n_src=4)
    feats, codec = design_matrix(df)
    report = ridge_loso(feats, codec, df["vmaf"].to_numpy(), make_folds(df))
    assert report.n_folds == 4 and [f.src for f in report.folds] == ["s0", "s1", "s2", "s3"]
    assert 0.5 < report.mean_plcc < 1.0 and report.mean_rmse > 0


def test_lift_statement_and_optional_gate() -> None:
    ridge = BaselineResult("ridge", mean_plcc=0.976, mean_rmse=6.8)
    big = lift(0.994, 3.1, ridge)
    assert big.rmse_ratio == pytest.approx(3.1 / 6.8) and not big.small_lift
    assert big.plcc_delta == pytest.approx(0.018)
    small = lift(0.977, 6.5, ridge)
    assert small.small_lift and "adds little over a ridge regression" in small.statement
    assert lift_gate(0.46, None).to_json() == {"enabled": False, "threshold": None, "rmse_ratio": 0.46, "passed": True}
    assert lift_gate(0.46, 0.7).passed and not lift_gate(0.9, 0.7).passed


@pytest.fixture(scope="module")
def tiny_shard(tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shard")
    res = run_kit("run", "--ref-dir", tiny_refs, "--out-dir", out, "--only", "prereqs", "--cqs", "19,28,37",
                  "--scales", "native")
    assert res.returncode == 0, res.stderr
    res = run_kit("step", "corpus", "--ref-dir", tiny_refs, "--out-dir", out, "--cqs", "19,28,37", "--scales", "native")
    assert res.returncode == 0, res.stderr
    return out / "02_corpus" / "shard.parquet"


def _verdict(out: Path) -> tuple[str, dict]:
    (path,) = [p for p in (out / "04_verdict").glob("*.json") if p.stem in ("PROMOTE", "HOLD")]
    return path.stem, json.loads(path.read_text())


@pytest.fixture(scope="module")
def plain_run(tiny_shard: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One run on the true scores with the default gate, read by several tests: its out-dir and stdout."""
    out = tmp_path_factory.mktemp("plain") / "o"
    res = run_kit("run", "--corpus", tiny_shard, "--out-dir", out, *FAST_LOSO)
    assert res.returncode in (0, 1), res.stderr
    return out, res.stdout


@pytest.fixture(scope="module")
def frames_run(tiny_shard: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same rows and gates trained by the frames recipe: a student that misses by points where the plain run's
    (the teacher recipe's) is its teacher's function. Its out-dir, read as it is."""
    out = tmp_path_factory.mktemp("frames") / "o"
    res = run_kit("run", "--corpus", tiny_shard, "--out-dir", out, *FAST_LOSO, "--recipe", "frames")
    assert res.returncode in (0, 1), res.stderr
    return out


def test_verdict_reports_baseline_lift_worst_folds_and_meaning(plain_run: tuple[Path, str]) -> None:
    out, stdout = plain_run
    _, v = _verdict(out)
    ridge = v["baselines"]["ridge"]
    assert ridge["model"] == "ridge" and ridge["n_folds"] == 4 and len(ridge["folds"]) == 4
    assert v["lift"]["ridge_mean_rmse"] == pytest.approx(ridge["mean_rmse"])
    assert v["lift"]["rmse_ratio"] == pytest.approx(v["lift"]["ensemble_mean_rmse"] / ridge["mean_rmse"])
    ratio = v["lift"]["rmse_ratio"]  # on by default: no worse than ridge
    assert v["lift_gate"] == {"enabled": True, "threshold": 1.0, "rmse_ratio": ratio, "passed": ratio <= 1.0}
    if ratio > 1.0:
        assert v["verdict"] == "HOLD" and "worse than the ridge baseline trained beside it" in v["recommendation"]
    assert "4 content groups; PROMOTE needs at least 5" in v["recommendation"]  # and too few contents
    for w in v["worst_folds"]:
        assert set(w) >= {"src", "plcc", "rmse", "bias", "reason", "n_frames", "share_vmaf_100"}
        assert any(word in w["reason"] for word in ("PLCC", "RMSE", "bias"))
    assert set(v["overall"]["mean_over_seeds"]) == {"plcc", "srocc", "krocc", "rmse"}
    assert v["overall"]["mean_over_seeds"]["plcc"] == pytest.approx(v["gate"]["mean_plcc"])
    pooled = v["overall"]["pooled_ensemble"]
    assert pooled["n_frames"] == v["corpus"]["rows"] and -1 <= pooled["krocc"] <= 1
    assert v["teacher_model"] == "vmaf_v0.6.1"
    assert "not agreement with human opinion scores" in v["plcc_measures"]
    assert "no logistic mapping" in v["plcc_measures"]
    assert "baselines" in stdout and "ridge baseline" in full_summary(out)  # pointed to; in the summary's rows


def test_min_rmse_lift_can_hold_while_the_seed_gate_passes(tiny_shard: Path, frames_run: Path,
                                                           tmp_path: Path) -> None:
    # a copy of the frames run: the same corpus and recipe, so its LOSO is up to date and only the gates change (the
    # plain run's student is its teacher's function: RMSE ~1e-4, no ratio to ridge that a gate could fail)
    shutil.copytree(frames_run, tmp_path / "o")
    res = run_kit("run", "--corpus", tiny_shard, "--out-dir", tmp_path / "o", *FAST_LOSO, *LENIENT,
                  "--min-rmse-lift", "0.01", "--recipe", "frames")
    assert res.returncode == 1, res.stdout + res.stderr
    assert re.search(r"\[\d\d loso\] skipped: up to date", res.stdout), res.stdout[:2000]
    name, v = _verdict(tmp_path / "o")
    assert name == "HOLD" and v["gate"]["passed"]  # the seed-compatible gate keeps its meaning
    assert v["lift_gate"]["enabled"] and not v["lift_gate"]["passed"] and v["recipe"] == "frames"
    assert v["lift_gate"]["rmse_ratio"] == pytest.approx(v["lift"]["ensemble_mean_rmse"] / v["lift"]["ridge_mean_rmse"])
    assert "--min-rmse-lift 0.01" in v["recommendation"]


def test_shuffled_teacher_scores_end_in_hold(tiny_shard: Path, frames_run: Path, tmp_path: Path) -> None:
    df = pd.read_parquet(tiny_shard)
    shuffled = df.copy()
    shuffled["vmaf"] = np.random.default_rng(0).permutation(df["vmaf"].to_numpy())
    bad = tmp_path / "shuffled.parquet"
    shuffled.to_parquet(bad, index=False)
    # the frames recipe: the teacher recipe's proof refuses scores that are no libvmaf function of their features
    res = run_kit("run", "--corpus", bad, "--out-dir", tmp_path / "bad", *FAST_LOSO, "--recipe", "frames")
    assert res.returncode == 1, res.stdout + res.stderr
    name, v = _verdict(tmp_path / "bad")
    assert name == "HOLD" and not v["gate"]["mean_plcc_pass"]
    assert v["gate"]["mean_plcc"] < 0.5
    # the control: the same rows with their true scores (the same recipe) agree far better with the teacher
    _, good = _verdict(frames_run)
    assert good["recipe"] == v["recipe"] == "frames"
    assert good["gate"]["mean_plcc"] > v["gate"]["mean_plcc"] + 0.3


def test_same_corpus_and_seeds_give_identical_verdict_and_onnx(tiny_shard: Path, tmp_path: Path) -> None:
    """A rerun that made the same rows, measured slower: other file bytes, the same corpus and models."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from kit.infra.files import sha256_file

    table = pq.read_table(tiny_shard)
    slower = pc.add(pc.multiply(table["enc_time_ms"], 1.7), 3.0)
    retimed = tmp_path / "retimed.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("enc_time_ms"), "enc_time_ms", slower), retimed,
                   compression="snappy")
    assert sha256_file(retimed) != sha256_file(tiny_shard)
    assert pa.Table.equals(pq.read_table(retimed).drop_columns(["enc_time_ms"]), table.drop_columns(["enc_time_ms"]))
    verdicts, models = [], []
    for run, corpus in (("a", tiny_shard), ("b", retimed)):
        out = tmp_path / run
        res = run_kit("run", "--corpus", corpus, "--out-dir", out, *FAST_LOSO, *LENIENT)
        assert res.returncode == 0, res.stderr
        _, v = _verdict(out)
        v.pop("generated_at_utc")
        assert v["corpus"].pop("path") == str(corpus.resolve())
        # what the file's own manifest says: the copy has none beside it
        assert v["corpus"].pop("corpus_kind") == ("shard" if corpus == tiny_shard else "unknown")
        manifest = ("independent_check", "warnings", "left_out")  # its manifest's too
        assert all((key in v or key in v["corpus"]) == (corpus == tiny_shard) for key in manifest)
        for key in manifest:
            v.pop(key, None), v["corpus"].pop(key, None)
        # the frames' times are the manifest's too: without them the windows are placed by the header's rate, which
        # the verdict says (the same frames here, each clip's rate its packets'), and its figures and gates are equal
        assert ("placed" in v["consumer"]["sampling"]) == (corpus != tiny_shard)
        v["consumer"]["sampling"].pop("placed", None)
        verdicts.append(v)
        models.append({p.name: p.read_bytes() for p in (out / "05_bundle" / "exports").glob("*.onnx")})
    assert verdicts[0] == verdicts[1]  # the corpus sha256 included: it hashes content, not enc_time_ms
    assert sorted(models[0]) == ["fr_regressor_v2_seed0.onnx", "fr_regressor_v2_seed1.onnx"]
    assert models[0] == models[1]  # byte for byte, the metadata's corpus_sha256 included


def test_seed_document_baselines_sit_beside_the_ensemble(plain_run: tuple[Path, str]) -> None:
    _, v = _verdict(plain_run[0])
    assert set(v["baselines"]) == {"ridge", "linear", "mlp_small", "teacher_fn"}
    assert v["baselines"]["linear"]["params"] == 7 and v["baselines"]["mlp_small"]["params"] == 257
    for name in ("linear", "mlp_small"):
        b = v["baselines"][name]
        ridge_srcs = [f["src"] for f in v["baselines"]["ridge"]["folds"]]
        assert b["n_folds"] == 4 and [f["src"] for f in b["folds"]] == ridge_srcs
        assert b["mean_rmse"] > 0


def test_a_challenger_must_beat_the_incumbent_by_more_than_the_seed_spread(tiny_shard: Path, tmp_path: Path) -> None:
    """Beaten clearly, the incumbent is replaced; not a bundle, it is refused. (An incumbent the challenger does
    not beat by more than the seed spread holds: tests/pipeline/test_champion_kept.py.)"""
    # the incumbent: a bundle of the frames recipe trained 3 epochs on these rows (the session's json_run is the
    # teacher's function, which no challenger beats); the challenger, by the teacher recipe, is the teacher's function
    incumbent = tmp_path / "inc"
    made = run_kit("run", "--corpus", tiny_shard, "--out-dir", incumbent, "--seeds", "0,1", "--epochs", "3",
                   "--batch-size", "64", "--recipe", "frames", *LENIENT)
    assert made.returncode == 0, made.stdout + made.stderr
    res = run_kit("run", "--corpus", tiny_shard, "--out-dir", tmp_path / "c2", *FAST_LOSO, *LENIENT,
                  "--incumbent", incumbent / "05_bundle" / "exports")
    assert res.returncode == 0, res.stdout + res.stderr
    _, v = _verdict(tmp_path / "c2")
    gate = v["challenger_gate"]
    assert gate["passed"] and gate["margin"] > gate["seed_spread"] and gate["margin"] > 0.01, gate
    # a folder that is not a bundle is refused clearly
    res = run_kit("run", "--corpus", tiny_shard, "--out-dir", tmp_path / "x", *FAST_LOSO, "--incumbent", tmp_path)
    assert res.returncode == 2 and "no ensemble.json found" in res.stderr


def test_mkl_runs_in_its_reproducible_mode_unless_the_user_chose(tmp_path: Path) -> None:
    # what torch reads when it loads MKL, after `import kit` (importing torch here too would only add 3 s)
    probe = "import os, kit; print(os.environ['MKL_CBWR'])"
    env = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}
    for preset, expected in ((None, "AUTO,STRICT"), ("COMPATIBLE", "COMPATIBLE")):
        run_env = {**env, "PYTHONPATH": str(ROOT), **({"MKL_CBWR": preset} if preset else {})}
        out = subprocess.run([sys.executable, "-c", probe], env=run_env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


def test_a_source_offset_by_ten_in_the_teacher_is_seen_beside_its_correlation(tiny_shard: Path,
                                                                              tmp_path: Path) -> None:
    """An offset is what a new source brings and what PLCC cannot see: the bias gate HOLDs and names the
    source; without the gate, the summary still shows how far off it is."""
    df = pd.read_parquet(tiny_shard)
    src = str(df.groupby("src")["vmaf"].mean().idxmin())  # the most room below the teacher's ceiling
    df.loc[df["src"] == src, "vmaf"] = (df.loc[df["src"] == src, "vmaf"] + 10.0).clip(upper=100.0)
    offset = tmp_path / "offset.parquet"
    df.to_parquet(offset, index=False)
    # trained enough for the offset to show; the frames recipe: the teacher recipe's proof refuses an altered teacher
    recipe = ["--seeds", "0,1", "--epochs", "100", "--batch-size", "16", "--recipe", "frames"]
    res = run_kit("run", "--corpus", offset, "--out-dir", tmp_path / "gated", *recipe, *LENIENT, "--max-abs-bias", "5")
    assert res.returncode == 1, res.stdout + res.stderr
    name, v = _verdict(tmp_path / "gated")
    assert name == "HOLD" and v["gate"]["passed"]  # the correlation gate alone would have promoted
    assert v["bias_gate"]["enabled"] and not v["bias_gate"]["passed"] and src in v["bias_gate"]["failing_sources"]
    assert f"source {src} is off by" in v["recommendation"] and "--max-abs-bias 5" in v["recommendation"]
    (worst,) = [w for w in v["worst_folds"] if w["src"] == src]  # named among the worst, for its bias
    assert "bias -" in worst["reason"] and worst["bias"] < -5
    # the same run without the gate: a copy of it, so the trained LOSO is reused and only the verdict is redone
    shutil.copytree(tmp_path / "gated", tmp_path / "open")
    res = run_kit("run", "--corpus", offset, "--out-dir", tmp_path / "open", *recipe, *LENIENT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"\[\d\d loso\] skipped: up to date", res.stdout), res.stdout
    said = " ".join(res.stdout.replace("│", " ").split())  # the closing summary's cells, unwrapped
    assert f"{src} (" in said and "bias -" in said  # the worst folds row gives the reason
    rows = full_summary(tmp_path / "open")  # the gate that is off: among the rows the report holds
    assert f"on {src}, per source" in rows and "no gate: --max-abs-bias off" in rows
