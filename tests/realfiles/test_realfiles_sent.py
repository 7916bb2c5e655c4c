"""What a realfiles run sends names none of its folders (issue 69 on whole real files: private by construction).

The tier's run (tests/realfiles/conftest.py) reads whole real files, some under names that are not UTF-8, leaves some
out with their reasons and fixes, and bundles its results tarball: every path that tarball holds is shown by its
place (`[ref-dir]/…`, `[out-dir]/…`, a name alone), so the name of the folder the tier made for the run, which every
path of its --ref-dir and out-dir starts with, is in no byte of it, in any spelling
(tests/pipeline/test_private_box.py's scan: each member decompressed, each way a path is written).
"""

from __future__ import annotations

import pytest

from kit.infra.tree import Tree
from kit.rundir import RunDir
from tests.pipeline.test_private_box import scan
from tests.realfiles.conftest import RealRun

pytestmark = [pytest.mark.realfiles, pytest.mark.slow]


def test_the_tarball_names_none_of_the_runs_folders(realrun: RealRun) -> None:
    tarball = RunDir(realrun.out).latest_tarball(Tree.open(realrun.out, make=False))
    assert tarball is not None, f"the run bundled no results tarball: {realrun.said()}"
    folder = realrun.out.parent.name  # the tier's folder of this run (once-realfiles-<cut>): refs/ and out/ are in it
    assert realrun.refs.parent.name == folder and len(folder) >= 8
    counts, found = scan(tarball, folder)
    assert counts["members"] >= 20 and found == [], (counts, found)
