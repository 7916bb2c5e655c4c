"""Every command the kit prints runs as printed: read off a terminal 80 columns wide (and a wide one, and a redirect),
cut from its line, split as a shell splits it, run, and what it makes is then accepted by the kit (issue 54: the
terminal drew `-map 0:v:0` as `-map 0✌0`, and ffmpeg exited 234).

The clips are named as people name them, with brackets rich would take for markup (`[bold]`, `clip[1]`), `:v:`,
spaces and accents; each is left out for its own reason, and its fix is the command: the odd size's crop, the RealMedia
.rm's conversion (a container the kit does not take), the palette .avi's conversion (its lossless copy cannot be
checked), the raw .m4v's and an image sequence's conversions at a rate (the one word the reader fills in). `retry:`
and `resume with:` are followed as printed, on the terminal: the out-dir held by another run, then Ctrl-C typed
mid-step. tests/unit/test_printed_command_sites.py lists every place in the kit that prints a command and the test
that runs it.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import subprocess
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kit.infra.invocation import kit_cli
from kit.infra.tree import read_out_dir
from kit.media.cache import Sha256Cache
from kit.media.containers import RATE
from kit.media.discovery import probe_clip
from kit.rundir import RunDir
from kit.steps.runner import out_dir_lock
from kit.steps.settings import RunSettings
from tests import pace
from tests.conftest import KIT, ODD, ROOT, render, run_here, tiny_links
from tests.faults import ENV as FAULT_ENV
from tests.faults import faulty_ffmpeg
from tests.kitfiles import results_tarball, write_shard
from tests.pipeline.test_no_torch import NO_TORCH
from tests.printed import NARROW, WIDE, Screen, after, kit_words, on_terminal, redirected

# each clip the kit cannot use, named to be misread, and what its printed fix makes beside it
ODD_CLIP = "clip[1] [bold]odd :v: é.y4m"
REAL = "trailer [red]x:v:0 ü.rm"
PALETTE = "pal [i] :smile:.avi"
RAW = "raw [b]ñ.m4v"
SEQUENCE = "shot [1] %%é_%02d.png"  # the pattern the kit names ten numbered pictures by (a % of the name doubled)
ODD_YUV = "raw odd[2]_175x143_25fps.yuv"  # a headerless clip: its crop command carries the input options it needs
C411 = "dv [4] 4:1:1 ü.y4m"  # a y4m colour space the kit's y4m reader does not take, which an .mkv carries
MADE = {ODD_CLIP: "clip[1] [bold]odd :v: é_even.mkv", REAL: "trailer [red]x:v:0 ü.mkv",
        PALETTE: "pal [i] :smile:.mkv", RAW: "raw [b]ñ.mkv", SEQUENCE: "shot [1] %é.mkv",
        ODD_YUV: "raw odd[2]_175x143_25fps_even.mkv", C411: "dv [4] 4:1:1 ü.mkv"}
AT_A_RATE = (RAW, SEQUENCE)  # their commands hold RATE
SIZE = {ODD_CLIP: (174, 142), REAL: (176, 144), PALETTE: (64, 48), RAW: (64, 48), SEQUENCE: (64, 48),
        ODD_YUV: (174, 142), C411: (176, 144)}
CHEAP = ["--cqs", "25", "--scales", "native"]


def kit_env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != "KIT_FFMPEG"}, "PYTHONPATH": str(ROOT)}


def hostile_refs(ffmpeg: str, tiny_refs: Path, folder: Path) -> Path:
    """One good clip, and those the kit leaves out, each with a command to fix it."""
    folder.mkdir(parents=True)
    shutil.copy(tiny_refs / "alpha.y4m", folder / "good [1] ü.y4m")
    render(ffmpeg, ODD, folder / ODD_CLIP, pix_fmt="yuv444p")
    render(ffmpeg, "testsrc2=s=176x144:r=25", folder / REAL, fmt="rm", extra=("-c:v", "rv20", "-q:v", "2"))
    # 8-bit palette BMP frames in AVI (pal8): FFV1 keeps a palette's colours as RGB, so the kit's own copy cannot be
    # checked sample for sample against the file and the clip is left out
    # (each of at least MIN_FRAMES_PER_SOURCE frames: a shorter one's fix would leave it too short, so none is printed)
    render(ffmpeg, "testsrc2=s=64x48:r=25", folder / PALETTE, frames=8, pix_fmt="pal8", fmt="avi",
           extra=("-c:v", "bmp"))
    render(ffmpeg, "testsrc2=s=64x48:r=25", folder / RAW, frames=8, fmt="m4v", extra=("-c:v", "mpeg4"))
    render(ffmpeg, "testsrc2=s=64x48:r=25", folder / SEQUENCE, frames=10, fmt="image2", extra=("-start_number", "1"))
    odd_yuv(folder / ODD_YUV)
    render(ffmpeg, "testsrc2=s=176x144:r=25", folder / C411, frames=10, pix_fmt="yuv411p", extra=("-strict", "-1"))
    return folder


def odd_yuv(dest: Path, frames: int = 10) -> Path:
    """A raw 4:2:0 clip of odd size, as a camera or a tool of one's own may write it (chroma rounded up)."""
    luma, chroma = 175 * 143, 88 * 72
    dest.write_bytes(bytes((i * 7 + f) % 256 for f in range(frames) for i in range(luma + 2 * chroma)))
    return dest


