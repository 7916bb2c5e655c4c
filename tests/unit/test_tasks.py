"""LOSO's training as units of work (kit.model.tasks): the shares, the member files, and the members trained share
by share in any order, to the bits of one pool training them all."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from kit.errors import InputError
from kit.infra.arrays import parse_task
from kit.model.baselines import evaluate_jobs, loso_jobs, loso_with_baselines
from kit.model.loso import LosoInputs
from kit.model.recipe import TrainConfig
from kit.model.tasks import MemberKey, MemberStore, gather, job_keys, missing_keys, share_out, task_of, train_missing
from kit.model.train import TrainData, train_jobs
from tests.conftest import synthetic_corpus

CONFIG = TrainConfig(epochs=2, batch_size=16)
SEEDS = [0, 1]


@pytest.fixture(scope="module")
def inputs() -> LosoInputs:
    """Sources of unequal length: each fold trains on another number of rows, so a share's members alone would
    plan another schedule than the whole job's (what planned_rows keeps)."""
    df = synthetic_corpus(n_src=5, rows_per_src=40)
    df = df[~((df["src"] == "s0") & (df["frame_index"] >= 12)) & ~((df["src"] == "s3") & (df["frame_index"] >= 26))]
    return LosoInputs.of(df.reset_index(drop=True))


def bits(ens_list: list) -> list[bytes]:
    return [b"".join(t.numpy().tobytes() for t in [*ens.net.params, ens.means, ens.stds]) for ens in ens_list]


def test_every_member_is_in_exactly_one_share_and_the_shares_are_the_same_on_every_call(inputs: LosoInputs) -> None:
    jobs = loso_jobs(inputs, [0, 1, 2], CONFIG)
    keys = [key for job in jobs for key in job_keys(job)]
    assert len(keys) == 3 * 5 + 2 * 5
    for n in (1, 2, 3, 7, 40):
        shares = share_out(jobs, n)
        assert len(shares) == n and sorted(k for s in shares for k in s) == sorted(keys)
        assert shares == share_out(loso_jobs(inputs, [0, 1, 2], CONFIG), n)
        assert set(task_of(shares).values()) <= set(range(1, n + 1))
    # near-equal cost: the ensemble's members dominate, so three tasks hold 5 of its 15 members each (+-1)
    ensemble = jobs[0].arch.name
    counts = [sum(k.arch == ensemble for k in share) for share in share_out(jobs, 3)]
    assert max(counts) - min(counts) <= 1 and sum(counts) == 15
    # a fold's members sit together: the first share starts at fold 0 and holds every seed of it
    first = share_out(jobs, 3)[0]
    assert {k.seed for k in first if k.fold == 0 and k.arch == ensemble} == {0, 1, 2}
    assert sum(map(len, share_out(jobs[:1], 40))) == 15  # more tasks than members: some are empty


def test_shares_trained_one_by_one_in_any_order_give_the_bits_of_one_pool(inputs: LosoInputs, tmp_path: Path) -> None:
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    jobs = loso_jobs(inputs, SEEDS, CONFIG)
    whole = train_jobs(data, jobs, CONFIG, workers=2)
    store = MemberStore(tmp_path / "members")
    shares = share_out(jobs, 3)
    for k, workers in ((2, 1), (0, 2), (1, 1)):  # out of order, each alone, on different worker counts
        trained = train_missing(data, jobs, set(shares[k]), (), store, CONFIG, workers)
        assert sorted(trained) == sorted(shares[k])
    found = store.load_all(jobs)
    assert not missing_keys(jobs, found)
    split = gather(jobs, found)
    assert bits(split) == bits(whole)
    # and the figures they give are the pool's, to the bit
    one, models = loso_with_baselines(inputs, SEEDS, CONFIG, workers=2)
    two, models2 = evaluate_jobs(inputs, SEEDS, split)
    assert one.predictions.equals(two.predictions) and one.folds.equals(two.folds) and models == models2


