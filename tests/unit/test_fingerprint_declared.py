"""One source for every fingerprint (issue 78, item 1): each step's settings fingerprint is made from the settings'
declarations alone (kit.steps.view.settings_fingerprint: each field's `changes`, and its `entries`, how 2.1.0's
fingerprints held it), with no list of a step's own. Proven two ways, each generated from the declarations:

* byte for byte what 2.2.0's plan() wrote (its hand dict and KEPT), at the defaults and with each setting off its
  default (tests/data/fingerprints_2_2_0.json, recorded on 2.2.0's code before the change; the out-dirs of 2.1.0 and
  2.2.0 resume with nothing rerun: bench/resume_across.py), but for what a step holds since that 2.2.0 did not, or
  no longer holds, each named in SINCE_2_2_0 and only in a step whose format version was raised since (no out-dir of
  2.2.0 resumes that step);
* every setting off its default (tests/fingerprints.py makes a value from its rules) changes exactly the plans of the
  steps its field declares, and nothing else's; a format version of the registry, exactly its step's and those after.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from kit.corpus.oracle import ORACLE_FRAMES, TOLERANCE
from kit.corpus.samplings import ENCODED
from kit.infra.changes import UNWRITTEN, Entry, InRecord, Through, When, broken, changes_of
from kit.infra.files import sha256_json
from kit.model.recipe import TrainConfig
from kit.rundir import CORPUS_CONTENTS, STEP_NAMES
from kit.steps import STEPS, formats_through
from kit.steps.view import Undeclared, reaches, settings_fingerprint, value_at, view_of
from tests.fingerprints import BASE, SKIPPED, encoders_of, leaves, replaced, shard_of, variants
from tests.kitfiles import TINY_MODEL, write_tiny_model

RECORDED = Path(__file__).parent.parent / "data" / "fingerprints_2_2_0.json"
FORMATS_2_2_0 = {"prereqs": 1, "corpus": 2, "loso": 3, "verdict": 3, "bundle": 3}  # kit/steps/__init__.py at 2.2.0
# what a step's fingerprint no longer holds of 2.2.0's: the bases' settings, retired (TrainConfig.RETIRED), from
# LOSO's and the bundle's `train`; and the settings that joined a step since (off their default), each with the steps
RETIRED = {f"train.{name}" for name in TrainConfig.RETIRED}
JOINED = {"gate.consumer_tolerance": ("loso",)}  # the teacher recipe's floor judges at it (kit.model.floor)
SINCE_2_2_0 = {"loso": "the bases' settings retired; --consumer-tolerance joined",
               "bundle": "the bases' settings retired"}
CORPUS_ONLY = "bundle (corpus only)"  # the bundle of a box that makes the corpus alone: no models, no models' settings
PLANS = (*STEP_NAMES, CORPUS_ONLY)


def plans(s: Any) -> dict[str, dict[str, object]]:
    """Each step's settings fingerprint of `s`, as its plan() makes it, with the stand-ins of tests/fingerprints.py
    for what the corpus step works out first (the encoders prereqs found, its shard's clips, the clips left out)."""
    return {"prereqs": settings_fingerprint(s, "prereqs"),
            "corpus": settings_fingerprint(s, "corpus", {"encoders": encoders_of(s), "shard": shard_of(s)},
                                           {"skipped": SKIPPED, "oracle": [ORACLE_FRAMES, TOLERANCE]}),
            "loso": settings_fingerprint(s, "loso"), "verdict": settings_fingerprint(s, "verdict"),
            "bundle": settings_fingerprint(s, "bundle"),
            CORPUS_ONLY: settings_fingerprint(s, "bundle", facts={"contents": CORPUS_CONTENTS}, models=False)}


def as_2_2_0(name: str, settings: Any) -> Any:
    """The settings a record of 2.2.0 was made of: a setting whose default changed since (its field's `unwritten`,
    the default 2.2.0 had: --consumer-samplings encoded) at that default, but in its own variant, where 2.2.0 took the
    value off it (today's default)."""
    for dotted, f in leaves():
        if UNWRITTEN in f.metadata:
            settings = replaced(settings, dotted, f.metadata[UNWRITTEN] if name != dotted else value_at(BASE, dotted))
    return settings


def without_retired(recorded: dict[str, Any]) -> dict[str, Any]:
    """2.2.0's plans less the retired settings (an entry `train` without their keys)."""
    return {p: {**v, "train": {k: x for k, x in v["train"].items() if f"train.{k}" not in RETIRED}}
            if isinstance(v.get("train"), dict) else v for p, v in recorded.items()}


def test_every_fingerprint_is_byte_for_byte_what_2_2_0_wrote() -> None:
    recorded = json.loads(RECORDED.read_text())
    found = variants()
    # a setting since 2.2.0 has no record (its own test below); a retired one is no setting now, and held nothing
    # its keys did not
    assert set(recorded) - RETIRED <= set(found) and not RETIRED & set(found)
    assert all(without_retired(recorded[name]) == without_retired(recorded["(defaults)"]) for name in RETIRED)
    moved = set()
    for name, want in recorded.items():
        if name in RETIRED:
            continue
        moved |= {p for p in want if without_retired(want)[p] != want[p]}
        want = without_retired(want)
        got = json.loads(json.dumps(plans(as_2_2_0(name, found[name])), default=str))
        for step in JOINED.get(name, ()):
            assert name in got[step] and name not in want[step], (name, step)
            got[step] = {k: v for k, v in got[step].items() if k != name}
            moved.add(step)
        assert got == want, name
        assert {p: sha256_json(v) for p, v in got.items()} == {p: sha256_json(v) for p, v in want.items()}, name
    assert moved == set(SINCE_2_2_0)
    for step in SINCE_2_2_0:  # each such step reruns on a 2.2.0 out-dir anyway: its format, or an earlier one's, raised
        assert formats_through(step) != {s: FORMATS_2_2_0[s] for s in formats_through(step)}, step


def models_only(dotted: str, held: object, step: str) -> bool:
    """Whether a setting reaches `step`'s fingerprint only where the step makes models: its Entry or InRecord says so,
    or it is a later field of a record held so (the bundle's `train`)."""
    if isinstance(held, Entry | InRecord):
        return held.models
    record = dotted.partition(".")[0]
    return held is None and "." in dotted and any(
        isinstance(h := (changes_of(f).entries.get(step) if changes_of(f) else None), InRecord) and h.models
        for name, f in leaves() if name.startswith(f"{record}."))


def declared_plans(dotted: str, f: dataclasses.Field[Any], settings: Any) -> set[str]:
    """The plans whose settings fingerprint a setting's declaration says its value changes under `settings`: the
    steps of its `changes` it reaches there (a condition it declares, When, holding), but where it reaches one through
    the step's inputs (Through); the corpus-only bundle where the bundle holds it without models."""
    declared = changes_of(f)
    assert declared is not None, dotted
    found = {step for step in declared.steps if not isinstance(declared.entries.get(step), Through)
             and reaches(settings, f, step)}
    if "bundle" in found and not models_only(dotted, declared.entries.get("bundle"), "bundle"):
        found.add(CORPUS_ONLY)
    return found


# the run's settings each setting is moved off in turn: the defaults (the consumer's samplings cut from the whole
# encodes), and the samplings encoded on their own, under which more settings reach the corpus step (When)
MODES = {"cut": BASE, "encoded": dataclasses.replace(BASE, consumer_samplings=ENCODED)}


def changed_plans(base: Any = BASE) -> dict[str, set[str]]:
    """For each setting off its value in `base`: the plans whose settings fingerprint changed from `base`'s."""
    at, found = plans(base), variants(base)
    return {dotted: {p for p, v in plans(found[dotted]).items() if sha256_json(v) != sha256_json(at[p])}
            for dotted, _ in leaves()}


@pytest.mark.parametrize("mode", MODES)
def test_each_setting_off_its_default_changes_exactly_the_plans_it_declares(mode: str) -> None:
    changed, found = changed_plans(MODES[mode]), variants(MODES[mode])
    for dotted, f in leaves():
        assert changed[dotted] == declared_plans(dotted, f, found[dotted]), dotted
    assert all(changed[name] == set() for name in ("out_dir", "jobs", "train_tasks", "group_shared"))
    # the class can fail both ways: a setting that changes nothing is a decision (changes_nothing), every other
    # changes a plan of its own; each step's plan is changed by some setting
    assert set().union(*changed.values()) == set(PLANS)


def test_the_consumer_s_window_and_crf_range_change_the_corpus_step_only_where_it_encodes_the_samplings() -> None:
    """Under `--consumer-samplings cut` (the default) the corpus step encodes no window: another --consumer-window or
    --vmaftune-crf-range leaves it up to date (a rerun redoes no encode), and LOSO on take the change; under `encoded`
    its sample jobs encode those windows at those CRFs, and it is out of date. Its view refuses the read under cut."""
    for mode, corpus in (("cut", set()), ("encoded", {"corpus"})):
        changed = changed_plans(MODES[mode])
        assert changed["consumer_window"] == {*corpus, "loso", "verdict"}, mode
        assert changed["vmaftune_crf_range"] == {*corpus, "loso", "verdict", "bundle"}, mode
        if not corpus:
            with pytest.raises(Undeclared, match="only while consumer_samplings is encoded"):
                view_of(MODES[mode], "corpus").consumer_window  # noqa: B018
        else:
            assert view_of(MODES[mode], "corpus").vmaftune_crf_range == MODES[mode].vmaftune_crf_range


def test_every_condition_names_a_setting_and_values_it_takes() -> None:
    """A When names a setting by its dotted name, and values its rules take (a misspelt one would never hold)."""
    names = dict(leaves())
    conditions = [(dotted, when) for dotted, f in leaves() if (c := changes_of(f)) is not None
                  for when in c.entries.values() if isinstance(when, When)]
    assert {dotted for dotted, _ in conditions} == {"consumer_window", "vmaftune_crf_range"}
    for dotted, when in conditions:
        assert when.setting in names, dotted
        for value in when.values:
            assert broken(replaced(BASE, when.setting, value)) is None, (dotted, value)


def through_inputs() -> dict[str, list[str]]:
    return {dotted: sorted(step for step, held in c.entries.items() if isinstance(held, Through))
            for dotted, f in leaves() if (c := changes_of(f)) is not None
            and any(isinstance(h, Through) for h in c.entries.values())}


def test_a_setting_a_step_holds_through_its_inputs_is_named_with_them() -> None:
    """The settings 2.1.0 held through a step's inputs alone (the file or version they name): each says which, and no
    other setting of the step's is held so."""
    assert through_inputs() == {
        "teacher": ["bundle", "corpus", "loso"], "corpus": ["bundle", "corpus", "loso", "verdict"],
        "ffmpeg": ["prereqs"], "train.inputs": ["corpus"], "demo_clips": ["corpus"], "demo_seconds": ["corpus"],
        "incumbent": ["verdict"], "content_groups": ["corpus"]}
    for dotted, f in leaves():
        c = changes_of(f)
        assert c is not None
        assert all(len(held.why.split()) >= 3 for held in c.entries.values() if isinstance(held, Through)), dotted


@pytest.mark.parametrize("step", STEP_NAMES)
def test_a_format_version_raised_changes_its_step_and_those_after_it(step: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    before = {name: formats_through(name) for name in STEP_NAMES}
    entry = next(s for s in STEPS if s.name == step)
    monkeypatch.setattr(entry, "format_version", entry.format_version + 1)
    after = {name: formats_through(name) for name in STEP_NAMES}
    assert {name for name in STEP_NAMES if after[name] != before[name]} == set(STEP_NAMES[STEP_NAMES.index(step):])


def test_a_teacher_model_file_edited_changes_prereqs_fingerprint_alone(tmp_path: Path) -> None:
    """--teacher FILE: prereqs' entry holds the file's sha256 (kit.platforms.teacher.trusted_teacher reads it), so an
    edited model is checked again; the corpus step holds it through its inputs (the teacher's name and sha256)."""
    model = write_tiny_model(tmp_path / "model.json")
    os.chmod(tmp_path, 0o755)
    os.chmod(model, 0o644)
    with_file = dataclasses.replace(BASE, teacher=str(model))
    before = plans(with_file)
    model.write_text(json.dumps({**TINY_MODEL, "param_dict": {**TINY_MODEL["param_dict"], "C": 8.0}}))
    after = plans(with_file)
    assert {p for p in PLANS if after[p] != before[p]} == {"prereqs"}
