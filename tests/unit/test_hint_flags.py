"""Every hint names a flag its command has (issue 91, item 7: a full TMPDIR at `verify` hinted `--out-dir`, a flag
`verify` does not have). Two halves: the failures any command can meet (a full disk, a path it cannot write, memory,
open files, a file's size, threads: kit.cli.guard and kit.infra.resources), each given to every command of the click
tree, whose hint is checked against that command's options; and every hint written in kit/ (a `hint=` text, a
module's `*HINT*` text), whose flags are checked against the options of each command that can print it (RAISED_BY,
declared here per module: a module that comes to name a flag in a hint must be declared). A flag of another program
(ffmpeg's configure, sbatch's) is FOREIGN; a flag that follows a command's name (`run --from corpus`, `the run's
--out-dir`) is that command's and checked against it; a printed command (kit_command, rerun, ...) is its own; a
hint that names a flag only for a command that has it is a KitError.by_flag alternative, checked as one."""

from __future__ import annotations

import ast
import errno
import re
from collections.abc import Iterator
from pathlib import Path
from tempfile import gettempdir

import click
import pytest

from kit.cli.guard import DISK_FULL, PATH_CAUSES, as_user_error, command_flags
from kit.cli.main import cli
from kit.errors import KitError
from tests.conftest import ROOT

FLAG = re.compile(r"(?<![\w=-])(--[a-z][a-z0-9-]*|-o)(?![\w-])")
# calls whose text is a whole command line of its own, with its own flags
PRINTED = {"kit_command", "rerun", "settings_command", "retry_command", "shell_join", "receiver_commands", "kit_cli",
           "prereqs_again"}
# flags of other programs a hint names: ffmpeg's configure, sbatch's (a placeholder and examples), a container's,
# `ray start`'s
FOREIGN = {"--enable-libvmaf", "--option", "--account", "--array", "--device", "--head"}
# a command's name in a hint, the flags after it in the same clause its own (`run --from`, `the run's --out-dir`)
QUALIFIED = re.compile(r"(?<![\w-])(run|step|merge|verify|detect|status|slurm|ray|export|info|stage)\b(?:'s)?"
                       r"[^.;:()]*$")


def commands() -> Iterator[tuple[str, click.Command]]:
    def walk(cmd: click.Command, path: list[str]) -> Iterator[tuple[str, click.Command]]:
        if isinstance(cmd, click.Group):
            for name, sub in sorted(cmd.commands.items()):
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), cmd

    yield from walk(cli, [])


COMMANDS = dict(commands())


def options(cmd: click.Command) -> set[str]:
    return {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}


def flags_named(text: str) -> dict[str, str]:
    """Each flag `text` names -> the command it is of ("" the command that prints it), FOREIGN ones left out."""
    found = {}
    for m in FLAG.finditer(text):
        if m.group(1) in FOREIGN:
            continue
        qualified = QUALIFIED.search(text[:m.start()])
        found[m.group(1)] = qualified.group(1) if qualified else ""
    return found


def command_of(word: str) -> click.Command:
    return next(cmd for path, cmd in COMMANDS.items() if path.split()[-1] == word)


# -- the failures any command meets --------------------------------------------------------------------------------
OUT_DIR_FILE = "/home/someone/runs/box/02_corpus/shard.parquet"
TEMP_FILE = f"{gettempdir()}/.tmp-kit-verify.1.abcd1234.xyz/results-box-1/02_corpus/shard.parquet"


def any_command_failures() -> list[BaseException]:
    errnos = [*DISK_FULL, *PATH_CAUSES]
    return [*(OSError(e, "said", name) for e in errnos for name in (OUT_DIR_FILE, TEMP_FILE)),
            *(OSError(e, "said") for e in DISK_FULL), MemoryError(), OSError(errno.ENOMEM, "said"),
            OSError(errno.EMFILE, "said", OUT_DIR_FILE), OSError(errno.ENFILE, "said"),
            OSError(errno.EFBIG, "said", OUT_DIR_FILE), RuntimeError("can't start new thread")]


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_a_failure_any_command_meets_is_hinted_with_that_command_s_flags(path: str) -> None:
    cmd = COMMANDS[path]
    with click.Context(cmd, info_name=path):
        flags = command_flags()
        assert flags == options(cmd)
        for exc in any_command_failures():
            user = as_user_error(exc)
            assert user is not None, exc
            hint = user.hint_for(flags)
            assert hint, exc
            named = flags_named(hint)
            assert set(named) <= options(cmd), (path, exc, hint)


