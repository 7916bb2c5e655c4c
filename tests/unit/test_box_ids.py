"""Box ids by one rule (issue 98, item 12): a box id is what a kit writes (kit.infra.host.safe_box_id: letters,
digits, '-', '_', '.', at most 64, neither end '-' or '.') at every door, or refused naming the door. The kit's own
doors (--box-id, KIT_BOX_ID) refuse one with the name it could be; what another box sends (its shard's rows, its
shard manifest) was taken whatever it held (a line break, an escape, `../../etc`, 5,000 characters) and is now
refused by `merge` and `corpus info`, naming the file and the field, exit 2. Every spelling a kit writes reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.main import cli
from kit.infra.host import safe_box_id
from kit.infra.rules import BOX_ID, BOX_ID_PATTERN
from tests.kitfiles import shard_table, write_shard

WRITTEN = ("lab-box", "box_1", "a", "A.b_c-d", "x" * 64, "union", "bash-kit", "lab_", "_lab", "s1of3", "7")
NONE_WRITES = ("a\nb", "x\x1b[31my", "../../etc", "a/b", " lead", "lead ", "\u202eevil", "b" * 65, "-lead", "lead.",
               ".lead", "box\x00z", "\uff22\uff2f\uff38", "bo\u00eete", "lab box", "a\tb", "lab\u200b")


@pytest.mark.parametrize("box", WRITTEN + NONE_WRITES)
def test_the_rule_is_the_kit_s_own_sanitiser(box: str) -> None:
    """One rule: a box id is one where the kit's own sanitiser (what every box id it writes went through) leaves it as
    it is; the pattern is arrow's RE2 as much as Python's (no look-around)."""
    written = safe_box_id(box) == box
    assert written == (box in WRITTEN) == (re.fullmatch(BOX_ID_PATTERN, box) is not None)
    assert (BOX_ID.problem(box) is None) == written


def merged(tmp_path: Path, rows_box: str, manifest_box: str) -> tuple[int, str, Path]:
    """`merge` of a shard whose rows and manifest name these boxes, beside another box's shard."""
    folder = tmp_path / "sent"
    folder.mkdir()
    corpus = write_shard(folder / "shard.parquet", shard_table(box=rows_box))
    (folder / "shard.manifest.json").write_text(json.dumps({"kind": "shard", "file": "shard.parquet",
                                                            "box_id": manifest_box}))
    other = write_shard(tmp_path / "other" / "shard.parquet", shard_table(box="other", seed=3))
    res = CliRunner().invoke(cli, ["merge", str(corpus), str(other), "-o", str(tmp_path / "m.parquet")])
    return res.exit_code, res.output, corpus


@pytest.mark.parametrize("box", NONE_WRITES)
def test_a_box_id_no_kit_writes_in_a_shard_s_rows_is_refused_by_merge(box: str, tmp_path: Path) -> None:
    code, said, corpus = merged(tmp_path, box, "")
    errors = [line for line in said.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1, said
    assert errors[0].startswith(f"error: {corpus}: row 0 column 'box_id': ") and "is not a box id as a kit writes" \
        in errors[0], errors[0]
    assert not any(ch in said for ch in "\x1b\u202e\x00") and not (tmp_path / "m.parquet").exists()


@pytest.mark.parametrize("box", NONE_WRITES)
def test_a_box_id_no_kit_writes_in_a_shard_manifest_is_refused_naming_the_field(box: str, tmp_path: Path) -> None:
    code, said, corpus = merged(tmp_path, "lab-box", box)
    errors = [line for line in said.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1, said
    assert errors[0].startswith(f"error: {corpus}: the manifest of its box's corpus, shard.manifest.json, is damaged: "
                                "shard.manifest.json.box_id: "), errors[0]
    assert "is not a box id as a kit writes it" in errors[0] and len(errors[0]) < 600, errors[0]  # a long one cut
    info = CliRunner().invoke(cli, ["corpus", "info", str(corpus)])
    assert info.exit_code == 2 and "shard.manifest.json.box_id: " in info.output, info.output


@pytest.mark.parametrize("box", WRITTEN)
def test_every_box_id_a_kit_writes_is_read(box: str, tmp_path: Path) -> None:
    code, said, _ = merged(tmp_path, box, box)
    assert code == 0 and "error" not in said, said


@pytest.mark.parametrize("box", ["lab box", "bo\u00eete", "-lab", "x" * 70])
def test_the_box_id_variable_is_refused_as_the_flag_is(box: str, tmp_path: Path) -> None:
    """KIT_BOX_ID, the flag's other door, names itself and offers the name it could be, as --box-id does."""
    res = CliRunner().invoke(cli, ["run", "--out-dir", str(tmp_path / "o")], env={"KIT_BOX_ID": box})
    errors = [line for line in res.output.splitlines() if line.startswith("error: ")]
    assert res.exit_code == 2 and len(errors) == 1, res.output
    assert errors[0].startswith(f"error: --box-id {box!r} ") and "(from KIT_BOX_ID)" in errors[0], errors[0]
    assert f"--box-id {safe_box_id(box)}" in res.output and not (tmp_path / "o").exists()


def test_every_record_s_box_id_and_kit_version_keep_the_one_rule() -> None:
    """Names and versions by one rule (issue 98, item 11): each field named `box_id` of a record the kit reads keeps
    BOX_ID and each `kit_version` keeps the versions' rule (a new record with either is held to it here). The run's own
    settings' box id is the flag's, sanitised as it is set (RunSettings.__post_init__)."""
    import dataclasses
    import importlib
    import pkgutil

    import kit
    from kit.infra.records import Record, keeps
    from kit.infra.rules import KIT_VERSION

    for found in pkgutil.walk_packages(kit.__path__, "kit."):
        if found.name not in ("kit.__main__", "kit.run_full_pipeline"):  # entry points: they run the command
            importlib.import_module(found.name)

    def subclasses(cls: type) -> list[type]:
        return [c for s in cls.__subclasses__() for c in (s, *subclasses(s))]

    rule = {"box_id": BOX_ID, "kit_version": KIT_VERSION}
    fields = {(c.__name__, f.name): f for c in subclasses(Record) for f in dataclasses.fields(c) if f.name in rule}
    assert len(fields) >= 16, sorted(fields)
    unruled = sorted(k for k, f in fields.items() if rule[f.name] not in keeps(f) and k != ("RunSettings", "box_id"))
    assert unruled == []
