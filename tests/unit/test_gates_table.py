"""The table of gates (kit.verdict.gates) against the records it names: each gate's threshold is a field of
GateThresholds with a rule, each block a field of the verdict of the shape it says, each measure one gate's."""

from __future__ import annotations

from dataclasses import fields

from kit.infra.changes import field_rules
from kit.verdict.document import Verdict
from kit.verdict.gates import BLOCKS, GATES, gate_of
from kit.verdict.thresholds import GateThresholds


def test_each_gate_names_a_threshold_field_with_a_rule() -> None:
    names = {f.name for f in fields(GateThresholds)}
    ruled = {f.name for f in fields(GateThresholds) if field_rules(f)}
    for gate in GATES:
        assert gate.threshold in names and gate.threshold in ruled, gate
        assert gate.flag.startswith("--") and gate.short and gate.reason and gate.compute, gate


def test_each_block_is_a_verdict_field_of_its_shape() -> None:
    types = {f.name: str(f.type) for f in fields(Verdict)}
    for block in BLOCKS:
        assert block.key in types, block
        assert types[block.key].startswith("tuple[") == block.many, (block, types[block.key])


def test_each_measure_is_one_gates() -> None:
    for gate in GATES:
        assert gate_of(gate.measure) is gate and [g for g in GATES if g.judges(gate.measure)] == [gate]
        if gate.keyed:
            assert gate_of(f"{gate.measure}:mean") is gate
    assert gate_of("no such measure") is None
