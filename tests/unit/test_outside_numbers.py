"""Numbers and JSON from outside are read one way (kit/infra/outside.py; issue 40, item 5).

Every numeric flag of every command, found by walking the click command tree (a new one cannot escape),
and every numeric environment variable (kit/cli/environment.py, checked against the names the kit's source
spells) is fed `²`, a 5000-digit number, nan, inf, -inf and 1e999: each must end as exit 2 with one line
naming the flag or the variable, a hint and no traceback, before any work. Exit 1 stays HOLD's alone. A
depth bomb in each JSON someone gives (a results tarball's manifest, --content-groups, a .yuv sidecar) is
exit 2 naming the file, never RecursionError's exit 70.
"""

from __future__ import annotations

import ast
import io
import json
import random
import re
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from kit.cli import environment
from kit.cli.flags import FLAGS
from kit.cli.main import cli
from kit.cli.params import KitParam
from kit.errors import EXIT_INTERNAL, InputError
from kit.infra.flags import Flag, Int
from kit.infra.limits import MAX_JSON_DEPTH
from kit.infra.outside import JsonRefused, NotANumber, load_json, read_float, read_int, read_rate
from tests.conftest import ROOT
from tests.kitfiles import results_tarball, shard_table, write_shard

# a lead record of each test's own (tests/conftest.py own_lead): its unsigned tarballs of boxa and boxb are
# refused, rightly, wherever another test made those box ids known by a key in the session's shared cache
pytestmark = pytest.mark.usefixtures("own_lead")

HUGE = "9" * 5000
BAD = ("²", "٣", "３", HUGE, "nan", "inf", "-inf", "1e999")
# the same inside the forms some flags take: K/N, lists, MIN,MAX
IN_FORMS = ("1/²", f"1/{HUGE}", "1/nan", "²,1", f"1,{HUGE}", "nan,1", "1,inf")
DEPTH_BOMB = b"[" * 100_000 + b"]" * 100_000


def walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))
        else:
            yield (*path, name), command


def is_numeric(param: click.Parameter) -> bool:
    return (isinstance(param.type, KitParam) and param.type.parser.numeric) or \
        isinstance(param.type, click.types.IntParamType | click.types.FloatParamType)


NUMERIC = [(path, param) for path, command in walk(cli) for param in command.params if is_numeric(param)]


def placeholder(param: click.Parameter) -> str:
    """A valid value for a required parameter that is not the one under test."""
    if isinstance(param.type, click.Choice):
        return str(param.type.choices[0])
    if isinstance(param.type, KitParam) and isinstance(param.type.parser, Int):
        return str(param.type.parser.lo)
    return "x"


def flag_args(path: tuple[str, ...], tested: click.Parameter) -> tuple[str, list[str]]:
    """The option's longest name, and the words that reach it: the command at `path` and a placeholder for each
    other parameter it requires."""
    command: click.Command = cli
    for word in path:
        assert isinstance(command, click.Group)
        command = command.commands[word]
    args = list(path)
    for p in command.params:
        if p is tested or not p.required:
            continue
        args += [placeholder(p)] if isinstance(p, click.Argument) else [p.opts[0], placeholder(p)]
    return max(tested.opts, key=len), args


@pytest.fixture(autouse=True)
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value the flags accept would start the command: it fails the test instead of running it."""
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the command started: its flags were accepted")

    for name, module in list(sys.modules.items()):
        if name.startswith("kit.cli.") and hasattr(module, "guarded"):
            monkeypatch.setattr(module, "guarded", refuse)


def assert_one_line(res: Result, *needles: str) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, res.stderr
    assert all(n in errors[0] for n in needles), (needles, errors[0])
    assert len(errors[0]) < 400, errors[0]  # the value is shown cut short, not 5000 digits long
    assert any(ln.startswith("hint: ") for ln in res.stderr.splitlines()), res.stderr
    return errors[0]


def test_the_walk_finds_the_numeric_flags_of_every_command() -> None:
    found = {(" ".join(path), max(p.opts, key=len)) for path, p in NUMERIC}
    for expected in [("run", "--width"), ("run", "--interval-level"), ("run", "--min-mean-plcc"),
                     ("step", "--train-task"), ("step", "--train-tasks"), ("slurm", "--shards"),
                     ("slurm", "--cpus-per-task"), ("ray", "--cpus-per-task"), ("run", "--shard")]:
        assert expected in found
    numeric_run_flags = {f.opt for f in FLAGS if f.parse is not None and f.parse.numeric}
    assert numeric_run_flags <= {opt for cmd, opt in found if cmd == "run"} and len(numeric_run_flags) >= 24


def test_no_flag_reads_numbers_with_clicks_own_types() -> None:
    """click's INT takes `٣` and 5000 digits go to int(); its FLOAT takes nan: every number goes through
    kit.infra.rules's parsers (Int, Float, ...), which read with kit.infra.outside."""
    clicks = [f"{' '.join(path)} {p.name}" for path, p in NUMERIC if not isinstance(p.type, KitParam)]
    assert clicks == []


