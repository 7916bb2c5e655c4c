"""One clip the kit cannot use, among good ones, is left out with its reason and fix, recorded and said, unless
--strict; `ensemble-kit ffmpeg`, the kit's own ffmpeg the fixes run, is ffmpeg as if run by hand. Each fix runs as
printed, and what it makes is then accepted: tests/real/test_commands_as_printed.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from kit.errors import InputError
from kit.media.cache import Sha256Cache
from kit.media.discovery import Unusable, discover
from tests import pace
from tests.conftest import FAST, KIT, LENIENT, ODD, ROOT, render, run_here, run_kit


def with_an_odd_clip(ffmpeg: str, tiny_refs: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the tiny set and one clip of odd size among them: (the folder, the odd clip)."""
    refs = tmp_path / "refs"
    shutil.copytree(tiny_refs, refs)
    return refs, render(ffmpeg, ODD, refs / "odd.y4m", pix_fmt="yuv444p")


def test_one_unusable_clip_among_good_ones_is_left_out_with_its_fix_unless_strict(
        ffmpeg: str, tiny_refs: Path, tmp_path: Path) -> None:
    refs, odd = with_an_odd_clip(ffmpeg, tiny_refs, tmp_path)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    from kit.infra.tree import Tree

    with Tree.open(cache_dir) as tree:
        cache = Sha256Cache(tree, cache_dir / "sha256.json")
        said: list[str] = []
        left_out: list[Unusable] = []
        clips = discover(refs, ffmpeg, cache, note=said.append, unusable=left_out)
        assert sorted(c.src for c in clips) == sorted(p.stem for p in tiny_refs.glob("*.y4m"))
        assert [u.path for u in left_out] == [str(odd)] and "odd width" in left_out[0].reason
        assert "kit ffmpeg" in left_out[0].fix and any(line.startswith(f"skipped {odd}: ") for line in said)
        with pytest.raises(InputError, match="odd"):  # --strict: refused, as before
            discover(refs, ffmpeg, cache)


@pytest.mark.slow  # a whole run on the tiny set
def test_a_run_leaves_the_unusable_clip_out_records_it_and_says_it_and_strict_refuses(
        named_run: tuple[Path, Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    # the session's run on the tiny clips and one of odd size (their names forge output: test_forged_names.py)
    refs, out, res = named_run
    odd = refs / "odd.y4m"
    assert res.returncode in (0, 1), res.stderr[-3000:]
    record = json.loads((out / "02_corpus" / "skipped.json").read_text())
    assert [u["path"] for u in record["skipped"]] == [str(odd)] and "kit ffmpeg" in record["skipped"][0]["fix"]
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    with tarfile.open(tarball) as tar:  # sent with the results: the lead sees what the box left out
        assert any(m.name.endswith("/02_corpus/skipped.json") for m in tar.getmembers())
    said = res.stdout + res.stderr
    assert f"skipped {odd}: " in said and "SKIPPED clips" in said and "odd.y4m (175x143 has an odd width" in said
    # a refusal: the CLI in this process (conftest.run_here)
    strict = run_here("run", "--ref-dir", refs, "--out-dir", tmp_path / "strict", *FAST, *LENIENT, "--strict")
    assert strict.returncode == 2 and f"error: {odd}: 175x143 has an odd width" in strict.stderr, strict.stderr
    assert "retry:" not in strict.stderr  # the same command fails the same way until the clip is cropped


def test_a_shard_of_several_leaves_an_unusable_clip_out_as_the_box_does(ffmpeg: str, tiny_refs: Path,
                                                                         tmp_path: Path) -> None:
    """Every box of a set reads every clip and leaves out the same ones, so a shard leaves out what the box leaves out,
    with the same line and fix (kit 2.1 refused it, saying only the clip's problem), and says how many the set leaves
    out; one shard names each in its skipped.json (tests/real/test_shard.py: the union is the box's)."""
    refs, odd = with_an_odd_clip(ffmpeg, tiny_refs, tmp_path)
    out = tmp_path / "out"
    assert run_kit("step", "prereqs", "--out-dir", out, *FAST).returncode == 0
    res = run_here("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--shard", "1/2", *FAST)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert f"skipped {odd}: 175x143 has an odd width and height" in res.stdout and "fix: crop it" in res.stdout
    assert "the set leaves out 1 more clip(s) (its reason above)" in res.stdout


def test_the_kits_ffmpeg_writes_stdout_to_stdout_and_its_messages_to_stderr(tmp_path: Path) -> None:
    """`ensemble-kit ffmpeg` is ffmpeg as if run by hand: raw frames to `-` can be piped on, -version read from
    stdout, the messages on stderr, the exit code its own."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [*KIT, "ffmpeg", "-f", "lavfi", "-i", "testsrc=s=16x16:r=25:d=0.12", "-f", "rawvideo",
           "-pix_fmt", "gray", "-"]
    res = pace.run(cmd, cwd=ROOT, capture_output=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert len(res.stdout) == 3 * 16 * 16  # three 16x16 grey frames, nothing else
    assert b"Output #0, rawvideo" in res.stderr  # ffmpeg's own messages stay on stderr
    version = pace.run([*KIT, "ffmpeg", "-version"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env=env)
    assert version.returncode == 0 and version.stdout.startswith("ffmpeg version"), version
    bad = pace.run([*KIT, "ffmpeg", "-i", str(tmp_path / "none.y4m"), "-f", "null", "-"], cwd=ROOT,
                   capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode != 0 and "none.y4m" in bad.stderr and not bad.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_through_the_kits_ffmpeg_reaches_ffmpeg_which_finishes_its_file(tmp_path: Path,
                                                                                     sig: signal.Signals) -> None:
    """Ctrl-C (the terminal's SIGINT to the kit's group) or a kill through `ensemble-kit ffmpeg` ends as ffmpeg by
    hand ends: ffmpeg finishes the file it writes (an .mp4 with its index, which a plain decode reads whole) and
    exits 255, and the kit adds no word of resuming (1.0.5 killed ffmpeg: a 48-byte file, and `resume with:`)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "endless.mp4"
    proc = subprocess.Popen([*KIT, "ffmpeg", "-re", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25", "-c:v", "libx264",
                             "-preset", "ultrafast", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, text=True)
    pace.until(out.exists, 60)  # ffmpeg has started and opened its output (the box's own time: tests/pace.py)
    time.sleep(1.0)  # frames encoded past the header
    os.killpg(proc.pid, sig) if sig == signal.SIGINT else proc.send_signal(sig)  # Ctrl-C: the whole group
    _, err = pace.communicate(proc, 60)
    assert proc.returncode == 255, err[-2000:]
    assert "resume with" not in err and "interrupted" not in err and "finished work is kept" not in err, err[-2000:]
    ffmpeg = pace.run([*KIT, "ffmpeg", "-v", "error", "-i", str(out), "-f", "null", "-"], cwd=ROOT, env=env,
                      capture_output=True, text=True, timeout=60)
    assert ffmpeg.returncode == 0 and not ffmpeg.stderr, ffmpeg.stderr[-2000:]  # the index is there, the file whole
