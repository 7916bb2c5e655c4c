"""The trainer's two paths (kit.model.kernels): the fast one on torch's private ops and a backward written out, and
plain autograd with torch.optim.Adam. The same bytes either way, so the path never changes a result; a private op
that is gone or changed falls back to autograd instead of breaking the training."""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from kit.errors import InputError
from kit.model import kernels
from kit.model.arch import MLP_SMALL, fr_regressor_v2
from kit.model.features import design_matrix
from kit.model.kernels import ENV, Kernels, active, choose
from kit.model.loso import LosoInputs, LosoResult
from kit.model.recipe import TrainConfig
from kit.model.results import BaselineResult
from kit.model.threads import choose_threads
from kit.model.train import Member, TrainData, TrainJob, train_jobs
from tests.conftest import ROOT, synthetic_corpus
from tests.training import loso_with_baselines

CONFIG = TrainConfig(epochs=4, batch_size=16)


def _loso(monkeypatch: pytest.MonkeyPatch, kernels_env: str | None) -> tuple[LosoResult, dict[str, BaselineResult]]:
    """The ensemble (GELU, dropout) and the baselines (linear; mlp_small, ReLU) on 4 sources, 2 seeds, 2 workers."""
    if kernels_env is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, kernels_env)
    inputs = LosoInputs.of(synthetic_corpus(n_src=4, rows_per_src=60))
    return loso_with_baselines(inputs, [0, 1], CONFIG, workers=2)


def _figures(result: LosoResult, models: dict[str, BaselineResult]) -> list[Any]:
    return [[r.to_json() for r in result.seed_reports], {k: m.to_json() for k, m in models.items()}]


@pytest.fixture
def public_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts autograd's backward passes and torch.optim.Adam's steps, so a test knows the public path ran."""
    calls: Counter[str] = Counter()

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kw: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kw)
        return call

    monkeypatch.setattr(torch.autograd, "backward", counted("backward", torch.autograd.backward))
    monkeypatch.setattr(torch.optim.Adam, "step", counted("adam", torch.optim.Adam.step))
    yield calls


def test_a_loso_on_autograd_is_the_fast_paths_loso_bit_for_bit(
        monkeypatch: pytest.MonkeyPatch, public_calls: Counter[str]) -> None:
    """Every figure of the seed reports and baselines (GELU and ReLU networks, dropout), every fold and held-out
    prediction: the same bytes, so which path ran changes no result, however the members are grouped."""
    private = _loso(monkeypatch, None)
    assert not public_calls
    public = _loso(monkeypatch, "public")
    assert public_calls["backward"] and public_calls["adam"]  # autograd did the training
    assert _figures(*public) == _figures(*private)
    for frame in ("folds", "predictions"):
        pd.testing.assert_frame_equal(getattr(public[0], frame), getattr(private[0], frame), check_exact=True)
    assert public[0].predictions["pred"].to_numpy().tobytes() == private[0].predictions["pred"].to_numpy().tobytes()


def test_where_torch_has_no_fused_adam_the_printed_figures_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.optim.Adam unfused (autograd's Adam on a torch without a fused one) rounds differently in the last
    bits: the figures the kit prints (4 decimals) stay, held-out predictions move by ~1e-5 VMAF (1.1e-5 at most
    on the 1,800-row demo corpus, 60 epochs, 5 seeds; torch 2.13)."""
    private = _loso(monkeypatch, None)
    monkeypatch.setattr(kernels, "FUSED_PUBLIC", False)
    unfused = _loso(monkeypatch, "public")
    for ours, theirs in zip(private[0].seed_reports, unfused[0].seed_reports, strict=True):
        for figure in ("mean_plcc", "mean_srocc", "mean_krocc", "mean_rmse", "std_plcc", "min_plcc", "max_plcc"):
            assert f"{getattr(ours, figure):.4f}" == f"{getattr(theirs, figure):.4f}", figure
    for name, model in private[1].items():
        assert f"{model.mean_plcc:.4f} {model.mean_rmse:.4f}" == \
               f"{unfused[1][name].mean_plcc:.4f} {unfused[1][name].mean_rmse:.4f}", name
    moved = np.abs(private[0].predictions["pred"].to_numpy() - unfused[0].predictions["pred"].to_numpy())
    assert moved.max() < 1e-3, moved.max()


