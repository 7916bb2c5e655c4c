"""Every KIT_ variable is declared once with its rule (kit/infra/variables.py), read only through it, checked as every
command starts and named in its refusal (issue 75, item 3). The flags' own numeric variables:
tests/unit/test_outside_numbers.py, which also finds every KIT_ name the source spells in a declaration (a new
variable cannot escape).

Each declared variable is given the values its kind refuses (a switch `maybe`, `2`, `enabled`; a folder a file's
path; a word one it does not take; a number not a number, out of its bounds, NaN, inf, a fraction for a whole one)
under every command of the kit: exit 2, one `error:` line naming it, the declaration's hint, before any work; each
spelling the docs give of a switch's values (docs/collaborator.md: on/true/yes/1, off/false/no/0, any case) is read
as that value, and a number's bounds and a middle value as its reader means them. No reader reads a number's text
but by its declaration.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kit.cli.main import cli
from kit.cli.params import SwitchOption
from kit.corpus.scheduler import fixed_threads
from kit.corpus.shared import shared_decode_enabled
from kit.errors import InputError
from kit.infra import variables
from kit.infra.arrays import kit_position
from kit.infra.host import cache_dir, group_shared_from_env
from kit.infra.proc import timeout_limit
from kit.infra.variables import (
    ARRAY_TASK,
    DECIMAL,
    GROUP_SHARED,
    INCUMBENT_TIMEOUT_S,
    JOB_THREADS,
    MEMORY_CHECK,
    NUMBERS,
    OF_FLAGS,
    OFF,
    ON,
    PAIR,
    SHARED_DECODE,
    TIMEOUT_S,
    TRAIN_THREADS,
    VARIABLES,
    WHOLE,
    Number,
    Variable,
    any_text,
    core_count,
    folder,
    of_flag,
    switch,
)
from kit.model.incumbent import incumbent_timeout
from kit.model.threads import choose_threads
from tests.conftest import ROOT


def refused_values(variable: Variable, tmp_path: Path) -> list[str]:
    """What its kind refuses; a kind this test does not know fails here (a new kind: say what it refuses)."""
    if variable.parse is switch:
        return ["maybe", "2", "enabled", "o n"]
    if variable.parse is folder:
        (tmp_path / "a-file").write_text("")
        return [str(tmp_path / "a-file")]
    if variable.parse is any_text:
        return []  # a command's words, a harness's point: any text is one
    if variable.parse.__qualname__.startswith("one_of"):
        return ["bogus", "public,auto"]
    raise AssertionError(f"{variable.name}: a kind of variable this test does not know ({variable.parse})")


CHECKED = [v for v in VARIABLES.values() if v.checked]
# commands that start cheaply with a placeholder; each must refuse the variable before it does anything
COMMANDS = [["status", "/nonexistent/out"], ["verify", "/nonexistent/x.tar.gz"], ["corpus", "info", "/nonexistent"],
            ["merge", "/nonexistent/a.parquet", "-o", "/nonexistent/m.parquet"], ["run", "--out-dir", "OUT"],
            ["detect"]]


@pytest.mark.parametrize("variable", CHECKED, ids=[v.name for v in CHECKED])
def test_a_value_a_variable_does_not_take_is_refused_naming_it_as_any_command_starts(variable: Variable,
                                                                                      tmp_path: Path) -> None:
    for value in refused_values(variable, tmp_path):
        for command in COMMANDS:
            args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
            res = CliRunner().invoke(cli, args, env={variable.name: value})
            assert res.exit_code == 2, (variable.name, value, command, res.output)
            errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
            assert len(errors) == 1 and variable.name in errors[0], (command, res.stderr)  # click names an option's
            assert "hint: " in res.stderr and "Traceback" not in res.output
            assert not (tmp_path / "out").exists()


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


# every switch the kit reads: each command's switch options (a run flag's, status's --json) and the variables that are
# no option's; the generated class below is every one of them times every spelling
OPTION_SWITCHES = [(path, p) for path, command in commands(cli) for p in command.params
                   if isinstance(p, SwitchOption)]
ENV_SWITCHES = [v for v in VARIABLES.values() if v.parse is switch and v.name not in OF_FLAGS]
# the fewest words each command with a switch needs to read its options (a new such command fails here: add it)
ARGS = {("run",): ["run", "--out-dir", "OUT"], ("step",): ["step", "corpus", "--out-dir", "OUT"],
        ("status",): ["status", "OUT"], ("slurm",): ["slurm", "--shards", "2", "--out-dir", "OUT"],
        ("ray",): ["ray", "--shards", "2", "--out-dir", "OUT"]}
# every spelling the docs give, in any case and padded, and what it means (None: unset, the default)
GOOD = [*((w, True) for w in ON), *((w, False) for w in OFF), *((w.upper(), w in ON) for w in ON + OFF),
        *((w.capitalize(), w in ON) for w in ON + OFF), (" On ", True), ("\tno\n", False), ("", None), ("  ", None)]
REFUSED = ["maybe", "2", "-1", "0.0", "enabled", "o n", "onn", "truee", "yes please", "'on'", "nein", "\uff4f\uff4e"]


def args_of(path: tuple[str, ...], out: Path) -> list[str]:
    return [str(out) if a == "OUT" else a for a in ARGS[path]]


def declared_refusal(variable: Variable, value: str) -> tuple[str, str]:
    """What the declaration says of `value` (kit.infra.variables.Variable.read): the one refusal of every switch."""
    with pytest.raises(InputError) as refused:
        variable.read({variable.name: value})
    return f"error: {refused.value.message}", f"hint: {refused.value.hint}"


SWITCH_VARIABLES = {**{p.variable.name: p.variable for _, p in OPTION_SWITCHES}, **{v.name: v for v in ENV_SWITCHES}}


@pytest.mark.parametrize("name", sorted(SWITCH_VARIABLES))
def test_every_switch_refuses_every_other_word_as_its_declaration_does_under_every_command(name: str,
                                                                                         tmp_path: Path) -> None:
    """Every KIT_ switch times every word that is none, under each command that reads it (its option's, or every
    command with a switch option for a variable of none): exit 2, the one `error:` line and `hint:` line its
    declaration gives, naming it (click's BOOL said `Invalid value for '--strict' (env var: 'KIT_STRICT'): 'maybe' is
    not a valid boolean` with a hint to read --help), before any work."""
    variable = SWITCH_VARIABLES[name]
    paths = [path for path, p in OPTION_SWITCHES if p.variable.name == name] or list(ARGS)
    for value in REFUSED:
        error, hint = declared_refusal(variable, value)
        assert name in error and name in hint
        for path in paths:
            res = CliRunner().invoke(cli, args_of(path, tmp_path / "out"), env={name: value})
            said = [ln for ln in res.stderr.splitlines() if ln.startswith(("error: ", "hint: "))]
            assert (res.exit_code, said) == (2, [error, hint]), (path, value, res.output)
            assert not (tmp_path / "out").exists()


def option_value(path: tuple[str, ...], option: click.Option, out: Path) -> object:
    """The value `option` of command `path` takes from the environment, read by the real CLI's own parsing."""
    top = click.Context(cli, info_name="ensemble-kit")
    command: click.Command = cli
    for word in path:
        assert isinstance(command, click.Group)
        command = command.commands[word]
    ctx = command.make_context(" ".join(path), args_of(path, out)[len(path):], parent=top)
    return ctx.params[option.name or ""]


@pytest.mark.parametrize(("path", "option"), OPTION_SWITCHES,
                         ids=[f"{' '.join(path)}-{p.opts[0]}" for path, p in OPTION_SWITCHES])
def test_every_switch_option_reads_every_spelling_the_docs_give_as_its_declaration_does(
        path: tuple[str, ...], option: SwitchOption, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each switch option of each command, its variable given every spelling the docs give (on/true/yes/1,
    off/false/no/0, t/y/f/n, any case, padded; empty: unset): the same meaning as the declaration reads, through the
    command's own parsing; and a variable that is also read below the CLI (KIT_GROUP_SHARED: the cache, merge -o)
    means the same there."""
    for word, meaning in GOOD:
        monkeypatch.setenv(option.variable.name, word)
        expected = False if meaning is None else meaning
        assert option.variable.read() is (expected if meaning is not None else option.variable.default)
        assert option_value(path, option, tmp_path / "out") is expected, (word, path)
        if option.variable.name == GROUP_SHARED.name:
            assert group_shared_from_env() is expected, word


@pytest.mark.parametrize("variable", ENV_SWITCHES, ids=[v.name for v in ENV_SWITCHES])
def test_every_switch_of_no_option_reads_every_spelling_the_docs_give(variable: Variable,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.infra.resources import memory_checked

    # a new switch of no option: name its reader here
    readers = {SHARED_DECODE.name: shared_decode_enabled, MEMORY_CHECK.name: memory_checked}
    for word, meaning in GOOD:
        monkeypatch.setenv(variable.name, word)
        assert readers[variable.name]() is (variable.default if meaning is None else meaning), word
        res = CliRunner().invoke(cli, ["status", "/nonexistent/out"], env={variable.name: word})
        assert variable.name not in res.stderr, res.stderr  # taken: status goes on to its own refusal


def test_no_option_reads_a_variable_with_click_s_own_boolean() -> None:
    """A flag with a variable is a switch option reading its declaration, or a value's option whose parser reads the
    variable's text as the flag's (kit.cli.params.KitParam): none is read by click's BOOL; and a switch's variable is
    named from its option, declared once (kit.infra.variables.OF_FLAGS) where a layer below the CLI reads it too."""
    for path, command in commands(cli):
        for p in command.params:
            if isinstance(p, click.Option) and p.envvar and p.is_flag:
                assert isinstance(p, SwitchOption), (path, p.opts)
            if isinstance(p, SwitchOption):
                assert p.variable.name == of_flag(max(p.opts, key=len)) and p.variable.parse is switch
                assert OF_FLAGS.get(p.variable.name, p.variable) is p.variable, (path, p.opts)


def test_unset_or_empty_is_each_variable_s_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable.name, raising=False)
        assert variable.read() == variable.default
        monkeypatch.setenv(variable.name, "  ")
        assert variable.read() == variable.default
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"  # a folder not made yet: made where the cache is opened
    assert VARIABLES["KIT_TRAIN_KERNELS"].read({"KIT_TRAIN_KERNELS": "Public"}) == "public"


NAME = re.compile(r"(?<![A-Za-z0-9_])KIT_[A-Z0-9_]*[A-Z0-9]")  # a KIT_ variable's name inside any text


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstrings of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body and \
                isinstance(first := node.body[0], ast.Expr) and isinstance(first.value, ast.Constant):
            found.add(id(first.value))
    return found


def declared_names() -> set[str]:
    """Every KIT_ name the kit declares: kit.infra.variables' and each flag's variable (kit.cli.flags.FLAGS)."""
    from kit.cli.flags import FLAGS

    return {*VARIABLES, *OF_FLAGS, *variables.NUMBERS, *(f.envvar for f in FLAGS if f.envvar)}


def test_no_module_spells_a_kit_variable_s_name_but_its_declaration() -> None:
    """Every KIT_ name in a string of the kit's source outside kit/infra/variables.py is a failure: a reader, a
    message or a hint takes the name from its declaration (`CACHE_DIR.name`, a Number's, a flag's `of_flag`), so no
    variable is read or named beside its rule (os.environ.get("KIT_JSON") is such a string). A docstring may name one,
    only a declared one: it documents the code, and no command reads or prints it but `run --help`'s, whose variables
    are the flags' own. Before: 38 strings in 23 modules (KIT_GROUP_SHARED and KIT_JSON read by click's BOOL beside
    their declaration, KIT_FFMPEG read from os.environ in kit/media/ffmpeg.py, the numeric ones spelled by their
    readers, the hints' names typed by hand)."""
    declared, spelled, undeclared = declared_names(), [], []
    for path in sorted((ROOT / "kit").rglob("*.py")):
        if path == Path(variables.__file__) or not NAME.search(text := path.read_text()):
            continue
        tree = ast.parse(text, str(path))
        docs = docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (names := NAME.findall(node.value)):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if id(node) not in docs:
                    spelled.append(f"{where}: {names}")
                undeclared += [f"{where}: {n}" for n in names if n not in declared]
    assert spelled == [] and undeclared == []


# --- the numeric variables (issue 75, item 3: declared once with its whole rule) --------------------------------------

def train_threads(env: dict[str, str]) -> int | None:
    """The training threads KIT_TRAIN_THREADS sets, None where the kit chooses."""
    choice = choose_threads(env)
    return choice.train if choice.chosen_by == TRAIN_THREADS.name else None


def array_task(env: dict[str, str]) -> tuple[int, int] | None:
    place = kit_position(env)
    return None if place is None else (place.k, place.n)


# the module that uses each and what it makes of a value (a new Number: name its reader here)
NUMBER_READERS: dict[str, Callable[[dict[str, str]], object]] = {
    TIMEOUT_S.name: timeout_limit, JOB_THREADS.name: fixed_threads, TRAIN_THREADS.name: train_threads,
    INCUMBENT_TIMEOUT_S.name: incumbent_timeout, ARRAY_TASK.name: array_task}


def upper(number: Number) -> float | None:
    return core_count() if number.hi_cores else number.hi


def refused_numbers(number: Number) -> list[str]:
    """What a Number's rule refuses: not a number, below its lower bound, above its upper, NaN, inf, 1e999, a digit
    beyond ASCII; a fraction for a whole number; for K/N, each of these in either place and K above N. The empty
    string is no refusal: it is unset (test below)."""
    if number.kind == PAIR:
        return ["x", "3", "1/x", "0/3", "4/3", "nan/2", "1/inf", "1.5/2", "1/2.0", "-1/2", "\u00b2/2", "1/2/3",
                " 3/4 ", "+1/2", "1/ 2"]
    assert number.kind in (WHOLE, DECIMAL) and number.lo is not None, number.name  # a new kind: say what it refuses
    below = [str(number.lo)] if number.lo_open else []
    below += [f"{number.lo - 1:g}", f"{number.lo - 0.5:g}" if number.kind == DECIMAL else str(int(number.lo) - 1)]
    if number.zero_is_unset and number.lo > 0:  # 0 says unset; a value between it and the least is no value
        below = [v for v in below if float(v) != 0] + [f"{number.lo / 20:g}", "1e-300", "-1"]
    hi = upper(number)
    above = [] if hi is None else [f"{hi + 1:g}"]
    whole = ["1.5", "2.0", "1e3"] if number.kind == WHOLE else []
    good = f"{int(number.lo) + 1}"  # a value it takes, spelled as the docs never spell a number (issue 91, item 6)
    return ["many", *below, *above, *whole, "nan", "NaN", "inf", "-inf", "1e999", "\u00b2", "9" * 5000, "0x10",
            f"+{good}", f" {good}", f"{good} ", f"\t{good}\n"]


def accepted_numbers(number: Number) -> list[tuple[str, object]]:
    """Each good value of a Number's rule and the meaning its reader gives it: its bounds themselves (but an open
    one), a middle value; unset, empty and white space alone are its default, and so is 0 where 0 says unset."""
    def meaning(value: float) -> object:
        return number.default if number.zero_is_unset and value == 0 else value

    if number.kind == PAIR:
        return [("1/1", (1, 1)), ("2/5", (2, 5)), ("5/5", (5, 5)), ("", None), ("  ", None)]
    kind = int if number.kind == WHOLE else float
    assert number.lo is not None
    hi = upper(number)
    good = [] if number.lo_open else [number.lo]
    good += [number.lo + 0.001] if number.lo_open else []
    good += [hi] if hi is not None else [1e6]
    good += [(number.lo + hi) // 2 if hi is not None else 600]
    good += [0] if number.zero_is_unset else []
    cases: list[tuple[str, object]] = [(f"{kind(v)}", meaning(kind(v))) for v in good]
    return [*cases, ("", number.default), ("  ", number.default)]


NUMBER_CASES = [(n, v) for n in NUMBERS.values() for v in refused_numbers(n)]


@pytest.mark.parametrize("number", NUMBERS.values(), ids=list(NUMBERS))
def test_every_number_refuses_every_value_its_rule_refuses_as_every_command_starts(number: Number,
                                                                                   tmp_path: Path) -> None:
    """Every KIT_ number times every value its declared rule refuses, under every command: exit 2, one `error:` line
    naming it and saying what it takes, the declaration's own `hint:` line, before any work. Before, only run, step,
    slurm and ray read four of them as they started, by their readers' own bounds; `status`, `verify`, `merge`,
    `detect` took KIT_TIMEOUT_S=nan or KIT_TRAIN_THREADS=0, and KIT_ARRAY_TASK was read only by `--shard auto`."""
    for value in refused_numbers(number):
        with pytest.raises(InputError) as declared:
            number.read({number.name: value})
        assert number.name in declared.value.message and declared.value.hint == number.fix
        for command in COMMANDS:
            args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
            res = CliRunner().invoke(cli, args, env={number.name: value})
            said = [ln for ln in res.stderr.splitlines() if ln.startswith(("error: ", "hint: "))]
            assert (res.exit_code, said) == (2, [f"error: {declared.value.message}", f"hint: {number.fix}"]), \
                (value[:30], command, res.output[-400:])
            assert len(said[0]) < 300 and "Traceback" not in res.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize("number", NUMBERS.values(), ids=list(NUMBERS))
def test_every_number_takes_its_bounds_and_a_middle_value_with_the_meaning_its_reader_gives(
        number: Number, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bounds themselves (a closed one), just above an open one, a middle value, padded, unset and empty: each
    read by the declaration and by the module that uses it as the same value (0 where it says unset: the default),
    and taken by a command as it starts."""
    for text, meaning in accepted_numbers(number):
        env = {number.name: text}
        assert number.read(env) == meaning, text
        assert NUMBER_READERS[number.name](env) == meaning, (number.name, text)
        res = CliRunner().invoke(cli, ["status", "/nonexistent/out"], env=env)
        assert number.name not in res.stderr, res.stderr  # taken: status goes on to its own refusal
    monkeypatch.delenv(number.name, raising=False)
    assert number.read() == number.default


def test_kit_array_task_read_by_an_auto_says_which_flag_asked() -> None:
    """A K/N read for `--shard auto` or `--train-task auto` is refused by the same rule, saying the flag that asked."""
    for flag in ("--shard", "--train-task"):
        with pytest.raises(InputError) as refused:
            kit_position({ARRAY_TASK.name: "4/3"}, flag)
        assert refused.value.message == f"{flag} auto: {ARRAY_TASK.name}='4/3' is not K/N with 1 <= K <= N"
        assert refused.value.hint == ARRAY_TASK.fix


# what reads a variable's text: a lookup (`env.get(name, "")`, os.getenv) by its first argument, a reading of the
# kit's (kit.infra.numbers, the env_int and env_float of before) by any
LOOKUPS = {"get", "getenv", "pop", "setdefault"}
READINGS = {"env_int", "env_float", "parse_int", "parse_float", "number", "label", "read_int", "read_float",
            "read_pair"}


def number_names_passed(root: Path) -> list[str]:
    """Every place in the kit's source under `root` (but variables.py) where a Number's name (`TRAIN_THREADS.name`,
    or a module name bound to one: `ENV = TRAIN_THREADS.name`) is looked up (`env.get(ENV, "")`, `environ[ENV]`) or
    handed to a reading (`env_int(env, JOB_THREADS_ENV, 0, 1024, ...)`, `label(ENV, raw)`): a reader that reads its
    text itself holds a rule of its own beside the declaration. Naming one in words (an f-string), recording who
    chose (`chosen_by`) or setting it for a child is fine."""
    declared = {name for name, value in vars(variables).items() if isinstance(value, Number)}

    def is_name(node: ast.AST, aliases: set[str]) -> bool:
        if isinstance(node, ast.Name):
            return node.id in aliases
        if not (isinstance(node, ast.Attribute) and node.attr == "name"):
            return False
        holder = node.value
        return (isinstance(holder, ast.Name) and holder.id in declared) or \
            (isinstance(holder, ast.Attribute) and holder.attr in declared)

    def read_by(node: ast.AST) -> list[ast.expr]:
        """What `node` reads a variable by, if it is a lookup or a reading."""
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            return [node.slice]
        if not isinstance(node, ast.Call):
            return []
        func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if func in READINGS:
            return [*node.args, *(k.value for k in node.keywords)]
        return node.args[:1] if func in LOOKUPS else []

    found = []
    for path in sorted((root / "kit").rglob("*.py")):
        if (path.name == "variables.py" and path.parent.name == "infra") or \
                not any(name in (text := path.read_text()) for name in declared):
            continue
        tree = ast.parse(text, str(path))
        aliases = {t.id for node in tree.body if isinstance(node, ast.Assign) and is_name(node.value, set())
                   for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            found += [where for arg in read_by(node) if is_name(arg, aliases)]
    return found


def test_no_reader_reads_a_kit_number_but_by_its_declaration() -> None:
    """No module but kit/infra/variables.py looks a KIT_ number's text up or hands its name to a reading of its own
    (env_int, env_float, number, label): its bounds are written once, in its declaration. Before: 7 such places in 5
    modules (kit/infra/proc.py, kit/corpus/scheduler.py, kit/model/threads.py, kit/model/incumbent.py,
    kit/infra/arrays.py)."""
    assert number_names_passed(ROOT) == []


# -- a KIT_ name the kit does not read (issue 91, item 6) --------------------------------------------------------------
def known_names() -> frozenset[str]:
    """Every variable the kit reads, as the guard gathers it for a command of the tree."""
    from kit.cli.guard import known_variables

    with click.Context(cli):
        return known_variables()


def misspellings(name: str) -> list[str]:
    """What a hand makes of a variable's name: its first underscore after KIT_ left out, its last letter, a letter
    more at its end."""
    body = name.removeprefix("KIT_")
    return [spelt for spelt in (f"KIT_{body.replace('_', '', 1)}", name[:-1], f"{name}S")
            if spelt != name and spelt not in known_names()]


@pytest.mark.parametrize("name", sorted(n for n in known_names() if n.startswith("KIT_")))
def test_every_variable_of_the_kit_misspelt_is_warned_of_with_its_own_name(name: str) -> None:
    from kit.infra.variables import unknown_variable_warnings

    for spelt in misspellings(name):
        (said,) = unknown_variable_warnings(known_names(), {spelt: "1"})
        assert said == f"{spelt} is set, but the kit reads no variable of that name, so it changes nothing: did you " \
                       f"mean {name}?"
    assert unknown_variable_warnings(known_names(), {name: "1"}) == []


# each Latin capital of a KIT_ name and a letter of another script drawn as it (issue 98, item 11): the names are the
# characters' own, so the test reads as its table does not
DRAWN_AS = {"K": ("GREEK CAPITAL LETTER KAPPA", "CYRILLIC CAPITAL LETTER KA", "KELVIN SIGN"),
            "I": ("LATIN CAPITAL LETTER I WITH DOT ABOVE", "GREEK CAPITAL LETTER IOTA",
                  "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I"),
            "T": ("GREEK CAPITAL LETTER TAU", "CYRILLIC CAPITAL LETTER TE"),
            "E": ("GREEK CAPITAL LETTER EPSILON", "CYRILLIC CAPITAL LETTER IE", "LATIN CAPITAL LETTER E WITH ACUTE"),
            "S": ("CYRILLIC CAPITAL LETTER DZE", "FULLWIDTH LATIN CAPITAL LETTER S"),
            "O": ("GREEK CAPITAL LETTER OMICRON", "CYRILLIC CAPITAL LETTER O"),
            "C": ("CYRILLIC CAPITAL LETTER ES",), "A": ("GREEK CAPITAL LETTER ALPHA", "CYRILLIC CAPITAL LETTER A"),
            "P": ("GREEK CAPITAL LETTER RHO", "CYRILLIC CAPITAL LETTER ER"),
            "H": ("GREEK CAPITAL LETTER ETA", "CYRILLIC CAPITAL LETTER EN"),
            "M": ("GREEK CAPITAL LETTER MU", "CYRILLIC CAPITAL LETTER EM"), "N": ("GREEK CAPITAL LETTER NU",),
            "B": ("GREEK CAPITAL LETTER BETA", "CYRILLIC CAPITAL LETTER VE"),
            "X": ("GREEK CAPITAL LETTER CHI", "CYRILLIC CAPITAL LETTER HA"),
            "Y": ("GREEK CAPITAL LETTER UPSILON", "CYRILLIC CAPITAL LETTER U")}


def spelt_otherwise(name: str) -> list[tuple[str, str]]:
    """(a spelling of `name` drawn as it, how it differs): in small letters, in another case, and each of its letters
    in turn as each letter of another script drawn as it (DRAWN_AS)."""
    cases = [(name.lower(), "the kit reads its names as spelt, in capitals"),
             (name[:4] + name[4:].capitalize(), "the kit reads its names as spelt, in capitals")]
    for at, letter in enumerate(name):
        for char_name in DRAWN_AS.get(letter, ()):
            char = unicodedata.lookup(char_name)
            cases.append((name[:at] + char + name[at + 1:], f"\\u{ord(char):04x} is {char_name}"))
    return cases


@pytest.mark.parametrize("name", sorted(n for n in known_names() if n.startswith("KIT_")))
def test_every_variable_spelt_in_another_case_or_with_a_look_alike_letter_is_warned_of(name: str) -> None:
    """`kit_seeds`, a Greek K, a dotted İ were ignored without a word (the check read names that start `KIT_` as
    spelt): each spelling of each variable of the kit drawn as it is warned of, naming the variable, its own
    spelling shown in ASCII (each other character escaped) and how it differs."""
    from kit.infra.variables import as_read, unknown_variable_warnings
    from kit.infra.visible import ascii_spelling

    assert as_read(name) == name  # no variable of the kit is drawn as another
    for spelt, how in spelt_otherwise(name):
        (said,) = unknown_variable_warnings(known_names(), {spelt: "1"})
        shown = ascii_spelling(spelt)
        assert shown.isascii() and said.startswith(f"{shown} is set, but the kit reads no variable of that name, so "
                                                   f"it changes nothing: did you mean {name}? ("), (spelt, said)
        assert how in said, (spelt, said)


def test_a_name_of_another_program_in_small_letters_is_not_the_kit_s_to_judge() -> None:
    from kit.infra.variables import unknown_variable_warnings

    assert unknown_variable_warnings(known_names(), {"kit_home": "/x", "Kit": "1", "KITTY_WINDOW_ID": "1"}) == []


def test_a_misspelt_variable_is_warned_of_once_with_the_one_meant(tmp_path: Path) -> None:
    """The issue's KIT_SEED and KIT_CACHEDIR were ignored without a word: each is said once by a real command (the
    guard every command runs under), naming the variable meant; the names spelt right, a set one left empty, the
    test harness's own and a name near none are not said so."""
    from tests.conftest import run_here

    res = run_here("status", tmp_path / "no-run", env={"KIT_SEED": "0,1", "KIT_CACHEDIR": "/nowhere", "KIT_ZZZQ": "1",
                                              "KIT_SEEDS": "0,1", "KIT_EPOCH": "", "TESTS_MEDIA": "/x",
                                              "kit_seeds": "0", "\u039aIT_JOBS": "2", "K\u0130T_STRICT": "1"})
    warned = [ln for ln in res.stderr.splitlines() if ln.startswith("warning: ")]
    assert warned == [
        "warning: KIT_CACHEDIR is set, but the kit reads no variable of that name, so it changes nothing: did you "
        "mean KIT_CACHE_DIR?",
        "warning: KIT_SEED is set, but the kit reads no variable of that name, so it changes nothing: did you mean "
        "KIT_SEEDS?",
        "warning: KIT_ZZZQ is set, but the kit reads no variable of that name, so it changes nothing",
        "warning: K\\u0130T_STRICT is set, but the kit reads no variable of that name, so it changes nothing: did you "
        "mean KIT_STRICT? (\\u0130 is LATIN CAPITAL LETTER I WITH DOT ABOVE)",
        "warning: kit_seeds is set, but the kit reads no variable of that name, so it changes nothing: did you mean "
        "KIT_SEEDS? (the kit reads its names as spelt, in capitals: KIT_SEEDS)",
        "warning: \\u039aIT_JOBS is set, but the kit reads no variable of that name, so it changes nothing: did you "
        "mean KIT_JOBS? (\\u039a is GREEK CAPITAL LETTER KAPPA)"], res.stderr
    quiet = run_here("status", tmp_path / "no-run", env={"KIT_SEEDS": "0,1", "TESTS_MEDIA": "/x",
                                                          "TESTS_KILL_COUNT": "1"})
    assert quiet.returncode == res.returncode and "warning:" not in quiet.stderr, quiet.stderr


def test_the_names_a_command_knows_before_the_tree_s_walk_are_the_tree_s() -> None:
    """A command looks a KIT_ name up in the declarations and run's settings before it walks every command's options
    (kit.cli.guard.misspelt_variables): those know no name the tree does not read (else a misspelling of it would go
    unsaid)."""
    from kit.cli.guard import declared_variables, setting_variables

    walked = known_names()
    assert declared_variables() < setting_variables() <= walked, sorted(setting_variables() - walked)


def test_a_command_given_run_s_variables_loads_no_other_command(tmp_path: Path) -> None:
    """KIT_SEEDS and KIT_ENCODERS (run's, exported on a box) set, `status` warns of neither and imports no other
    command's module (tests/real/test_status.py's promise, whatever the user exports)."""
    code = ("import sys; from click.testing import CliRunner; from kit.cli.main import cli\n"
            "r = CliRunner().invoke(cli, ['status', sys.argv[1]])\n"
            "print([m for m in ('kit.cli.run', 'kit.cli.flags', 'kit.cli.merge') if m in sys.modules])\n"
            "print(r.output)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "no-run")], cwd=ROOT, capture_output=True,
                         text=True, env={**env, "PYTHONPATH": str(ROOT), "KIT_SEEDS": "0,1", "KIT_ENCODERS": "libx264",
                                         "KIT_CACHE_DIR": str(tmp_path / "cache")})
    loaded, said = res.stdout.split("\n", 1)
    assert loaded == "[]", loaded
    assert "warning" not in said + res.stderr, said + res.stderr


# the KIT_ names tests/ spell on purpose though the kit reads none: the misspellings the guard is tested with, and a
# line a box's ffmpeg says (tests/faults.py)
NOT_THE_KIT_S = frozenset({"KIT_SEED", "KIT_CACHEDIR", "KIT_EPOCH", "KIT_ZZZQ", "KIT_SECRET_TOKEN"})


def test_the_harness_spells_no_kit_name_the_kit_does_not_read() -> None:
    """Every KIT_ name in a string of tests/ and noxfile.py is one the kit reads, or spelt on purpose as none
    (NOT_THE_KIT_S): the harness's own variables are TESTS_ (noxfile.py), so none drifts into the kit's prefix, where
    the kit would warn of it unless the kit's source knew it."""
    spelt: dict[str, str] = {}
    for path in [*sorted((ROOT / "tests").rglob("*.py")), ROOT / "noxfile.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for name in NAME.findall(node.value):
                    spelt.setdefault(name, f"{path.relative_to(ROOT)}:{node.lineno}")
    known = known_names()
    assert {name: at for name, at in spelt.items() if name not in known | NOT_THE_KIT_S} == {}
    unread = spelt.keys() - known
    assert unread >= NOT_THE_KIT_S, sorted(NOT_THE_KIT_S - unread)  # each still spelt
