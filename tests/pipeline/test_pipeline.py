"""The whole pipeline on tiny real clips: verdict, shard, ONNX, tarball, resume."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from kit.corpus.schema import COLUMNS, SCHEMA
from kit.model.features import design_matrix
from kit.model.runtime import INPUT_CODEC, INPUT_FEATURES
from kit.steps import formats_through, get_step
from tests.conftest import FAST, LENIENT, ROOT, TINY_FRAMES, TINY_SOURCES, run_here, run_kit
from tests.training import onnx_predict

pytestmark = pytest.mark.slow  # whole runs of the pipeline


# The session's json_run is this file's finished run (tiny clips, FAST, LENIENT: PROMOTE), read as it is; a test
# that reruns the kit in it works on its own copy, in a folder whose name holds a space, a colon and a quote (paths
# must survive them: test_changing_cqs_... reruns the corpus, LOSO, verdict and bundle there; prereqs, whose
# fingerprint holds only the grid's first cq, stays up to date, and is made in an out-dir named `out: dir` by
# tests/real/test_odd_clips.py).
BOX = "jsonbox"


def copy_of(json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> Path:
    out = tmp_path / "out: dir, it's"
    shutil.copytree(json_run[0], out)
    return out


# IN_PROCESS: a rerun whose subject is what it does to the out-dir calls the CLI in this process (conftest.run_here),
# which loads torch, scipy and matplotlib once for all of them, not once per command (~8 s of CPU each); a command
# whose printed text names how the kit was started (the retry and hint lines below) runs as a process.
def args_of(out: Path, tiny_refs: Path) -> list[str | Path]:
    """The arguments of json_run, without its --json, on `out`."""
    return ["--ref-dir", tiny_refs, "--out-dir", out, "--box-id", BOX, *FAST, *LENIENT]


def test_full_run_promotes_and_writes_every_artefact(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, res = json_run
    said = res.stderr  # --json: the events on stdout, the lines people read on stderr (plain runs: stdout, below)
    for step in ("prereqs", "corpus", "loso", "verdict", "bundle"):  # a fresh out-dir: nothing was interrupted
        assert re.search(rf"\[\d\d {step}\] runs: not run yet in this out-dir", said), (step, said)
    verdict = json.loads((out / "04_verdict" / "PROMOTE.json").read_text())
    assert not (out / "04_verdict" / "HOLD.json").exists()
    for key in ("schema_version", "verdict", "generated_at_utc", "seeds", "gate", "corpus", "recommendation",
                "per_fold", "worst_folds", "teacher_model", "provenance"):
        assert key in verdict, key
    for key in ("passed", "mean_plcc", "mean_plcc_threshold", "mean_plcc_pass", "plcc_spread", "plcc_spread_max",
                "plcc_spread_pass", "per_seed_plccs", "per_seed_min", "per_seed_pass", "failing_seeds"):
        assert key in verdict["gate"], key
    assert verdict["verdict"] == "PROMOTE" and verdict["seeds"] == [0, 1]
    assert verdict["corpus"]["boxes"] == [BOX]
    assert verdict["teacher_model"] == "vmaf_v0.6.1"
    assert len(verdict["per_fold"]) == 2 * len(TINY_SOURCES)
    for seed in (0, 1):
        report = json.loads((out / "03_loso" / f"loso_seed{seed}.json").read_text())
        for key in ("seed", "mean_plcc", "std_plcc", "min_plcc", "max_plcc", "mean_srocc", "mean_rmse", "n_folds",
                    "folds"):
            assert key in report
        assert report["seed"] == seed and report["n_folds"] == len(TINY_SOURCES)
    assert "PROMOTE" in said and "results tarball" in said
    assert ("vmaf-tune queries libx264 at CRF 10-51; its rows hold CRF 25-37: CRF 10-24 and 38-51 is unmeasured"
            in said), said


def test_shard_has_schema_and_one_row_per_frame(json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = json_run
    table = pq.read_table(out / "02_corpus" / "shard.parquet")
    assert table.schema.equals(SCHEMA, check_metadata=False)
    assert table.num_rows == len(TINY_SOURCES) * 2 * TINY_FRAMES  # clips x cqs x frames
    df = table.to_pandas()
    assert set(df["cq"]) == {25, 37}
    assert (df.groupby(["src", "cq"])["frame_index"].apply(lambda s: sorted(s) == list(range(TINY_FRAMES)))).all()
    assert df["vmaf"].between(0, 100).all()
    assert (df["quality_args"].str.startswith("-crf ")).all()
    assert (df["enc_bytes"] > 0).all() and (df["bitrate_kbps"] > 0).all()
    # a lower cq means more bits and a higher score for every clip
    per = df.groupby(["src", "cq"]).agg(bits=("enc_bytes", "first"), vmaf=("vmaf", "mean")).unstack("cq")
    assert (per[("bits", 25)] > per[("bits", 37)]).all()
    assert (per[("vmaf", 25)] > per[("vmaf", 37)]).all()
    manifest = json.loads((out / "02_corpus" / "shard.manifest.json").read_text())
    # corpus schema 6 (2.2.0: the teacher's own six)
    assert manifest["rows"] == table.num_rows and manifest["schema_version"] == 6
    assert len(manifest["sources"]) == len(TINY_SOURCES) and manifest["ffmpeg"]["build"]
    assert list(COLUMNS) == table.column_names


def graph_parts(path: Path, feats: np.ndarray, codec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An exported teacher-recipe member's two parts for the rows, read from inside its graph by onnxruntime: the
    teacher's function (`teacher_score`) and the network's output before the factor (`correction_raw`)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load_from_string(path.read_bytes())
    for name in ("teacher_score", "correction_raw"):
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    told, raw = sess.run(["teacher_score", "correction_raw"], {INPUT_FEATURES: feats.astype(np.float32),
                                                              INPUT_CODEC: codec.astype(np.float32)})
    return np.asarray(told, dtype=np.float64), np.asarray(raw, dtype=np.float64)


def test_onnx_models_match_torch_and_sidecars_describe_them(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = json_run
    exports = out / "05_bundle" / "exports"
    df = pq.read_table(out / "02_corpus" / "shard.parquet").to_pandas()
    feats, codec = design_matrix(df)
    preds, nets = [], []
    for seed in (0, 1):
        sidecar = json.loads((exports / f"fr_regressor_v2_seed{seed}.json").read_text())
        assert sidecar["parity_max_abs_diff"] <= 1e-4
        assert sidecar["inputs"]["features"]["order"] == ["adm2", "vif_scale0", "vif_scale1", "vif_scale2",
                                                           "vif_scale3", "motion2"]
        assert "h264_videotoolbox" in sidecar["encoder_vocab"]
        assert sidecar["output"]["clipped"] is False  # says plainly that the raw output is not clamped
        onnx_path = exports / f"fr_regressor_v2_seed{seed}.onnx"
        preds.append(onnx_predict(onnx_path, feats, codec))
        # the teacher recipe's graph: the teacher's function plus the seed's own network scaled by the factor its
        # sidecar states; the function is libvmaf's own per-frame score (within the proof's tolerance)
        told, raw = graph_parts(onnx_path, feats, codec)
        scale = sidecar["distillation"]["correction"]["scale"]
        assert np.allclose(preds[-1], told + np.float32(scale) * raw, atol=1e-4)
        proof = sidecar["distillation"]["teacher_function"]
        assert np.abs(told - df["vmaf"].to_numpy()).max() <= proof["tolerance"]
        nets.append(raw)
    # the seeds really differ where the factor lets their networks through; at 0 none is trained (issue 97)
    assert preds[0].shape == (len(df),) and np.allclose(nets[0], nets[1]) == (scale == 0.0)
    # the outputs differ as much as the factor lets the seeds' networks through (0 here: the teacher's function)
    assert np.allclose(preds[0], preds[1], atol=1e-4) == (scale == 0.0)
    ensemble = json.loads((exports / "ensemble.json").read_text())
    assert [m["seed"] for m in ensemble["members"]] == [0, 1]
    # and the vmaf-tune profile beside them, ready for model/tiny/ (tests/unit/test_vmaftune.py checks its rules)
    profile = exports / "vmaftune"
    assert sorted(p.name for p in profile.iterdir()) == [
        "fr_regressor_v2.json", "fr_regressor_v2.onnx", "fr_regressor_v2_ensemble_v1.json",
        "fr_regressor_v2_ensemble_v1_calibration.json", "fr_regressor_v2_ensemble_v1_seed0.json",
        "fr_regressor_v2_ensemble_v1_seed0.onnx",
        "fr_regressor_v2_ensemble_v1_seed1.json", "fr_regressor_v2_ensemble_v1_seed1.onnx", "registry-rows.json"]
    assert all(json.loads((profile / f"{r['id']}.json").read_text())["parity_max_abs_diff"] <= 1e-4
               for r in json.loads((profile / "registry-rows.json").read_text()))
    # the CRF vmaf-tune queries beyond the rows (FAST's grid, 25 and 37) is said, not vouched for
    coverage = json.loads((profile / "fr_regressor_v2_ensemble_v1_seed0.json").read_text())["crf_coverage"]
    assert coverage["libx264"]["trained_crf"] == [int(df["cq"].min()), int(df["cq"].max())] == [25, 37]
    assert coverage["libx264"]["unmeasured_crf"] == ["10-24", "38-51"]


def test_verify_accepts_the_tarball_and_rejects_a_corrupted_one(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    out, _ = json_run
    (tarball,) = (out / "05_bundle").glob(f"results-{BOX}-*.tar.gz")
    ok = run_kit("verify", tarball)
    assert ok.returncode == 0 and "OK:" in ok.stdout, ok.stderr
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert any(n.endswith("02_corpus/shard.parquet") for n in names)
    assert any(n.endswith("/manifest.json") for n in names)
    assert any(n.endswith(".onnx") for n in names)
    # rewrite one member's bytes and repack: verify must name it
    bad_dir = tmp_path / "x"
    with tarfile.open(tarball) as tar:
        tar.extractall(bad_dir, filter="data")
    (victim,) = bad_dir.glob("*/04_verdict/PROMOTE.json")
    victim.write_text(victim.read_text().replace('"PROMOTE"', '"PROM0TE"', 1))
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        tar.add(victim.parent.parent, arcname=victim.parent.parent.name)
    res = run_kit("verify", bad)
    assert res.returncode == 2
    assert "04_verdict/PROMOTE.json: sha256 mismatch" in res.stderr


def test_second_identical_run_skips_every_step(json_run: tuple[Path, subprocess.CompletedProcess[str]],
                                               tiny_refs: Path, tmp_path: Path) -> None:
    out = copy_of(json_run, tmp_path)
    res = run_here("run", *args_of(out, tiny_refs))  # in this process (IN_PROCESS)
    assert res.returncode == 0, res.stderr
    for step in ("prereqs", "corpus", "loso", "verdict", "bundle"):
        assert re.search(rf"\[\d\d {step}\] skipped: up to date", res.stdout), (step, res.stdout)
    assert "runs:" not in res.stdout


def test_an_edited_kit_reruns_only_the_steps_whose_format_it_bumped(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tiny_refs: Path, tmp_path: Path) -> None:
    """Fingerprints hold inputs, settings and format versions, not the kit's source: a copy of the kit with a comment
    added to every module reruns nothing of a finished run; the same copy with the verdict's format bumped reruns
    the verdict and the bundle after it, each saying which format changed, and nothing before them."""
    out = copy_of(json_run, tmp_path)
    kit = tmp_path / "kit copy"
    shutil.copytree(ROOT / "kit", kit / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    modules = sorted((kit / "kit").rglob("*.py"))
    for module in modules:
        module.write_text(module.read_text() + "\n# a comment: what the kit makes is unchanged\n")
    entry = [sys.executable, str(kit / "kit" / "run_full_pipeline.py")]  # the copy, as an untarred kit runs
    same = run_kit(*args_of(out, tiny_refs), entry=entry, env={"PYTHONPATH": ""}, cwd=tmp_path)
    assert same.returncode == 0 and len(modules) > 100, same.stdout[-2000:] + same.stderr[-2000:]
    assert json.loads((out / "run.json").read_text())["provenance"]["kit_root"] == str(kit / "kit")  # the copy ran
    for step in ("prereqs", "corpus", "loso", "verdict", "bundle"):
        assert re.search(rf"\[\d\d {step}\] skipped: up to date", same.stdout), (step, same.stdout)
    registry, was = kit / "kit" / "steps" / "__init__.py", get_step("verdict").format_version
    text = registry.read_text()
    entry_of = '"VerdictStep", format_version={})'.format
    registry.write_text(text.replace(entry_of(was), entry_of(was + 1)))
    assert registry.read_text() != text
    # the same size, and possibly the same second as the comment written above when the run in between took less
    # than one: Python would take the module's cached bytecode for current (it compares whole seconds and the size)
    shutil.rmtree(registry.parent / "__pycache__", ignore_errors=True)
    bumped = run_kit(*args_of(out, tiny_refs), entry=entry, env={"PYTHONPATH": ""}, cwd=tmp_path)
    assert bumped.returncode == 0, bumped.stdout[-2000:] + bumped.stderr[-2000:]
    for step in ("prereqs", "corpus", "loso"):
        assert re.search(rf"\[\d\d {step}\] skipped: up to date", bumped.stdout), (step, bumped.stdout)
    for step in ("verdict", "bundle"):
        said = [line for line in bumped.stdout.splitlines() if f" {step}] runs:" in line]  # the line, in a failure
        assert re.search(rf"\[\d\d {step}\] runs: .*format of step verdict: {was} -> {was + 1}", bumped.stdout), \
            (step, said, bumped.stdout[-3000:])
    status = json.loads((out / "05_bundle" / "status.json").read_text())
    assert status["formats"] == {**formats_through("bundle"), "verdict": was + 1}


def test_changing_cqs_reruns_corpus_reusing_jobs_and_everything_after(
        json_run: tuple[Path, subprocess.CompletedProcess[str]], tiny_refs: Path, tmp_path: Path) -> None:
    out = copy_of(json_run, tmp_path)
    args = args_of(out, tiny_refs)
    res = run_here("run", *args, "--cqs", "25,31")  # in this process (IN_PROCESS)
    assert res.returncode == 0, res.stderr
    assert re.search(r"\[02 corpus\] runs: setting grid.libx264: \[25, 37\] -> \[25, 31\]", res.stdout), res.stdout
    assert f"{len(TINY_SOURCES) * 2} jobs (clip x encoder x cq), {len(TINY_SOURCES)} already done" in res.stdout
    for step in ("loso", "verdict", "bundle"):
        assert re.search(rf"\[\d\d {step}\] runs: input", res.stdout), (step, res.stdout)
    df = pq.read_table(out / "02_corpus" / "shard.parquet").to_pandas()
    assert set(df["cq"]) == {25, 31}
    # back to the original grid: every job is reused, nothing is encoded again (the corpus step is what says so)
    res = run_here("run", *args, "--only", "corpus")
    assert res.returncode == 0, res.stderr
    assert f"{len(TINY_SOURCES) * 2} already done" in res.stdout, res.stdout


def test_a_stale_promote_is_removed_when_the_gate_fails(json_run: tuple[Path, subprocess.CompletedProcess[str]],
                                                       tiny_refs: Path, tmp_path: Path) -> None:
    out = copy_of(json_run, tmp_path)
    assert (out / "04_verdict" / "PROMOTE.json").exists() and (out / "05_bundle" / "exports").exists()
    res = run_here("step", "verdict", "--ref-dir", tiny_refs, "--out-dir", out, "--box-id", BOX, *FAST,  # IN_PROCESS
                   "--min-mean-plcc", "1")  # a mean PLCC of exactly 1 holds here: no model is perfect
    assert res.returncode == 1, res.stdout + res.stderr
    assert (out / "04_verdict" / "HOLD.json").exists() and not (out / "04_verdict" / "PROMOTE.json").exists()
    res = run_here("step", "bundle", "--ref-dir", tiny_refs, "--out-dir", out, "--box-id", BOX, *FAST)
    assert res.returncode == 1, res.stderr  # the bundle of a HOLD exits as the verdict does
    assert not (out / "05_bundle" / "exports").exists()  # no models of the old PROMOTE ship


def test_jobs_failing_for_every_clip_fail_the_step_keep_the_others_and_force_redoes_them_all(
        tiny_refs: Path, ffmpeg: str, tmp_path: Path) -> None:
    """One out-dir, as a person meets it: an encoder that crashes on some jobs, the rerun that redoes only those,
    then --force, which redoes every job; and LOSO never ran, so the verdict's hint names a command that works."""
    wrapper = tmp_path / "ffmpeg-crashes-at-37"
    wrapper.write_text("#!/bin/sh\n"
                       "case \" $* \" in *\" -crf 37 \"*) echo 'simulated encoder crash at cq 37' >&2; exit 3;; esac\n"
                       f"exec '{ffmpeg}' \"$@\"\n")
    wrapper.chmod(0o755)
    out = tmp_path / "out"
    args = ["--ref-dir", tiny_refs, "--out-dir", out, *FAST]
    res = run_kit("run", *args, "--ffmpeg", wrapper)
    n = len(TINY_SOURCES)
    assert res.returncode == 2, res.stdout + res.stderr
    # every clip's job at cq 37 failed: no clip is left to go on with (one that fails alone is left out and the run
    # goes on: tests/real/test_faults.py)
    assert f"error: {n} of {2 * n} corpus jobs failed, leaving no clip; first: " in res.stderr, res.stderr
    assert "ffmpeg failed (exit 3) encoding" in res.stderr and "simulated encoder crash at cq 37" in res.stderr
    assert res.stdout.count("FAILED ") == n and res.stdout.count("frames, vmaf") == n  # the others finished
    assert "retry: " not in res.stderr  # the same encodes fail again (issue 74): the fix is the cause's
    assert len(list((out / "02_corpus" / "jobs").glob("*.parquet"))) == n
    assert not (out / "02_corpus" / "status.json").exists() and not (out / "02_corpus" / "shard.parquet").exists()
    # the same ffmpeg build without the fault (its prereqs first, as a run does): the finished jobs are reused,
    # only the failed ones run
    assert run_kit("step", "prereqs", *args).returncode == 0
    res = run_kit("step", "corpus", *args)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{2 * n} jobs (clip x encoder x cq), {n} already done" in res.stdout, res.stdout
    # --force redoes every job of an up-to-date corpus
    res = run_kit("step", "corpus", *args, "--force")
    assert res.returncode == 0 and f"{2 * n} jobs (clip x encoder x cq), 0 already done" in res.stdout, res.stdout
    res = run_kit("step", "verdict", *args)  # LOSO never ran: the hint names a command that works as typed
    assert res.returncode == 2
    assert f"-m kit step loso --settings {out / 'run.json'} --out-dir {out}" in res.stderr, res.stderr
