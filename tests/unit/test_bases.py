"""kit.model.bases: the teacher recipe's bases kept in the kit's cache. A base read back gives the members the bits
training it again gives; a record that is not as written (each way one can be wrong) is trained again and written
over; another teacher's samples, seed or recipe is another record; a cache that cannot be written is said and the
training goes on; the ETA's arithmetic leaves out the bases read back."""

from __future__ import annotations

import errno
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from kit.infra.perms import Rules
from kit.infra.tree import Tree
from kit.model import distil as distil_module
from kit.model.arch import Arch, fr_regressor_v2
from kit.model.bases import BasesAt, KeptBases, TeacherRows
from kit.model.batches import Member
from kit.model.kernels import active
from kit.model.recipe import TEACHER, TrainConfig
from kit.model.train import TrainedEnsemble, TrainJob, planned_arithmetic, train_members
from kit.steps import formats_through
from tests.unit.test_distil import SMALL, corpus, distilled

FORMATS = formats_through("loso")  # the code that trains them, as the steps give it
QUICK = replace(SMALL, epochs=1)  # 100 base and 10 tune steps: the bits are the question, not the fit
MEMBERS = [Member(0, 0, np.arange(36)), Member(1, 0, np.arange(36)), Member(2, 1, np.arange(36, 72))]


def kept_in(folder: Path, said: list[str]) -> BasesAt:
    tree = Tree.open(folder, Rules())
    return lambda rows, arch, config: KeptBases(tree, rows, arch, config, active(), said.append, FORMATS)


def train(bases: BasesAt | None, config: TrainConfig = QUICK, members: list[Member] = MEMBERS) -> TrainedEnsemble:
    df = corpus()
    data, feats, codec = distilled(df, config)
    return train_members(feats, codec, df["vmaf"].to_numpy(), members, config, distil=data, workers=2, bases=bases)


def same_bits(a: TrainedEnsemble, b: TrainedEnsemble) -> bool:
    return all(torch.equal(x.weight, y.weight) and torch.equal(x.bias, y.bias)
               for x, y in zip(a.net.slots, b.net.slots, strict=True))


