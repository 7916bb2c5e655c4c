"""The cluster layer is scheduler-neutral: the layout, the flag pass-through and the union sequence live once
(kit/cluster/plan.py); Slurm and Ray only carry the same commands to the nodes."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.main import cli
from kit.steps.settings import RunSettings
from tests import pace
from tests.conftest import ROOT, TINY_SOURCES, cannot_run_here

FLAGS = ["--encoders", "libx264", "--cqs", "22,30", "--seeds", "0,1", "--max-abs-bias", "off", "--epochs", "5"]


@pytest.fixture
def refs(tmp_path: Path) -> Path:
    folder = tmp_path / "refs"
    folder.mkdir()
    for name in TINY_SOURCES:
        (folder / f"{name}.y4m").write_bytes(b"YUV4MPEG2 W16 H16 F25:1\n")  # listed, never read by a dry run
    return folder


def kit_commands(text: str) -> list[list[str]]:
    return [shlex.split(ln) for ln in text.splitlines()
            if "__main__.py" in ln and not ln.startswith(("#", "  echo"))]


def test_slurm_and_ray_run_the_same_commands(refs: Path, tmp_path: Path) -> None:
    common = ["--shards", "2", "--ref-dir", str(refs), "--box-id", "lab", "--dry-run", *FLAGS]
    slurm = CliRunner().invoke(cli, ["slurm", "--out-dir", str(tmp_path / "slurm-out"), *common])
    ray = CliRunner().invoke(cli, ["ray", "--out-dir", str(tmp_path / "ray-out"), *common])
    assert slurm.exit_code == 0 and ray.exit_code == 0, slurm.output + ray.output
    from_slurm, from_ray = kit_commands(slurm.stdout), kit_commands(ray.stdout)
    assert len(from_slurm) == len(from_ray) == 4  # prereqs, corpus; merge, run

    def neutral(argv: list[str], root: Path, scheduler: str) -> list[str]:
        return [a.replace(str(root / scheduler), "OWN").replace(str(root), "ROOT") for a in argv]

    slurm_out, ray_out = tmp_path / "slurm-out", tmp_path / "ray-out"
    assert [neutral(a, slurm_out, "slurm") for a in from_slurm] == [neutral(a, ray_out, "ray") for a in from_ray]
    prereqs, corpus, merge, run = from_ray
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


@pytest.mark.parametrize("command", ["slurm", "ray"])
@pytest.mark.parametrize(("args", "refused"), [(["--corpus", "c.parquet"], "--corpus"), (["--shard", "1/2"], "--shard"),
                                               (["--only", "loso"], "--only"), (["--force"], "--force")])
def test_run_flags_that_cannot_apply_on_a_cluster_are_refused(command: str, args: list[str], refused: str,
                                                             refs: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, [command, "--shards", "2", "--ref-dir", str(refs), "--out-dir", str(tmp_path),
                                   "--dry-run", *args])
    assert res.exit_code == 2 and f"error: {refused} cannot be used with `{command}`" in res.output, res.output


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


def test_ray_names_a_cluster_it_cannot_join(refs: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("ray") is None:
        cannot_run_here("Ray is not installed: an optional extra (.ci/run installs it)")
    res = pace.run([sys.executable, "-m", "kit", "ray", "--shards", "2", "--ref-dir", str(refs), "--out-dir",
                          str(tmp_path / "o"), "--address", "127.0.0.1:1"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 2, res.stderr[-2000:]
    assert "error: cannot join the Ray cluster 127.0.0.1:1" in res.stderr and "hint: check the address" in res.stderr


def test_the_union_merge_hears_the_users_content_groups(refs: Path, tmp_path: Path) -> None:
    groups = tmp_path / "groups.json"
    groups.write_text('{"different": [["alpha", "beta"]]}')
    res = CliRunner().invoke(cli, ["ray", "--out-dir", str(tmp_path / "o"), "--shards", "2", "--ref-dir", str(refs),
                                   "--dry-run", "--content-groups", str(groups), *FLAGS])
    assert res.exit_code == 0, res.output
    _prereqs, _corpus, merge, run = kit_commands(res.stdout)
    assert merge[merge.index("--content-groups") + 1] == str(groups)
    assert settings_file(res.stdout).content_groups == groups  # the shards' corpus step reads it there
    assert "--content-groups" not in run  # the union's rows name their groups: --corpus leaves the file's unused
