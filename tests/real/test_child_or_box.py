"""A child alone is not the box (issue 98, item 1): every stage a clip's child goes through, stopped four ways while it
runs, each stop longer than the child's limit (KIT_TIMEOUT_S, which caps every child in the kit's time):

* the child's process group alone (SIGSTOP by a process of its own): the kit runs on, so the child is ended at its
  limit and the clip left out of this run, said as `stopped by a signal from outside`, with `retry:`'s promise (the
  step's summary asks for it again); the next run uses it. (2.4 counted nothing while a child was stopped: the run
  waited for ever, `KIT_TIMEOUT_S=20` notwithstanding.) The child alone (SIGSTOP to its pid) is
  tests/real/test_transient_faults.py's `stop` column, stage by stage;
* the kit's process group (a shell's Ctrl-Z of the kit, its children in sessions of their own running on), and the
  whole box (a cgroup freezer holding the kit and everything it started, where this box lets the test make one, else
  SIGSTOP to the kit and every process below it): the kit's own clock jumps, nothing of the stop is counted, and the
  same run uses every clip, saying nothing of a stop.

The stages are FAULT_PLAN's cells, one clip each, in one run per kind (tests/faults.py's wrapper of the real ffmpeg);
with -s the table is printed as `cell STAGE x KIND: ...`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from kit.rundir import RunDir
from tests import pace
from tests.conftest import KIT, ROOT, copy_prereqs, render, run_here
from tests.faults import FREEZER_ENV, PLAN, STOP_S_ENV, STOPPED_ENV, faulty_ffmpeg
from tests.kitfiles import TINY_MODEL

CAP_S, STOP_S = 4.0, 7.0  # every child's limit here (KIT_TIMEOUT_S), and each stop: longer
GRID = ["--encoders", "libx264", "--cqs", "25,37", "--scales", "native", "--consumer-window", "0.2",
        "--consumer-samplings", "encoded"]
# each stage: (the wrapper's stage, its clip, the clip's pictures); a clip of its own each, of other content
STAGES = {"open": ("open", "o.ts", "testsrc=s=176x144:r=25"),
          "pictures": ("look", "p.y4m", "mandelbrot=s=176x144:r=25"),
          "strict": ("look", "s.mp4", "life=s=176x144:r=25:mold=10:ratio=0.1:seed=4"),
          "copy": ("copy", "c.ts", "gradients=s=176x144:r=25:speed=0.05:n=3:seed=2"),
          "copycheck": ("copycheck", "k.ts", "cellauto=s=176x144:r=25:rule=110:seed=3"),
          "encode": ("encode", "e.y4m", "testsrc2=s=176x144:r=25"),
          "score": ("score", "r.y4m", "sierpinski=s=176x144:r=25:seed=5"),
          "check": ("check", "h.y4m", "zoneplate=s=176x144:r=25:kt2=4:ky=2"),
          "sample": ("sample", "m.y4m", "perlin=s=176x144:r=25:octaves=3:tscale=4:random_mode=seed:random_seed=7")}
GOOD = ("g.y4m", "color=c=0x806040:s=176x144:r=25,noise=alls=60:allf=t")  # never stopped: the run always has a clip
CHILD_KINDS, KIT_KINDS = ("stopgroup",), ("stopkit", "freeze")
STOPPED = re.compile(r"was stopped by a signal from outside for \d+(\.\d+)? s, its limit, while the kit ran")
SAID_OF_A_STOP = re.compile(r"stopped by a signal|timed out|no frames for|ran past|SKIPPED")


class Box(NamedTuple):
    refs: Path
    wrapper: Path
    prereqs: Path


@pytest.fixture(scope="module")
def box(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Box:
    root = tmp_path_factory.mktemp("child-or-box")
    refs = root / "refs"
    refs.mkdir()
    for name, lavfi in [*((clip, lavfi) for _, clip, lavfi in STAGES.values()), GOOD]:
        y4m = refs / name if name.endswith(".y4m") else root / f"{name}.y4m"
        render(ffmpeg, lavfi, y4m)
        if y4m.parent != refs:  # a master: lossless x264 in its container
            subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(y4m), "-c:v", "libx264", "-qp",
                            "0", "-f", "mpegts" if name.endswith(".ts") else "mp4", str(refs / name)], check=True)
    wrapper = faulty_ffmpeg(root, ffmpeg)
    res = run_here("step", "prereqs", "--out-dir", root / "prereqs", "--ffmpeg", wrapper, "--encoders", "libx264")
    assert res.returncode == 0, res.stdout + res.stderr
    return Box(refs, wrapper, root / "prereqs")


def cgroup_roots() -> Iterator[tuple[Path, str]]:
    """This process's cgroup in each hierarchy that can freeze: (its folder, "v2" or "v1")."""
    mounts = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        kind = fields[fields.index("-") + 1]
        if kind == "cgroup2":
            mounts["v2"] = Path(fields[4])
        elif kind == "cgroup" and "freezer" in fields[-1].split(","):
            mounts["v1"] = Path(fields[4])
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        which = "v2" if number == "0" and not controllers else "v1" if "freezer" in controllers.split(",") else ""
        if which in mounts:
            yield mounts[which] / path.lstrip("/"), which


