"""The verdict's intervals, errors by group and whole-clip figures on real runs: each recomputed from the files the
run writes (intervals.parquet, clips.parquet, calibration.json); --holdout encoder|box on a corpus of two encoders
and two boxes; a fold without results is HOLD, naming the source."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kit.corpus.columns import NO_BOX
from kit.corpus.schema import PARTIAL, REQUIRED, TEACHER_COLUMNS
from kit.model.conformal import level_key
from kit.rundir import RunDir
from kit.verdict.intervals import column
from tests.conftest import LENIENT, ROOT, run_kit, synthetic_corpus
from tests.kitfiles import shard_table, verdict_of

pytestmark = pytest.mark.slow  # real runs


def plcc(y: pd.Series, p: pd.Series) -> float:
    return float(np.corrcoef(y, p)[0, 1])


def test_every_interval_and_group_figure_is_recomputed_from_the_files(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = json_run
    run, v = RunDir(out), verdict_of(json_run[0])
    rows = pd.read_parquet(run.intervals)
    pred = pd.read_parquet(run.predictions)
    # the verdict holds its text as shared strings and writes it as a table read holds it: the text's own file
    for path in (run.intervals, run.clip_pooling):
        schema = pq.read_schema(path)
        texts = [f for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        assert {f.name for f in texts} >= {"src", "src_sha256", "content"}
        assert all(pa.types.is_large_string(f.type) for f in texts), (path, texts)
    # the ensemble: the seeds' mean held-out prediction and their std, per row
    by_row = pred.groupby("corpus_row")["pred"]
    assert np.allclose(rows.set_index("corpus_row")["pred"], by_row.mean().loc[rows["corpus_row"]])
    assert np.allclose(rows.set_index("corpus_row")["std"], by_row.std(ddof=1).loc[rows["corpus_row"]])
    iv = v.intervals
    assert iv is not None and iv.n_groups == rows["content"].nunique() and iv.nominal == 0.95
    for x in iv.levels:
        lo, hi = rows[column(x.level, "lo")], rows[column(x.level, "hi")]
        open_ended = lo.isna() | hi.isna()  # unbounded: null in the file, never +-inf
        assert np.isfinite(lo[~open_ended]).all() and x.share_unbounded == pytest.approx(float(open_ended.mean()))
        if x.coverage is None:  # no figure beside an unbounded interval, and the reason instead
            assert open_ended.any() and x.mean_width is None and x.reason
            assert rows.loc[open_ended, "unbounded"].str.contains(level_key(x.level)).all()
        else:
            assert x.coverage == pytest.approx(((lo <= rows["vmaf"]) & (rows["vmaf"] <= hi)).mean())
        assert x.unbounded == (math.ceil((iv.n_groups + 1) * x.level - 1e-9) > iv.n_groups)
    for g in v.breakdown or ():
        part = {"encoder": rows["encoder"], "box": rows["box_id"], "source": rows["src"]}.get(g.by)
        if part is None:
            continue
        mine = rows[part == g.group]
        assert g.n_frames == len(mine)
        assert g.rmse == pytest.approx(float(np.sqrt(((mine["pred"] - mine["vmaf"]) ** 2).mean())))
        assert g.bias == pytest.approx(float((mine["pred"] - mine["vmaf"]).mean()))
        assert g.plcc == pytest.approx(plcc(mine["vmaf"], mine["pred"]))
        assert g.share_out_of_range == pytest.approx(float(((mine["pred"] < 0) | (mine["pred"] > 100)).mean()))
    assert {g.by for g in v.breakdown or ()} == {"encoder", "box", "resolution", "rung", "quality", "source"}
    assert {g.group for g in v.breakdown or () if g.by == "resolution"} == {"<=240p"}  # 176x144 clips
    # the sidecar: one residual per content group, its largest clip miss (clips predicted from mean features)
    side = json.loads(run.calibration.read_text())
    assert side["method"] == "split-conformal" and side["alpha"] == pytest.approx(0.05)
    # 4 content groups cannot bound 95 %: no residual at all (vmaf-tune's loader took the largest), and why
    assert side["n"] == 0 and side["residuals"] == [] and side["calibrated"] is False
    assert side["content_groups"] == iv.n_groups == 4 and "needs at least 19 groups" in side["reason"]
    clips = pd.read_parquet(run.clips)
    ens = clips.groupby(["src_sha256", "encoder", "cq"]).agg(v=("vmaf_mean", "first"),
                                                             p=("pred_from_mean_features", "mean"))
    frames = rows.groupby(["src_sha256", "encoder", "cq"])["vmaf"].mean()
    assert np.allclose(ens["v"], frames.loc[ens.index])  # a clip's mean teacher is its frames' mean
    assert iv.clip_use is not None and iv.clip_use.n_clips == len(ens)
    assert iv.clip_use.rmse == pytest.approx(float(np.sqrt(((ens["p"] - ens["v"]) ** 2).mean())))
    assert v.completeness is not None and v.completeness.passed


def two_box_corpus(path: Path) -> None:
    """Six sources, each encoded by two encoders on one of two boxes."""
    df = synthetic_corpus(n_src=6, rows_per_src=40, seed=3)
    twin = df.copy()
    twin["encoder"], twin["vmaf"] = "libx265", np.clip(df["vmaf"] + 1.5, 0, 100)
    both = pd.concat([df, twin], ignore_index=True)
    both["box_id"] = np.where(both["src"].isin(["s0", "s1", "s2"]), "boxA", "boxB")
    both["width"], both["height"] = 1920, 1080
    both.to_parquet(path, index=False)


def test_holdout_encoder_and_box_are_their_own_blocks_and_gate_only_when_asked(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.parquet"
    two_box_corpus(corpus)
    out = tmp_path / "out"
    base = ["run", "--corpus", corpus, "--out-dir", out, "--seeds", "0,1", "--epochs", "2", "--only", "loso",
            "--recipe", "frames", *LENIENT]
    res = run_kit(*base, "--holdout", "encoder,box", cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    run = RunDir(out)
    enc = pd.read_parquet(run.holdout("encoder"))
    meta = pd.read_parquet(corpus)
    # a held-out row's member saw neither its encoder nor its content
    assert set(enc["heldout"]) == {"libx264", "libx265"} and set(enc["seed"]) == {0, 1}
    assert enc.groupby("seed")["corpus_row"].nunique().eq(len(meta)).all()
    verdict = run_kit(*[a if a != "loso" else "verdict" for a in base], "--holdout", "encoder,box",
                      "--holdout-min-plcc", "0.999", cwd=ROOT)
    v = verdict_of(out)
    assert v.holdout is not None and [b.kind for b in v.holdout] == ["encoder", "box"]
    block = v.holdout[0]
    assert [g.group for g in block.groups] == ["libx264", "libx265"]
    assert "every encoder (libx264, libx265) left out" in block.scheme and "neither its encoder" in block.scheme
    assert block.gate.enabled and block.gate.threshold == 0.999
    if not block.gate.passed:
        assert v.verdict == "HOLD" and "--holdout-min-plcc" in v.recommendation
    assert "unseen encoder" in verdict.stdout
    # recomputed: the ensemble's PLCC on each held-out encoder from holdout_encoder.parquet
    ens = enc.groupby("corpus_row").agg(vmaf=("vmaf", "first"), pred=("pred", "mean"), heldout=("heldout", "first"))
    for g in block.groups:
        mine = ens[ens["heldout"] == g.group]
        assert g.plcc == pytest.approx(plcc(mine["vmaf"], mine["pred"]))


def test_holdout_of_a_corpus_with_one_encoder_is_refused_naming_it(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.parquet"
    synthetic_corpus(n_src=4, rows_per_src=30).to_parquet(corpus, index=False)
    res = run_kit("run", "--corpus", corpus, "--out-dir", tmp_path / "out", "--seeds", "0", "--epochs", "1",
                  "--holdout", "encoder", cwd=ROOT)
    assert res.returncode == 2 and "holds one encoder only (libx264)" in res.stderr, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert not list((tmp_path / "out" / "03_loso").glob("members/*/*.npy"))  # refused before any member trained


def test_rows_whose_box_is_not_recorded_are_the_unknown_box_in_the_verdict_and_holdout_box(tmp_path: Path) -> None:
    """The schema lets a row leave its box null (not recorded, as in a union with an older shard): LOSO's --holdout box
    and the verdict's figures by box count those rows as the box a corpus without the column is (NO_BOX), where
    2.6.1 ended in an internal error in both."""
    corpus, out = tmp_path / "corpus.parquet", tmp_path / "out"
    table = synthetic_corpus(n_src=6, rows_per_src=40)
    table["box_id"] = pd.Series(np.where(np.arange(len(table)) % 3 == 0, None, "boxa"), dtype="str")
    table.to_parquet(corpus, index=False)
    res = run_kit("run", "--corpus", corpus, "--out-dir", out, "--seeds", "0,1", "--epochs", "2", "--recipe", "frames",
                  "--holdout", "box", "--only", "loso", *LENIENT, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    res = run_kit("run", "--corpus", corpus, "--out-dir", out, "--seeds", "0,1", "--epochs", "2", "--recipe", "frames",
                  "--holdout", "box", "--only", "verdict", *LENIENT, cwd=ROOT)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-3000:]
    v = verdict_of(out)
    unrecorded = int(table["box_id"].isna().sum())
    want = {"boxa": len(table) - unrecorded, NO_BOX: unrecorded}
    assert {g.group: g.n_frames for g in v.breakdown or () if g.by == "box"} == want
    (block,) = v.holdout or ()
    assert {g.group: g.n_frames for g in block.groups} == want
    assert (pd.read_parquet(RunDir(out).intervals)["box_id"] == NO_BOX).sum() == unrecorded


def test_rows_that_leave_any_column_unrecorded_go_through_loso_the_verdict_and_the_bundle(tmp_path: Path) -> None:
    """A union with an older shard may leave any column the schema lets a row leave null (every one but REQUIRED, the
    measured-on-some-rows PARTIAL and the teacher's identity, whose mix is refused as two teachers) null on some rows:
    LOSO with --holdout rung and box, the verdict and the bundle (its tables checked against the catalogue) take them,
    a row without its encode's size of the rung `native`, one without its height of the resolution `unknown`, one
    without its box the box NO_BOX, as a corpus without the columns is (kit.steps.s04_verdict.BESIDE)."""
    corpus, out = tmp_path / "corpus.parquet", tmp_path / "out"
    base = shard_table(n_src=6, rows_per_src=40)
    table = base.to_pandas()
    half = table["cq"].isin([19, 31]).to_numpy()  # these encodes on the 0.5 rung
    table = table.assign(width=1920, height=1080, enc_width=np.where(half, 960, 1920),
                         enc_height=np.where(half, 540, 1080), scaler_down=np.where(half, "lanczos", ""),
                         scaler_up=np.where(half, "bicubic", ""))
    unrecorded = np.arange(len(table)) % 3 == 0
    nullable = [c for c in table.columns if c not in (*REQUIRED, *PARTIAL, *TEACHER_COLUMNS)]
    assert {"box_id", "enc_width", "enc_height", "height", "scaler_down", "enc_bytes", "pix_fmt"} <= set(nullable)
    table = pa.Table.from_pandas(table, schema=base.schema, preserve_index=False)
    for name in nullable:
        field = table.schema.field(name)
        table = table.set_column(table.schema.get_field_index(name), field,
                                 pc.if_else(pa.array(unrecorded), pa.scalar(None, field.type), table[name]))
    pq.write_table(table, corpus)
    table = table.to_pandas()
    for only in ("loso", "verdict", "bundle"):
        res = run_kit("run", "--corpus", corpus, "--out-dir", out, "--seeds", "0,1", "--epochs", "2", "--recipe",
                      "frames", "--holdout", "rung,box", "--only", only, *LENIENT, cwd=ROOT)
        assert res.returncode == 0 and "Traceback" not in res.stderr, (only, res.stderr[-3000:])
    v = verdict_of(out)
    on_half = int((half & ~unrecorded).sum())
    rungs = {"0.50x": on_half, "native": len(table) - on_half}
    boxes = {"boxa": int((~unrecorded).sum()), NO_BOX: int(unrecorded.sum())}
    blocks = {b.kind: {g.group: g.n_frames for g in b.groups} for b in v.holdout or ()}
    assert blocks == {"rung": rungs, "box": boxes}
    breakdown = {(g.by, g.group): g.n_frames for g in v.breakdown or () if g.by in ("rung", "resolution", "box")}
    assert breakdown == {**{("rung", k): n for k, n in rungs.items()},
                         ("resolution", "<=1080p"): int((~unrecorded).sum()),
                         ("resolution", "unknown"): int(unrecorded.sum()),
                         **{("box", k): n for k, n in boxes.items()}}
    assert list((out / "05_bundle").glob("results-*.tar.gz"))
    # each encode its own clip, its size not recorded read as 0 (never one clip pooling every such row)
    key = ["src_sha256", "encoder", "cq", "enc_width", "enc_height"]
    want = table.assign(**{c: table[c].fillna(0).astype(int) for c in ("enc_width", "enc_height")})[key]
    clips = pd.read_parquet(RunDir(out).clips)
    for seed, mine in clips.groupby("seed"):
        got = mine[key].astype({"enc_width": int, "enc_height": int})
        assert len(got) == len(got.drop_duplicates()) == len(want.drop_duplicates()), seed
        assert set(map(tuple, got.to_numpy())) == set(map(tuple, want.drop_duplicates().to_numpy()))
