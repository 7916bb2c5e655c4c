"""Validation folds (kit.model.folds): LOSO and grouped K-fold over content groups, deterministic whatever the
row order, balanced by rows; figures per source whatever the scheme; memory per member flat."""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.cli.main import cli
from kit.errors import InputError
from kit.infra.records import RecordError
from kit.model.arch import fr_regressor_v2
from kit.model.batches import Complement, Kept, Member, RowStream, Scalers, row_arrays, scaler
from kit.model.folds import choose_scheme, cut_folds, deal
from kit.model.recipe import AUTO_K, LOSO_MAX_GROUPS, TrainConfig, checked_folds
from kit.model.schedule import STACK_BYTES, stack_members
from kit.model.train import TrainJob, _plans
from kit.steps.parsers import Folds
from tests import pace
from tests.conftest import ROOT, synthetic_corpus
from tests.training import run_loso


def uneven_corpus(n_src: int = 12, seed: int = 0) -> pd.DataFrame:
    """Sources of different lengths, so balancing by rows has something to do."""
    parts = [synthetic_corpus(n_src=1, rows_per_src=20 + 7 * s, seed=seed + s).assign(
        src=f"s{s:02d}", src_sha256=f"{s:064x}") for s in range(n_src)]
    return pd.concat(parts, ignore_index=True)


def held_out(df: pd.DataFrame, asked: str) -> list[list[str]]:
    """Per fold, the sources it holds out, read back through the rows (what the folds mean, not how they are stored)."""
    folds, _ = cut_folds(df, asked)
    sha = df["src_sha256"].to_numpy()
    return [sorted(set(sha[f.rows])) for f in folds]


@pytest.mark.parametrize("asked", ["loso", "3", "5"])
def test_the_same_corpus_gives_the_same_folds_whatever_the_row_order(asked: str) -> None:
    df = uneven_corpus()
    shuffled = df.sample(frac=1.0, random_state=7).reset_index(drop=True)
    by_source = [g for _, g in df.groupby("src_sha256")]
    merged = pd.concat([by_source[i] for i in np.random.default_rng(3).permutation(len(by_source))],
                       ignore_index=True)  # shards merged in another order
    assert held_out(df, asked) == held_out(shuffled, asked) == held_out(merged, asked)


def test_k_fold_holds_out_whole_sources_balanced_by_rows() -> None:
    df = uneven_corpus()
    folds, scheme = cut_folds(df, "3")
    assert scheme.scheme == "kfold" and scheme.folds == 3 and len(folds) == 3
    all_rows = np.sort(np.concatenate([f.rows for f in folds]))
    assert np.array_equal(all_rows, np.arange(len(df)))  # every row held out exactly once
    sha = df["src_sha256"].to_numpy()
    for f in folds:  # a source lies wholly in one fold
        for s in set(sha[f.rows]):
            assert (sha == s).sum() == (sha[f.rows] == s).sum()
        assert [src.src for src in f.sources] == sorted(src.src for src in f.sources)
    sizes = [len(f.rows) for f in folds]
    biggest = df["src_sha256"].value_counts().max()
    assert max(sizes) - min(sizes) <= biggest  # greedy to the lightest fold


def test_deal_takes_groups_heaviest_first_to_the_lightest_fold() -> None:
    groups = {g: [g] for g in "abcde"}
    rows = {"a": 50, "b": 40, "c": 30, "d": 30, "e": 10}
    # a->0, b->1, c->2, d->2 (30 < 40 < 50), e->1 (40 < 50 < 60)
    assert deal(groups, rows, 3) == [["a"], ["b", "e"], ["c", "d"]]


