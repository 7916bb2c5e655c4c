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

from kit.infra.perms import Rules
from kit.infra.tree import Tree
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
from tests.unit.test_bases import counting_bases, same_bits
from tests.unit.test_distil import SMALL, corpus, model_json
from tools.make_bases import default_seeds

FORMATS = formats_through("loso")
DEFAULT = TrainConfig()
ARCH = fr_regressor_v2(DEFAULT, TEACHER)
SEEDS = default_seeds()


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
    assert data.teacher().identity == prior.identity and data.teacher().digest() == prior.rows().digest()
    assert torch.equal(data.mean, torch.from_numpy(prior.mean)) and torch.equal(data.std, torch.from_numpy(prior.std))
    said: list[str] = []
    kept = KeptBases(None, data.teacher(), ARCH, DEFAULT, active(), said.append, FORMATS)
    assert sorted(kept.found(SEEDS)) == SEEDS and not said


def test_a_box_whose_numpy_rounds_otherwise_finds_them(ffmpeg: str) -> None:
    """numpy chooses its log and exp by the CPU's vector unit, so the teacher's samples' bits depend on the box; the
    carried bases are found by what made the samples, so a box without this one's vector unit finds them too (numpy's
    AVX-512 paths turned off in a process of its own)."""
    code = (
        "import sys, json; from pathlib import Path\n"
        "from kit.media.libvmaf import TEACHER_MODEL\n"
        "from kit.media.svr import builtin_model_text, parse_model\n"
        "from kit.model.arch import fr_regressor_v2\n"
        "from kit.model.bases import KeptBases\n"
        "from kit.model.distil import Prior\n"
        "from kit.model.kernels import active\n"
        "from kit.model.recipe import TEACHER, TrainConfig\n"
        "from kit.steps import formats_through\n"
        "t = parse_model(builtin_model_text(Path(sys.argv[1]), TEACHER_MODEL), TEACHER_MODEL)\n"
        "c = TrainConfig(); rows = Prior.of(t, c).rows()\n"
        "k = KeptBases(None, rows, fr_regressor_v2(c, TEACHER), c, active(), print, formats_through('loso'))\n"
        "print(json.dumps([rows.digest(), sorted(k.found(range(5)))]))\n")
    import os
    import subprocess
    import sys

    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR AVX512_SKX AVX512F"}
    out = subprocess.run([sys.executable, "-c", code, ffmpeg], env=env, capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    _, found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == SEEDS


def _moved(value: object, name: str) -> object:
    """Another valid value of a recipe field."""
    if name == "inputs":
        from kit.model.contract import INPUT_SETS

        return next(s for s in INPUT_SETS if s != value)
    if name == "recipe":
        return "frames"
    if name == "tune_shares":
        return (0.3, 0.3, 0.4)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    assert isinstance(value, float), name
    return value / 2


# the recipe's fields a base's bits depend on: the network's (hidden; inputs, its width), the base's steps (epochs
# scale them), batch, learning rate and weight decay, and what the teacher's samples are made of (PRIOR_FIELDS)
IN_THE_KEY = {"hidden", "inputs", "epochs", "base_steps", "base_batch", "base_lr", "weight_decay", "teacher_samples",
              "prior_seed", "motion_max"}


def test_the_carried_key_moves_with_exactly_the_fields_a_base_depends_on(teacher: SvrModel) -> None:
    """Every field of the recipe moved, one at a time: the carried key changes for those of IN_THE_KEY and no other
    (a field a new release makes the base depend on joins it, or a carried base would be read for another recipe)."""
    small = replace(DEFAULT, teacher_samples=1_000)  # the samples' count is a field too: a cheap prior to move from

    def key(config: TrainConfig) -> str:
        rows = Prior.of(teacher, config).rows()
        return KeptBases(None, rows, fr_regressor_v2(config, TEACHER), config, active(), print, FORMATS,
                         ).shipped_key(0)

    first = key(small)
    moved = {f.name for f in fields(TrainConfig)
             if key(replace(small, **{f.name: _moved(getattr(small, f.name), f.name)})) != first}
    assert moved == IN_THE_KEY


def test_the_samples_identity_moves_exactly_when_their_values_do(teacher: SvrModel) -> None:
    """Every field of the recipe moved, one at a time: what made the teacher's samples (Prior.identity) changes when
    and only when their values do (their bits on this box)."""
    small = replace(DEFAULT, teacher_samples=1_000)
    first = Prior.of(teacher, small)
    for f in fields(TrainConfig):
        other = Prior.of(teacher, replace(small, **{f.name: _moved(getattr(small, f.name), f.name)}))
        assert (other.identity != first.identity) == (other.rows().digest() != first.rows().digest()), f.name


@pytest.mark.parametrize("change", ["formats", "seed", "teacher"])
def test_another_release_seed_or_teacher_finds_none(teacher: SvrModel, prior: Prior, change: str) -> None:
    said: list[str] = []
    if change == "formats":  # a release that changes how a model trains, its bases not made again
        kept = carried(prior, said, formats={**FORMATS, "loso": FORMATS["loso"] + 1})
    elif change == "teacher":  # another model: other scores of the same samples
        kept = carried(Prior.of(replace(teacher, sha256="0" * 64, rho=teacher.rho + 1e-3), DEFAULT), said)
    else:
        kept = carried(prior, said)
    seeds = [max(SEEDS) + 1] if change == "seed" else SEEDS
    assert kept.found(seeds) == {} and not said


def _damaged(record: Path) -> list[tuple[str, bytes]]:
    raw = record.read_bytes()
    obj = json.loads(raw)
    flipped = dict(obj, slots=[dict(obj["slots"][0], bias=obj["slots"][0]["weight"]), *obj["slots"][1:]])
    return [("truncated", raw[: len(raw) // 2]), ("not JSON", b"\x00\x01"), ("a list", b"[]"),
            ("another key", json.dumps(dict(obj, key="0" * 64)).encode()),
            ("a slot changed, its seal not", json.dumps(flipped).encode()),
            ("a loss not a number", json.dumps(dict(obj, losses=["x"])).encode()),
            ("not UTF-8", b'{"key": "\xff"}'), ("nested past any parser", b"[" * 200_000 + b"]" * 200_000),
            ("a name given twice", raw.replace(b'{', b'{"seed": 7, ', 1)),
            ("a loss past any float", json.dumps(dict(obj, losses=[10**400])).encode())]


@pytest.mark.parametrize("case", range(10))
def test_a_carried_record_not_as_written_is_said_and_the_base_trained(prior: Prior, tmp_path: Path,
                                                                      case: int) -> None:
    folder = tmp_path / "shipped"
    shutil.copytree(SHIPPED, folder)
    said: list[str] = []
    record = carried(prior, said, folder).shipped_record(SEEDS[0])
    name, raw = _damaged(record)[case]
    record.write_bytes(raw)
    record.chmod(0o644)
    kept = carried(prior, said, folder)
    assert SEEDS[0] not in kept.found(SEEDS), name
    assert sorted(kept.found(SEEDS)) == SEEDS[1:]
    assert len(said) == 1 and record.name in said[0] and "trained here" in said[0], said
    assert str(tmp_path) not in said[0]  # the kit's folder, a path below home, is never in a log line (sent)


def test_a_carried_record_that_is_no_file_is_said(prior: Prior, tmp_path: Path) -> None:
    folder = tmp_path / "shipped"
    shutil.copytree(SHIPPED, folder)
    said: list[str] = []
    record = carried(prior, said, folder).shipped_record(SEEDS[0])
    record.unlink()
    record.mkdir()
    assert SEEDS[0] not in carried(prior, said, folder).found(SEEDS)
    assert len(said) == 1 and "trained here" in said[0], said


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
    # seed 1 carried no more but kept in a cache: one read from each, both said, none trained
    maker.shipped_record(1).unlink()
    cache = Tree.open(tmp_path / "cache", Rules())
    net, losses = train_bases(data.teacher(), [1], arch, config, active(), lambda *_: None, threading.Event())
    KeptBases(cache, data.teacher(), arch, config, active(), said.append, FORMATS, shipped=folder).keep(1, net, losses)
    said.clear()
    mixed = train_members(feats, codec, df["vmaf"].to_numpy(), members, config, distil=data, workers=1,
                          bases=lambda rows, a, c: KeptBases(cache, rows, a, c, active(), said.append, FORMATS,
                                                             shipped=folder))
    assert calls == [] and same_bits(plain, mixed)
    assert sorted(said) == sorted([s for s in said if "seed(s) 0 as the kit carries it" in s or
                                   "seed(s) 1 read back from the kit's cache" in s]) and len(said) == 2, said


@pytest.mark.wide
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
        else:  # another box rounds otherwise: the same function, to well within the ceiling's own misses (0.5)
            x = rows.table.unsqueeze(0)
            with torch.no_grad():
                assert float((net.forward(x) - base.net.forward(x)).abs().max()) < 0.5, seed


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_distillation_is_the_one_made_before_the_prior_was_its_own(dtype: type) -> None:
    """Distillation.of takes the teacher's samples from Prior.of: its table, scores and scaler are bit for bit those
    of the one formula it replaced (the samples drawn, spaced, scaled and scored beside the corpus's rows)."""
    from kit.model.distil import draw_prior, encode_windows
    from kit.model.features import CODEC_DIM, model_space

    config, tiny = replace(DEFAULT, teacher_samples=2_000), parse_model(model_json(), "tiny")
    df = corpus(n_encodes=5, frames=9)
    feats, target = df[list(FEATURES)].to_numpy().astype(dtype), df["vmaf"].to_numpy().astype(dtype)
    codes = df.groupby(["src", "cq"], sort=True).ngroup().to_numpy()
    prior = draw_prior(config.teacher_samples, config)
    wx, wy, _ = encode_windows(feats, target, codes, config)
    spaced = model_space(np.vstack([feats, wx, prior]))
    mean, std = spaced[len(feats) + len(wx):].mean(0), spaced[len(feats) + len(wx):].std(0)
    std = np.where(std > 1e-12, std, 1.0)
    table = np.hstack([(spaced - mean) / std, np.zeros((len(spaced), CODEC_DIM), dtype=np.float32)]).astype(np.float32)
    scores = np.concatenate([target, wy, tiny.predict(prior)]).astype(np.float32)
    data = Distillation.of(feats, target, codes, tiny, config)
    assert np.array_equal(data.table.numpy(), table) and np.array_equal(data.target.numpy(), scores)
    assert np.array_equal(data.mean.numpy(), mean.astype(np.float32))
    assert np.array_equal(data.std.numpy(), std.astype(np.float32))
