"""Security: no shell strings, one process spawner, names that cannot escape."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from kit.corpus.jobs import Job
from kit.infra.host import safe_box_id
from kit.media.refs import Clip
from tests.conftest import ROOT

KIT = ROOT / "kit"


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def test_no_shell_strings_and_one_place_spawns_processes() -> None:
    for path in sorted(KIT.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for call in _calls(tree):
            for kw in call.keywords:
                assert not (kw.arg == "shell" and isinstance(kw.value, ast.Constant) and kw.value.value), path
            func = call.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "os":
                assert func.attr not in ("system", "popen") and not func.attr.startswith(("exec", "spawn")), (
                    path, func.attr)
        imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imports |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        if path.name != "proc.py":
            assert "subprocess" not in imports, f"{path} imports subprocess: spawn through kit.infra.proc"


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "/abs/path", "a/../../b", "..", "x\x00y", "box id; rm -rf ~"])
def test_names_from_user_input_cannot_escape(hostile: str) -> None:
    box = safe_box_id(hostile)
    assert "/" not in box and "\\" not in box and box not in ("", ".", "..") and "\x00" not in box
    clip = Clip(path="/refs/x.y4m", src=hostile, kind="y4m", width=176, height=144, fps="25/1",
                pix_fmt="yuv420p", n_frames=8, sha256="ab" * 32)
    job_id = Job(clip, "libx264", 25).job_id
    assert "/" not in job_id and ".." not in job_id.split("__")[0].strip("-")[:2]
    assert (Path("/out/jobs") / f"{job_id}.parquet").resolve().parent == Path("/out/jobs")
    assert np.all([c.isprintable() for c in job_id])