def hint_at(path: str, exc: BaseException) -> str:
    with click.Context(COMMANDS[path], info_name=path):
        user = as_user_error(exc)
        assert user is not None
        return user.hint_for(command_flags())


def test_the_issue_s_full_temporary_folder_at_verify_names_tmpdir_and_the_out_dir_where_a_command_has_one() -> None:
    """Before: `verify` on a full TMPDIR hinted `free some space (or choose another --out-dir)`."""
    full_temp, full_out = OSError(errno.ENOSPC, "No space left on device", TEMP_FILE), \
        OSError(errno.ENOSPC, "No space left on device", OUT_DIR_FILE)
    assert "set TMPDIR to a folder on a disk with room" in hint_at("verify", full_temp)
    assert not flags_named(hint_at("verify", full_out))
    assert "choose another --out-dir" in hint_at("run", full_out)
    assert "give -o a file on another disk" in hint_at("merge", full_out)
    denied = OSError(errno.EACCES, "Permission denied", OUT_DIR_FILE)
    assert "(another --out-dir)" in hint_at("step", denied) and "-o" not in flags_named(hint_at("step", denied))
    assert "(another -o)" in hint_at("corpus export", denied)
    assert "run fewer --jobs" in hint_at("run", MemoryError()) and "--jobs" not in hint_at("verify", MemoryError())


# -- the hints written in kit/ ---------------------------------------------------------------------------------------
def texts(node: ast.AST) -> Iterator[str]:
    """The string constants of an expression but those of a printed command's call."""
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name in PRINTED:
            return
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
        return
    for child in ast.iter_child_nodes(node):
        yield from texts(child)


def joined(node: ast.AST) -> str:
    """An expression's text as one string (its constants in order, a printed command as `<command>`)."""
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name in PRINTED:
            return "<command>"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return "".join(joined(child) for child in ast.iter_child_nodes(node))


def hints_of(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, the hint's text, the flag it is said for: "" any command) of each hint written in a module: a `hint=`
    text, a `*HINT*` name's text, and each KitError.by_flag alternative with its flag."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "hint":
            yield node.value.lineno, joined(node.value), ""
        elif isinstance(node, ast.keyword) and node.arg == "by_flag" and isinstance(node.value, ast.Tuple):
            for pair in node.value.elts:
                if isinstance(pair, ast.Tuple) and isinstance(pair.elts[0], ast.Constant):
                    yield pair.lineno, joined(pair.elts[1]), str(pair.elts[0].value)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and "HINT" in t.id for t in node.targets):
            yield node.lineno, joined(node.value), ""


def written_hints() -> dict[str, list[tuple[int, str, str]]]:
    """Each module of kit/ -> its hints that name a flag."""
    found: dict[str, list[tuple[int, str, str]]] = {}
    for path in sorted((ROOT / "kit").rglob("*.py")):
        for line, text, flag in hints_of(path):
            if flags_named(text):
                found.setdefault(path.relative_to(ROOT).as_posix(), []).append((line, text, flag))
    return found


