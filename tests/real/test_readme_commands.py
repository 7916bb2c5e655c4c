"""The README's kit commands run as written (issue 54: its merge line named a `legacy.jsonl`, and copied as is it
exited 2). Every command of the README is parsed by the kit's command line in the fast tier
(tests/unit/test_docs.py::test_every_kit_command_the_pages_show_parses); here, a wide case (a whole run each for two
of them), each runs as the README writes it, by a shell (its globs), in a folder that holds what it
names: the results tarballs of two boxes for the lead's three, the tiny clips in place of /path/to/clips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import pace
from tests.conftest import ROOT
from tests.kitfiles import results_tarball, shard_table, teacher_scored, write_shard
from tests.unit.test_docs import kit_commands
from tests.unit.test_invocation import entry_script

# each kit command of the README, and the exit codes that mean it did what the README says
EXPECTED = {
    "run --ref-dir /path/to/clips --box-id mybox": (0, 1),  # a verdict, PROMOTE or HOLD
    "verify results-box1-20261121T101500Z.tar.gz": (0,),
    "merge results-box1-*.tar.gz results-box2-*.tar.gz -o merged.parquet": (0,),
    "run --corpus merged.parquet --out-dir runs/union": (0, 1),
}


def readme_lines() -> list[str]:
    """The README's kit command lines as written, the way a person pastes them (the venv's path included)."""
    text = (ROOT / "README.md").read_text()
    written = [line.strip() for line in text.splitlines()]
    return [next(w for w in written if w.endswith(command)) for command in kit_commands(text)]


def test_the_readme_s_commands_are_the_ones_this_test_runs() -> None:
    """A kit command added to the README is run here too, once it is listed (with what its exit means)."""
    assert sorted(kit_commands((ROOT / "README.md").read_text())) == sorted(EXPECTED)


@pytest.mark.wide  # a run on the tiny clips, and the union's training
def test_each_readme_command_runs_as_written(tiny_refs: Path, ffmpeg: str, tmp_path: Path) -> None:
    folder = tmp_path / "lead"
    folder.mkdir()
    for box, seed in (("box1", 0), ("box2", 1)):  # two boxes, each with sources of its own
        # scored by the teacher the shards name, as a box's corpus is: the union's run proves it before it distils
        shard = write_shard(tmp_path / box / "shard.parquet", teacher_scored(shard_table(box=box, seed=seed), ffmpeg))
        results_tarball(folder / f"results-{box}-20261121T101500Z.tar.gz", shard, box=box)
    script = entry_script(folder / ".venv" / "bin")  # the venv's command, and `ensemble-kit` on PATH
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{script.parent}{os.pathsep}{os.environ['PATH']}"}
    for line in readme_lines():
        command = line.replace("/path/to/clips", str(tiny_refs))
        res = pace.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True,
                       timeout=1800)
        expected = next(codes for written, codes in EXPECTED.items() if line.endswith(written))
        assert res.returncode in expected, (line, res.stdout[-2000:], res.stderr[-3000:])
    assert (folder / "merged.parquet").is_file() and (folder / "runs" / "union" / "04_verdict").is_dir()
    assert list((folder / "runs" / "mybox" / "05_bundle").glob("results-mybox-*.tar.gz"))  # what the journey sends