@pytest.mark.parametrize(("path", "param"), NUMERIC, ids=[f"{' '.join(p)} {q.name}" for p, q in NUMERIC])
def test_every_numeric_flag_refuses_bad_numbers_in_one_line(path: tuple[str, ...], param: click.Parameter,
                                                            tmp_path: Path) -> None:
    opt, base = flag_args(path, param)
    for value in (*BAD, *IN_FORMS):
        res = CliRunner().invoke(cli, [*base, f"{opt}={value}"])
        assert_one_line(res, opt)


@pytest.mark.parametrize("flag", [f for f in FLAGS if f.parse is not None and f.parse.numeric and f.envvar],
                         ids=lambda f: f.envvar)
def test_every_numeric_flag_variable_refuses_bad_numbers_in_one_line(flag: Flag) -> None:
    assert flag.envvar is not None
    for value in BAD:
        res = CliRunner().invoke(cli, ["run"], env={flag.envvar: value})
        assert_one_line(res, flag.opt, f"(from {flag.envvar})")


# a number the docs never spell so (issue 91, item 6: `KIT_EPOCHS='+3'` and `' 2'` were taken): a plus sign, white
# space around it; a list's items are its own syntax (`25, 37`), so only the flags of one value are given these
SPELLINGS = ("+3", " 2", "2 ", "\t2", "+0.5", " 0.5")
ONE_VALUE = [(path, param) for path, param in NUMERIC if not getattr(param.type.parser, "items", "")]


@pytest.mark.parametrize(("path", "param"), ONE_VALUE, ids=[f"{' '.join(p)} {q.name}" for p, q in ONE_VALUE])
def test_every_numeric_flag_of_one_value_refuses_a_number_spelt_otherwise(path: tuple[str, ...],
                                                                          param: click.Parameter) -> None:
    opt, base = flag_args(path, param)
    for value in SPELLINGS:
        assert_one_line(CliRunner().invoke(cli, [*base, f"{opt}={value}"]), opt)


@pytest.mark.parametrize("flag", [f for f in FLAGS if f.parse is not None and f.parse.numeric and f.envvar and
                                  not f.parse.items], ids=lambda f: f.envvar)
def test_every_numeric_flag_variable_refuses_a_number_spelt_otherwise(flag: Flag) -> None:
    assert flag.envvar is not None
    for value in SPELLINGS:
        res = CliRunner().invoke(cli, ["run"], env={flag.envvar: value})
        assert_one_line(res, flag.opt, f"(from {flag.envvar})")


def test_the_issue_s_epochs_are_refused_naming_the_variable() -> None:
    for value in ("+3", " 2"):
        res = CliRunner().invoke(cli, ["run"], env={"KIT_EPOCHS": value})
        said = assert_one_line(res, "--epochs", "(from KIT_EPOCHS)")
        assert repr(value) in said, said