RUNS = ("run", "step", "slurm", "ray")  # the commands that run steps: every run setting is a flag of theirs
CORPUS_READERS = ("merge", "corpus info", "corpus export", "run", "step", "slurm", "ray")
# the commands each module's hints reach (read from its callers): a module whose hint names a flag is declared here
RAISED_BY: dict[str, tuple[str, ...]] = {
    "kit/bundle/models.py": RUNS,
    "kit/bundle/registry.py": RUNS,
    "kit/cli/cluster.py": ("slurm", "ray"),
    "kit/cli/flags.py": RUNS,
    "kit/cli/guard.py": tuple(COMMANDS),  # by_flag alternatives: each said by a command that has its flag
    "kit/cli/status.py": ("status",),
    "kit/cluster/plan.py": ("slurm", "ray"),
    "kit/cluster/ray.py": ("ray",),
    "kit/cluster/slurm.py": ("slurm",),
    "kit/corpus/children.py": RUNS,
    "kit/corpus/commit.py": ("merge", "corpus export"),
    "kit/corpus/depth.py": RUNS,
    "kit/corpus/failures.py": RUNS,
    "kit/corpus/inputs.py": CORPUS_READERS,
    "kit/corpus/jobs.py": RUNS,
    "kit/corpus/merge.py": ("merge",),
    "kit/corpus/misscored.py": CORPUS_READERS,
    "kit/corpus/oracle.py": RUNS,
    "kit/corpus/provenance.py": CORPUS_READERS,
    "kit/corpus/shard.py": RUNS,
    "kit/corpus/signers.py": ("merge",),
    "kit/corpus/training.py": RUNS,
    "kit/infra/resources.py": tuple(COMMANDS),  # by_flag alternatives
    "kit/media/cache.py": RUNS,
    "kit/media/containers.py": RUNS,
    "kit/media/decode.py": RUNS,
    "kit/media/demo.py": (*RUNS, "detect"),
    "kit/media/discovery.py": RUNS,
    "kit/media/ffmpeg.py": tuple(COMMANDS),  # by_flag alternatives: `ensemble-kit ffmpeg` has no --ffmpeg
    "kit/media/looks.py": RUNS,
    "kit/media/refs.py": RUNS,
    "kit/model/holdout.py": RUNS,
    "kit/model/incumbent.py": RUNS,
    "kit/model/teacher_fn.py": RUNS,
    "kit/platforms/binaries.py": ("binaries stage",),
    "kit/platforms/encoders.py": (*RUNS, "detect"),
    "kit/platforms/probe.py": (*RUNS, "detect"),
    "kit/platforms/teacher.py": (*RUNS, "detect"),
    "kit/steps/runner.py": RUNS,
    "kit/steps/s01_prereqs.py": RUNS,
    "kit/steps/s03_loso.py": RUNS,
    "kit/steps/s04_verdict.py": RUNS,
}
WRITTEN = written_hints()


def test_every_module_whose_hint_names_a_flag_declares_the_commands_that_print_it() -> None:
    assert sorted(WRITTEN) == sorted(RAISED_BY), "declare each new module in RAISED_BY, each gone one removed"
    assert all(set(paths) <= set(COMMANDS) for paths in RAISED_BY.values())


@pytest.mark.parametrize("module", sorted(RAISED_BY))
def test_every_flag_a_hint_names_is_a_flag_of_each_command_that_prints_it(module: str) -> None:
    wrong = []
    for line, text, for_flag in WRITTEN.get(module, []):
        for flag, of in flags_named(text).items():
            if of:  # `run --from`: of that command, whichever prints it
                if flag not in options(command_of(of)):
                    wrong.append(f"{module}:{line}: {flag} is no flag of `{of}`: {text!r}")
            elif for_flag:  # a by_flag alternative names its own flag alone
                if flag != for_flag:
                    wrong.append(f"{module}:{line}: the alternative for {for_flag} names {flag}: {text!r}")
            else:
                wrong += [f"{module}:{line}: `{path}` has no {flag}: {text!r}" for path in RAISED_BY[module]
                          if flag not in options(COMMANDS[path])]
    assert not wrong, "\n".join(wrong)


def test_the_check_fails_on_a_flag_its_command_lacks() -> None:
    """The scan can fail: verify's hint of an --out-dir, and an alternative that names another flag."""
    assert flags_named("free some space (or choose another --out-dir)") == {"--out-dir": ""}
    assert "--out-dir" not in options(COMMANDS["verify"])
    assert flags_named("a plain `run`, without --from/--only") == {"--from": "run", "--only": "run"}
    assert flags_named("built with --enable-libvmaf, or --sbatch-arg=--account=x") == {"--sbatch-arg": ""}
    error = KitError("x", hint="no flag", by_flag=(("--jobs", "fewer --jobs"), ("-o", "another -o")))
    assert error.hint_for(frozenset({"-o"})) == "another -o" and error.hint_for(frozenset()) == "no flag"
