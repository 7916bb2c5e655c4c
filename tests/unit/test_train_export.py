"""The batched trainer, LOSO folds, the codec block and ONNX export."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from kit.errors import InputError
from kit.model.arch import LINEAR, fr_regressor_v2
from kit.model.contract import CODEC_VOCAB
from kit.model.export import build_onnx, parity
from kit.model.features import CODEC_DIM, codec_block
from kit.model.network import FrRegressor
from kit.model.recipe import TrainConfig
from kit.model.train import Member, train_members
from tests.conftest import synthetic_corpus
from tests.training import make_folds, onnx_predict, run_loso


def _inputs(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from kit.model.features import design_matrix

    feats, codec = design_matrix(df)
    return feats, codec, df["vmaf"].to_numpy()


def test_members_train_independently_of_each_other() -> None:
    """Dropout on: a member beside another trains to the same bits as alone (its own generators)."""
    df = synthetic_corpus()
    feats, codec, y = _inputs(df)
    cfg = TrainConfig(epochs=3, batch_size=16)
    a = Member(seed=3, fold=0, train_rows=np.arange(0, 180))
    b = Member(seed=9, fold=1, train_rows=np.arange(60, 240))
    alone = train_members(feats, codec, y, [a], cfg)
    together = train_members(feats, codec, y, [b, a], cfg)
    for mine, stacked in zip(alone.net.params, together.net.params, strict=True):
        assert mine[0].numpy().tobytes() == stacked[1].numpy().tobytes()
    assert not np.allclose(together.predict(0, feats, codec), together.predict(1, feats, codec))


def test_scaler_is_fit_on_training_rows_only() -> None:
    df = synthetic_corpus()
    feats, codec, y = _inputs(df)
    rows = np.arange(60, 240)
    ens = train_members(feats, codec, y, [Member(0, 0, rows)], TrainConfig(epochs=1))
    spaced = feats.astype(np.float64).copy()
    spaced[:, 5] = np.log(1 + spaced[:, 5])  # motion2, the sixth, enters as log(1 + x)
    np.testing.assert_allclose(ens.means[0, 0].numpy(), spaced[rows].mean(0), rtol=1e-5)
    assert not np.allclose(ens.means[0, 0].numpy(), spaced.mean(0), rtol=1e-3)


def test_folds_group_by_content_not_name() -> None:
    df = synthetic_corpus(n_src=4)
    df.loc[df["src"] == "s3", "src_sha256"] = f"{2:064x}"  # s3 is s2's content under another name
    folds = make_folds(df)
    assert len(folds) == 3
    merged = next(f for f in folds if f.sources[0].src_sha256 == f"{2:064x}")
    assert len(merged.rows) == 120


def test_fewer_than_three_sources_is_refused() -> None:
    with pytest.raises(InputError, match="at least 3"):
        make_folds(synthetic_corpus(n_src=2))


def test_loso_learns_and_honours_seeds_exactly() -> None:
    df = synthetic_corpus(n_src=4, rows_per_src=80)
    result = run_loso(df, [7, 2], TrainConfig(epochs=30, batch_size=32))
    assert [r.seed for r in result.seed_reports] == [7, 2]
    assert all(r.n_folds == 4 for r in result.seed_reports)
    assert all(r.mean_plcc > 0.9 for r in result.seed_reports), result.seed_reports
    assert len(result.predictions) == 2 * len(df)  # every row predicted once per seed, held out


def test_codec_block_normalises_cq_within_its_family() -> None:
    # (cq - best) / (worst - best): 0 at each family's best quality; VideoToolbox's -q:v runs upwards (100 is best)
    block = codec_block(np.array(["libx264", "libsvtav1", "hevc_videotoolbox", "h264_videotoolbox", "libx264"]),
                        np.array([51, 63, 100, 1, 10]))
    assert block.shape == (5, CODEC_DIM)
    assert block[0, CODEC_VOCAB.index("libx264")] == 1 and block[0, -1] == pytest.approx(1.0)
    assert block[1, CODEC_VOCAB.index("libsvtav1")] == 1 and block[1, -1] == pytest.approx(1.0)
    assert block[2, CODEC_VOCAB.index("hevc_videotoolbox")] == 1 and block[2, -1] == pytest.approx(0.0)
    assert block[3, -1] == pytest.approx(1.0) and block[4, -1] == pytest.approx(10 / 51)
    assert block[:, :-1].sum() == 5  # every row in a real slot, none "unknown"
    with pytest.raises(InputError, match="unknown encoder"):
        codec_block(np.array(["mystery_enc"]), np.array([20]))


def _random_member(seed: int = 0) -> FrRegressor:
    torch.manual_seed(seed)
    model = FrRegressor(torch.rand(6) + 0.5, torch.rand(6) + 0.1, fr_regressor_v2(TrainConfig()))
    model.eval()
    return model


def test_onnx_matches_torch_and_is_byte_identical(tmp_path: Path) -> None:
    df = synthetic_corpus()
    feats, codec, _ = _inputs(df)
    model = _random_member()
    paths = []
    for name in ("a.onnx", "b.onnx"):
        path = tmp_path / name
        path.write_bytes(build_onnx(model, {"seed": "0"}).SerializeToString())
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert parity(model, paths[0], feats, codec) <= 1e-4
    # dynamic batch: one row and many rows both run
    assert onnx_predict(paths[0], feats[:1], codec[:1]).shape == (1,)
    # and a different model really gives different outputs
    other = tmp_path / "c.onnx"
    other.write_bytes(build_onnx(_random_member(1), {}).SerializeToString())
    assert not np.allclose(onnx_predict(other, feats, codec), onnx_predict(paths[0], feats, codec))




def test_a_source_with_constant_teacher_scores_leaves_the_correlation_means_defined() -> None:
    """A held-out source scored 100 on every frame has no correlation: it is left out of the PLCC means, named,
    and the per-seed mean_plcc the lusoris gate scripts read stays a number (it used to be null)."""
    from kit.corpus.summary import CorpusSummary
    from kit.model.baselines import ridge_loso
    from kit.model.results import Baselines
    from kit.verdict.decide import decide
    from kit.verdict.thresholds import GateThresholds

    df = synthetic_corpus(n_src=4)
    df.loc[df["src"] == "s2", "vmaf"] = 100.0
    result = run_loso(df, [0, 1], TrainConfig(epochs=3))
    for report in result.seed_reports:
        doc = report.to_json()
        assert isinstance(doc["mean_plcc"], float) and doc["folds_without_correlation"] == ["s2"]
        s2 = next(f for f in doc["folds"] if f["src"] == "s2")
        assert s2["plcc"] is None and s2["teacher_constant"] is True and s2["rmse"] is not None
        assert doc["mean_plcc"] == pytest.approx(np.mean([f.plcc for f in report.folds if f.src != "s2"]))
    feats, codec, target = _inputs(df)
    ridge = ridge_loso(feats, codec, target, make_folds(df))
    corpus = CorpusSummary("c.parquet", "0" * 64, len(df), 4, ["s0", "s1", "s2", "s3"], [], [], [], ["libx264"],
                           [19, 25, 31, 37], [0.0, 100.0], False, "shard")
    verdict = decide([0, 1], result.seed_reports, result.folds, result.predictions, Baselines("0" * 64,
                     {"ridge": ridge}), None, corpus, GateThresholds(-1, 2, -1, None, 3, max_abs_bias=None))
    doc = verdict.to_json()
    assert all(isinstance(v, float) for v in doc["gate"]["per_seed_plccs"].values())
    assert doc["verdict"] == "PROMOTE" and "s2: " in str(doc["folds_without_correlation"])
    assert np.isfinite(ridge.mean_plcc)  # the baselines count folds the same way


def test_a_member_with_constant_predictions_counts_as_no_correlation() -> None:
    from kit.model.loso import figures, seed_report
    from kit.model.results import FoldResult, GroupResult

    y = np.array([80.0, 90.0, 95.0])
    assert figures(y, np.full(3, 85.0))["plcc"] == 0.0  # the model's failure is not hidden
    assert np.isnan(figures(y, np.array([85.0, np.nan, 85.0]))["plcc"])  # a diverged member stays NaN
    folds = [FoldResult(seed=0, fold=i, src=f"s{i}", src_sha256=f"{i:064x}", n_frames=5, share_vmaf_100=0.0,
                        plcc=p, srocc=p, krocc=p, rmse=1.0) for i, p in enumerate((0.9, 0.0))]
    groups = [GroupResult(f.src_sha256, f.src, 1, f.fold, 5, f.plcc, f.srocc, f.krocc, f.rmse) for f in folds]
    assert seed_report(0, folds, groups).mean_plcc == pytest.approx(0.45)
    groups[1] = replace(groups[1], plcc=float("nan"))
    assert np.isnan(seed_report(0, folds, groups).mean_plcc)  # and the gate, which needs a number, fails


@pytest.mark.parametrize("epochs", [5, 60])
def test_progress_counts_real_epochs(epochs: int) -> None:
    """`--epochs N` ends at N/N: the trainer reports passes over the rows, not its rounds of steps."""
    df = synthetic_corpus()
    feats, codec, y = _inputs(df)
    seen: list[tuple[int, int]] = []
    train_members(feats, codec, y, [Member(0, -1, np.arange(len(df)))], TrainConfig(epochs=epochs, batch_size=16),
                  lambda e, n, loss, steps: seen.append((e, n)))
    assert seen[-1] == (epochs, epochs) and all(n == epochs for _, n in seen)
    assert [e for e, _ in seen] == sorted(e for e, _ in seen) and seen[0][0] >= 1


def test_progress_ends_at_the_parameter_steps_the_plan_reckons() -> None:
    """The training's work as it reports it ends at the arithmetic kit.model.cost reckons before it runs (the same
    plan): the run's ETA counts both in one unit."""
    from kit.model.train import TrainJob, planned_arithmetic

    df = synthetic_corpus()
    feats, codec, y = _inputs(df)
    members = [Member(s, -1, np.arange(len(df))) for s in range(3)]
    config = TrainConfig(epochs=4, batch_size=16)
    steps: list[float] = []
    train_members(feats, codec, y, members, config, lambda e, n, loss, done: steps.append(done), workers=2)
    assert steps == sorted(steps) and steps[0] > 0
    assert steps[-1] == planned_arithmetic([TrainJob(members, fr_regressor_v2(config))], config, 2)