def fixes(lines: list[str], refs: Path) -> dict[str, str]:
    """Each left-out clip's fix command, by the clip's name: the command ends the clip's `skipped` line."""
    found: dict[str, str] = {}
    for name in MADE:
        (line,) = [ln for ln in lines if f"skipped {refs / name}: " in ln]
        (found[name],) = command_lines_of(line)
    return found


def command_lines_of(line: str) -> list[str]:
    return [line[line.index(kit_cli()):]] if kit_cli() in line else []


def run_fixes(commands: dict[str, str], tmp_path: Path) -> None:
    """Each command as printed (the remux's RATE filled in, the one word it asks for), at once, from the folder it
    was printed in, with no ffmpeg on the PATH (the kit's own runs)."""
    bare = tmp_path / "bin-without-ffmpeg"
    bare.mkdir(exist_ok=True)
    env = {**kit_env(), "PATH": str(bare)}
    started = {}
    for name, command in commands.items():
        words = kit_words(command, kit_cli())
        assert words[0] == "ffmpeg" and (RATE in words) == (name in AT_A_RATE), command  # the kit's own ffmpeg
        started[name] = subprocess.Popen([*kit_argv(command), *[w.replace(RATE, "25") for w in words]], cwd=ROOT,
                                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for name, proc in started.items():
        _, err = pace.communicate(proc, 300)
        assert proc.returncode == 0, (name, commands[name], err[-2000:])


def kit_argv(command: str) -> list[str]:
    """The kit's own words at the head of a printed command, as a shell splits them."""
    assert command.startswith(kit_cli()), command
    return shlex.split(kit_cli())


def accepted(path: Path, ffmpeg: str) -> tuple[int, int, float]:
    clip = probe_clip(path, ffmpeg, Sha256Cache(None))
    return clip.width, clip.height, clip.fps_float


@pytest.mark.parametrize("columns", [NARROW, pytest.param(WIDE, marks=pytest.mark.wide)])
def test_each_fix_of_a_clip_left_out_runs_as_printed_and_the_clip_it_makes_is_accepted(
        columns: int, ffmpeg: str, tiny_refs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refs = hostile_refs(ffmpeg, tiny_refs, tmp_path / "refs [1]")
    shown = on_terminal([*KIT, "run", "--ref-dir", refs, "--out-dir", tmp_path / "out", *CHEAP], columns, ROOT,
                        kit_env())
    commands = fixes(shown.lines, refs)
    # redirected (a log file, CI), the same commands, letter for letter: the corpus step again (refused, as a run of
    # one content is), the CLI in this process, from the same folder
    monkeypatch.chdir(ROOT)
    logged = run_here("step", "corpus", "--ref-dir", refs, "--out-dir", tmp_path / "out", *CHEAP)
    assert fixes((logged.stdout + logged.stderr).splitlines(), refs) == commands, logged.stdout[-3000:]
    run_fixes(commands, tmp_path)
    for name, made in MADE.items():
        assert accepted(refs / made, ffmpeg) == (*SIZE[name], 25.0), (name, commands[name])


def slow_ffmpeg(ffmpeg: str, folder: Path) -> tuple[Path, Path]:
    """(an ffmpeg that takes 20 s to render the prereqs' test clip while `marker` exists, the marker): a step
    that is still running when Ctrl-C is typed."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "slow"
    marker.touch()
    wrapper = folder / "ffmpeg [w] é"
    wrapper.write_text("#!/bin/sh\n"
                       f"case \" $* \" in *testsrc2*) [ -e '{marker}' ] && sleep 20;; esac\n"
                       f"exec '{ffmpeg}' \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper, marker


def test_retry_and_resume_with_run_as_printed_on_a_terminal(ffmpeg: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A step run before the one it needs: its hint (`run it first: …`), run as printed on the terminal while
    another run holds the out-dir: `retry:`; that, run as printed once the out-dir is free, Ctrl-C typed mid-step:
    `resume with:`, run as printed (redirected), finishes the step."""
    out = tmp_path / "out [1] é"
    wrapper, marker = slow_ffmpeg(ffmpeg, tmp_path / "bin")
    env = kit_env()
    monkeypatch.chdir(ROOT)  # the refusal in this process, printed as from the folder the others run in
    early = run_here("step", "corpus", "--out-dir", out, "--ffmpeg", wrapper)
    assert early.returncode == 2 and "step 'prereqs' has not completed" in early.stderr, early.stderr
    first = after(Screen(2, early.stderr.splitlines()), "hint: run it first: ")
    words = kit_words(first, kit_cli())
    assert words[:4] == ["step", "prereqs", "--settings", str(RunDir(out).run_json)], first  # the run's settings
    with out_dir_lock(RunSettings(out_dir=out)):
        refused = on_terminal([*kit_argv(first), *words], NARROW, ROOT, env)
    assert refused.code == 2 and "is in use by another run" in refused.text, refused.text
    retry = after(refused, "retry: ")
    assert retry == first, retry  # the command as it was run
    stopped = on_terminal([*kit_argv(retry), *kit_words(retry, kit_cli())], NARROW, ROOT, env,
                          interrupt_when="[01 prereqs] runs:")
    assert stopped.code == 130, stopped.text
    resume = after(stopped, "resume with: ")
    assert resume == retry  # the same command again: finished work is kept, the rest done
    marker.unlink()
    done = redirected([*kit_argv(resume), *kit_words(resume, kit_cli())], ROOT, env)
    assert done.code == 0 and RunDir(out).prereqs_json.is_file(), done.text[-3000:]
    assert json.loads(RunDir(out).prereqs_json.read_text())["ffmpeg"]["path"] == str(wrapper)  # the run's settings


def under(screen: Screen, label: str) -> str:
    """The command the closing summary prints under the line `label:` (kit.report.summary.print_paths)."""
    (at,) = [i for i, line in enumerate(screen.lines) if line.startswith(label)]
    assert screen.lines[at + 1].startswith("  "), screen.lines[at:at + 2]
    return screen.lines[at + 1].removeprefix("  ")


def test_the_summary_s_retry_of_clips_left_out_for_the_moment_runs_as_printed(
        ffmpeg: str, tiny_refs: Path, tmp_path: Path) -> None:
    """A clip whose encode is killed from outside (issue 91: the moment's, not the clip's) is left out of that run;
    the closing summary's `retry` row says so in words (no command in a table cell, where the terminal folds it) and
    the command that tries it again stands under the table, whole on its line, 80 columns wide: run as printed (its
    words, in the same Python, which cannot train: a corpus-only box), it uses the clip."""
    out = tmp_path / "out [1] é" / ("a long folder name that no table cell of 80 columns holds on one line " * 2)
    refs = tiny_links(tiny_refs, tmp_path / "refs")
    wrapper = faulty_ffmpeg(tmp_path, ffmpeg)
    env = {**kit_env(), **dict(zip(FAULT_ENV, ("alpha.y4m", "encode", "kill"), strict=True))}
    shown = on_terminal([*NO_TORCH, "run", "--ref-dir", refs, "--out-dir", out, "--ffmpeg", wrapper, *CHEAP],
                        NARROW, ROOT, env)
    assert shown.code == 0 and "alpha.y4m" in json.loads(RunDir(out).skipped_clips.read_text())["skipped"][0][
        "path"], shown.text[-3000:]
    title = shown.lines.index("ensemble-kit summary")
    table = "\n".join(line for line in shown.lines[title:] if line.startswith("│"))
    assert "left out for this run only" in table and "--ref-dir" not in table, table  # words only in the cells
    retry = under(shown, "the same command tries alpha.y4m again, the rest reused:")
    again = redirected([*NO_TORCH, *kit_words(retry, kit_cli())], ROOT, kit_env())
    assert again.code == 0, again.text[-3000:]
    manifest = json.loads(RunDir(out).shard_manifest.read_text())
    assert "alpha.y4m" in {Path(s["file"]).name for s in manifest["sources"]}, manifest["sources"]
    assert not RunDir(out).skipped_clips.exists() and "tries" not in again.text, again.text[-3000:]


def tampered(dest: Path) -> Path:
    """A results tarball whose shard was edited after its manifest was written: it fails verification."""
    good = results_tarball(dest.with_name("good.tar.gz"))
    with tarfile.open(good) as src, tarfile.open(dest, "w:gz") as out:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if data is not None and member.name.endswith("shard.parquet"):
                data = data[:-9] + bytes([data[-9] ^ 1]) + data[-8:]
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    return dest


def between(text: str, start: str, end: str) -> str:
    """The command a hint holds between `start` and `end` (a note's parenthesis, a sentence's comma)."""
    return text.split(start, 1)[1].split(end, 1)[0]


def run_printed(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A printed kit command as a person runs it, in the folder it was printed in."""
    return pace.run(shlex.split(command), cwd=cwd, env=kit_env(), capture_output=True, text=True, timeout=300)


@pytest.mark.wide  # a command each, about 2 s apiece: the fast tier runs those of a clip left out, retry and resume
def test_more_hints_run_as_printed(tiny_refs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other hints a person meets early, each provoked (the CLI in this process, from a folder of theirs) and
    its command run as printed there: a tarball that fails verification (verify's details), an encoder that does
    not work here (`detect`), a settings file and a flag refused (`run --help`), a corpus step asked for other
    encoders than its prereqs (rerun the prereqs with them), --content-groups beside --corpus (the merge that
    regroups)."""
    home = tmp_path / "home [1]"
    home.mkdir()
    monkeypatch.chdir(home)
    # a tarball damaged in transit: verify says which file differs
    bad = tampered(home / "results-boxa [1].tar.gz")
    res = run_here("merge", bad, "-o", home / "m.parquet")
    assert res.returncode == 2 and "fails verification" in res.stderr, res.stderr
    verify = run_printed(between(res.stderr, "(details: ", ")\n"), home)
    assert verify.returncode == 2 and "shard.parquet" in verify.stdout + verify.stderr, verify
    # an encoder this box cannot run: detect shows those that work
    res = run_here("step", "prereqs", "--out-dir", home / "nv", "--encoders", "h264_nvenc")
    assert res.returncode == 2 and "h264_nvenc does not work on this box" in res.stderr, res.stderr
    detect = run_printed(between(res.stderr, "`", "` shows every encoder"), home)
    assert detect.returncode == 0 and "--encoders auto on this box: libx264" in detect.stdout, detect.stderr
    # a settings file and a flag the command line refuses: its --help lists the flags
    (home / "bad.json").write_text(json.dumps({"no_such_setting": 1}))
    res = run_here("run", "--settings", home / "bad.json", "--out-dir", home / "s")
    helped = between(res.stderr, "flags you mean instead (", " lists them)")
    usage = run_here("run", "--no-such-flag")
    assert res.returncode == usage.returncode == 2 and between(usage.stderr, "see `", "`") == helped, usage.stderr
    assert "Usage:" in run_printed(helped, home).stdout
    # the corpus step asked for other encoders than its prereqs ran for: rerun them with these
    out = home / "out"
    assert run_here("step", "prereqs", "--out-dir", out, *CHEAP).returncode == 0
    res = run_here("step", "corpus", "--out-dir", out, "--ref-dir", tiny_refs, "--encoders", "libx264", *CHEAP)
    assert res.returncode == 2 and "rerun it with these encoders: " in res.stderr, res.stderr
    again = run_printed(between(res.stderr, "rerun it with these encoders: ", "\n"), home)
    assert again.returncode == 0, again.stderr
    assert json.loads(RunDir(out).prereqs_json.read_text())["requested_encoders"] == ["libx264"]
    # --content-groups beside --corpus: the merge that regroups the corpus, then --corpus
    corpus = write_shard(home / "corpus [1].parquet")
    groups = home / "groups.json"
    groups.write_text(json.dumps({"same": [["s0-boxa", "s1-boxa"]]}))
    res = run_here("run", "--corpus", corpus, "--content-groups", groups, "--out-dir", home / "u")
    assert res.returncode == 2 and "--content-groups has no effect with --corpus" in res.stderr, res.stderr
    merge = run_printed(between(res.stderr, "hint: ", ", then --corpus regrouped.parquet"), home)
    assert merge.returncode == 0, merge.stderr
    rows = pq.read_table(home / "regrouped.parquet", columns=["src", "content"]).to_pylist()
    assert len({r["content"] for r in rows if r["src"] in ("s0-boxa", "s1-boxa")}) == 1  # one content now


@pytest.mark.wide  # two test encodes a fresh cache pays for, about 3 s
def test_the_opt_in_encoders_left_out_are_tested_and_added_as_printed(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Under --encoders auto the summary names the opt-in encoders left out: untested, the command that tests them,
    run as printed; then, working (the prereqs again), the --encoders value that adds them, which makes a corpus's
    prereqs with them."""
    from kit.report.summary import left_out_lines

    cache = {"KIT_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    monkeypatch.chdir(ROOT)
    assert run_here("step", "prereqs", "--out-dir", out, env=cache).returncode == 0
    with read_out_dir(out) as tree:
        ((_, detect),) = left_out_lines(tree, out)
    tested = pace.run(shlex.split(detect), cwd=ROOT, env={**kit_env(), **cache}, capture_output=True,
                      text=True, timeout=300)
    assert tested.returncode == 0 and tested.stdout.count("opt-in  yes") == 2, tested.stdout + tested.stderr
    assert run_here("step", "prereqs", "--out-dir", out, "--force", env=cache).returncode == 0
    with read_out_dir(out) as tree:
        ((said, flag),) = left_out_lines(tree, out)
    assert "work here (detect tested them)" in said and flag == "--encoders libx264,libx265,libsvtav1"
    added = tmp_path / "added"
    assert run_here("step", "prereqs", "--out-dir", added, *shlex.split(flag), env=cache).returncode == 0
    assert json.loads(RunDir(added).prereqs_json.read_text())["resolved_encoders"] == ["libx264", "libx265",
                                                                                       "libsvtav1"]
