"""A cached "does not work" names the command that tests it again, and that command, pasted, really
re-tests what the run reads: the run probes at its grid's first cq, `detect` at the probe's own."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from kit.infra.host import cache_tree
from kit.media.ffmpeg import resolve_ffmpeg
from kit.platforms.detect import hw_setup
from kit.platforms.encoders import get_spec
from kit.platforms.probe import ProbeCache, _failed, cache_path, entry_key
from kit.platforms.signals import gather_signals
from tests import pace
from tests.conftest import ROOT, run_kit


def test_the_printed_retest_command_clears_a_poisoned_cache_entry(ffmpeg: str, tiny_refs: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("KIT_CACHE_DIR", str(cache))
    info = resolve_ffmpeg(ffmpeg)
    sig = gather_signals(info)
    spec = get_spec("libx264")
    setup = hw_setup(spec, sig)
    # what an interrupted probe of an older kit left behind, at the run's first cq (19, not detect's 25)
    ProbeCache(cache_tree(), cache_path(info, sig, cache)).put(entry_key(spec, setup, 19),
                                                              _failed(spec, setup, "CPB properties: poisoned"))
    args = ["run", "--only", "prereqs", "--ref-dir", tiny_refs, "--out-dir", tmp_path / "out", "--ffmpeg", ffmpeg,
            "--encoders", "libx264", "--cqs", "19,30"]
    env = {"KIT_CACHE_DIR": str(cache)}
    refused = run_kit(*args, env=env)
    assert refused.returncode == 2 and "CPB properties: poisoned" in refused.stderr, refused.stderr
    found = re.search(r"test it again with `([^`]+)`", refused.stderr)
    assert found, refused.stderr
    again = pace.run(shlex.split(found.group(1)), cwd=ROOT, capture_output=True, text=True, timeout=300,
                     env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert again.returncode == 0, again.stderr
    rerun = run_kit(*args, env=env)
    assert rerun.returncode == 0, rerun.stderr  # the run's own (cq 19) entry was re-tested, not only detect's