def test_the_trainers_adam_is_torch_fused_adam_bit_for_bit() -> None:
    from kit.model.kernels import FusedAdam as Adam

    gen = torch.Generator().manual_seed(3)
    shapes = [(5, 7, 16), (5, 1, 16), (5, 16, 1)]
    ours = [torch.randn(s, generator=gen) for s in shapes]
    theirs = [p.detach().clone().requires_grad_(True) for p in ours]
    mine = Adam(ours, lr=5e-4, weight_decay=1e-5)
    ref = torch.optim.Adam(theirs, lr=5e-4, weight_decay=1e-5, fused=True)
    for _ in range(300):
        grads = [torch.randn(s, generator=gen) * 3 for s in shapes]
        mine.step([g.clone() for g in grads])
        ref.zero_grad()
        for p, g in zip(theirs, grads, strict=True):
            p.grad = g.clone()
        ref.step()
    for a, b in zip(ours, theirs, strict=True):
        assert a.numpy().tobytes() == b.detach().numpy().tobytes()


@pytest.mark.parametrize("arch_name", ["fr_regressor_v2", "linear", "mlp_small"])
def test_the_written_out_gradients_are_autograds(arch_name: str) -> None:
    """StackedMLP.gradients (the fast path's) against torch's autograd on the same forward pass, dropout masks
    included: close to the gradient of the mean squared errors, and the very bits of autograd's from each member's
    d(MSE)/d(output), as the public path takes them (kit.model.kernels.AutogradStep)."""
    from kit.model.arch import MLP_SMALL
    from kit.model.stacked import StackedMLP, Trace

    arch = {"linear": LINEAR, "mlp_small": MLP_SMALL}.get(arch_name) or fr_regressor_v2(TrainConfig())
    net = StackedMLP([4, 5, 6], arch)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 16, arch.in_dim, generator=gen)
    y = torch.randn(3, 16, generator=gen) * 10 + 80
    masks = [(torch.rand(3, 16, layer.fan_out, generator=gen) > 0.3).float() / 0.7
             for layer in arch.layers() if layer.activation is not None and layer.dropout > 0]
    for slot in net.slots:  # away from the initialisation, so no gradient is trivially small
        slot.weight.mul_(3)
    trace: list[Trace] = []
    err = net.forward(x, masks, trace=trace) - y
    written = net.gradients(trace, err * (2 / 16))
    params = [p.clone().requires_grad_(True) for p in net.params]
    for slot, (w, b) in zip(net.slots, zip(params[::2], params[1::2], strict=True), strict=True):
        object.__setattr__(slot, "weight", w)
        object.__setattr__(slot, "bias", b)
    loss = ((net.forward(x, masks) - y) ** 2).mean(dim=1).sum()
    expected = torch.autograd.grad(loss, params)
    assert [g.shape for g in written] == [p.shape for p in params]
    for ours, theirs in zip(written, expected, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
        assert float(theirs.abs().max()) > 1e-3
    out = net.forward(x, masks)
    same = torch.autograd.grad(out, params, (out - y).detach() * (2 / 16))
    assert all(torch.equal(ours, theirs) for ours, theirs in zip(written, same, strict=True))


def test_dropout_drops_its_share_keeps_the_expected_value_and_repeats_from_each_members_seed() -> None:
    from kit.model.train import Dropout, StackedMLP

    arch = fr_regressor_v2(TrainConfig())  # the frames recipe's: the teacher recipe's has no dropout
    members = [Member(s, f, np.arange(10)) for s in (0, 1) for f in range(20)]
    masks = Dropout(members, arch, 64).next()
    assert [m.shape for m in masks] == [(40, 64, 64), (40, 64, 64)]
    dropped = float((masks[0] == 0).float().mean())
    assert abs(dropped - 0.1) < 0.003, dropped  # 163,840 units: the share is within ~4 sigma of p
    assert abs(float(masks[0].mean()) - 1.0) < 0.005  # inverted dropout: the expected output is unchanged
    assert torch.unique(masks[0]).tolist() == [0.0, pytest.approx(65536 / (65536 - 6554))]
    # a member's masks are its own: the same alone, in another group, from any step on
    alone = Dropout(members[7:8], arch, 64)
    steps = Dropout(members, arch, 64)
    for _ in range(3):
        together, mine = steps.next(), alone.next()
        assert torch.equal(together[1][7], mine[1][0])
    assert not torch.equal(together[0][0], together[0][1])  # and differ from member to member
    assert Dropout(members, LINEAR, 64).next() == []  # nothing to drop: no draws at all
    net = StackedMLP([0, 1], LINEAR)
    with pytest.raises(ValueError, match="more dropout masks"):  # a mask no layer uses is an error
        net.forward(torch.zeros(2, 64, 6), [torch.ones(2, 64, 6)])
    small = Dropout(members[:2], arch, 64, ahead=1)  # drawn one step ahead instead of many: the same stream
    big = Dropout(members[:2], arch, 64, ahead=3)
    for _ in range(4):
        assert all(torch.equal(a, b) for a, b in zip(small.next(), big.next(), strict=True))


def test_members_train_to_the_same_bits_however_they_are_grouped_onto_workers() -> None:
    from kit.model.arch import MLP_SMALL
    from kit.model.train import TrainData, TrainJob, train_jobs

    df = synthetic_corpus()
    feats, codec, y = _inputs(df)
    cfg = TrainConfig(epochs=3, batch_size=16)
    members = [Member(s, f, np.arange(f * 20, f * 20 + 150)) for s in (0, 1, 2) for f in range(3)]
    data = TrainData.of(feats, codec, y)
    runs = {}
    for workers in (1, 2, 3, 4):
        jobs = [TrainJob(members, fr_regressor_v2(cfg)), TrainJob(members[:3], MLP_SMALL)]
        trained = train_jobs(data, jobs, cfg, workers)
        runs[workers] = [b"".join(t.numpy().tobytes() for t in ens.net.params) for ens in trained]
        assert [m.seed for m in trained[0].members] == [m.seed for m in members]
    assert len({tuple(r) for r in runs.values()}) == 1


@pytest.mark.parametrize("batch", [7, 16])
def test_inputs_made_a_chunk_of_steps_at_a_time_give_the_bits_of_step_by_step(batch: int,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A group's inputs are gathered and z-scored for a chunk of steps at once (kit.model.train._train_group): every
    member's bits, of each architecture, are those of one step at a time, of a chunk ending mid-round, and of a whole
    round; a batch of 7 rows puts each step's block off the 64-byte boundaries a fresh tensor has."""
    from kit.model import train as train_module
    from kit.model.arch import MLP_SMALL
    from kit.model.train import TrainData, TrainJob, train_jobs

    df = synthetic_corpus()
    feats, codec, y = _inputs(df)
    cfg = TrainConfig(epochs=12, batch_size=batch)  # rounds of 3 (16 rows) and 6 steps (7 rows)
    members = [Member(s, f, np.arange(f * 20, f * 20 + 150)) for s in (0, 1) for f in range(3)]
    data = TrainData.of(feats, codec, y)
    runs = {}
    for chunk in (1, 2, 10**6):  # steps per chunk: one at a time, a chunk that ends mid-round, a whole round
        monkeypatch.setattr(train_module, "chunk_steps", lambda members, batch, arch, chunk=chunk: chunk)
        jobs = [TrainJob(members, fr_regressor_v2(cfg)), TrainJob(members[:3], MLP_SMALL),
                TrainJob(members[:3], LINEAR)]
        trained = train_jobs(data, jobs, cfg, 1)
        runs[chunk] = [b"".join(t.numpy().tobytes() for t in ens.net.params) for ens in trained]
        runs[chunk].append(np.array([x for ens in trained for x in ens.final_loss]).tobytes())
    assert runs[1] == runs[2] == runs[10**6]


def test_a_groups_chunk_of_steps_is_bounded_by_stack_bytes() -> None:
    from kit.model.arch import MLP_SMALL
    from kit.model.schedule import STACK_BYTES
    from kit.model.train import chunk_steps

    arch = fr_regressor_v2(TrainConfig())
    for members, batch, shape in [(9, 96, MLP_SMALL), (45, 1024, arch), (1, 7, LINEAR), (300, 1 << 20, arch)]:
        chunk = chunk_steps(members, batch, shape)
        assert chunk == 1 or chunk * members * batch * shape.in_dim * 4 <= STACK_BYTES
    assert chunk_steps(9, 96, MLP_SMALL) > 80  # the demo's baselines: a whole round (80 steps) at once


def test_the_costliest_job_is_split_across_the_workers_and_the_small_ones_stay_whole() -> None:
    from kit.model.arch import MLP_SMALL
    from kit.model.train import TrainJob, _plans

    cfg = TrainConfig()
    members = [Member(s, f, np.arange(3000)) for s in range(5) for f in range(9)]
    jobs = [TrainJob(members[:9], LINEAR), TrainJob(members, fr_regressor_v2(cfg)), TrainJob(members[:9], MLP_SMALL)]
    plans = _plans(jobs, cfg, 2)
    assert [[len(g) for g in p.groups] for p in plans] == [[9], [22, 23], [9]]
    assert [len(g) for g in _plans(jobs[1:2], cfg, 4)[0].groups] == [11, 11, 12, 11]
    refit = _plans([TrainJob(members[:5], fr_regressor_v2(cfg))], cfg, 2)[0]  # the bundle's refit, alone
    assert [len(g) for g in refit.groups] == [2, 3]
    assert _plans(jobs, cfg, 1)[1].groups == [members]


def test_a_stopped_training_stops_every_worker_at_its_next_step() -> None:
    """Ctrl-C while waiting (the caller's KeyboardInterrupt) leaves no worker training behind."""
    import threading
    import time

    from kit.model.train import TrainData, TrainJob, train_jobs

    df = synthetic_corpus()
    feats, codec, y = _inputs(df)
    members = [Member(s, -1, np.arange(len(df))) for s in range(4)]
    start = time.process_time()  # CPU, the training threads' too: a busy box does not stretch it as it does wall time

    def interrupt(epoch: int, epochs: int, loss: float, work: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_jobs(TrainData.of(feats, codec, y), [TrainJob(members, fr_regressor_v2(TrainConfig()), interrupt)],
                   TrainConfig(epochs=2000, batch_size=8), 2)
    assert time.process_time() - start < 20  # 2000 epochs would take minutes of it
    assert not [t for t in threading.enumerate() if t.name.startswith("kit-train")]


def test_a_workers_error_reaches_the_caller() -> None:
    from kit.model.train import TrainData, TrainJob, train_jobs

    df = synthetic_corpus()
    feats, codec, y = _inputs(df)
    bad = Member(0, -1, np.array([len(df) + 5]))  # a row that does not exist
    with pytest.raises(IndexError):
        train_jobs(TrainData.of(feats, codec, y), [TrainJob([bad], fr_regressor_v2(TrainConfig()))],
                   TrainConfig(epochs=1), 2)


def test_the_graph_takes_the_log_of_motion_and_the_raw_rest(tmp_path: Path) -> None:
    """The exported member, recomputed by hand from its own numbers: motion2 as log(1 + x), every feature
    z-scored by the member's scaler, then the layers with exact GELU; fed raw features, as vmaf-tune feeds them."""
    from math import erf, log, sqrt

    df = synthetic_corpus()
    feats, codec, _ = _inputs(df)
    feats, codec = feats[:40].astype(np.float64), codec[:40]
    feats[:, 5] = np.linspace(0.0, 30.0, 40)  # motion from still to a fast pan, beyond any training row
    model = _random_member(2)
    path = tmp_path / "m.onnx"
    path.write_bytes(build_onnx(model, {}).SerializeToString())
    mean, std = model.mean.numpy()[0].astype(np.float64), model.std.numpy()[0].astype(np.float64)
    weights = [(model.slot(n).weight.detach().numpy().astype(np.float64),
                model.slot(n).bias.detach().numpy().astype(np.float64)) for n in ("hidden1", "hidden2", "output")]
    by_hand = []
    for row, code in zip(feats, codec.astype(np.float64), strict=True):
        spaced = [log(1 + v) if i == 5 else v for i, v in enumerate(row)]
        h = [(v - m) / s for v, m, s in zip(spaced, mean, std, strict=True)] + list(code)
        for k, (w, b) in enumerate(weights):
            h = [sum(wi * hi for wi, hi in zip(w_row, h, strict=True)) + bi for w_row, bi in zip(w, b, strict=True)]
            if k < 2:
                h = [0.5 * v * (1 + erf(v / sqrt(2))) for v in h]
        by_hand.append(h[0])
    np.testing.assert_allclose(onnx_predict(path, feats.astype(np.float32), codec), by_hand, atol=2e-3)
    raw = feats.copy()
    with torch.no_grad():  # the torch module takes the same raw rows
        np.testing.assert_allclose(model(torch.from_numpy(raw).float(), torch.from_numpy(codec).float()).numpy(),
                                   by_hand, atol=2e-3)
