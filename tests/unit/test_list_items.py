"""An empty item in a list is refused with its position, never dropped (issue 69, item 3): `--seeds 0,,1` was seeds
0 and 1, `--cqs 25,,37` a grid of two. Every flag of every command whose parser reads a list (`Parser.items`, found by
walking the command tree as tests/unit/test_outside_numbers.py does), at each door (the flag, its KIT_ variable),
with the empty item first, in the middle and last, on each of its separators; and the box id's variable named as
the user set it."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner, Result

from kit.cli.flags import FLAGS
from kit.cli.main import cli
from kit.cli.params import KitParam
from kit.errors import InputError
from kit.infra.outside import read_items
from kit.platforms.encoders import parse_encoder_list

# nothing_runs (autouse): a list the flags accept would start the command, and fails the test instead
from tests.unit.test_outside_numbers import flag_args, nothing_runs, walk  # noqa: F401

LISTS = [(path, param) for path, command in walk(cli) for param in command.params
         if isinstance(param.type, KitParam) and param.type.parser.items]


def emptied(items: str) -> Iterator[tuple[str, int, int]]:
    """`items` with one item left empty on each separator it uses, first, between two and last: (the text, the empty
    item's position, how many items that list then has)."""
    for sep in (";", ","):
        if sep not in items:
            continue
        # the first list of that separator: a named grid's (`libx264:25,37;...`) after its name
        inner = items.split(";")[0].rpartition(":")[2] if sep == "," and ";" in items else items
        n = len(inner.split(sep))
        head, tail = items.split(inner, 1) if sep == "," else ("", "")
        for text, at in ((f"{sep}{inner}", 1), (inner.replace(sep, sep * 2, 1), 2), (f"{inner}{sep}", n + 1)):
            yield f"{head}{text}{tail}", at, n + 1


def refused(res: Result, *needles: str) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and all(n in errors[0] for n in needles), (needles, res.stderr)
    assert any(ln.startswith("hint: ") for ln in res.stderr.splitlines()), res.stderr
    return errors[0]


def test_the_walk_finds_every_list_flag() -> None:
    found = {(" ".join(path), max(p.opts, key=len)) for path, p in LISTS}
    assert {("run", f) for f in ("--seeds", "--cqs", "--scales", "--encoders", "--holdout", "--max-clip-error",
                                 "--vmaftune-crf-range")} <= found
    assert {("step", "--seeds"), ("slurm", "--cqs"), ("ray", "--scales")} <= found


@pytest.mark.parametrize(("path", "param"), LISTS, ids=[f"{' '.join(p)} {q.name}" for p, q in LISTS])
def test_every_list_flag_refuses_an_empty_item_with_its_position(path: tuple[str, ...],
                                                                 param: click.Parameter) -> None:
    opt, base = flag_args(path, param)
    assert isinstance(param.type, KitParam)
    cases = list(emptied(param.type.parser.items))
    assert cases, param.type.parser.items
    for text, at, n in cases:
        res = CliRunner().invoke(cli, [*base, f"{opt}={text}"])
        refused(res, opt, f" {at} of {n} is empty")


@pytest.mark.parametrize("flag", [f for f in FLAGS if f.parse is not None and f.parse.items and f.envvar],
                         ids=lambda f: f.envvar)
def test_every_list_variable_refuses_an_empty_item_naming_the_variable(flag: click.Parameter) -> None:
    for text, at, n in emptied(flag.parse.items):  # type: ignore[attr-defined]
        res = CliRunner().invoke(cli, ["run"], env={flag.envvar: text})  # type: ignore[attr-defined]
        refused(res, flag.opt, f" {at} of {n} is empty", f"(from {flag.envvar})")  # type: ignore[attr-defined]


def test_the_position_counts_what_was_given() -> None:
    with pytest.raises(InputError, match=r"--seeds '0,1, ,3': item 3 of 4 is empty"):
        read_items("0,1, ,3", "--seeds", "e.g. --seeds 0,1")
    assert read_items(" 0 , 1 ", "--seeds", "") == ["0", "1"]
    assert read_items("  ", "--seeds", "") == []  # no list at all: the setting's rule says so
    with pytest.raises(InputError, match=r"--encoders 'libx264,,x': item 2 of 3 is empty"):
        parse_encoder_list("libx264,,x")  # detect's --encoders, too


def test_a_named_grids_empty_item_is_said_of_its_encoder() -> None:
    res = CliRunner().invoke(cli, ["run", "--cqs", "libx264:25,37;libx265:20,,30"])
    refused(res, "--cqs", "libx265's item 2 of 3 is empty")


@pytest.mark.parametrize("value", ["a b", "x" * 70, "-x"])
def test_a_box_id_from_its_variable_is_refused_naming_the_variable(value: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the box id is checked as the settings are built, by the command's real guard
    res = CliRunner().invoke(cli, ["run"], env={"KIT_BOX_ID": value})
    refused(res, "--box-id", "(from KIT_BOX_ID)")
    res = CliRunner().invoke(cli, ["run", "--box-id", value], env={"KIT_BOX_ID": value})
    assert "(from KIT_BOX_ID)" not in refused(res, "--box-id")  # given on the command line, said as given there
    res = CliRunner().invoke(cli, ["slurm", "--shards", "2", "--dry-run"], env={"KIT_BOX_ID": value})
    refused(res, "--box-id", "(from KIT_BOX_ID)")


def test_a_shard_field_without_a_shard_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    res = CliRunner().invoke(cli, ["run"], env={"KIT_BOX_ID": "box-{shard}"})
    refused(res, "--box-id", "(from KIT_BOX_ID)")
    res = CliRunner().invoke(cli, ["run"], env={"KIT_OUT_DIR": "/tmp/out-{shard}"})
    refused(res, "--out-dir", "(from KIT_OUT_DIR)")


@pytest.mark.parametrize(("var", "value", "said"), [
    ("KIT_REF_DIR", "/nowhere/clips", "--ref-dir /nowhere/clips does not exist"),
    ("KIT_CONTENT_GROUPS", "/nowhere/g.json", "/nowhere/g.json: cannot read the --content-groups file (gone)"),
    ("KIT_INCUMBENT", "/nowhere/run", "--incumbent /nowhere/run: no ensemble.json found"),
])
def test_a_refusal_found_by_a_step_names_the_variable_the_value_came_from(var: str, value: str, said: str,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """What a step refuses later (a --ref-dir that does not exist, read by the corpus step) is said of the door the
    value came through, as a flag's own refusal is: `(from KIT_REF_DIR)`; given on the command line, as given."""
    from kit.cli.flags import name_the_variable
    from kit.cli.run import run_cmd

    monkeypatch.setenv(var, value)
    ctx = run_cmd.make_context("run", [])
    exc = InputError(said, hint="h")
    name_the_variable(exc, ctx)
    assert exc.message == f"{said} (from {var})" and str(exc) == exc.message
    flag = "--" + var.removeprefix("KIT_").lower().replace("_", "-")
    given = run_cmd.make_context("run", [flag, value])
    exc = InputError(said, hint="h")
    name_the_variable(exc, given)
    assert exc.message == said