def test_a_content_column_keeps_its_sources_in_one_fold_in_loso_and_k_fold() -> None:
    df = uneven_corpus(n_src=8)
    sha = df["src_sha256"].to_numpy()
    # sources 1 and 6 are one content (cut from the same master): its id is the lower of their hashes
    content = np.where(np.isin(sha, [f"{1:064x}", f"{6:064x}"]), f"{1:064x}", sha)
    grouped = df.assign(content=content)
    for asked in ("loso", "3"):
        folds = held_out(grouped, asked)
        together = [f for f in folds if f"{1:064x}" in f]
        assert len(together) == 1 and f"{6:064x}" in together[0], asked
        assert not any(f"{6:064x}" in f for f in folds if f is not together[0])
    loso, scheme = cut_folds(grouped, "loso")
    assert scheme.groups == 7 and scheme.sources == 8 and len(loso) == 7
    assert len(cut_folds(df, "loso")[0]) == 8  # without the column, each source is its own group


def test_too_few_content_groups_name_the_sources_held_as_one_and_the_regrouping() -> None:
    """Was "the corpus has 2 distinct content group(s)", naming neither the sources nor --content-groups."""
    df = uneven_corpus(n_src=3)
    sha = df["src_sha256"].to_numpy()
    grouped = df.assign(content=np.where(sha == f"{2:064x}", f"{1:064x}", sha))
    with pytest.raises(InputError) as err:
        cut_folds(grouped, "loso")
    assert str(err.value) == ("the corpus has 2 distinct content group(s) in 3 sources; LOSO needs at least 3; held "
                              "out as one content: s01, s02")
    assert "merge CORPUS --content-groups FILE -o regrouped.parquet with FILE holding " \
           '{"different": [["s01", "s02"]]}' in err.value.hint


def test_the_scheme_chosen_and_why() -> None:
    assert choose_scheme("auto", LOSO_MAX_GROUPS, LOSO_MAX_GROUPS).scheme == "loso"
    above = choose_scheme("auto", LOSO_MAX_GROUPS + 1, LOSO_MAX_GROUPS + 1)
    assert (above.scheme, above.folds, above.label) == ("kfold", AUTO_K, f"grouped {AUTO_K}-fold")
    assert f"more than {LOSO_MAX_GROUPS}" in above.why
    assert choose_scheme(10, 9, 9).scheme == "loso"  # K >= groups: one group per fold
    assert choose_scheme(10, 12, 12).asked == "10"  # as the reports say it
    assert choose_scheme("loso", 500, 600).folds == 500


def test_folds_are_parsed_once_at_the_flag_and_checked_in_a_record() -> None:
    assert [Folds().parse(t, "--folds") for t in ("LOSO", " auto", "010")] == ["loso", "auto", 10]
    for bad in ("1", "0", "-3", "ten", "", "\u00a05"):
        with pytest.raises(InputError, match="is neither loso, auto nor a number of folds of at least 2"):
            Folds().parse(bad, "--folds")
    assert [checked_folds(v) for v in ("loso", 7, "10")] == ["loso", 7, 10]  # "10": an earlier kit's run.json
    for wrong in (1, "ten", True, 2.5, None):
        with pytest.raises(RecordError):
            checked_folds(wrong)


def test_k_fold_figures_are_per_source_and_comparable_with_loso() -> None:
    df = synthetic_corpus(n_src=6, rows_per_src=60)
    config = TrainConfig(epochs=3)
    loso = run_loso(df, [0, 1], config)
    kfold = run_loso(df, [0, 1], config, asked="3")
    assert kfold.scheme is not None and kfold.scheme.label == "grouped 3-fold"
    for report in (*loso.seed_reports, *kfold.seed_reports):  # one row per source, in source order
        assert [f.src for f in report.folds] == [f"s{i}" for i in range(6)] and report.n_folds == 6
        assert report.mean_plcc == pytest.approx(np.mean([f.plcc for f in report.folds]))
    assert sorted({f.fold for f in kfold.seed_reports[0].folds}) == [0, 1, 2]
    for seed in (0, 1):  # every row predicted once per seed, by a member that did not train on it
        pred = kfold.predictions[kfold.predictions["seed"] == seed]
        assert sorted(pred["corpus_row"]) == list(range(len(df)))
        assert (pred["src_sha256"].to_numpy() == df["src_sha256"].to_numpy()[pred["corpus_row"]]).all()
    assert len(kfold.folds) == 12 and kfold.n_members == 6


