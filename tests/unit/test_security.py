"""Security: names that cannot escape (no shell=True and one process spawner are ruff's rules: S602, S604 and
TID251, pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kit.corpus.jobs import Job
from kit.infra.host import safe_box_id
from kit.media.refs import Clip


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