def _changed_fused_adam(monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch whose fused Adam takes two new keyword arguments: torch.optim passes them, the kit did not."""
    real = torch._fused_adam_

    def changed(*args: Any, grad_scale: Any, found_inf: Any, **kw: Any) -> Any:
        return real(*args, grad_scale=grad_scale, found_inf=found_inf, **kw)

    monkeypatch.setattr(torch, "_fused_adam_", changed)


def test_a_private_op_that_changed_falls_back_to_autograd_with_the_same_weights(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    df = synthetic_corpus()
    data = TrainData.of(*design_matrix(df), df["vmaf"].to_numpy())
    members = [Member(s, f, np.arange(f * 30, f * 30 + 150)) for s in (0, 1) for f in range(3)]

    def weights() -> list[bytes]:
        jobs = [TrainJob(members, fr_regressor_v2(CONFIG)), TrainJob(members[:3], MLP_SMALL)]
        return [b"".join(p.numpy().tobytes() for p in ens.net.params) for ens in train_jobs(data, jobs, CONFIG, 2)]

    assert active().private
    before = weights()
    _changed_fused_adam(monkeypatch)
    fault = kernels.self_check()
    assert fault.startswith("torch._fused_adam_: TypeError"), fault
    monkeypatch.setattr(kernels, "PRIVATE_FAULT", fault)  # as the import of kit.model.kernels finds it on that torch
    now = active()
    assert not now.private and "torch._fused_adam_: TypeError" in now.why and kernels.CHECKED_WITH in now.why
    assert "training kernels: torch's autograd (torch " in choose_threads({}, 2).describe()
    assert weights() == before


@pytest.mark.parametrize(("patch", "found"), [
    ("gelu sign", "torch.ops.aten.gelu_backward is not GELU's derivative any more"),
    ("relu gone", "torch.ops.aten.threshold_backward: AttributeError"),
    ("adam idle", "torch._fused_adam_ is not Adam's update any more"),
    ("adam signature", "torch._fused_adam_: TypeError"),
])
def test_the_self_check_names_an_op_that_is_gone_or_computes_something_else(
        monkeypatch: pytest.MonkeyPatch, patch: str, found: str) -> None:
    assert kernels.self_check() == ""
    if patch == "gelu sign":
        monkeypatch.setitem(kernels.ACTIVATION_GRADS, "gelu", lambda g, x: -torch.ops.aten.gelu_backward(g, x))
    elif patch == "relu gone":
        monkeypatch.setitem(kernels.ACTIVATION_GRADS, "relu", lambda g, x: torch.ops.aten.no_such_backward(g, x, 0))
    elif patch == "adam idle":
        monkeypatch.setattr(torch, "_fused_adam_", lambda *args, **kw: None)
    else:
        _changed_fused_adam(monkeypatch)
    assert kernels.self_check().startswith(found)


def test_kit_train_kernels_forces_autograd_and_anything_else_is_refused() -> None:
    assert choose({}, "") == choose({ENV: " auto "}, "") == Kernels(True)
    assert choose({ENV: "public"}, "") == Kernels(False, f"{ENV}=public")
    fault = "torch._fused_adam_: TypeError"
    assert choose({}, fault).why.endswith(f"{fault}; checked with {kernels.CHECKED_WITH}")
    with pytest.raises(InputError) as err:
        choose({ENV: "private"}, "")
    assert f"{ENV}='private'" in err.value.message and f"{ENV}=public" in err.value.hint


def test_the_step_log_names_the_kernels_on_the_threads_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    line = choose_threads({}, 2).describe()
    assert line.startswith("training threads: 2") and "; training kernels: torch's private ops, self-checked" in line
    monkeypatch.setenv(ENV, "public")
    assert choose_threads({}, 2).describe().endswith(f"; training kernels: torch's autograd ({ENV}=public)")
    assert "\n" not in line


def is_private(name: str) -> bool:
    """torch.ops.*, or a torch._* below torch (not a dunder such as torch.__version__)."""
    parts = name.split(".")
    return len(parts) > 1 and parts[0] == "torch" and (
        parts[1] == "ops" or (parts[1].startswith("_") and not parts[1].endswith("__")))


def private_torch(source: str) -> list[str]:
    """Each private torch name the source reaches: an attribute of `torch`, an import of or from a module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "torch":
            found.append(f"torch.{node.attr}")
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(str(node.module))
    return [name for name in found if is_private(name)]


def test_no_module_but_kernels_uses_a_private_torch_op() -> None:
    used = {str(p.relative_to(ROOT)): private_torch(p.read_text()) for p in sorted((ROOT / "kit").rglob("*.py"))}
    assert {path for path, names in used.items() if names} == {"kit/model/kernels.py"}
    assert sorted(set(used["kit/model/kernels.py"])) == ["torch._foreach_add_", "torch._fused_adam_", "torch.ops"]
    # the scan sees each way of reaching one
    assert private_torch("import torch\ntorch._foreach_add_(s, 1)\nprint(torch.__version__)") == ["torch._foreach_add_"]
    assert private_torch("torch.ops.aten.gelu_backward(g, x)") == ["torch.ops"]
    assert private_torch("from torch._dynamo import x\nimport torch._C") == ["torch._dynamo", "torch._C"]


@pytest.mark.parametrize("path", ["private", "public"])
def test_a_members_bits_are_its_own_whatever_group_it_trains_in(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Each member trained in one stack with the others, and each alone (as a training task or a box of other cores
    deals them), by either path: the same bytes. torch's fused Adam takes a tensor's last few elements (its length
    modulo the vector lanes) one by one, with other roundings than the lanes: 2.6.0 updated a whole stack as one
    tensor, so a linear member's six weights (never a whole number of lanes) changed bits with its place in the stack,
    and a task's members were not the one node's."""
    if path == "public":
        monkeypatch.setenv(ENV, "public")
    else:
        monkeypatch.delenv(ENV, raising=False)
    from kit.model.arch import LINEAR, Arch

    inputs = LosoInputs.of(synthetic_corpus(n_src=5, rows_per_src=80))
    data = TrainData.of(inputs.feats, inputs.codec, inputs.target)
    config = TrainConfig(epochs=6, batch_size=16)
    def weights(members: list[Member], arch: Arch, rows: float) -> list[bytes]:
        ens = train_jobs(data, [TrainJob(members, arch, planned_rows=rows)], config, 1)[0]
        return [b"".join(s.weight[m].numpy().tobytes() + s.bias[m].numpy().tobytes() for s in ens.net.slots)
                for m in range(len(members))]

    for arch in (LINEAR, MLP_SMALL, fr_regressor_v2(config)):
        members = inputs.members([0, 1])
        rows = float(np.mean([len(m.train_rows) for m in members]))  # the whole job's, as a task plans its share
        assert weights(members, arch, rows) == [weights([m], arch, rows)[0] for m in members], arch.name
