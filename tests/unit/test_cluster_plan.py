"""The cluster layer is scheduler-neutral: the layout, the flag pass-through and the union sequence live once
(kit/cluster/plan.py); Slurm and Ray only carry the same commands to the nodes."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.cluster import REFUSED
from kit.cli.main import cli
from kit.cluster.slurm import HOLD_GOES_ON
from kit.steps.settings import RunSettings
from tests import pace
from tests.conftest import ROOT, TINY_SOURCES

FLAGS = ["--encoders", "libx264", "--cqs", "22,30", "--seeds", "0,1", "--max-abs-bias", "off", "--epochs", "5"]


@pytest.fixture
def refs(tmp_path: Path) -> Path:
    folder = tmp_path / "refs"
    folder.mkdir()
    for name in TINY_SOURCES:
        (folder / f"{name}.y4m").write_bytes(b"YUV4MPEG2 W16 H16 F25:1\n")  # listed, never read by a dry run
    return folder


def kit_commands(text: str) -> list[list[str]]:
    """The kit's commands a dry run prints, a Slurm line's HOLD_GOES_ON (a HOLD that goes on) left off."""
    return [shlex.split(ln.split(" || ")[0]) for ln in text.splitlines()
            if "__main__.py" in ln and not ln.startswith(("#", "  echo"))]


def test_slurm_and_ray_run_the_same_commands(refs: Path, tmp_path: Path) -> None:
    common = ["--shards", "2", "--ref-dir", str(refs), "--box-id", "lab", "--dry-run", *FLAGS]
    slurm = CliRunner().invoke(cli, ["slurm", "--out-dir", str(tmp_path / "slurm-out"), *common])
    ray = CliRunner().invoke(cli, ["ray", "--out-dir", str(tmp_path / "ray-out"), *common])
    assert slurm.exit_code == 0 and ray.exit_code == 0, slurm.output + ray.output
    from_slurm, from_ray = kit_commands(slurm.stdout), kit_commands(ray.stdout)
    assert len(from_slurm) == len(from_ray) == 6  # prereqs, corpus; merge, then each step in its own process

    def neutral(argv: list[str], root: Path, scheduler: str) -> list[str]:
        return [a.replace(str(root / scheduler), "OWN").replace(str(root), "ROOT") for a in argv]

    slurm_out, ray_out = tmp_path / "slurm-out", tmp_path / "ray-out"
    assert [neutral(a, slurm_out, "slurm") for a in from_slurm] == [neutral(a, ray_out, "ray") for a in from_ray]
    prereqs, corpus, merge, loso, verdict, run = from_ray
    assert loso[2:4] == ["step", "loso"] and verdict[2:4] == ["step", "verdict"]
    # under set -e, the verdict's HOLD goes on to the bundle; the last command's code is the job's
    goes_on = [ln for ln in slurm.stdout.splitlines() if ln.endswith(HOLD_GOES_ON)]
    assert [kit_commands(ln) for ln in goes_on] == [[from_slurm[4]]]
    assert prereqs[2:4] == ["step", "prereqs"] and corpus[2:4] == ["step", "corpus"]
    assert prereqs[prereqs.index("--settings") + 1] == str(ray_out / "ray" / "settings.json")
    assert prereqs[prereqs.index("--shard") + 1] == "auto"
    assert prereqs[prereqs.index("--out-dir") + 1] == str(tmp_path / "ray-out" / "shards" / "{shard}")
    assert merge[2] == "merge" and merge[-2:] == ["-o", str(tmp_path / "ray-out" / "union.parquet")]
    assert run[2:6] == ["run", "--settings", str(ray_out / "ray" / "settings.json"), "--corpus"]
    assert "with KIT_ARRAY_TASK=K/2" in ray.stdout and not (tmp_path / "ray-out").exists()
    # the settings are the flags', the same for both; Ray gives each task's kit the CPUs it reserved (--jobs),
    # Slurm's cgroup does that
    slurm_file, ray_file = settings_file(slurm.stdout), settings_file(ray.stdout)
    assert (slurm_file.seeds, slurm_file.cqs.every, slurm_file.train.epochs) == ((0, 1), (22, 30), 5)
    assert dataclasses.replace(ray_file, out_dir=slurm_file.out_dir) == dataclasses.replace(slurm_file, jobs=1)


def settings_file(stdout: str) -> RunSettings:
    """The settings file a dry run prints (slurm: its own block; ray: commented lines)."""
    if "# ==> " in stdout:
        text = stdout.split("settings.json <==\n")[1].split("# ==> ")[0]
    else:
        text = "\n".join(ln[4:] for ln in stdout.splitlines() if ln.startswith("#   "))
    return RunSettings.from_json(json.loads(text))


REFUSED_ARGS = {"corpus": ["--corpus", "c.parquet"], "shard": ["--shard", "1/2"], "from_step": ["--from", "loso"],
                "only": ["--only", "loso"], "force": ["--force"]}
TAKES = {"slurm": (), "ray": ("corpus",)}  # the run flags each cluster command takes of those a cluster refuses


@pytest.mark.parametrize("command", ["slurm", "ray"])
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_run_flags_that_cannot_apply_on_a_cluster_are_refused_and_not_listed(command: str, name: str, refs: Path,
                                                                             tmp_path: Path) -> None:
    """Every run flag a cluster refuses, on every cluster command: given, it is refused with its reason; --help does
    not list it. One the command takes (`ray --corpus`) is listed and not refused."""
    assert set(REFUSED_ARGS) == set(REFUSED)  # a flag added to REFUSED is tried here too
    opt = REFUSED_ARGS[name][0]
    listed = CliRunner().invoke(cli, [command, "--help"]).output
    res = CliRunner().invoke(cli, [command, "--shards", "2", "--ref-dir", str(refs), "--out-dir", str(tmp_path),
                                   "--dry-run", *REFUSED_ARGS[name]])
    if name in TAKES[command]:
        assert f"\n  {opt} " in listed and "cannot be used with" not in res.output, res.output
        return
    assert f"\n  {opt} " not in listed, listed
    assert res.exit_code == 2 and f"error: {opt} cannot be used with `{command}`" in res.output, res.output


def test_ray_without_ray_installed_says_how_to_install_it(refs: Path, tmp_path: Path) -> None:
    code = ("import sys; sys.modules['ray'] = None; sys.argv = ['ensemble-kit', 'ray', '--shards', '2', '--ref-dir', "
            f"{str(refs)!r}, '--out-dir', {str(tmp_path / 'o')!r}]\nfrom kit.cli.main import main\nmain()")
    res = pace.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "error: Ray is not installed in this Python" in res.stderr
    assert "pip install 'ensemble-kit[ray]'" in res.stderr


def test_every_task_knows_the_shared_folder_and_nothing_per_task_is_pinned(refs: Path, tmp_path: Path) -> None:
    env = {"KIT_ARRAY_TASK": "1/2", "KIT_KILL_AT": "x", "KIT_TIMEOUT_S": "30"}
    res = CliRunner().invoke(cli, ["slurm", "--shards", "2", "--ref-dir", str(refs), "--out-dir",
                                   str(tmp_path / "root"), "--dry-run"], env=env)
    assert res.exit_code == 0, res.output
    assert f"export KIT_TREE_ROOT={tmp_path / 'root'}" in res.stdout and "export KIT_TIMEOUT_S=30" in res.stdout
    assert "KIT_ARRAY_TASK" not in res.stdout and "KIT_KILL_AT" not in res.stdout


def test_a_long_box_id_keeps_every_shard_apart(refs: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["ray", "--shards", "3", "--ref-dir", str(refs), "--out-dir", str(tmp_path),
                                   "--box-id", "b" * 64, "--dry-run"])
    assert res.exit_code == 0, res.output
    prereqs = kit_commands(res.stdout)[0]
    prefix = prereqs[prereqs.index("--box-id") + 1]
    assert prefix.endswith("-{shard}") and len(prefix.replace("{shard}", "shard3of3")) <= 64
    assert settings_file(res.stdout).jobs == 1  # a task's kit runs as many encodes as Ray gave it CPUs
    res = CliRunner().invoke(cli, ["ray", "--shards", "2", "--ref-dir", str(refs), "--out-dir", str(tmp_path),
                                   "--box-id", "lab-{shard}", "--dry-run"])
    assert res.exit_code == 2 and "holds {shard}" in res.output


def test_a_shard_task_refuses_a_link_planted_at_the_shared_folders(tmp_path: Path, refs: Path) -> None:
    root, victim = tmp_path / "root", tmp_path / "victim"
    root.mkdir()
    victim.mkdir()
    (root / "shards").symlink_to(victim)  # the neighbour's move, before the tasks start
    res = pace.run([sys.executable, "-m", "kit", "step", "prereqs", "--out-dir",
                          str(root / "shards" / "shard1of2"), "--ref-dir", str(refs)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "KIT_TREE_ROOT": str(root)})
    assert res.returncode == 2 and f"error: {root / 'shards'} is a symbolic link" in res.stderr, res.stderr
    assert list(victim.iterdir()) == []


def test_the_union_merge_hears_the_users_content_groups(refs: Path, tmp_path: Path) -> None:
    groups = tmp_path / "groups.json"
    groups.write_text('{"different": [["alpha", "beta"]]}')
    res = CliRunner().invoke(cli, ["ray", "--out-dir", str(tmp_path / "o"), "--shards", "2", "--ref-dir", str(refs),
                                   "--dry-run", "--content-groups", str(groups), *FLAGS])
    assert res.exit_code == 0, res.output
    _prereqs, _corpus, merge, *steps = kit_commands(res.stdout)
    assert merge[merge.index("--content-groups") + 1] == str(groups)
    assert settings_file(res.stdout).content_groups == groups  # the shards' corpus step reads it there
    # the union's rows name their groups: --corpus leaves the file's unused
    assert all("--content-groups" not in step for step in steps)


def test_ray_trains_on_a_union_given_as_it_is_or_merged_first(tmp_path: Path) -> None:
    """`ray --corpus`: one corpus file is trained on as it is (no union task with --train-tasks: the training tasks
    and the gather read it); the boxes' tarballs (or several inputs) are merged by the union task first, with
    --content-groups, into the layout's union.parquet, which LOSO then reads."""
    union, tars = tmp_path / "union.parquet", [tmp_path / f"results-box{k}-20261121T101500Z.tar.gz" for k in (1, 2)]
    for path in (union, *tars):
        path.write_bytes(b"")  # found, never read by a dry run
    groups = tmp_path / "groups.json"
    groups.write_text('{"different": [["alpha", "beta"]]}')
    out = tmp_path / "o"
    gather = [["step", "loso"], ["step", "verdict"], ["run"]]  # each step in its own process
    for given, tasks, shapes in (([union], "off", gather),
                                 ([union], "2", [["step", "loso"], *gather]),
                                 (tars, "off", [["merge"], *gather]),
                                 (tars[:1], "2", [["merge"], ["step", "loso"], *gather])):
        extra = ["--content-groups", str(groups)] if given == tars else []
        res = CliRunner().invoke(cli, ["ray", "--out-dir", str(out), *(a for p in given for a in ("--corpus", str(p))),
                                       "--train-tasks", tasks, "--dry-run", *extra])
        assert res.exit_code == 0, res.output
        commands = kit_commands(res.stdout)
        assert [c[2:2 + len(shape)] for c, shape in zip(commands, shapes, strict=True)] == shapes, commands
        trained = union if given == [union] else out / "union.parquet"
        for command in commands[1:] if shapes[0] == ["merge"] else commands:
            assert command[command.index("--corpus") + 1] == str(trained)
            assert command[command.index("--out-dir") + 1] == str(out / "union")
        if shapes[0] == ["merge"]:
            merge = commands[0]
            assert merge[3:3 + len(given)] == [str(p) for p in given]
            assert merge[merge.index("-o") + 1] == str(out / "union.parquet")
            assert (merge[-2:] == ["--content-groups", str(groups)]) == bool(extra), merge
        assert settings_file(res.stdout).content_groups is None  # merge's to use: `run --corpus` refuses it
        assert "shard task" not in res.stdout and not out.exists()


