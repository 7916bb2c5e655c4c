"""The cluster layer is scheduler-neutral: the layout, the flag pass-through and the union sequence live once
(kit/cluster/plan.py); Slurm and Ray only carry the same commands to the nodes."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.main import cli
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
    return [shlex.split(ln) for ln in text.splitlines()
            if "__main__.py" in ln and not ln.startswith(("#", "  echo"))]


def test_slurm_and_ray_run_the_same_commands(refs: Path, tmp_path: Path) -> None:
    common = ["--shards", "2", "--ref-dir", str(refs), "--box-id", "lab", "--dry-run", *FLAGS]
    slurm = CliRunner().invoke(cli, ["slurm", "--out-dir", str(tmp_path / "slurm-out"), *common])
    ray = CliRunner().invoke(cli, ["ray", "--out-dir", str(tmp_path / "ray-out"), *common])
    assert slurm.exit_code == 0 and ray.exit_code == 0, slurm.output + ray.output
    from_slurm, from_ray = kit_commands(slurm.stdout), kit_commands(ray.stdout)
    assert len(from_slurm) == len(from_ray) == 4  # prereqs, corpus; merge, run

    def neutral(argv: list[str], root: Path) -> list[str]:
        return [a.replace(str(root), "ROOT") for a in argv]

    slurm_out, ray_out = tmp_path / "slurm-out", tmp_path / "ray-out"
    assert [neutral(a, slurm_out) for a in from_slurm] == [neutral(a, ray_out) for a in from_ray]
    prereqs, corpus, merge, run = from_ray
    assert prereqs[2:4] == ["step", "prereqs"] and corpus[2:4] == ["step", "corpus"]
    assert prereqs[prereqs.index("--shard") + 1] == "auto"
    assert prereqs[prereqs.index("--out-dir") + 1] == str(tmp_path / "ray-out" / "shards" / "{shard}")
    assert merge[2] == "merge" and merge[-2:] == ["-o", str(tmp_path / "ray-out" / "union.parquet")]
    assert run[2:4] == ["run", "--corpus"] and " ".join(FLAGS) in " ".join(run)
    assert "with KIT_ARRAY_TASK=K/2" in ray.stdout and not (tmp_path / "ray-out").exists()


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
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "error: Ray is not installed in this Python" in res.stderr
    assert "pip install 'ensemble-kit[ray]'" in res.stderr
