"""The opt-in input set canonical6+v1 (issue 39): the canonical six and VMAF v1's four features, a model contract
of its own. Its members are ten features wide from the trainer to the ONNX file and its card; a corpus without
the four is refused naming the column; the vmaf-tune profile, which feeds six, is not written for it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pyarrow as pa
import pytest

from kit.bundle.conformal import confidence
from kit.bundle.models import export_ensemble
from kit.bundle.vmaftune import Shipping
from kit.corpus.schema import EXTRA_FEATURES, corpus_sha256
from kit.corpus.summary import summarise_corpus
from kit.corpus.training import training_corpus
from kit.errors import InputError
from kit.infra.tree import Tree
from kit.model.arch import baseline_archs, fr_regressor_v2
from kit.model.contract import CANONICAL6_V1, input_features
from kit.model.features import design_matrix
from kit.model.recipe import TrainConfig
from kit.verdict.document import Verdict
from tests.conftest import ROOT, synthetic_corpus
from tests.kitfiles import shard_table, write_shard
from tests.training import run_loso

V1 = TrainConfig(epochs=2, batch_size=32, inputs=CANONICAL6_V1)
V1_FEATURES = input_features(CANONICAL6_V1)


def with_extras(table: pa.Table) -> pa.Table:
    """The rows with VMAF v1's four measured (values of their plausible kind)."""
    rng = np.random.default_rng(5)
    for name, hi in zip(EXTRA_FEATURES, (5.0, 10.0, 1.0, 20.0), strict=True):
        table = table.set_column(table.column_names.index(name), name, pa.array(rng.uniform(0, hi, table.num_rows)))
    return table


def test_the_members_and_baselines_are_as_wide_as_the_set() -> None:
    assert fr_regressor_v2(V1).in_dim == fr_regressor_v2(TrainConfig()).in_dim + 4
    assert [a.n_features for a in baseline_archs(V1)] == [10, 10]
    df = synthetic_corpus(n_src=4, rows_per_src=30)
    for i, name in enumerate(EXTRA_FEATURES):
        df[name] = np.linspace(0, 1 + i, len(df))
    feats, _ = design_matrix(df, CANONICAL6_V1)
    assert feats.shape == (len(df), 10) and np.array_equal(feats[:, 6:], df[list(EXTRA_FEATURES)].to_numpy("f4"))
    result = run_loso(df, [0], V1)
    assert np.isfinite(result.predictions["pred"]).all() and len(result.predictions) == len(df)


def test_a_corpus_without_the_four_is_refused_naming_the_column(tmp_path: Path) -> None:
    bare = write_shard(tmp_path / "bare.parquet", shard_table())
    with pytest.raises(InputError) as info:
        training_corpus(bare, measured=EXTRA_FEATURES)
    assert info.value.message == (f"{bare}: cambi was not measured on 120 row(s), and the proxy's inputs need it")
    assert "--inputs canonical6+v1" in info.value.hint
    half = shard_table()
    measured = with_extras(half)
    mixed = write_shard(tmp_path / "mixed.parquet", pa.concat_tables([measured.slice(0, 60), half.slice(60)]))
    with pytest.raises(InputError, match="on 60 row"):
        training_corpus(mixed, measured=EXTRA_FEATURES)
    full = write_shard(tmp_path / "full.parquet", measured)
    df, _ = training_corpus(full, measured=EXTRA_FEATURES)
    assert list(df.columns[df.columns.isin(EXTRA_FEATURES)]) == list(EXTRA_FEATURES)


def test_the_export_is_ten_wide_and_has_no_vmaftune_profile(tmp_path: Path) -> None:
    corpus = write_shard(tmp_path / "corpus.parquet", with_extras(shard_table(n_src=3, rows_per_src=20)))
    golden = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    verdict = replace(golden, seeds=[0], per_seed=golden.per_seed[:1],
                      corpus=summarise_corpus(corpus, corpus_sha256(corpus)))
    exports = tmp_path / "exports"
    with Tree.open(tmp_path) as tree:
        tree.make_folder(exports)
        written = export_ensemble(tree, verdict, V1, exports, (10, 51), Shipping(
            "BSD-3-Clause", "https://spdx.org/licenses/BSD-3-Clause.html", confidence(None), None))
    assert not (exports / "vmaftune").exists() and all(p.parent == exports for p in written)
    model = onnx.load(str(exports / "fr_regressor_v2_seed0.onnx"))
    features = next(i for i in model.graph.input if i.name == "features")
    assert [d.dim_param or d.dim_value for d in features.type.tensor_type.shape.dim] == ["batch", 10]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["features"] == ",".join(V1_FEATURES) and meta["input_version"] == "3"
    card = json.loads((exports / "fr_regressor_v2_seed0.json").read_text())
    assert card["inputs"]["features"]["order"] == list(V1_FEATURES)
    assert card["inputs"]["features"]["input_set"] == CANONICAL6_V1 and card["parity_max_abs_diff"] <= 1e-4


def test_a_ten_wide_member_round_trips_through_the_member_store() -> None:
    """A LOSO member file holds its weights and its scaler of the set's width (kit.model.tasks)."""
    from kit.model.tasks import flatten, unflatten
    from kit.model.train import Member, train_members

    df = synthetic_corpus(n_src=3, rows_per_src=20)
    for i, name in enumerate(EXTRA_FEATURES):
        df[name] = np.linspace(0, 1 + i, len(df))
    feats, codec = design_matrix(df, CANONICAL6_V1)
    ens = train_members(feats, codec, df["vmaf"].to_numpy(), [Member(0, -1, np.arange(len(df)))], V1)
    vector = flatten(ens, 0)
    arch = fr_regressor_v2(V1)
    assert vector.shape == (arch.params + 2 * 10 + 1,)  # the slots, ten means and stds, the loss
    back = unflatten(vector, arch)
    assert back.mean.shape == (1, 10) and np.allclose(back.mean.numpy(), ens.means[0].numpy())


def test_a_message_names_the_opt_in_features_from_the_table() -> None:
    """Issue 78: the refusals and lines that speak of the opt-in features name them from kit.media.libvmaf's table
    (EXTRA_SAID), never as "VMAF v1's features" written by hand where any opt-in set is meant."""
    from kit.media.libvmaf import EXTRA_SAID, OPT_IN
    from kit.media.teachers import teacher_of
    from kit.platforms.teacher import size_refusal

    assert all(f.name in EXTRA_SAID for f in OPT_IN) and OPT_IN
    refused = size_refusal(teacher_of("vmaf_v0.6.1"), True, "176x144", "a.y4m", "too small")
    assert EXTRA_SAID in str(refused.hint) and "--inputs canonical6 " in str(refused.hint)
    for module in (ROOT / "kit").rglob("*.py"):
        assert "VMAF v1's features" not in module.read_text(), module