@pytest.mark.parametrize(("args", "cause"), [
    (["--shards", "2"], "--shards and --corpus cannot be combined"),
    (["--ref-dir", "REFS"], "--ref-dir and --corpus cannot be combined"),
    (["--encoders", "libx264", "--cqs", "22,30"], "--encoders, --cqs and --corpus cannot be combined"),
    (["--train-tasks", "auto"], "--train-tasks auto is one training task per shard"),
    (["--corpus", "MISSING"], "does not exist"),
    (["--corpus", "UNION", "--out-dir", "OUT", "--corpus", "OUT/union.parquet"], "is where the union task merges"),
])
def test_ray_refuses_what_a_union_given_cannot_take(args: list[str], cause: str, refs: Path, tmp_path: Path) -> None:
    union = tmp_path / "u.parquet"
    union.write_bytes(b"")
    (tmp_path / "OUT").mkdir()
    (tmp_path / "OUT" / "union.parquet").write_bytes(b"")
    given = [str(refs) if a == "REFS" else str(tmp_path / a) if a in ("MISSING", "OUT") else str(union)
             if a == "UNION" else str(tmp_path / a) if a.startswith("OUT/") else a for a in args]
    res = CliRunner().invoke(cli, ["ray", "--corpus", str(union), "--dry-run", *given])
    assert res.exit_code == 2 and cause in res.stderr and "hint: " in res.stderr, res.output
    neither = CliRunner().invoke(cli, ["ray", "--dry-run", "--ref-dir", str(refs)])
    assert neither.exit_code == 2 and "neither --shards nor --corpus" in neither.stderr, neither.output