@pytest.mark.parametrize("name", sorted(environment.AT_START))
def test_every_variable_a_run_reads_is_refused_before_any_work(name: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # this one runs the command: its guard is the real one
    out = tmp_path / "out"
    for value in BAD:
        res = CliRunner().invoke(cli, ["run", "--out-dir", str(out)], env={name: value})
        assert_one_line(res, f"{name}=")
        assert not out.exists()


@pytest.mark.parametrize("name", environment.ARRAY)
def test_every_array_variable_is_refused_where_auto_reads_it(name: str) -> None:
    slurm = {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "2",
             "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_STEP": "1"}
    base = slurm if name.startswith("SLURM_") else {}
    values = (*BAD, *IN_FORMS[:3], "²/2") if name == "KIT_ARRAY_TASK" else BAD
    for value in values:
        for args in (["run", "--shard", "auto"], ["step", "loso", "--train-task", "auto"]):
            res = CliRunner().invoke(cli, args, env={**base, name: value})
            assert_one_line(res, f"{name}=", f"{args[-2]} auto: ")  # the flag that asked (always --shard before)


def test_every_variable_the_kit_spells_is_listed() -> None:
    """A KIT_* or SLURM_* name in the kit's source is an option's variable (Click's `envvar=`, its value checked as
    the option's), a numeric one (checked above) or one of the text ones: a new variable read as a number cannot
    escape the tests above. The table holds no option's variable."""
    option_vars = {p.envvar for _, command in walk(cli) for p in command.params if isinstance(p.envvar, str)}
    assert {f.envvar for f in FLAGS if f.envvar} <= option_vars and {"KIT_FFMPEG", "KIT_JSON"} <= option_vars
    assert not option_vars & {*environment.NUMERIC, *environment.TEXT}
    known = {*environment.NUMERIC, *environment.TEXT, *option_vars}
    spelled: dict[str, str] = {}
    for path in sorted((ROOT / "kit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for name in re.findall(r"\b(?:KIT|SLURM)_[A-Z0-9_]*[A-Z0-9]\b", node.value):
                    spelled.setdefault(name, path.relative_to(ROOT).as_posix())
    assert {n: where for n, where in spelled.items() if n not in known} == {}


def test_exit_1_stays_hold_s_even_for_a_bug_while_the_flags_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, text: str, flag: str, words: str = "") -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(Int, "parse", broken)
    res = CliRunner().invoke(cli, ["run", "--jobs", "2"])
    assert res.exit_code == EXIT_INTERNAL, res.output
    assert "Traceback" in res.stderr and "ZeroDivisionError: a bug" in res.stderr
    assert "error: internal error" in res.stderr


# ---- the readers themselves ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", (*BAD, "1_000", "0x10", "+5", " ", "5.0", " 42\n", " 2", "2 ", "\t2"))
def test_read_int_takes_ascii_digits_only(text: str) -> None:
    with pytest.raises(NotANumber):
        read_int(text)


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("42", 42), ("000123", 123), ("9" * 18, int("9" * 18))])
def test_read_int_reads_what_people_write(text: str, value: int) -> None:
    assert read_int(text) == value
    assert read_int(f"-{text}", signed=True) == -value
    for other in (f"+{text}", f" {text}", f"{text}\n", f"- {text}"):  # one spelling: never a plus, never padded
        with pytest.raises(NotANumber):
            read_int(other, signed=True)


@pytest.mark.parametrize("text", (*BAD, "NaN", "Infinity", "-nan", "1e", "1_0.5", "0x1p3", "1" * 41, "+2.", "+0.5",
                                  " 0.5", "0.5 ", "\t-1"))
def test_read_float_takes_finite_ascii_numbers_only(text: str) -> None:
    with pytest.raises(NotANumber):
        read_float(text)


@pytest.mark.parametrize(("text", "value"), [("0.95", 0.95), ("-1", -1.0), (".5", 0.5), ("5e-3", 0.005),
                                             ("1E2", 100.0), ("2.", 2.0), ("5e+3", 5000.0)])
def test_read_float_reads_what_people_write(text: str, value: float) -> None:
    assert read_float(text) == value


@pytest.mark.parametrize("text", (*BAD, "1/0", "1e-99999", "25/", "/1", "-25", "٢٥/١"))
def test_read_rate_refuses_what_is_no_rate(text: str) -> None:
    with pytest.raises(NotANumber):
        read_rate(text)


