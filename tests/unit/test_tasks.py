"""LOSO's training as units of work (kit.model.tasks): the shares, the member files, and the members trained share
by share in any order, to the bits of one pool training them all."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest
import torch

from kit.errors import InputError, ResourceLimit
from kit.infra.arrays import parse_task
from kit.infra.tree import Tree
from kit.model.arch import Arch
from kit.model.baselines import evaluate_jobs, loso_jobs
from kit.model.loso import LetGo, LosoInputs, Samples
from kit.model.recipe import TrainConfig
from kit.model.tasks import (
    MemberKey,
    MemberRecord,
    MemberStore,
    Origin,
    gather,
    job_keys,
    missing_keys,
    share_out,
    task_of,
    train_missing,
)
from kit.model.train import TrainData, train_jobs
from kit.steps.settings import RunSettings
from tests.conftest import synthetic_corpus
from tests.training import loso_with_baselines

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


ORIGIN = Origin("f" * 64, "c" * 64, "r" * 64, {"prereqs": 1, "corpus": 1, "loso": 1}, "training task 1/3",
                "pid 1 on testhost")


def store_in(tree: Tree, folder: Path, origin: Origin = ORIGIN) -> MemberStore:
    return MemberStore(tree, folder, origin)


def test_shares_trained_one_by_one_in_any_order_give_the_bits_of_one_pool(inputs: LosoInputs, tmp_path: Path,
                                                                          tree: Tree) -> None:
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    jobs = loso_jobs(inputs, SEEDS, CONFIG)
    whole = train_jobs(data, jobs, CONFIG, workers=2)
    store = store_in(tree, tmp_path / "members")
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
    two, models2 = evaluate_jobs(inputs, SEEDS, split, CONFIG)
    assert one.predictions.equals(two.predictions) and one.folds.equals(two.folds) and models == models2


def test_a_training_tasks_inputs_train_the_same_members_and_refuse_a_use_of_the_rows_identity(
        inputs: LosoInputs, tmp_path: Path, tree: Tree) -> None:
    placed = replace(inputs, times={"0" * 64: [0.0, 0.04]}, samples=cast(Samples, object()))  # what the gather reads
    task = placed.training_only()
    assert task.feats is inputs.feats and task.target is inputs.target and task.folds is inputs.folds
    assert task.samples is None and not task.times
    share = share_out(loso_jobs(inputs, SEEDS, CONFIG), 2)[1]
    members = []
    for given, folder in ((inputs, "whole"), (task, "task")):
        data = TrainData.of(given.feats, given.codec, given.target)
        store = store_in(tree, tmp_path / folder)
        train_missing(data, loso_jobs(given, SEEDS, CONFIG), set(share), (), store, CONFIG, 1)
        members.append([store.path(key).read_bytes() for key in share])
    assert members[0] == members[1]
    for use in (lambda: task.codes, lambda: len(task.df), lambda: "src" in task.df, lambda: task.df.columns):
        with pytest.raises(AssertionError, match="let go"):  # what only the evaluation reads: a bug, said as one
            use()


def test_the_training_task_step_trains_on_inputs_let_go_and_says_its_rows_out_of_memory(
        inputs: LosoInputs, monkeypatch: pytest.MonkeyPatch) -> None:
    """`step loso --train-task K/N` asks for a task's set-up, whose inputs are without the rows' identity
    (LosoInputs.training_only: tests/pipeline/test_task_set_up.py), and hands them to its share; out of memory in its
    training is the resource refusal naming the rows, not the bug a use of them would be."""
    from kit.steps import s03_loso

    step, handed, asked = s03_loso.LosoStep(), [], []
    task = inputs.training_only()

    def set_up(ctx: object, task_: bool = False) -> s03_loso.Setup:
        asked.append(task_)
        return s03_loso.Setup(Path("c.parquet"), task.df if task_ else inputs.df, 0, task if task_ else inputs, 1)
    monkeypatch.setattr(step, "set_up", lambda ctx, task=False: set_up(ctx, task))
    monkeypatch.setattr(s03_loso, "train_share", lambda ctx, plan, given, *rest: handed.append(given) or {})
    ctx = SimpleNamespace(settings=RunSettings(out_dir=Path("out")), emit=lambda event: None)
    step.train_task(ctx, None, 1, 2)  # type: ignore[arg-type]
    assert asked == [True] and isinstance(handed[0].df, LetGo) and handed[0].feats is inputs.feats

    def short(*_: object) -> dict[str, object]:
        raise MemoryError("no room")
    monkeypatch.setattr(s03_loso, "train_share", short)
    with pytest.raises(ResourceLimit) as exc:
        step.train_task(ctx, None, 1, 2)  # type: ignore[arg-type]
    assert f"on {len(inputs.target)} rows: " in exc.value.message


def test_a_share_skips_members_on_disk_and_trains_again_one_whose_file_or_record_is_gone(
        inputs: LosoInputs, tmp_path: Path, tree: Tree) -> None:
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    jobs = loso_jobs(inputs, SEEDS, CONFIG)
    store = store_in(tree, tmp_path / "members")
    share = share_out(jobs, 2)[0]
    train_missing(data, jobs, set(share), (), store, CONFIG, 1)
    kept = {key: store.path(key).read_bytes() for key in share}
    have = store.load_all(jobs, set(share))
    assert train_missing(data, jobs, set(share), set(have), store, CONFIG, 1) == []  # all there: nothing trained
    no_record, gone = share[0], share[1]  # a write killed between the file and its record; a file removed
    store.record_path(no_record).unlink()
    store.path(gone).unlink()
    have = store.load_all(jobs, set(share))
    assert set(share) - set(have) == {no_record, gone}
    assert sorted(train_missing(data, jobs, set(share), set(have), store, CONFIG, 2)) == sorted([no_record, gone])
    # the two retrained members are the same bytes as before (np.save writes the same file for the same array)
    assert all(store.path(key).read_bytes() == kept[key] for key in share)
    assert set(store.load_all(jobs, set(share))) == set(share)


def refusal(store: MemberStore, key: MemberKey, arch: Arch) -> str:
    with pytest.raises(InputError) as err:
        store.load(key, arch)
    return err.value.message


def test_a_member_changed_after_it_was_written_is_refused_naming_the_file_and_its_maker(
        inputs: LosoInputs, tmp_path: Path, tree: Tree) -> None:
    """Issue 40: a member was trusted for its shape. Another member's bytes copied over it, bytes set to NaN, a
    file cut short: each is refused (exit 2) naming the file, what its record says and which task wrote it."""
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    jobs = loso_jobs(inputs, SEEDS[:1], CONFIG)
    store = store_in(tree, tmp_path / "members")
    train_missing(data, jobs, {job_keys(jobs[0])[0], job_keys(jobs[0])[1]}, (), store, CONFIG, 1)
    one, two = job_keys(jobs[0])[:2]
    arch = jobs[0].arch
    original = store.path(one).read_bytes()
    store.path(one).write_bytes(store.path(two).read_bytes())  # another member's weights, the same shape
    message = refusal(store, one, arch)
    assert str(store.path(one)) in message and "training task 1/3 (pid 1 on testhost" in message
    assert "changed after" in message
    nan = bytearray(original)
    nan[-8:-4] = np.array([np.nan], dtype=np.float32).tobytes()
    store.path(one).write_bytes(bytes(nan))
    assert "changed after" in refusal(store, one, arch)
    store.path(one).write_bytes(original[:100])
    assert "changed after" in refusal(store, one, arch)
    store.path(one).write_bytes(original)
    assert store.load(one, arch) is not None


def test_a_member_of_another_corpus_or_another_member_is_refused(inputs: LosoInputs, tmp_path: Path,
                                                                  tree: Tree) -> None:
    """A member (file and record) of another LOSO with the same flags, or another member's pair under this
    member's name, is refused, saying whose it is: a file of another corpus never counts."""
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    jobs = loso_jobs(inputs, SEEDS[:1], CONFIG)
    one, two = job_keys(jobs[0])[:2]
    other = store_in(tree, tmp_path / "other", replace(ORIGIN, corpus="d" * 64, made_from="e" * 64))
    train_missing(data, jobs, {one, two}, (), other, CONFIG, 1)
    store = store_in(tree, tmp_path / "members")
    store.folder.mkdir()
    for name in (other.path(one), other.record_path(one)):
        (store.folder / name.name).write_bytes(name.read_bytes())
    message = refusal(store, one, jobs[0].arch)
    assert "for another LOSO or member" in message and "corpus dddddddddddd" in message
    assert "training task 1/3" in message
    mine = store_in(tree, tmp_path / "mine")
    train_missing(data, jobs, {one, two}, (), mine, CONFIG, 1)
    for suffix in (".npy", ".json"):  # member two's pair under member one's names
        (mine.folder / f"{one.name}{suffix}").write_bytes((mine.folder / f"{two.name}{suffix}").read_bytes())
    assert f"member {two.name[:12]} where this LOSO's is {one.name[:12]}" in refusal(mine, one, jobs[0].arch)


