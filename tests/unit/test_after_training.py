"""A step's work after its training said as it goes (kit.steps.after): each `doing`'s share is the parts before it
whole and its own part's share by its weight, never counted back; LOSO's evaluation counted by the rows predicted,
its files after it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kit import events as ev
from kit.model.cost import AFTER_FILES_SHARE
from kit.steps.after import AfterTraining, Parts


def told() -> tuple[SimpleNamespace, list[ev.Event]]:
    events: list[ev.Event] = []
    return SimpleNamespace(emit=events.append), events


def test_each_part_counts_the_parts_before_it_whole_and_its_own_by_its_weight() -> None:
    ctx, events = told()
    parts = Parts(ctx, "bundle", {"exports": 6.0, "report": 1.0, "texts": 2.0, "tarball": 1.0})  # type: ignore[arg-type]
    parts.at("exports", "model 1", 0.5)
    parts.at("report", "the report", 0.0)
    parts.at("texts", "records", 0.5)
    parts.at("tarball", "packing", 1.0)
    assert [e.done for e in events] == pytest.approx([0.3, 0.6, 0.8, 1.0])  # type: ignore[attr-defined]
    assert all(isinstance(e, ev.Doing) and e.step == "bundle" for e in events)


def test_a_share_said_out_of_order_or_out_of_range_never_counts_back() -> None:
    ctx, events = told()
    parts = Parts(ctx, "bundle", {"a": 1.0, "b": 1.0})  # type: ignore[arg-type]
    for part, share in (("b", 0.5), ("a", 1.0), ("a", -3.0), ("b", 7.0)):
        parts.at(part, "x", share)
    assert [e.done for e in events] == pytest.approx([0.75, 0.75, 0.75, 1.0])  # type: ignore[attr-defined]


def test_a_part_of_no_weight_moves_nothing() -> None:
    """A part that weighs nothing (the verdict's of a step that has none to do) moves the share by nothing: the part
    after it starts where the one before ended."""
    ctx, events = told()
    parts = Parts(ctx, "bundle", {"exports": 0.0, "report": 3.0, "tarball": 1.0})  # type: ignore[arg-type]
    parts.at("exports", "x", 1.0)
    parts.at("report", "y", 0.0)
    assert [e.done for e in events] == [0.0, 0.0]  # type: ignore[attr-defined]


def test_loso_s_evaluation_reaches_its_files_share_when_every_row_is_said() -> None:
    ctx, events = told()
    after = AfterTraining(ctx, 1000)  # type: ignore[arg-type]
    after("ridge", 0)
    for _ in range(4):
        after("the members", 250)
    after.writing("writing 03_loso/folds.parquet", 0.0)
    after.writing("writing 03_loso/predictions.parquet", 0.5)
    shares = [e.done for e in events]  # type: ignore[attr-defined]
    assert shares[0] == 0 and shares[4] == pytest.approx(1 - AFTER_FILES_SHARE)
    assert shares[-1] == pytest.approx(1 - AFTER_FILES_SHARE / 2) and shares == sorted(shares)


def test_the_rows_evaluate_jobs_says_are_every_model_s_each_row_once() -> None:
    """kit.model.baselines.evaluated_rows is what evaluate_jobs says, to the row: ridge, each trained baseline and
    each seed's members over their folds (no teacher's function at hand here; the pipeline's run has one:
    tests/pipeline/test_events.py)."""
    from kit.model.baselines import evaluate_jobs, evaluated_rows, loso_jobs
    from kit.model.loso import LosoInputs
    from kit.model.recipe import TrainConfig
    from kit.model.train import TrainData, train_jobs
    from tests.conftest import synthetic_corpus

    inputs, config, seeds = LosoInputs.of(synthetic_corpus(n_src=4, rows_per_src=24)), TrainConfig(epochs=1), [0, 3]
    assert inputs.teacher_model is None
    trained = train_jobs(TrainData.of(inputs.feats, inputs.codec, inputs.target), loso_jobs(inputs, seeds, config),
                         config, 1)
    said: list[tuple[str, int]] = []
    evaluate_jobs(inputs, seeds, trained, config, lambda what, rows: said.append((what, rows)))
    assert sum(rows for _, rows in said) == evaluated_rows(inputs, seeds, config) == 5 * len(inputs.target)
    assert said[0] == ("evaluating ridge on every fold", 0)