def test_training_rows_are_shared_per_fold_not_copied_per_member() -> None:
    rows = Complement(10, np.array([2, 3, 7]))
    assert len(rows) == 7 and list(rows.array()) == [0, 1, 4, 5, 6, 8, 9]
    members = [Member(seed, 0, rows) for seed in range(4)] + [Member(0, 1, Complement(10, np.array([0])))]
    arrays = row_arrays(members)
    assert all(a is arrays[0] for a in arrays[:4]) and arrays[4] is not arrays[0]
    stream = RowStream(members[0], arrays[0])
    assert stream.perm.dtype == torch.int64 and stream.rows is arrays[0]  # only a permutation per member
    assert sorted(stream.take(7).tolist()) == list(rows.array())
    feats = torch.rand(10, 6)
    means, stds = Scalers(feats).of(members, arrays)
    x = feats[torch.from_numpy(rows.array())].double()
    assert torch.equal(means[0, 0], x.mean(0).float()) and torch.equal(stds[3, 0], x.std(0, unbiased=False).float())


@pytest.mark.parametrize("left", [[], [0], [9], [0, 1, 2], [3, 4, 8], list(range(9)), [2, 5, 6, 7], list(range(10))])
@pytest.mark.parametrize("start", [0, 1000])
def test_the_kept_rows_at_each_position_are_the_array_s(left: list[int], start: int) -> None:
    kept = Kept.of(10, np.array(left, dtype=np.int64), start)
    whole = torch.from_numpy(Complement(10, np.array(left, dtype=np.int64)).array().astype(np.int64)) + start
    assert len(kept) == 10 - len(left) and torch.equal(kept[torch.arange(len(kept))], whole)
    positions = torch.randint(0, max(1, len(kept)), (50,)) if len(kept) else torch.zeros(0, dtype=torch.int64)
    assert torch.equal(kept[positions], whole[positions])


@pytest.mark.parametrize("left", [[5, 2], [3, 3], [-1], [10], [2, 10]])
def test_rows_left_out_that_are_not_ascending_distinct_and_in_range_are_refused(left: list[int]) -> None:
    with pytest.raises(ValueError, match=r"not ascending, distinct and in 0\.\.9"):
        Kept.of(10, np.array(left, dtype=np.int64))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 12).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(-2, n + 1), max_size=n + 3))),
       st.integers(0, 50))
def test_any_rows_left_out_are_refused_or_drawn_as_the_array_s(case: tuple[int, list[int]], start: int) -> None:
    """Every list of rows left out: refused exactly where it is not ascending, distinct and in range; else each
    position drawn is the row the kept rows' array holds there."""
    n, left = case
    valid = all(0 <= v < n for v in left) and all(a < b for a, b in itertools.pairwise(left))
    if not valid:
        with pytest.raises(ValueError, match="not ascending, distinct and in"):
            Kept.of(n, np.array(left, dtype=np.int64), start)
        return
    kept = Kept.of(n, np.array(left, dtype=np.int64), start)
    whole = torch.from_numpy(Complement(n, np.array(left, dtype=np.int64)).array().astype(np.int64)) + start
    assert len(kept) == len(whole) and torch.equal(kept[torch.arange(len(kept))], whole)


@pytest.mark.parametrize("part", [1, 3, 7, 1 << 20])
def test_a_scaler_made_a_part_at_a_time_is_the_whole_copy_s_bit_for_bit(part: int, monkeypatch: pytest.MonkeyPatch,
                                                                         ) -> None:
    import kit.model.batches as batches

    gen = torch.Generator().manual_seed(part)
    feats = (torch.rand(41, 6, generator=gen) * torch.tensor([1e-3, 1.0, 1e3, 1e6, 0.0, 7.0])).float()
    rows = torch.randperm(41, generator=gen)[:29].to(torch.int32)
    monkeypatch.setattr(batches, "SCALER_ROWS", part)
    mean, sd = scaler(feats, rows)
    x = feats[rows].double()
    want = x.std(0, unbiased=False)
    assert torch.equal(mean, x.mean(0).float())
    assert torch.equal(sd, torch.where(want > 1e-12, want, torch.ones_like(want)).float()) and sd[4] == 1.0