def test_a_member_record_of_absurd_seconds_or_not_the_users_own_is_refused(inputs: LosoInputs, tmp_path: Path,
                                                                            tree: Tree) -> None:
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    jobs = loso_jobs(inputs, SEEDS[:1], CONFIG)
    key = job_keys(jobs[0])[0]
    store = store_in(tree, tmp_path / "members")
    train_missing(data, jobs, {key}, (), store, CONFIG, 1)
    record = json.loads(store.record_path(key).read_text())
    store.record_path(key).write_text(json.dumps({**record, "seconds": 1e308}))
    # its field's rule (kit.infra.rules.SECONDS), named with the file
    assert f"{store.record_path(key)} is damaged (RecordError: {store.record_path(key).name}.seconds: 1e+308 is not " \
           "a number from 0 to 1e+09)" in refusal(store, key, jobs[0].arch)
    # made by a kit whose LOSO had another format version (its training code trained other weights)
    store.record_path(key).write_text(json.dumps({**record, "formats": {**ORIGIN.formats, "loso": 2}}))
    assert "formats {'prereqs': 1, 'corpus': 1, 'loso': 2} where this LOSO's are {'prereqs': 1, 'corpus': 1, " \
           "'loso': 1}" in refusal(store, key, jobs[0].arch)
    store.record_path(key).write_text(json.dumps(record))
    os.chmod(store.record_path(key), 0o664)
    message = refusal(store, key, jobs[0].arch)
    assert "can be written by group" in message and "trusts only files that you made" in message
    os.chmod(store.record_path(key), 0o644)
    if os.geteuid() == 0:  # root can give the file away, as another user's own would be
        os.chown(store.record_path(key), 4242, 4242)
        assert "belongs to user uid 4242" in refusal(store, key, jobs[0].arch)


