"""A verdict document checked against its own gate rows: what `verify` refuses (a HOLD never: it claims nothing).
Read as JSON, not as a Verdict: what an older kit's verdict lacks is not checked, but the PLCC gate every verdict has.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from kit.verdict.gates import BLOCKS, Block, gate_of
from kit.verdict.thresholds import finite

Row = dict[str, Any]
ROUNDING = 1e-9  # a figure recomputed from its parts (a mean of the seeds' PLCCs) may differ by rounding alone


def _shown(x: object) -> str:
    return f"{x:.6g}" if isinstance(x, float) else str(x)[:40]


def _plcc(row: Row) -> str | None:
    """The PLCC gate: its mean, spread and every seed within their limits, the mean and spread its seeds' own."""
    seeds = row.get("per_seed_plccs")
    values = [finite(v) for v in seeds.values()] if isinstance(seeds, dict) else []
    mean, spread = finite(row.get("mean_plcc")), finite(row.get("plcc_spread"))
    low, high, floor = (finite(row.get(k)) for k in ("mean_plcc_threshold", "plcc_spread_max", "per_seed_min"))
    if _unjudged(row, "not_judged"):
        return None  # its figures judge nothing (the student is its teacher's function) and it claims nothing
    if not values or any(v is None for v in values):
        return "its per-seed PLCCs are missing or not numbers"
    plccs = [v for v in values if v is not None]
    if mean is None or low is None or not mean >= low:
        threshold = row.get("mean_plcc_threshold")
        return f"mean_plcc {_shown(row.get('mean_plcc'))} is below its threshold {_shown(threshold)}"
    if _unjudged(row, "seeds_not_judged", ("plcc_spread_pass", "per_seed_pass")):
        return _flags(row, ("mean_plcc_pass",))  # every seed is one student: the mean alone decides
    if spread is None or high is None or not spread <= high:
        return f"plcc_spread {_shown(row.get('plcc_spread'))} is above its maximum {_shown(row.get('plcc_spread_max'))}"
    if floor is None or min(plccs) < floor or row.get("failing_seeds"):
        return f"a seed's PLCC {_shown(min(plccs))} is below per_seed_min {_shown(row.get('per_seed_min'))}"
    if abs(sum(plccs) / len(plccs) - mean) > ROUNDING or abs(max(plccs) - min(plccs) - spread) > ROUNDING:
        return f"mean_plcc {_shown(mean)} and plcc_spread {_shown(spread)} are not those of its per-seed PLCCs"
    return _flags(row, ("mean_plcc_pass", "plcc_spread_pass", "per_seed_pass"))


def _unjudged(row: Row, why: str, passes: tuple[str, ...] = ("passed",)) -> bool:
    """The row says why it judges nothing (`why`, a text) and leaves the passes it does not judge null."""
    return isinstance(row.get(why), str) and bool(row[why]) and all(row.get(name) is None for name in passes)


def _flags(row: Row, names: tuple[str, ...] = ()) -> str | None:
    """The row's own pass flags: each must be true, or all null in a row that says why it judges nothing."""
    if _unjudged(row, "not_judged", ("passed", *names)):
        return None
    return next((f"its {name} is {_shown(row.get(name))}" for name in ("passed", *names) if row.get(name) is not True),
                None)


def _compared(value: str, limit: str, keeps: Callable[[float, float], bool], said: str) -> Callable[[Row], str | None]:
    """A gate of its own shape: when on, its `value` field kept against its `limit` field (else `said`)."""
    def check(row: Row) -> str | None:
        v, bound = finite(row.get(value)), finite(row.get(limit))
        if row.get("enabled") and (v is None or bound is None or not keeps(v, bound)):
            return said.format(value=_shown(row.get(value)), limit=_shown(row.get(limit)))
        return _flags(row)
    return check


_lift = _compared("rmse_ratio", "threshold", operator.le, "rmse_ratio {value} is above its threshold {limit}")
_challenger = _compared("margin", "seed_spread", operator.gt, "its margin {value} is not above the seed spread {limit}")
_evidence = _compared("content_groups", "min_content_groups", operator.ge,
                      "{value} content groups, fewer than its minimum {limit}")


def _completeness(row: Row) -> str | None:
    if row.get("missing"):
        return f"content groups without results: {_shown(', '.join(map(str, row['missing'])))}"
    return _flags(row)


def _check(block: Block) -> Callable[[Row], str | None]:
    """A row of kit.verdict.gates: nothing failing, its worst value on its gate's side of its threshold (else <=)."""
    def check(row: Row) -> str | None:
        if not row.get("enabled"):
            return _flags(row)
        if row.get(block.failing):
            return f"it lists {_shown(', '.join(map(str, row[block.failing])))} as failing"
        value, limit = finite(row.get("worst_value")), finite(row.get("threshold"))
        if limit is None:
            return f"its threshold is {_shown(row.get('threshold'))}"
        at_least = (gate := gate_of(str(row.get("measure", "")))) is not None and gate.at_least
        if value is not None and not (value >= limit if at_least else value <= limit):
            side = "below" if at_least else "above"
            return f"its worst value {_shown(value)} is {side} its threshold {_shown(limit)}"
        return _flags(row)
    return check


def _block_rows(doc: Row, block: Block) -> list[tuple[str, Row]]:
    """A list block's gate rows, named `<key> <measure>`, or in a list of blocks `<key> <kind> <inside>`."""
    items = value if isinstance(value := doc.get(block.key), list) else []
    if (inside := block.inside) is None:
        return [(f"{block.key} {_shown(g.get('measure'))}", g) for g in items if isinstance(g, dict)]
    return [(f"{block.key} {_shown(b.get('kind'))} {inside}", b[inside]) for b in items
            if isinstance(b, dict) and isinstance(b.get(inside), dict)]


def _rows(doc: Row) -> list[tuple[str, Row, Callable[[Row], str | None]]]:
    """Every gate row of the document, named as its key names it, with its check."""
    named = (("lift_gate", _lift), ("challenger_gate", _challenger), ("evidence_gate", _evidence),
             *((b.key, _check(b)) for b in BLOCKS if not b.many), ("completeness", _completeness))
    rows = [(name, doc[name], check) for name, check in named if isinstance(doc.get(name), dict)]
    return rows + [(name, row, _check(b)) for b in BLOCKS if b.many for name, row in _block_rows(doc, b)]


def gate_failures(doc: Row) -> list[tuple[str, str]]:
    """(the gate, why it fails) for each gate row of `doc` that fails by its own figures or its own flag."""
    plcc = doc.get("gate")
    if not isinstance(plcc, dict):
        return [("gate", "the document has no PLCC gate row")]
    found = [("gate", why)] if (why := _plcc(plcc)) is not None else []
    return found + [(name, why) for name, row, check in _rows(doc) if (why := check(row)) is not None]


def contradiction(doc: Row) -> str | None:
    """What a document that says PROMOTE contradicts in its own gate rows; None for a HOLD or when all pass."""
    if doc.get("verdict") != "PROMOTE" or not (failing := gate_failures(doc)):
        return None
    name, why = failing[0]
    more = f" (and {len(failing) - 1} more gate row(s) fail)" if len(failing) > 1 else ""
    return f"says PROMOTE, but its own {name} fails: {why}{more}"