def test_a_share_skips_members_on_disk_and_retrains_a_damaged_one(inputs: LosoInputs, tmp_path: Path) -> None:
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    jobs = loso_jobs(inputs, SEEDS, CONFIG)
    store = MemberStore(tmp_path / "members")
    share = share_out(jobs, 2)[0]
    train_missing(data, jobs, set(share), (), store, CONFIG, 1)
    kept = {key: store.path(key).read_bytes() for key in share}
    have = store.load_all(jobs, set(share))
    assert train_missing(data, jobs, set(share), set(have), store, CONFIG, 1) == []  # all there: nothing trained
    cut, gone = share[0], share[1]
    store.path(cut).write_bytes(kept[cut][:100])  # cut short
    store.path(gone).unlink()
    have = store.load_all(jobs, set(share))
    assert set(share) - set(have) == {cut, gone}
    assert sorted(train_missing(data, jobs, set(share), set(have), store, CONFIG, 2)) == sorted([cut, gone])
    # the two retrained members are the same bytes as before (np.save writes the same file for the same array)
    assert all(store.path(key).read_bytes() == kept[key] for key in share)
    assert set(store.load_all(jobs, set(share))) == set(share)


def test_a_member_file_of_another_shape_counts_as_missing_and_a_link_is_refused(inputs: LosoInputs,
                                                                                 tmp_path: Path) -> None:
    jobs = loso_jobs(inputs, SEEDS, CONFIG)
    store = MemberStore(tmp_path / "members")
    key = job_keys(jobs[0])[0]
    store.folder.mkdir()
    np.save(store.path(key), np.zeros(10, dtype=np.float32))  # another architecture's size
    assert store.load(key, jobs[0].arch) is None
    np.save(store.path(key), np.zeros(jobs[0].arch.params + 13, dtype=np.float64))  # another dtype
    assert store.load(key, jobs[0].arch) is None
    store.path(key).unlink()
    victim = tmp_path / "victim.npy"
    np.save(victim, np.zeros(jobs[0].arch.params + 13, dtype=np.float32))
    os.symlink(victim, store.path(key))
    with pytest.raises(InputError, match="symbolic link"):
        store.load(key, jobs[0].arch)


def test_a_member_round_trips_its_file_exactly(inputs: LosoInputs, tmp_path: Path) -> None:
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    jobs = loso_jobs(inputs, SEEDS[:1], CONFIG)
    trained = train_jobs(data, jobs, CONFIG, 1)
    store = MemberStore(tmp_path)
    for job, ens in zip(jobs, trained, strict=True):
        for m, key in enumerate(job_keys(job)):
            store.save(key, ens, m)
    back = gather(jobs, store.load_all(jobs))
    assert bits(back) == bits(trained)
    assert [a.final_loss for a in back] == [torch.tensor(b.final_loss).tolist() for b in trained]
    assert str(MemberKey("linear", 0, 2)) == "linear seed 0 fold 2"
    assert store.path(MemberKey("linear", 0, 2)).name == "linear.seed0.fold2.npy"


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("2/5", {}, (2, 5)), (" 1/1 ", {}, (1, 1)), ("auto", {"KIT_ARRAY_TASK": "3/4"}, (3, 4)),
    ("auto", {"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "3"}, (2, 3))])
def test_a_training_task_is_placed_by_its_flag_or_its_array(text: str, env: dict[str, str],
                                                            expected: tuple[int, int]) -> None:
    pos = parse_task(text, "--train-task", env)
    assert (pos.k, pos.n) == expected


@pytest.mark.parametrize(("text", "env", "needle"), [
    ("auto", {}, "runs in no array task"), ("3/2", {}, "is not 1 <= K <= N"), ("0/2", {}, "is not 1 <= K <= N"),
    ("two", {}, "is not of the form K/N"), ("1/5000", {}, "is not 1 <= K <= N")])
def test_a_training_task_out_of_place_is_refused(text: str, env: dict[str, str], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        parse_task(text, "--train-task", env)
