"""A step reads only what it fingerprints (issue 71, item 1): each setting declares, beside its default, rules and flag,
the steps whose outputs it changes (kit.infra.changes.Changes); a step's fingerprint is made from those declarations
alone (kit.steps.view.settings_fingerprint; issue 78: tests/unit/test_fingerprint_declared.py), and a step sees the
settings through a View that refuses any other field at the read. This test replaces the vigilance that kept five
hand-written fingerprints in step with what each step read. tests/pipeline/test_new_setting.py walks a new setting
through a copy of the kit."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from kit.infra.changes import Changes, changes, changes_nothing, changes_of, setting, unwritten_of
from kit.infra.files import sha256_json
from kit.infra.records import Record
from kit.infra.tree import Tree
from kit.model.recipe import TrainConfig
from kit.rundir import STEP_NAMES
from kit.steps.base import Context
from kit.steps.settings import RunSettings
from kit.steps.view import Undeclared, View, may_read, record_form, settings_fingerprint, view_of
from kit.verdict.thresholds import GateThresholds
from tests.fingerprints import leaves

BASE = RunSettings(out_dir=Path("/out"))


def read(view: Any, dotted: str) -> Any:
    for name in dotted.split("."):
        view = getattr(view, name)
    return view


def test_every_setting_declares_the_steps_whose_outputs_it_changes_or_why_none() -> None:
    found = dict(leaves())
    assert len(found) > 60
    for name, f in found.items():
        declared_here = changes_of(f)
        assert isinstance(declared_here, Changes), name
        assert set(declared_here.steps) <= set(STEP_NAMES) and set(declared_here.reads) <= set(STEP_NAMES), name
        assert all(len(why.split()) >= 6 for why in (declared_here.none, *declared_here.reads.values()) if why), name
    # a setting that changes no output is a decision a reviewer reads: these, each with its reason
    assert sorted(n for n, f in found.items() if (c := changes_of(f)) is not None and c.none) == \
        ["group_shared", "jobs", "out_dir", "train_tasks"]
    # and the reads that change nothing of the step that reads them
    assert {n: sorted(c.reads) for n, f in found.items() if (c := changes_of(f)) is not None and c.reads} == \
        {"ref_dir": ["bundle"], "ffmpeg": ["bundle", "loso"]}


def test_a_setting_that_declares_nothing_is_refused_as_its_record_is_made() -> None:
    with pytest.raises(TypeError, match="declares the steps whose outputs it changes"):
        @dataclasses.dataclass(frozen=True)
        class Untagged(Record):
            knob: int = setting(1)
    with pytest.raises(ValueError, match=r"names \['bundel'\], which are not steps"):
        changes("bundel")
    with pytest.raises(ValueError, match="one of the two"):
        Changes(("loso",), none="it changes nothing")
    assert changes_nothing("a thread count: the same rows either way").readable_by("verdict")


@pytest.mark.parametrize("samplings", ["cut", "encoded"])
@pytest.mark.parametrize("step", STEP_NAMES)
def test_a_step_reads_what_its_fields_name_and_nothing_else(step: str, samplings: str) -> None:
    """Under either way of the consumer's samplings: a setting the corpus step reads only where it encodes them
    (When: --consumer-window, --vmaftune-crf-range) refused to it under cut."""
    settings = dataclasses.replace(BASE, consumer_samplings=samplings)
    view = view_of(settings, step)
    refused = []
    for name, f in leaves():
        declared_here = changes_of(f)
        assert declared_here is not None
        if may_read(settings, f, step):
            assert read(view, name) == read(settings, name), name
        else:
            with pytest.raises(Undeclared, match=f"step {step} read the setting {name}, (whose field does not name|"
                                                 "which its field names for it only while)"):
                read(view, name)
            refused.append(name)
    assert refused, step  # every step is refused something: the check can fail
    assert issubclass(Undeclared, AttributeError)  # a bug where it is read (kit.cli.guard: internal error, exit 70)


def test_a_record_of_settings_is_handed_whole_only_where_every_field_is_the_step_s() -> None:
    assert isinstance(view_of(BASE, "loso").train, TrainConfig)  # asdict, replace and pickling work on it
    assert isinstance(view_of(BASE, "verdict").gate, GateThresholds)
    partial = view_of(BASE, "prereqs").train
    assert isinstance(partial, View) and partial.inputs == "canonical6"
    with pytest.raises(Undeclared, match=r"step prereqs read the setting train\.epochs"):
        _ = partial.epochs
    # a property is worked out on the view: what it reads is checked too (the verdict may read --corpus, not --inputs)
    assert view_of(BASE, "prereqs").extra_features is False
    with pytest.raises(Undeclared, match=r"step verdict read the setting train\.inputs"):
        _ = view_of(BASE, "verdict").extra_features
    with pytest.raises(dataclasses.FrozenInstanceError):
        view_of(BASE, "loso").seeds = (1,)  # type: ignore[misc]


def test_a_step_s_context_hands_it_the_view_and_the_runner_the_whole(tmp_path: Path) -> None:
    with Tree.open(tmp_path) as tree:
        ctx = Context(BASE, lambda event: None, lambda line: None, tree, step="verdict")
        with pytest.raises(Undeclared):
            _ = ctx.settings.model_license
        assert ctx.whole.model_license == "BSD-3-Clause" and ctx.run.root == Path("/out")
        assert Context(BASE, lambda event: None, lambda line: None, tree).settings is BASE  # the runner's own
        assert ctx.ahead("bundle").model_license == "BSD-3-Clause"  # a forecast of the bundle's work reads its view
        with pytest.raises(AssertionError):
            ctx.ahead("loso")  # an earlier step's settings are no forecast


# What 2.1.0 wrote into a fingerprint for a record it held whole, at the defaults (restated from its source: LOSO's
# and the bundle's `train` was TrainConfig.to_json(), the verdict's `gate` GateThresholds.to_json())
TRAIN_2_1 = {"arch": "fr_regressor_v2", "hidden": 64, "dropout": 0.1, "lr": 5e-4, "weight_decay": 1e-5, "epochs": 60,
             "batch_size": 64, "max_samples": 4_000_000, "max_steps": 4_000, "max_batch": 1_024,
             "inputs": "canonical6", "recipe": "teacher", "teacher_samples": 100_000, "base_steps": 6_000,
             "base_batch": 256, "base_lr": 2e-3, "tune_steps": 600, "tune_batch": 128, "tune_lr": 3e-4,
             "optimizer": "adam", "loss": "mse", "target": "vmaf"}
# ... less the bases' settings retired since (TrainConfig.RETIRED): LOSO's format raised since, it reruns anyway
TRAIN_NOW = {k: v for k, v in TRAIN_2_1.items() if k not in TrainConfig.RETIRED}
GATE_2_1 = {"mean_plcc_min": 0.95, "plcc_spread_max": 0.005, "per_seed_plcc_min": 0.95, "min_rmse_lift": 1.0,
            "min_content_groups": 5, "max_abs_bias": 10.0, "max_fold_rmse": None, "min_coverage": None,
            "max_out_of_range": None, "holdout_min_plcc": None, "max_clip_error": {}, "consumer_tolerance": 1.5,
            "min_consumer_share": 0.9, "min_consumer_content_share": 0.75}


def test_a_record_held_whole_in_2_1_is_fingerprinted_as_2_1_wrote_it() -> None:
    assert set(TrainConfig.RETIRED) < set(TRAIN_2_1)  # each a key 2.1.0 wrote
    for step in ("loso", "bundle"):
        assert sha256_json(record_form(TrainConfig(), step)) == sha256_json(TRAIN_NOW)
        assert record_form(TrainConfig(epochs=3), step) == {**TRAIN_NOW, "epochs": 3}
        # the teacher recipe's knobs, now TrainConfig's: at their defaults as before, off them in the record's entry
        assert record_form(TrainConfig(motion_max=30.0), step) == {**TRAIN_NOW, "motion_max": 30.0}
    assert sha256_json(record_form(GateThresholds(), "verdict")) == sha256_json(GATE_2_1)


def test_the_consumers_settings_join_the_steps_that_act_on_them_off_their_defaults() -> None:
    """--consumer-window: the corpus step encodes its windows, LOSO places them, the verdict says their share;
    --consumer-samplings: the corpus step alone (LOSO reads what it made, samples.parquet, among its inputs)."""
    window = dataclasses.replace(BASE, consumer_window=2.0)
    encoded = dataclasses.replace(BASE, consumer_samplings="encoded")
    for changed, name, value, steps in ((window, "consumer_window", 2.0, ("corpus", "loso", "verdict")),
                                        (encoded, "consumer_samplings", "encoded", ("corpus",))):
        for step in ("prereqs", "loso", "verdict", "bundle"):  # the corpus's resolves its encoders: not planned here
            at, off = settings_fingerprint(BASE, step), settings_fingerprint(changed, step)
            assert off == ({**at, name: value} if step in steps else at), (name, step)
    for step in ("prereqs", "bundle"):  # neither reads the window
        with pytest.raises(Undeclared):
            view_of(window, step).consumer_window  # noqa: B018


def test_the_default_samplings_are_written_where_2_2_left_its_default_out() -> None:
    """2.3 cuts the consumer's samplings by default where 2.2.0 encoded them: 2.2.0 wrote no entry at its default
    (encoded), so this kit writes `cut`, its default, and leaves `encoded` out. A 2.2.0 out-dir made with
    `--consumer-samplings cut` is up to date at this kit's default; one made at 2.2.0's default redoes its corpus step
    from its kept jobs (its samples.parquet is not what a cut run holds), and asked with `encoded` is up to date."""
    fields = {f.name: f for f in dataclasses.fields(RunSettings)}
    assert BASE.consumer_samplings == "cut" and unwritten_of(fields["consumer_samplings"]) == "encoded"
    made_2_2 = {"at its default": {}, "with --consumer-samplings cut": {"consumer_samplings": "cut"}}
    resolved = {"encoders": ("libx264",), "shard": None}  # what the corpus step works out first
    entries = {k: v for k, v in settings_fingerprint(BASE, "corpus", resolved).items() if k != "consumer_samplings"}
    for how, entry in (("cut", made_2_2["with --consumer-samplings cut"]), ("encoded", made_2_2["at its default"])):
        asked = dataclasses.replace(BASE, consumer_samplings=how)
        assert settings_fingerprint(asked, "corpus", resolved) == {**entries, **entry}
    # every other setting leaves out its own default, as before
    assert all(unwritten_of(f) == (f.default_factory() if f.default_factory is not dataclasses.MISSING
                                   else f.default) for name, f in fields.items() if name != "consumer_samplings")


def test_a_later_setting_joins_the_fingerprints_of_the_steps_it_names_off_its_default() -> None:
    knobs = dataclasses.replace(BASE, train=TrainConfig(windows_per_encode=8))
    for step in ("loso", "bundle"):  # held whole there: inside the record's entry
        assert settings_fingerprint(knobs, step)["train"] == {**TRAIN_NOW, "windows_per_encode": 8}
    assert settings_fingerprint(knobs, "verdict") == settings_fingerprint(BASE, "verdict")  # not the verdict's
    # a corpus-only bundle holds no setting of the models, at its default or off it
    assert "train" not in settings_fingerprint(knobs, "bundle", models=False)