def test_the_messages_say_why_and_cut_the_value_short() -> None:
    from kit.infra.outside import parse_float, parse_int

    with pytest.raises(InputError) as err:
        parse_int("²", "--width", 16, 16384)
    assert err.value.message == ("--width '²' is not a whole number from 16 to 16384: '²' (U+00B2) is a digit, but "
                                 "not an ASCII one: only the digits 0-9 are read")
    with pytest.raises(InputError) as err:
        parse_int(HUGE, "KIT_JOBS", 0)
    assert "KIT_JOBS='999999999999999999999999'… (5000 characters)" in err.value.message
    with pytest.raises(InputError) as err:
        parse_float("nan", "--interval-level", 0.5, 0.999)
    assert err.value.message == "--interval-level 'nan' is not a number from 0.5 to 0.999: NaN and infinity are refused"


# ---- JSON from outside -----------------------------------------------------------------------------------

def test_load_json_refuses_a_depth_bomb_before_parsing_it() -> None:
    with pytest.raises(JsonRefused, match=f"nested more than {MAX_JSON_DEPTH} deep"):
        load_json(DEPTH_BOMB)
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert load_json(nested) is not None
    assert load_json('{"a": "[[[[[[[[", "b": [1, {"c": "]]]"}]}') == {"a": "[[[[[[[[", "b": [1, {"c": "]]]"}]}
    with pytest.raises(JsonRefused, match="5000 digits"):
        load_json(b'{"n": ' + HUGE.encode() + b"}")