def test_a_link_or_a_file_of_another_shape_in_a_members_place_is_refused(inputs: LosoInputs, tmp_path: Path,
                                                                         tree: Tree) -> None:
    jobs = loso_jobs(inputs, SEEDS, CONFIG)
    store = store_in(tree, tmp_path / "members")
    key = job_keys(jobs[0])[0]
    store.folder.mkdir()
    np.save(store.path(key), np.zeros(10, dtype=np.float32))  # no record: a member never finished
    assert store.load(key, jobs[0].arch) is None
    data = (store.folder / f"{key.name}.npy").read_bytes()
    store.record_path(key).write_text(json.dumps(MemberRecord(
        key.name, hashlib.sha256(data).hexdigest(), ORIGIN.made_from, ORIGIN.corpus, ORIGIN.recipe, ORIGIN.formats,
        "a hand", "pid 0", "2026-11-27T00:00:00Z", 0.0).to_json()))
    assert "float32 (10,), not the" in refusal(store, key, jobs[0].arch)
    store.path(key).unlink()
    victim = tmp_path / "victim.npy"
    np.save(victim, np.zeros(jobs[0].arch.params + 13, dtype=np.float32))
    os.symlink(victim, store.path(key))
    assert "symbolic link" in refusal(store, key, jobs[0].arch)


def test_a_member_round_trips_its_file_exactly(inputs: LosoInputs, tmp_path: Path, tree: Tree) -> None:
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    jobs = loso_jobs(inputs, SEEDS[:1], CONFIG)
    trained = train_jobs(data, jobs, CONFIG, 1)
    store = store_in(tree, tmp_path)
    for job, ens in zip(jobs, trained, strict=True):
        store.save_group(job_keys(job), ens)
    back = gather(jobs, store.load_all(jobs))
    assert bits(back) == bits(trained)
    assert [a.final_loss for a in back] == [torch.tensor(b.final_loss).tolist() for b in trained]
    assert str(MemberKey("linear", 0, 2)) == "linear seed 0 fold 2"
    assert store.path(MemberKey("linear", 0, 2)).name == "linear.seed0.fold2.npy"


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("2/5", {}, (2, 5)), ("1/1", {}, (1, 1)), ("auto", {"KIT_ARRAY_TASK": "3/4"}, (3, 4)),
    ("auto", {"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "3"}, (2, 3))])
def test_a_training_task_is_placed_by_its_flag_or_its_array(text: str, env: dict[str, str],
                                                            expected: tuple[int, int]) -> None:
    pos = parse_task(text, "--train-task", env)
    assert (pos.k, pos.n) == expected


@pytest.mark.parametrize(("text", "env", "needle"), [
    ("auto", {}, "runs in no array task"), ("3/2", {}, "is not 1 <= K <= N"), ("0/2", {}, "is not 1 <= K <= N"),
    ("two", {}, "is not of the form K/N"), ("1/5000", {}, "is not 1 <= K <= N"),
    (" 1/1 ", {}, "white space around it")])
def test_a_training_task_out_of_place_is_refused(text: str, env: dict[str, str], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        parse_task(text, "--train-task", env)


def test_a_share_with_no_member_of_the_teacher_recipe_lets_its_rows_go_before_the_baselines_table_is_made() -> None:
    """A training task whose share holds only baselines (a settled floor trains no network of the ensemble,
    kit.model.floor.settled; or a share of baselines alone) carried the recipe's table, 1.0 GiB at 15,000,000 rows,
    under the baselines' training: it is let go before their table is made, as after the recipe's own members."""
    from kit.media.svr import parse_model
    from kit.model.distil import Distillation
    from tests.unit.test_distil import SMALL, corpus, model_json

    df = corpus()
    given = LosoInputs.of(df)
    distil = Distillation.of(given.feats, given.target, np.arange(len(df)) // 12, parse_model(model_json(), "tiny"),
                             SMALL)
    said: list[str] = []

    def table(codec: bool) -> TrainData:
        said.append("table")
        return TrainData.of(given.feats, given.codec, given.target, codec)
    for ensemble in (False, True):
        said.clear()
        jobs = loso_jobs(replace(given, distil=distil), SEEDS, SMALL, ensemble=ensemble)
        train_jobs(table, jobs, SMALL, 1, distil=distil, distilled=lambda: said.append("let go"))
        assert said == ["let go", "table"], (ensemble, said)