def counting_bases(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Every call of train_bases, by the seeds it trains."""
    calls: list[list[int]] = []
    real = distil_module.train_bases

    def counted(rows: TeacherRows, seeds: list[int], *args: object) -> object:
        calls.append(list(seeds))
        return real(rows, seeds, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(distil_module, "train_bases", counted)
    return calls


@pytest.fixture(scope="module")
def plain() -> TrainedEnsemble:
    return train(None)


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache whose bases/ holds the three seeds' records, as a training wrote them."""
    folder = tmp_path_factory.mktemp("cache")
    train(kept_in(folder, []))
    return folder


def test_a_base_read_back_gives_the_bits_of_one_trained_again(plain: TrainedEnsemble, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    cold = train(kept_in(tmp_path, said), SMALL)
    assert same_bits(cold, train(None, SMALL)) and said == []  # the recipe's own steps: 600 of a base
    assert len(list((tmp_path / "bases").glob("*.json"))) == 3  # a record per seed
    said.clear()
    cold = train(kept_in(tmp_path, said))  # QUICK: another recipe, other records
    assert same_bits(cold, plain) and said == [] and len(list((tmp_path / "bases").glob("*.json"))) == 6
    calls = counting_bases(monkeypatch)
    warm = train(kept_in(tmp_path, said))
    assert calls == [] and same_bits(warm, plain)  # nothing trained again: the bits as trained
    assert warm.final_loss == plain.final_loss  # the tunings' losses (a base's are its record's)
    assert any("seed(s) 0, 1, 2 read back" in line for line in said), said


def test_some_seeds_read_back_and_the_others_trained_give_the_bits_of_all_trained(
        plain: TrainedEnsemble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train(kept_in(tmp_path, []), members=MEMBERS[:2])  # seeds 0 and 1 kept
    calls = counting_bases(monkeypatch)
    mixed = train(kept_in(tmp_path, []))
    assert sorted(s for call in calls for s in call) == [2] and same_bits(mixed, plain)


def _rewrite(record: Path, change: Callable[[dict], None], reseal: bool) -> None:
    from kit.infra.files import sha256_json

    obj = json.loads(record.read_text())
    change(obj)
    if reseal:
        obj["sha256"] = sha256_json(obj["slots"])
    record.write_text(json.dumps(obj))


def _b64_of(values: np.ndarray) -> str:
    import base64

    return base64.b64encode(values.astype("<f4").tobytes()).decode()


def _flipped(text: str) -> str:
    return ("B" if text[0] == "A" else "A") + text[1:]


def _not_finite(obj: dict) -> None:
    raw = np.frombuffer(__import__("base64").b64decode(obj["slots"][0]["weight"]), dtype="<f4").copy()
    raw[3] = np.nan
    obj["slots"][0]["weight"] = _b64_of(raw)


DAMAGES: dict[str, tuple[Callable[[dict], None], bool]] = {
    "a byte of a weight changed": (lambda o: o["slots"][1].update(weight=_flipped(o["slots"][1]["weight"])), False),
    "another key": (lambda o: o.update(key="0" * 64), False),
    "a slot missing": (lambda o: o["slots"].pop(), True),
    "a layer renamed": (lambda o: o["slots"][0].update(layer="hidden9"), True),
    "a weight cut short": (lambda o: o["slots"][0].update(weight=o["slots"][0]["weight"][:40]), True),
    "a weight not base64": (lambda o: o["slots"][0].update(weight="not base64!"), True),
    "a weight a number": (lambda o: o["slots"][0].update(weight=7), True),
    "a weight not finite": (_not_finite, True),
    "a loss a bool": (lambda o: o.update(losses=[True]), False),
    "no sha256": (lambda o: o.pop("sha256"), False),
}


@pytest.mark.parametrize("damage", [*DAMAGES, "truncated", "not json", "empty"])
def test_a_record_not_as_written_is_trained_again_and_written_over(plain: TrainedEnsemble, kept: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  damage: str) -> None:
    shutil.copytree(kept, tmp_path, dirs_exist_ok=True)
    record = sorted((tmp_path / "bases").glob("*.json"))[0]
    seed = json.loads(record.read_text())["seed"]
    good = record.read_text()
    if damage in DAMAGES:
        _rewrite(record, *DAMAGES[damage])
    else:
        record.write_text({"truncated": good[: len(good) // 2], "not json": "[", "empty": ""}[damage])
    calls = counting_bases(monkeypatch)
    again = train(kept_in(tmp_path, []))
    assert [s for call in calls for s in call] == [seed] and same_bits(again, plain)
    assert json.loads(record.read_text()) == json.loads(good)  # written over, as it was


def test_another_teacher_sample_seed_or_recipe_is_another_record(tmp_path: Path) -> None:
    df = corpus()
    data, _, _ = distilled(df, SMALL)
    arch = fr_regressor_v2(SMALL, TEACHER)
    rows = data.teacher()

    def key(r: TeacherRows = rows, a: Arch = arch, c: TrainConfig = SMALL, seed: int = 0,
            f: dict[str, int] = FORMATS) -> str:
        return KeptBases(Tree.open(tmp_path, Rules()), r, a, c, active(), print, f).key(seed)

    other_rows = TeacherRows(rows.table.clone(), rows.target.clone())
    other_rows.target[5] += 1e-3
    keys = [key(), key(seed=1), key(r=other_rows), key(a=replace(arch, hidden=(32, 32))),
            key(c=replace(SMALL, base_lr=SMALL.base_lr * 2)), key(c=replace(SMALL, base_batch=32)),
            key(c=replace(SMALL, weight_decay=1e-3)), key(c=replace(SMALL, epochs=12)),
            key(f={**FORMATS, "loso": FORMATS["loso"] + 1})]  # a release that changes how models train
    assert len(set(keys)) == len(keys)
    assert key(c=replace(SMALL, tune_lr=SMALL.tune_lr * 2)) == key()  # the tuning is not the base's
    # the rows a base trains on are the teacher's samples alone: another corpus, the same base
    assert KeptBases(Tree.open(tmp_path, Rules()), distilled(corpus(seed=5), SMALL)[0].teacher(), arch, SMALL,
                     active(), print, FORMATS).key(0) == key()


def test_a_cache_that_cannot_be_written_is_said_and_the_training_goes_on(plain: TrainedEnsemble, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk or a folder not the user's to write (root writes through its mode, so the failure is raised
    here as the kernel raises it); a file planted where the folder goes is the tree's refusal, as in every cache."""

    def full(self: Tree, path: Path, obj: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(Tree, "write_json", full)
    said: list[str] = []
    assert same_bits(train(kept_in(tmp_path, said)), plain)
    assert len([line for line in said if "was not kept in the kit's cache" in line and "No space" in line]) == 3, said


def test_the_eta_counts_no_arithmetic_for_a_base_read_back() -> None:
    arch = fr_regressor_v2(SMALL, TEACHER)
    job = [TrainJob(MEMBERS, arch, None)]
    whole, none_kept = planned_arithmetic(job, SMALL, 2, True), planned_arithmetic(job, SMALL, 2, True, {7})
    all_kept = planned_arithmetic(job, SMALL, 2, True, {0, 1, 2})
    one_kept = planned_arithmetic(job, SMALL, 2, True, {1})
    base = SMALL.teacher_steps()[0]
    per_base = base * SMALL.base_batch / SMALL.batch_size * arch.params  # one seed's base, in parameter-steps
    assert whole == none_kept and abs(whole - one_kept - per_base) <= 1 and abs(whole - all_kept - 3 * per_base) <= 1


def test_the_vector_unit_and_the_variables_that_choose_it_are_in_the_key(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = distilled(corpus(), SMALL)[0].teacher()
    arch = fr_regressor_v2(SMALL, TEACHER)

    def key() -> str:
        return KeptBases(Tree.open(tmp_path, Rules()), rows, arch, SMALL, active(), print, FORMATS).key(0)

    first = key()
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    assert key() != first
    monkeypatch.delenv("ATEN_CPU_CAPABILITY")
    other = "AVX2" if torch.backends.cpu.get_cpu_capability() != "AVX2" else "AVX512"  # this box's is not a change
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: other)
    assert key() != first


def test_a_cache_the_kit_may_not_use_trains_every_base_and_says_so(plain: TrainedEnsemble, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.errors import InputError
    from kit.model import bases

    def refused() -> Tree:
        raise InputError(f"{tmp_path} is writable by others", hint="chmod go-w it")

    monkeypatch.setattr(bases, "cache_tree", refused)
    said: list[str] = []
    df = corpus()
    data, feats, codec = distilled(df, QUICK)
    at: BasesAt = lambda rows, arch, config: KeptBases.in_cache(rows, arch, config, said.append, FORMATS)  # noqa: E731
    ens = train_members(feats, codec, df["vmaf"].to_numpy(), MEMBERS, QUICK, distil=data, workers=2, bases=at)
    assert same_bits(ens, plain) and any("bases are not kept" in line and "writable by others" in line
                                         for line in said), said