def _with_manifest(src: Path, dest: Path, manifest: bytes) -> Path:
    with tarfile.open(src) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    with tarfile.open(dest, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            data = manifest if name.endswith("/manifest.json") and name.count("/") == 1 else data
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest


@pytest.mark.parametrize("command", ["verify", "merge", "corpus info"])
def test_a_depth_bomb_manifest_in_a_results_tarball_is_named(command: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    bad = _with_manifest(results_tarball(tmp_path / "orig.tar.gz"), tmp_path / "results-bomb.tar.gz", DEPTH_BOMB)
    args = {"verify": ["verify", str(bad)], "merge": ["merge", str(bad), "-o", str(tmp_path / "m.parquet")],
            "corpus info": ["corpus", "info", str(bad)]}[command]
    res = CliRunner().invoke(cli, args)
    assert_one_line(res, str(bad))
    assert "manifest.json is damaged (arrays or objects nested more than" in res.stderr, res.stderr
    assert not (tmp_path / "m.parquet").exists()


def test_a_depth_bomb_content_groups_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    groups = tmp_path / "groups.json"
    groups.write_bytes(b'{"same": ' + DEPTH_BOMB + b"}")
    shard = write_shard(tmp_path / "a.parquet", shard_table())
    res = CliRunner().invoke(cli, ["merge", str(shard), "-o", str(tmp_path / "m.parquet"), "--content-groups",
                                   str(groups)])
    assert_one_line(res, str(groups), "nested more than")


def test_a_depth_bomb_yuv_sidecar_is_named(tmp_path: Path) -> None:
    from kit.media.refs import YuvDefaults, yuv_geometry

    clip = tmp_path / "Side.yuv"
    clip.write_bytes(bytes(176 * 144 * 3 // 2))
    (tmp_path / "Side.json").write_bytes(DEPTH_BOMB)
    with pytest.raises(InputError) as err:
        yuv_geometry(clip, YuvDefaults())
    assert str(clip) in err.value.message and "Side.json" in err.value.message
    assert "nested more than" in err.value.message


def test_sidecar_numbers_are_read_as_flags_are(tmp_path: Path) -> None:
    from kit.media.refs import YuvDefaults, yuv_geometry

    clip = tmp_path / "Side.yuv"
    clip.write_bytes(bytes(176 * 144 * 3 // 2))
    for meta, needle in ((b'{"width": "\xd9\xa1\xd9\xa7\xd9\xa6", "height": 144, "fps": 25}', "not an ASCII one"),
                         (b'{"width": 176, "height": 1e999, "fps": 25}', "is not a whole number"),
                         (b'{"width": 176, "height": 144, "fps": "nan"}', "frame rate 'nan'"),
                         (b'{"width": 176, "height": 144, "fps": "1/' + HUGE.encode() + b'"}', "5000 digits")):
        (tmp_path / "Side.json").write_bytes(meta)
        with pytest.raises(InputError, match=needle):
            yuv_geometry(clip, YuvDefaults())


# the kit's own JSON written by a command the kit ran, which may be larger than what others may send
@pytest.mark.parametrize(("args", "needle"), [
    (["--min-mean-plcc", "5"], "--min-mean-plcc '5' is not a number from -1 to 1"),  # was a certain HOLD, exit 1
    (["--min-seed-plcc", "1e308"], "--min-seed-plcc '1e308' is not a number from -1 to 1"),
    (["--folds", "\u00a05"], "'\\xa0' (U+00A0) is not ASCII"),  # was read as --folds 5 (str.strip is Unicode's)
    (["--folds", "\u30005"], "(U+3000) is not ASCII"),
])
def test_a_correlation_gate_is_a_correlation_and_folds_are_ascii(args: list[str], needle: str) -> None:
    assert_one_line(CliRunner().invoke(cli, ["run", *args]), needle)


def _nested(rng: random.Random, depth: int) -> object:
    """A JSON value of random shape whose strings hold what a depth count must pass by: brackets, quotes, backslashes,
    escapes, newlines and characters outside ASCII."""
    pieces = ['[', ']', '{', '}', '"', '\\', '\\"', '\\\\', '\n', 'é', '☃', 'a', ' ', '\\u005b']
    if depth == 0 or rng.random() < 0.25:
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        return text if rng.random() < 0.7 else rng.randint(-9, 9)
    if rng.random() < 0.5:
        return [_nested(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {"".join(rng.choice(pieces) for _ in range(rng.randint(0, 4))) + str(i): _nested(rng, depth - 1)
            for i in range(rng.randint(0, 3))}


def _depth_of(value: object) -> int:
    """How deep a Python value's lists and dicts nest: the plain count a JSON text's depth must agree with."""
    if isinstance(value, list):
        return 1 + max(map(_depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth_of, value.values()), default=0)
    return 0


def test_json_depth_counts_the_nesting_of_every_generated_document_and_no_bracket_in_its_strings() -> None:
    """The class, generated: 3,000 documents of random shape (to 12 deep), their strings full of brackets, quotes,
    backslashes and escapes, written as json.dumps writes them (ASCII-escaped and not, indented and not): the depth
    load_json refuses by is the value's own depth, counted the plain way; and the limit holds at 64 and 65."""
    from kit.infra.outside import json_depth

    rng = random.Random(77)
    for n in range(3000):
        value = _nested(rng, rng.randint(0, 12))
        text = json.dumps(value, ensure_ascii=n % 2 == 0, indent=2 if n % 3 == 0 else None)
        assert json_depth(text) == _depth_of(value), text
    for deep in (MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1):
        value: object = "]]]"
        for _ in range(deep):
            value = [value, "[\\\"["]
        assert json_depth(json.dumps(value)) == deep
        if deep <= MAX_JSON_DEPTH:
            assert load_json(json.dumps(value)) == value
        else:
            with pytest.raises(JsonRefused, match=f"nested more than {MAX_JSON_DEPTH} deep"):
                load_json(json.dumps(value))


def test_json_depth_reads_a_string_left_open_once_whatever_follows_it() -> None:
    """An unterminated string is what a damaged or hostile file holds: each quote after it was a new start of the
    string pattern, scanning to the end (quadratic: 8 KB of `\\"` took 0.35 s of CPU, 1 MB about an hour, under a
    64 MB limit). The count is one pass now: 4 MB of them, and of every other shape that restarts a string, are
    counted in well under a second of CPU each; nothing after a string left open is counted (the decoder reads
    nothing past it), what comes before it is."""
    import time

    from kit.infra.outside import json_depth

    for hostile in ("[" + '\\"' * 2_000_000, '"' + "[" * 4_000_000, "[" + '"\\' * 2_000_000,
                    '["' + "\\\\\\" * 1_300_000, "[" * 10 + '"' + '\\"[' * 1_300_000):
        started = time.process_time()
        depth = json_depth(hostile)
        assert time.process_time() - started < 1.0, hostile[:12]
        assert depth == (10 if hostile.startswith("[" * 10) else 0 if hostile[0] == '"' else 1)
    assert json_depth("[" * 3 + '"open [[[') == 3 and json_depth('["a\\\\"]') == 1 and json_depth('["a\\"]"]') == 1
