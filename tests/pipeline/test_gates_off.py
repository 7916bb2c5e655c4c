"""The optional gates' flags switch them off (issue 71 item 4): --min-coverage, --max-out-of-range and
--holdout-min-plcc took a number only, so a gate turned on by its KIT_ variable (or a --settings file) could not be
turned off where the command is typed, though each field's rule (Off) takes none. Each is given a threshold by its
variable, then `off` at its flag: that gate is left out of the verdict (its row disabled, with no threshold) while
every other gate's row stands as it was: one LOSO of two seeds and two epochs on a small synthetic corpus, then four
verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kit.verdict.gates import BLOCKS
from tests.conftest import LENIENT, ROOT, run_kit
from tests.kitfiles import verdict_of
from tests.pipeline.test_intervals import two_box_corpus

pytestmark = pytest.mark.slow  # a LOSO and four verdicts (the fast tier's check of `off`: tests/unit/test_flags.py)

# each optional gate by its flag, its variable and where the verdict writes its row
OPTIONAL = {"--min-coverage": ("KIT_MIN_COVERAGE", "coverage_gate"),
            "--max-out-of-range": ("KIT_MAX_OUT_OF_RANGE", "range_gate"),
            "--holdout-min-plcc": ("KIT_HOLDOUT_MIN_PLCC", "holdout:encoder")}
ON = "0.5"  # each variable's threshold: any value on; whether the gate passes does not matter here


def gate_rows(out: Path) -> dict[str, Any]:
    """Every gate row of the verdict by where it lies: the PLCC, lift, challenger and evidence gates, each block of
    kit.verdict.gates (a list's rows by position), and each --holdout block's gate as `holdout:KIND`."""
    v = verdict_of(out).to_json()
    rows = {key: v.get(key) for key in ("gate", "lift_gate", "challenger_gate", "evidence_gate")}
    for block in BLOCKS:
        if block.inside is not None:
            rows |= {f"{block.key}:{b['kind']}": b[block.inside] for b in v.get(block.key) or ()}
        elif block.many:
            rows |= {f"{block.key}[{i}]": row for i, row in enumerate(v.get(block.key) or ())}
        else:
            rows[block.key] = v.get(block.key)
    return rows


def test_off_at_the_flag_leaves_that_optional_gate_out_and_the_others_standing(tmp_path: Path) -> None:
    corpus, out = tmp_path / "corpus.parquet", tmp_path / "out"
    two_box_corpus(corpus)
    base = ["run", "--corpus", corpus, "--out-dir", out, "--seeds", "0,1", "--epochs", "2", "--recipe", "frames",
            "--holdout", "encoder", *LENIENT]
    res = run_kit(*base, "--only", "loso", cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    variables = {var: ON for var, _ in OPTIONAL.values()}

    on = run_kit(*base, "--only", "verdict", env=variables, cwd=ROOT)
    assert on.returncode in (0, 1), on.stderr[-3000:]  # PROMOTE or HOLD: a verdict
    every = gate_rows(out)
    for flag, (_, key) in OPTIONAL.items():
        assert every[key]["enabled"] and every[key]["threshold"] == float(ON), (flag, every[key])

    for flag, (_, key) in OPTIONAL.items():
        res = run_kit(*base, "--only", "verdict", flag, "off", env=variables, cwd=ROOT)
        assert res.returncode in (0, 1), res.stderr[-3000:]
        rows = gate_rows(out)
        assert not rows[key]["enabled"] and rows[key]["threshold"] is None, (flag, rows[key])
        others = {k: r for k, r in rows.items() if k != key}
        assert others == {k: r for k, r in every.items() if k != key}, flag  # the other gates as they stood