@contextlib.contextmanager
def freezer_cgroup(name: str) -> Iterator[Path | None]:
    """A cgroup of this test's own that can be frozen (v2's cgroup.freeze, v1's freezer), or None where this box does
    not let the test make one (not root, no freezer): then the whole box is SIGSTOP to every process of the run."""
    made = None
    for parent, which in sorted(cgroup_roots(), key=lambda r: r[1], reverse=True):  # v2 first
        with contextlib.suppress(OSError):
            folder = parent / name
            folder.mkdir()
            if (folder / ("cgroup.freeze" if which == "v2" else "freezer.state")).exists():
                made = folder
                break
            folder.rmdir()
    try:
        yield made
    finally:
        if made is not None:
            for _ in range(100):  # the kit's reaper ends just after the kit
                with contextlib.suppress(OSError):
                    made.rmdir()
                    break
                time.sleep(0.1)


def corpus(box: Box, out: Path, plan: dict[str, list[str]], cgroup: Path | None) -> subprocess.CompletedProcess[str]:
    """The corpus step as a process of its own, in a session of its own (so that a stop of its group is of it
    alone), in `cgroup` where given; KIT_TIMEOUT_S caps every child."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIT_CACHE_DIR": str(out.parent / f"{out.name}-cache"),
           "KIT_TIMEOUT_S": str(CAP_S), PLAN: json.dumps(plan), STOP_S_ENV: str(STOP_S),
           STOPPED_ENV: str(out.parent / f"{out.name}-stops.txt"),
           **({FREEZER_ENV: str(cgroup)} if cgroup is not None else {})}
    proc = subprocess.Popen([*KIT, "step", "corpus", "--ref-dir", str(box.refs), "--out-dir", str(out), "--ffmpeg",
                             str(box.wrapper), *GRID], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    if cgroup is not None:  # before it starts a child (its imports take a second)
        (cgroup / "cgroup.procs").write_text(str(proc.pid))
    try:
        stdout, stderr = pace.communicate(proc, 1800)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def stops(out: Path) -> set[tuple[str, str]]:
    """The (clip, kind) of each stop the wrapper made in runs into `out`."""
    made = out.parent / f"{out.name}-stops.txt"
    return {(line.split()[0], line.split()[2]) for line in made.read_text().splitlines()} if made.exists() else set()


def used(out: Path) -> set[str]:
    manifest = json.loads(RunDir(out).shard_manifest.read_text())
    return {Path(s["file"]).name for s in manifest["sources"]}


@pytest.mark.slow
def test_a_child_s_group_stopped_alone_is_ended_and_said_so_at_every_stage(box: Box, tmp_path: Path) -> None:
    out = copy_prereqs(box.prereqs, tmp_path / "out")
    plan = {clip: [stage, "stopgroup"] for stage, clip, _ in STAGES.values()}
    first = corpus(box, out, plan, None)
    said = first.stdout + first.stderr
    assert first.returncode == 0, said[-4000:]
    assert stops(out) == {(clip, "stopgroup") for _, clip, _ in STAGES.values()}
    left = {Path(s["path"]).name: s for s in json.loads(RunDir(out).skipped_clips.read_text())["skipped"]}
    for name, (_, clip, _) in STAGES.items():
        print(f"cell {name} x stopgroup: {left.get(clip, {}).get('reason', 'used')}")
    assert set(left) == {clip for _, clip, _ in STAGES.values()}, sorted(left)
    for entry in left.values():
        assert STOPPED.search(entry["reason"]) and entry.get("again") is True, entry
        assert "the same command" in entry["fix"] and "lossless copy" not in entry["fix"], entry
    summary = json.loads(RunDir(out).status("corpus").read_text())["summary"]
    assert sorted(summary["retry"]) == sorted(left), summary
    again = corpus(box, out, {}, None)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert used(out) == {*left, GOOD[0]}


@pytest.mark.slow
@pytest.mark.parametrize("kind", KIT_KINDS)
def test_the_kit_stopped_with_or_without_its_children_counts_nothing(box: Box, tmp_path: Path, kind: str) -> None:
    out = copy_prereqs(box.prereqs, tmp_path / "out")
    plan = {clip: [stage, kind] for stage, clip, _ in STAGES.values()}
    with freezer_cgroup(f"kit-test-{os.getpid()}-{tmp_path.name}") if kind == "freeze" else \
            contextlib.nullcontext() as cgroup:
        how = f"a cgroup freezer ({cgroup})" if cgroup is not None else \
            "SIGSTOP to the kit and every process below it" if kind == "freeze" else "SIGSTOP to the kit's group"
        start = time.monotonic()
        first = corpus(box, out, plan, cgroup)
    said = first.stdout + first.stderr
    print(f"{kind}: {len(STAGES)} stops of {STOP_S:.0f} s by {how}; the run ended {first.returncode} after "
          f"{time.monotonic() - start:.0f} s")
    for name in STAGES:
        print(f"cell {name} x {kind}: {'used' if STAGES[name][1] in used(out) else 'left out'}")
    assert first.returncode == 0, said[-4000:]
    assert stops(out) == {(clip, kind) for _, clip, _ in STAGES.values()}
    assert used(out) == {*(clip for _, clip, _ in STAGES.values()), GOOD[0]}
    assert not RunDir(out).skipped_clips.exists() and not SAID_OF_A_STOP.search(said), said[-4000:]


CAPPED = re.compile(r"ran past KIT_TIMEOUT_S \(2 s\), which caps every command")


@pytest.mark.slow
def test_every_child_the_cap_stops_names_it(box: Box, tmp_path: Path) -> None:
    """Issue 98, item 3: a child that runs past KIT_TIMEOUT_S (here each stage's hangs) is said as stopped by the cap,
    with the cap's fix, at every stage a clip goes through (2.4: `timed out after 0 s` and a hint about corrupt input
    wherever a look or a job did not rewrite it); the encoder's test encode and the teacher check (the prereqs
    step's) stop the run, naming it too. (A cap below what any command can do is refused at start:
    tests/unit/test_variables.py.)"""
    out = copy_prereqs(box.prereqs, tmp_path / "out")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIT_CACHE_DIR": str(tmp_path / "cache"), "KIT_TIMEOUT_S": "2",
           PLAN: json.dumps({clip: [stage, "hang"] for stage, clip, _ in STAGES.values()})}
    res = pace.run([*KIT, "step", "corpus", "--ref-dir", str(box.refs), "--out-dir", str(out), "--ffmpeg",
                          str(box.wrapper), *GRID], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    left = {Path(s["path"]).name: s for s in json.loads(RunDir(out).skipped_clips.read_text())["skipped"]}
    for name, (_, clip, _) in STAGES.items():
        print(f"cell {name} x cap: {left.get(clip, {}).get('reason', 'used')}")
    assert set(left) == {clip for _, clip, _ in STAGES.values()}, sorted(left)
    for entry in left.values():
        assert CAPPED.search(entry["reason"]) and entry["fix"].startswith("raise or unset KIT_TIMEOUT_S"), entry
    model = tmp_path / "model.json"  # a teacher given: checked by the prereqs step
    model.write_text(json.dumps(TINY_MODEL))
    for what, stage, teacher in (("libx264", "probe", []), ("*", "teacher", ["--teacher", str(model)])):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "KIT_CACHE_DIR": str(tmp_path / f"cache-{stage}"),
               "KIT_TIMEOUT_S": "2", "FAULT_CLIP": what, "FAULT_STAGE": stage, "FAULT_KIND": "hang"}
        res = pace.run([*KIT, "step", "prereqs", "--out-dir", str(tmp_path / stage), "--ffmpeg",
                              str(box.wrapper), "--encoders", "libx264", *teacher], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=1800)
        print(f"cell {stage} x cap: exit {res.returncode}: "
              + " | ".join(ln for ln in res.stderr.splitlines() if ln.startswith(("error:", "hint:"))))
        assert res.returncode == 2 and CAPPED.search(res.stderr), (res.stdout + res.stderr)[-4000:]
        assert "hint: raise or unset KIT_TIMEOUT_S" in res.stderr, res.stderr[-3000:]
