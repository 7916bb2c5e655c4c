"""The threads the kit trains and infers on: chosen by the kit, overridable, recorded, never spinning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kit.errors import InputError
from kit.model.arch import fr_regressor_v2
from kit.model.export import build_onnx
from kit.model.network import FrRegressor
from kit.model.recipe import TrainConfig
from kit.model.runtime import session
from kit.model.threads import ENV, ThreadChoice, apply_threads, choose_threads
from tests.training import onnx_predict

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 2), (16, 2), (128, 2)])
def test_the_kit_trains_on_two_threads_at_most_whatever_the_core_count(cores: int, threads: int) -> None:
    choice = choose_threads({}, cores)
    assert (choice.train, choice.interop, choice.onnxruntime, choice.chosen_by) == (threads, 1, 1, "kit")
    assert "the kit's choice" in choice.describe()


def test_kit_train_threads_overrides_the_choice() -> None:
    choice = choose_threads({ENV: "3", "OMP_WAIT_POLICY": "PASSIVE"}, 8)
    assert (choice.train, choice.chosen_by, choice.omp_wait_policy) == (3, ENV, "PASSIVE")
    assert f"set by {ENV}" in choice.describe()
    assert choose_threads({ENV: ""}, 8).chosen_by == "kit"  # set but empty: as if unset


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "9", " 3 ", "+3"])
def test_a_bad_kit_train_threads_is_refused_with_a_hint(value: str) -> None:
    with pytest.raises(InputError) as err:
        choose_threads({ENV: value}, 8)
    assert f"{ENV}={value!r}" in err.value.message and "from 1 to 8" in err.value.message
    assert f"unset {ENV}" in err.value.hint


def test_the_choice_is_a_record_for_run_json() -> None:
    choice = choose_threads({ENV: "2"}, 4)
    assert ThreadChoice.from_json(choice.to_json()) == choice
    assert list(choice.to_json()) == ["train", "chosen_by", "cores", "interop", "intraop", "onnxruntime",
                                      "omp_wait_policy"]
    older = {k: v for k, v in choice.to_json().items() if k != "intraop"}  # run.json of a kit before workers
    assert ThreadChoice.from_json(older) == choice


def test_applying_gives_torch_one_thread_whatever_the_worker_count() -> None:
    """The workers are the parallelism (kit.model.train.train_jobs); torch itself never splits an op."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        for env in ({ENV: "2"}, {}):
            choice = choose_threads(env, 4)
            apply_threads(choice)
            assert (torch.get_num_threads(), choice.train) == (1, 2)
            assert "training threads: 2" in choice.describe() and "torch on 1 thread" in choice.describe()
    finally:
        torch.set_num_threads(before)


def test_importing_the_kit_makes_openmp_threads_sleep_unless_the_user_said_otherwise() -> None:
    code = "import kit, os; print(os.environ['OMP_WAIT_POLICY'], os.environ['KMP_BLOCKTIME'])"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["PASSIVE", "0"]
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ACTIVE", "0"]


def test_every_onnxruntime_session_is_single_threaded_and_does_not_spin(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = FrRegressor(torch.rand(6), torch.rand(6) + 0.5, fr_regressor_v2(TrainConfig()))
    path = tmp_path / "m.onnx"
    path.write_bytes(build_onnx(model, {}).SerializeToString())
    opts = session(path).get_session_options()
    assert (opts.intra_op_num_threads, opts.inter_op_num_threads) == (1, 1)
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    feats = np.random.default_rng(0).uniform(0, 1, (5, 6)).astype(np.float32)
    codec = np.zeros((5, model.slot("hidden1").in_features - 6), dtype=np.float32)
    assert onnx_predict(path, feats, codec).shape == (5,)