@pytest.mark.parametrize(("code", "after", "job"), [(0, True, 0), (1, True, 0), (2, False, 2), (130, False, 130)])
def test_a_hold_goes_on_to_the_bundle_and_any_other_failure_ends_the_job_with_its_code(code: int, after: bool,
                                                                                      job: int) -> None:
    """A Slurm script's line after `step verdict`, under the script's `set -euo pipefail`, run by bash."""
    script = f"set -euo pipefail\nsh -c 'exit {code}'{HOLD_GOES_ON}\necho bundled\n"
    res = pace.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert (res.returncode, "bundled" in res.stdout) == (job, after), res.stderr


@pytest.mark.parametrize("train_tasks", [0, 2])
def test_every_command_of_the_union_and_the_gather_ends_the_slurm_job_as_the_ray_task_ends(train_tasks: int,
                                                                                           tmp_path: Path) -> None:
    """Each command of the union task (the merge, then the gather) and of the gather alone, ending with each code a
    command can give (0, HOLD, bad input, a signal's): the Slurm script, run by bash under its `set -euo pipefail`,
    runs on exactly as far as the Ray task does (kit.cluster.ray.run_commands: up to the first code not in the
    plan's ok_codes) and ends with the code the Ray task ends with."""
    from kit.cluster.plan import ClusterLayout, ClusterPlan
    from kit.cluster.slurm import command_lines

    layout = ClusterLayout(tmp_path / "root", "slurm")
    plan = ClusterPlan(layout, 0, ("kit",), tmp_path, RunSettings(out_dir=layout.union_out), "box",
                       inputs=(tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"), train_tasks=train_tasks)
    commands = plan.gather_commands() if train_tasks else plan.union_commands()
    assert len(commands) == (3 if train_tasks else 4)
    ok, lines = plan.ok_codes(commands), command_lines(plan, commands)
    for k in range(len(commands)):
        for code in (0, 1, 2, 129, 130, 143):
            stubs = [line.replace(shlex.join(argv), f"sh -c 'echo ran{i}; exit {code if i == k else 0}'", 1)
                     for i, (argv, line) in enumerate(zip(commands, lines, strict=True))]
            res = pace.run(["bash", "-c", "set -euo pipefail\n" + "\n".join(stubs) + "\n"], capture_output=True,
                           text=True, timeout=30)
            stops = code not in ok[k]  # the Ray task stops here, a failure; else it runs on
            ran = k + 1 if stops else len(commands)
            job = code if stops or k == len(commands) - 1 else 0
            assert (res.stdout.split(), res.returncode) == ([f"ran{i}" for i in range(ran)], job), (k, code, lines[k])
