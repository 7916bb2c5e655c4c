"""kit.model.bases: the bases the kit carries (kit/model/shipped_bases/, tools/make_bases.py). Every default seed has
one for the built-in teacher and the default recipe, found by the key LOSO computes from its own distillation; one
found gives the bits of the base trained here (on a box like the one that made them) and no base is trained; a
carried record not as written is said and the base is trained; another recipe, teacher or seed finds none."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from kit.media.libvmaf import FEATURES, TEACHER_MODEL
from kit.media.svr import SvrModel, builtin_model_text, parse_model
from kit.model.arch import fr_regressor_v2
from kit.model.bases import SHIPPED, KeptBases
from kit.model.batches import Member
from kit.model.distil import Distillation, Prior, train_bases
from kit.model.kernels import active
from kit.model.recipe import TEACHER, TrainConfig
from kit.model.train import train_members
from kit.steps import formats_through
from kit.steps.settings import RunSettings
from tests.unit.test_bases import counting_bases, same_bits
from tests.unit.test_distil import SMALL, corpus, model_json

FORMATS = formats_through("loso")
DEFAULT = TrainConfig()
ARCH = fr_regressor_v2(DEFAULT, TEACHER)
SEEDS = list(next(f.default for f in fields(RunSettings) if f.name == "seeds"))


@pytest.fixture(scope="module")
def teacher(ffmpeg: str) -> SvrModel:
    return parse_model(builtin_model_text(Path(ffmpeg), TEACHER_MODEL), TEACHER_MODEL)


@pytest.fixture(scope="module")
def prior(teacher: SvrModel) -> Prior:
    return Prior.of(teacher, DEFAULT)


def carried(prior: Prior, said: list[str], folder: Path | None = SHIPPED, config: TrainConfig = DEFAULT,
            formats: dict[str, int] = FORMATS) -> KeptBases:
    return KeptBases(None, prior.rows(), fr_regressor_v2(config, TEACHER), config, active(), said.append, formats,
                     shipped=folder)


def test_every_default_seed_has_a_carried_base_for_the_default_recipe(prior: Prior) -> None:
    said: list[str] = []
    kept = carried(prior, said)
    found = kept.found(SEEDS)
    assert sorted(found) == SEEDS, ("the kit carries no base for this recipe's key: run tools/make_bases.py "
                                    f"(missing seeds {sorted(set(SEEDS) - set(found))})")
    assert all(base.shipped for base in found.values()) and not said
    assert sorted(p.name for p in SHIPPED.glob("*.json")) == sorted(kept.shipped_record(s).name for s in SEEDS), \
        "a carried record no key of this kit finds: tools/make_bases.py removes them"


@pytest.mark.parametrize("n_encodes", [1, 3, 6, 17])
def test_a_corpus_distillation_finds_them_whatever_its_rows(teacher: SvrModel, prior: Prior, n_encodes: int) -> None:
    """LOSO's key comes from its own distillation (the corpus's frames and windows beside the teacher's samples):
    it is the key the carried bases were made for, whatever the corpus."""
    df = corpus(n_encodes=n_encodes, frames=5 + n_encodes)
    codes = df.groupby(["src", "cq"], sort=True).ngroup().to_numpy()
    data = Distillation.of(df[list(FEATURES)].to_numpy(), df["vmaf"].to_numpy(), codes, teacher, DEFAULT)
    assert data.teacher().digest() == prior.rows().digest()
    assert torch.equal(data.mean, torch.from_numpy(prior.mean)) and torch.equal(data.std, torch.from_numpy(prior.std))


@pytest.mark.parametrize("change", ["recipe", "formats", "seed"])
def test_another_recipe_release_or_seed_finds_none(prior: Prior, change: str) -> None:
    said: list[str] = []
    if change == "recipe":
        kept = carried(prior, said, config=replace(DEFAULT, base_lr=DEFAULT.base_lr / 2))
    elif change == "formats":  # a release that changes how a model trains, its bases not made again
        kept = carried(prior, said, formats={**FORMATS, "loso": FORMATS["loso"] + 1})
    else:
        kept = carried(prior, said)
    seeds = [max(SEEDS) + 1] if change == "seed" else SEEDS
    assert kept.found(seeds) == {} and not said


def test_another_teacher_finds_none(teacher: SvrModel) -> None:
    other = replace(teacher, rho=teacher.rho + 1e-3)  # another model: other scores of the same samples
    said: list[str] = []
    assert carried(Prior.of(other, DEFAULT), said).found(SEEDS) == {} and not said


def _damaged(record: Path) -> list[tuple[str, str]]:
    text = record.read_text()
    obj = json.loads(text)
    flipped = dict(obj, slots=[dict(obj["slots"][0], bias=obj["slots"][0]["weight"]), *obj["slots"][1:]])
    other_key = dict(obj, key="0" * 64)
    return [("truncated", text[: len(text) // 2]), ("not JSON", "\x00\x01"), ("a list", "[]"),
            ("another key", json.dumps(other_key)), ("a slot changed, its seal not", json.dumps(flipped)),
            ("a loss not a number", json.dumps(dict(obj, losses=["x"])))]


@pytest.mark.parametrize("case", range(6))
def test_a_carried_record_not_as_written_is_said_and_the_base_trained(prior: Prior, tmp_path: Path,
                                                                      case: int) -> None:
    folder = tmp_path / "shipped"
    shutil.copytree(SHIPPED, folder)
    said: list[str] = []
    record = carried(prior, said, folder).shipped_record(SEEDS[0])
    name, text = _damaged(record)[case]
    record.write_text(text)
    kept = carried(prior, said, folder)
    assert SEEDS[0] not in kept.found(SEEDS), name
    assert sorted(kept.found(SEEDS)) == SEEDS[1:]
    assert len(said) == 1 and record.name in said[0] and "trained here" in said[0], said


def test_a_carried_base_is_used_and_none_trained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A small recipe's bases carried (made here as tools/make_bases.py makes them): the members train from them,
    train_bases never runs, and the members are those of the bases trained here."""
    config = replace(SMALL, epochs=1)
    df = corpus()
    codes = df.groupby(["src", "cq"], sort=True).ngroup().to_numpy()
    tiny = parse_model(model_json(), "tiny")
    data = Distillation.of(df[list(FEATURES)].to_numpy(), df["vmaf"].to_numpy(), codes, tiny, config)
    members = [Member(0, 0, np.arange(36)), Member(1, 0, np.arange(36)), Member(1, 1, np.arange(36, 72))]
    feats, codec = df[list(FEATURES)].to_numpy(), np.zeros((len(df), 0))
    plain = train_members(feats, codec, df["vmaf"].to_numpy(), members, config, distil=data, workers=1)
    arch = fr_regressor_v2(config, TEACHER)
    folder, said = tmp_path / "shipped", []
    folder.mkdir()
    maker = KeptBases(None, data.teacher(), arch, config, active(), said.append, FORMATS, shipped=folder)
    for seed in (0, 1):
        net, losses = train_bases(data.teacher(), [seed], arch, config, active(), lambda *_: None,
                                  threading.Event())
        maker.shipped_record(seed).write_text(json.dumps(maker.record_of(maker.shipped_key(seed), seed, net,
                                                                         losses)))
    calls = counting_bases(monkeypatch)
    read = train_members(feats, codec, df["vmaf"].to_numpy(), members, config, distil=data, workers=1,
                         bases=lambda rows, a, c: KeptBases(None, rows, a, c, active(), said.append, FORMATS,
                                                            shipped=folder))
    assert calls == []
    assert len(said) == 1 and "seed(s) 0, 1 as the kit carries it" in said[0], said
    assert same_bits(plain, read)


@pytest.mark.release
def test_the_carried_bases_are_what_the_recipe_trains_here(prior: Prior) -> None:
    """Each carried base trained again here: on a box like the one that made it, every bit the same; on another, its
    outputs on the teacher's samples close (a difference of rounding, not of recipe)."""
    from tools.make_bases import made_here

    said: list[str] = []
    kept = carried(prior, said)
    rows = prior.rows()
    for seed in SEEDS:
        net, _ = train_bases(rows, [seed], ARCH, DEFAULT, active(), lambda *_: None, threading.Event())
        base = kept.read_shipped(seed)
        assert base is not None
        record = json.loads(kept.shipped_record(seed).read_text())
        if record["made"] == made_here():
            assert all(torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
                       for a, b in zip(net.slots, base.net.slots, strict=True)), seed
        else:
            x = rows.table.unsqueeze(0)
            assert float((net.forward(x) - base.net.forward(x)).abs().max()) < 0.5, seed
