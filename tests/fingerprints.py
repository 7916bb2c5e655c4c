"""Every setting off its default, generated from its field's rules (issue 78): the variants
tests/unit/test_fingerprint_declared.py plans each step with, and the stand-ins for what a step works out before it
fingerprints (the encoders prereqs found, the clips a shard was dealt, the clips left out). A rule this generator
cannot make a value for (a Check, which a layer above knows) takes its value from CHOSEN; a setting neither covers
fails the test that walks them all, naming it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kit.corpus.split import ShardSpec
from kit.infra.changes import field_rules, holds_settings
from kit.infra.records import Record
from kit.infra.rules import Absolute, Distinct, Off, OneOf, Real, Whole
from kit.platforms.grids import CqGrid
from kit.steps.settings import RunSettings
from kit.steps.view import value_at

OUT = Path("/out")
BASE = RunSettings(out_dir=OUT)
# the values of the settings whose rule is a Check (or none): each a value the rule takes, off the default
CHOSEN: dict[str, Any] = {
    "fps": "25", "encoders": ("libx264", "libx265"), "cqs": CqGrid((25, 37)), "scales": ("native",),
    "teacher": "vmaf_v0.6.1neg", "folds": 3, "box_id": "box-b", "gate.max_clip_error": {"mean": 5.0},
    "train.tune_shares": (0.3, 0.3, 0.4), "model_license": "MIT",
    "model_license_url": "https://spdx.org/licenses/MIT.html", "holdout": ("rung",), "shard": ShardSpec(1, 2),
    "out_dir": Path("/elsewhere/out"), "vmaftune_crf_range": (12, 50),
}
SKIPPED = ["/refs/odd.y4m"]  # the clips left out, as the corpus step's fingerprint names them


def leaves(cls: type[Record] = RunSettings, at: str = "") -> Iterator[tuple[str, dataclasses.Field[Any]]]:
    """Every setting of `cls`, a record it holds walked into: (dotted name, field)."""
    for f in dataclasses.fields(cls):
        if (held := holds_settings(f)) is not None:
            yield from leaves(held, f"{at}{f.name}.")
        else:
            yield f"{at}{f.name}", f


def _number(rule: Whole | Real, default: Any) -> Any:
    if isinstance(rule, Whole):
        value = rule.lo if default is None else default + 1
        return value if rule.hi is None or value <= rule.hi else default - 1
    if default:
        return default * 0.9
    return (rule.lo if rule.lo is not None else 0) + 0.5


def off_default(dotted: str, f: dataclasses.Field[Any]) -> Any:
    """A value of the setting other than its default that its rules take."""
    if dotted in CHOSEN:
        return CHOSEN[dotted]
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    if isinstance(default, bool):
        return not default
    rule = next(iter(field_rules(f)), None)
    if isinstance(rule, Off):
        rule = rule.rule
    if isinstance(rule, OneOf):
        return next(c for c in rule.choices if c != default)
    if isinstance(rule, Whole | Real):
        return _number(rule, default)
    if isinstance(rule, Distinct):
        return (7,)
    if isinstance(rule, Absolute):
        return Path("/elsewhere") / dotted
    raise KeyError(f"no value off the default for {dotted}: give one in tests/fingerprints.py's CHOSEN")


def replaced(settings: Record, dotted: str, value: Any) -> Any:
    head, _, rest = dotted.partition(".")
    return dataclasses.replace(settings, **{head: replaced(getattr(settings, head), rest, value) if rest else value})


def variants(base: RunSettings = BASE) -> dict[str, RunSettings]:
    """`base` (the defaults unless given), each setting off its value there (off its default; where `base` holds
    that value already, at its default: `--consumer-samplings cut` where base encodes them), and an --incumbent inside
    the out-dir (named relative to it)."""
    found: dict[str, RunSettings] = {"(defaults)": base}
    for dotted, f in leaves():
        value = off_default(dotted, f)
        if value == value_at(base, dotted):
            value = value_at(BASE, dotted)
        settings = replaced(base, dotted, value)
        assert (why := settings.breach()) is None, (dotted, why)
        found[dotted] = settings
    found["incumbent (in the out-dir)"] = dataclasses.replace(base, incumbent=OUT / "previous")
    found["encoders and cqs"] = dataclasses.replace(base, encoders=("libx264", "libx265"),
                                                    cqs=CqGrid((20,), {"libx265": (22, 30)}))
    return found


def encoders_of(settings: RunSettings) -> tuple[str, ...]:
    """The encoders the corpus step works with (auto: those prereqs found: libx264 here)."""
    return ("libx264",) if settings.encoders == ("auto",) else settings.encoders


def shard_of(settings: RunSettings) -> dict[str, object] | None:
    """The shard as the corpus step's fingerprint holds it (kit.corpus.split.shard_record: its clips too)."""
    return None if settings.shard is None else {"k": settings.shard.k, "n": settings.shard.n, "clips": ["a.y4m"]}