SCALERS_PEAK = """
import sys, numpy as np, torch
from kit.model.batches import Complement, Member, Scalers, row_arrays
torch.set_num_threads(1)
n = 6_000_000
feats = torch.rand(n, 6)
members = [Member(0, k, Complement(n, np.arange(k * 100_000, (k + 1) * 100_000))) for k in range(3)]
rows = row_arrays(members)
def status(key):
    return int(next(line for line in open("/proc/self/status") if line.startswith(key)).split()[1])
open("/proc/self/clear_refs", "w").write("5")  # the high-water mark set to what is held now
before = status("VmRSS")
Scalers(feats).of(members, rows)
print(status("VmHWM") - before)
"""


def test_a_group_of_several_folds_holds_one_scaler_s_copy_at_a_time() -> None:
    """A group whose members train on three folds' rows: its scalers made one after the other, each a float64 copy
    of 5,900,000 rows (270 MiB), never two of them, nor a float32 copy of all its rows beside one. The peak is
    measured from the call (the kernel's high-water mark reset first), not from what the process held before it:
    303 to 325 MiB grown; with the rows gathered whole before the cast 410; 2.7.4 (two copies and a float32 one)
    679. A training task's peak at 10,000 contents was two folds' copies of 2,700,000 rows."""
    res = pace.run([sys.executable, "-c", SCALERS_PEAK], capture_output=True, text=True, timeout=300,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    grown_mib = int(res.stdout.split()[-1]) / 1024
    one_copy_mib = 5_900_000 * 6 * 8 / 2**20  # 270 MiB; the rows' float32 copy beside it 135 more
    assert grown_mib < one_copy_mib + 90, f"{grown_mib:.0f} MiB grown, one copy {one_copy_mib:.0f} MiB"


def test_stacks_are_bounded_so_activations_are_reused() -> None:
    arch = fr_regressor_v2(TrainConfig())
    assert stack_members(arch, 1_000) * 1_000 * 64 * 4 <= STACK_BYTES < (stack_members(arch, 1_000) + 1) * 256_000
    big = Complement(400_000, np.arange(1_000))
    members = [Member(s, f, big) for s in range(5) for f in range(40)]  # 200 members at the sample cap
    plans = _plans([TrainJob(members, arch)], TrainConfig(), workers=2)
    most = stack_members(arch, plans[0].planned.sched.batch)
    assert plans[0].planned.sched.batch > 64 and most < len(members)
    assert all(len(g) <= most for g in plans[0].groups)
    assert [m for g in plans[0].groups for m in g] == members  # in order, each once


def test_running_out_of_memory_while_training_is_exit_2_naming_what_to_lower(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kit.model.tasks

    def oom(*args: object, **kwargs: object) -> None:  # what torch raised at 1,000 contents
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 2400000000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(kit.model.tasks, "train_missing", oom)
    corpus = tmp_path / "corpus.parquet"
    synthetic_corpus(n_src=4, rows_per_src=40).to_parquet(corpus, index=False)
    # a synthetic corpus, its scores not the teacher's function of its features: the frames recipe trains on them
    res = CliRunner().invoke(cli, ["run", "--corpus", str(corpus), "--out-dir", str(tmp_path / "out"), "--only", "loso",
                                   "--seeds", "0,1", "--recipe", "frames"])
    assert res.exit_code == 2, res.output
    error = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(error) == 1 and "out of memory while training 2 seed(s) x 4 folds (LOSO) on 160 rows" in error[0]
    assert "can't allocate memory" in error[0] and "internal error" not in res.stderr
    assert any(ln.startswith("hint: ") and "--seeds" in ln for ln in res.stderr.splitlines())


def test_an_invalid_folds_flag_is_a_usage_error_with_a_hint(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["run", "--out-dir", str(tmp_path / "out"), "--folds", "1"])
    assert res.exit_code == 2 and "--folds '1' is neither loso, auto nor a number of folds" in res.stderr
    assert "--folds 10" in res.stderr
