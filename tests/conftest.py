"""Shared fixtures: the real ffmpeg (imageio-ffmpeg's, with libvmaf) and tiny clips."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pytest
from filelock import FileLock

from kit.infra.tree import Tree
from kit.media.ffmpeg import imageio_binary
from kit.media.fingerprint import GRID, THUMB
from kit.media.libvmaf import FEATURES
from tests import compile_before_the_workers, pace

ROOT = Path(__file__).resolve().parent.parent
# the kit as the tests start it. A suite started under nohup passes on an ignored SIGHUP, which the kit rightly keeps
# ignoring (kit/infra/interrupts.py): its children then get a terminal's default back first (a Python that resets
# it and becomes the kit, its pid unchanged), so that the tests that hang one up test what they mean to
_HANGUP = getattr(signal, "SIGHUP", None)
_DEFAULT_HANGUP = ("import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_DFL); "
                   "os.execv(sys.executable, [sys.executable, '-m', 'kit', *sys.argv[1:]])")
KIT = ([sys.executable, "-c", _DEFAULT_HANGUP] if _HANGUP and signal.getsignal(_HANGUP) == signal.SIG_IGN
       else [sys.executable, "-m", "kit"])
TINY = "176x144"
TINY_FRAMES = 8
# Every random source has its seed and colours fixed: the same ffmpeg build renders the same bytes in
# every session (tests/real/test_fixtures.py checks it), so a test's outcome never depends on the draw.
TINY_SOURCES = {
    "alpha": "testsrc2=s=176x144:r=25",
    "beta": "mandelbrot=s=176x144:r=25",
    "gamma": "life=s=176x144:r=25:mold=10:ratio=0.1:seed=4:death_color=#C83232:life_color=#00ff00",
    "delta": "gradients=s=176x144:r=25:speed=0.05:n=3:seed=2:c0=0x1f77b4:c1=0xff7f0e:c2=0x2ca02c",
}
# a quick training recipe and a gate every run passes, for tests that need the PROMOTE path (the tiny set is 4
# content groups, below the default evidence floor; 3 epochs can leave the ensemble behind ridge)
FAST = ["--epochs", "3", "--batch-size", "64", "--seeds", "0,1", "--cqs", "25,37", "--scales", "native"]
LENIENT = ["--min-mean-plcc", "-1", "--max-plcc-spread", "2", "--min-seed-plcc", "-1", "--max-abs-bias", "off",
           "--min-content-groups", "3", "--min-rmse-lift", "off", "--min-consumer-share", "off",
           "--min-consumer-content-share", "off", "--max-consumer-ceiling-gap", "off"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--release", action="store_true",
                     help="draw deeper: 25 examples per property test (noxfile.py's release session)")


# the files of a single test of about a minute (a real Slurm, the kill harness, a Ray cluster, the realfiles tier's
# run): dealt out first, in this order, so that none of them is the last test running while the other worker has
# nothing left to do. The untarred kit's run (ladder_run) comes second, so that the other worker makes it while the
# first makes x264_run, which the Slurm test and the kill harness both wait for; the realfiles tier's run third, to
# whichever worker is free first. Then the files of about two minutes or more, the longest first: the last file a
# worker takes is then a short one (dealt in collection order, the 280 s of test_transient_faults.py was the last
# file running, 130 s after the other workers had ended: bench/README.md, "The suite as CI runs it").
LONGEST = ("pipeline/test_slurm.py", "real/test_kit_tarball.py", "realfiles/test_realfiles.py", "pipeline/test_kill.py",
           "pipeline/test_ray.py", "real/test_transient_faults.py", "real/test_suspended_run.py",
           "real/test_pixel_formats.py", "real/test_platforms.py", "real/test_faults.py",
           "pipeline/test_private_box.py", "pipeline/test_damaged_state.py", "real/test_teacher_truth.py",
           "pipeline/test_verdict_meaning.py")


CPU_AT = pytest.StashKey[float]()
WALL_AT = pytest.StashKey[float]()
# TESTS_TIMELINE=file: each test's worker, start, end and CPU written there as JSON lines (bench/README.md reads a
# run's timeline to see where the workers waited)
TIMELINE = os.environ.get("TESTS_TIMELINE")
DEEP = False  # --release: the property tests draw deeper (read by a test module as it is collected)


def pytest_configure(config: pytest.Config) -> None:
    """pytest-xdist deals the files out most tests first; ours are dealt longest first (below), so its own
    reordering is off (the same as `--no-loadscope-reorder`). Hypothesis draws as many examples as the tier asks.
    In a fresh clone the heavy packages are compiled before the workers start."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    from hypothesis import settings  # the property tests: 10 examples each, 25 with --release

    settings.register_profile("ci", max_examples=10, deadline=None)
    settings.register_profile("release", max_examples=25, deadline=None)
    global DEEP
    DEEP = bool(config.getoption("--release"))
    settings.load_profile("release" if DEEP else "ci")
    if not hasattr(config, "workerinput") and (getattr(config.option, "numprocesses", None) or 0) > 1:
        compile_before_the_workers()  # tests/__init__.py


CPU_SHOWN = 25  # the tests the summary names by CPU, as --durations=25 names them by wall


def cpu_s() -> float:
    """User + system time of this process and of every child it has waited for (the kit, its ffmpegs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    item.stash[CPU_AT] = cpu_s()
    item.stash[WALL_AT] = time.time()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Each test's CPU, its fixtures' set-up and teardown included, on its teardown's report (which xdist sends to the
    controller): on a shared box wall time says how busy the box was, CPU what the test costs."""
    outcome = yield
    if call.when == "teardown" and CPU_AT in item.stash:
        outcome.get_result().user_properties.append(("cpu_s", cpu_s() - item.stash[CPU_AT]))
        if TIMELINE:
            outcome.get_result().user_properties.append(("span", (item.stash[WALL_AT], time.time(),
                                                                  os.environ.get("PYTEST_XDIST_WORKER", ""))))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The wall and CPU time of the whole runs that report theirs (the realfiles tier, tests/realfiles/), each once,
    whatever worker ran it; then the tests that took the most CPU, and the whole suite's."""
    reports = [r for reports in terminalreporter.stats.values() for r in reports if isinstance(r, pytest.TestReport)]
    lines = dict.fromkeys(value for report in reports for name, value in report.user_properties if name == "timing")
    if lines:
        terminalreporter.section("run times")
        for line in lines:
            terminalreporter.write_line(str(line))
    spent = sorted(((value, report.nodeid) for report in reports for name, value in report.user_properties
                    if name == "cpu_s"), reverse=True)
    if spent:
        terminalreporter.section(f"most CPU {CPU_SHOWN} (user + system, the test's children and fixtures included)")
        for seconds, nodeid in spent[:CPU_SHOWN]:
            terminalreporter.write_line(f"{seconds:8.1f}s  {nodeid}")
        terminalreporter.write_line(f"{sum(s for s, _ in spent):8.1f}s  in all, over {len(spent)} tests")
    skipped = [r for r in terminalreporter.stats.get("skipped", ()) if isinstance(r, pytest.TestReport)]
    if skipped:  # loudly, whatever -r says: a skip means something is missing here, and names it
        terminalreporter.section(f"skipped: {len(skipped)}, each with why", yellow=True)
        for report in skipped:
            why = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            terminalreporter.write_line(f"{report.nodeid}: {why.removeprefix('Skipped: ')}")
    if TIMELINE:
        with open(TIMELINE, "w") as out:
            for report in reports:
                props = dict(report.user_properties)
                if "span" in props:
                    start, end, worker = props["span"]
                    out.write(json.dumps({"test": report.nodeid, "worker": worker, "start": start, "end": end,
                                          "cpu_s": props.get("cpu_s")}) + "\n")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first, then the whole runs' (`slow`), then tests/real's (real ffmpeg), then the unit tests,
    many and short: the workers of `--dist loadfile` take the files in this order, and end together. Every test
    runs: a tier is chosen by deselecting (`-m`, noxfile.py's fast session), never by a skip, so that a skip says
    something is missing here."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    def rank(item: pytest.Item) -> tuple[int, bool, bool]:
        name = "/".join(item.path.parts[-2:])
        first = LONGEST.index(name) if name in LONGEST else len(LONGEST)
        return first, item.path not in slow, item.path.parts[-2] == "unit"

    items.sort(key=rank)  # a stable sort: each file's tests keep their order


# the kit's trust rules (kit.infra.perms) refuse files others may write: the tests make theirs as a umask of 022
# does, whatever the machine's, so a file a test writes by hand reads as the kit's own would
os.umask(0o022)

@pytest.fixture()
def tree(tmp_path: Path) -> Iterator[Tree]:
    """The test's tmp_path opened as a Tree (kit.infra.tree), as a command opens the folder it writes in."""
    with Tree.open(tmp_path) as opened:
        yield opened


THUMB8_BYTES = 96  # an 8x8 yuv420p thumbnail: 64 luma samples, then 16 of each chroma plane


def grid_thumbs(frames: np.ndarray) -> bytes:
    """(n, THUMB8_BYTES) 8x8 thumbnails (clipped to 0..255) as the decode writes them, GRID x GRID: each sample
    repeated over its block, so the signature's frames (kit.media.signature) are these 8x8 ones exactly."""
    f = np.clip(frames, 0, 255).astype(np.uint8)
    n, k = len(f), GRID // THUMB

    def blocks(plane: np.ndarray, side: int) -> np.ndarray:
        return plane.reshape(n, side, side).repeat(k, axis=1).repeat(k, axis=2).reshape(n, -1)

    return np.concatenate([blocks(f[:, :64], 8), blocks(f[:, 64:80], 4), blocks(f[:, 80:], 4)], axis=1).tobytes()


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    path = imageio_binary()
    assert path is not None, "imageio-ffmpeg is not installed"
    return str(path)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit's cache of the session, one for every xdist worker (made_once's folder): a run made once by one worker
    is read by the others' `status`, which reads no clip its cache has not read (a cache per worker made that test
    pass or fail by which worker made the run). The kit's own locks keep the workers' writes, as on a shared box. A
    test that needs a cache cold, damaged or its own sets KIT_CACHE_DIR itself (monkeypatch)."""
    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else \
        tmp_path_factory.getbasetemp()
    cache = shared / "kit-cache"
    cache.mkdir(exist_ok=True)
    os.environ["KIT_CACHE_DIR"] = str(cache)
    os.environ.pop("KIT_FFMPEG", None)
    return cache


@pytest.fixture
def own_lead(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test alone (KIT_CACHE_DIR), so a lead's record of its own: a test that merges an unsigned
    tarball of a box id (boxa, boxb) that another test's signed tarball made known in the session's shared record
    would be refused, rightly (kit.corpus.signers.refuse_unsigned), or not, by which test ran first."""
    cache = tmp_path_factory.mktemp("lead-cache")  # beside the test's folder, which some tests list
    monkeypatch.setenv("KIT_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(autouse=True)
def children_allowed() -> Iterator[None]:
    """An in-process invocation that failed refuses new children until the next one starts (guard):
    a test that calls run_process directly after it must not inherit that state."""
    from kit.infra import proc

    proc.allow_new()
    yield
    proc.allow_new()


def render(ffmpeg: str, lavfi: str, dest: Path, frames: int = TINY_FRAMES, pix_fmt: str = "yuv420p",
           fmt: str = "yuv4mpegpipe", extra: tuple[str, ...] = ()) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", lavfi,
                    "-frames:v", str(frames), "-pix_fmt", pix_fmt, *extra, "-f", fmt, str(dest)], check=True)
    return dest


def made_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]) -> tuple[Path, Any]:
    """A folder made once per test session, whichever xdist worker asks first (the others wait for it, then use
    it): `make(folder)` fills it and returns what to keep, as JSON (a run's output). Its users only read it."""
    shared = factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else factory.getbasetemp()
    folder, kept = shared / f"once-{name}", shared / f"once-{name}.json"
    with FileLock(shared / f"once-{name}.lock"):
        if not kept.is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a maker that failed in another worker
            folder.mkdir()
            kept.write_text(json.dumps(make(folder)))
    return folder, json.loads(kept.read_text())


def kept_run(factory: pytest.TempPathFactory, name: str,
             run: Callable[[Path], subprocess.CompletedProcess[str]]) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A run of the kit made once per session (made_once) by `run(folder)`: the folder and its completed process."""
    def make(folder: Path) -> list[object]:
        res = run(folder)
        return [res.returncode, res.stdout, res.stderr]

    folder, (code, stdout, stderr) = made_once(factory, name, make)
    return folder, subprocess.CompletedProcess([], code, stdout, stderr)


def passed(res: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    return res


def once_run(factory: pytest.TempPathFactory, name: str,
             *args: str | Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A real run of the kit made once per session (kept_run): its out-dir and its completed process."""
    folder, res = kept_run(factory, name, lambda folder: passed(run_kit(*args, "--out-dir", folder / "out")))
    return folder / "out", res


@pytest.fixture(scope="session")
def tiny_refs(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four tiny clips, rendered once per session (every worker reads the same files)."""
    def make(folder: Path) -> str:
        for name, lavfi in TINY_SOURCES.items():
            render(ffmpeg, lavfi, folder / f"{name}.y4m")
        return ""

    return made_once(tmp_path_factory, "refs", make)[0]


def run_kit(*args: str | Path, cwd: Path | None = None, entry: list[str] | None = None,
            env: dict[str, str] | None = None, timeout: float = 600,
            cpu_limit_s: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, as a user would (`timeout`: in the box's own time, and `cpu_limit_s` on
    the CPU of it and its children: tests/pace.py)."""
    cmd = [*(entry or KIT), *map(str, args)]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return pace.run(cmd, cwd=cwd or ROOT, env=full_env, capture_output=True, text=True, timeout=timeout,
                    cpu_limit_s=cpu_limit_s)


@pytest.fixture(scope="session")
def json_run(tiny_refs: Path,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One real `run --json` on the tiny clips (PROMOTE), shared by the events, report and status tests.

    Read-only for its users: a test that changes the out-dir works on a copy.
    """
    return once_run(tmp_path_factory, "json-run", "run", "--json", "--ref-dir", tiny_refs, "--box-id", "jsonbox",
                    *FAST, *LENIENT)


def demo_json(folder: Path) -> dict[str, object]:
    """`run --json --box-id mybox` on a fresh cache (the demo clips rendered first) and 100 columns: its events read
    as they come (`first_eta_s`: the first `eta` event's time from the process's start, in the box's own time), and
    its lines as a terminal shows them, which --json writes to stderr (the same renderer;
    tests/unit/test_terminal_and_summary.py)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "KIT_CACHE_DIR": str(folder / "cache")}
    argv = [*KIT, "run", "--json", "--box-id", "mybox", "--out-dir", str(folder / "runs" / "mybox")]
    load = os.getloadavg()[0]
    with (folder / "lines.txt").open("w+") as lines, pace.ticking() as clock:  # the box's own time (tests/pace.py)
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=lines)
        assert proc.stdout is not None
        events, first, at_eta = [], None, []
        for line in proc.stdout:
            events.append(line)
            if '"event": "eta"' in line:
                at_eta.append((clock.wall(), clock.seconds()))
                first = at_eta[0][1]
        code = pace.wait(proc, 1800)
        end = (clock.wall(), clock.seconds())
        lines.seek(0)
        said = lines.read()
    assert code == 0, said[-4000:]
    load_said = f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after"
    return {"lines": said, "events": "".join(events), "first_eta_s": first, "load": load_said,
            "paces": pace_changes(at_eta, end)}


def pace_changes(at: list[tuple[float, float]], end: tuple[float, float]) -> list[float]:
    """For each of a run's moments (wall seconds, the box's own seconds: pace.BoxClock), how much faster the box went
    after it than before it: the box's own seconds per wall second from the moment to the end, over the same from the
    start to the moment (1.0 on a box whose load did not change). A time left the kit measured at a moment assumes
    the pace it saw; the truth of a box that then got busier is longer by this ratio, not by the kit's fault."""
    out = []
    for wall, own in at:
        before = own / wall if wall > 0 else 1.0
        after = (end[1] - own) / (end[0] - wall) if end[0] > wall else before
        out.append(after / before if before > 0 else 1.0)
    return out


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The demo as the README shows it (`run --box-id mybox` with the default gates, on a terminal 100 columns wide,
    a cache of its own), run once per session (demo_json): the README's annotated summary
    (tests/pipeline/test_readme_summary.py), the consumer figures recomputed from its tarball
    (tests/pipeline/test_consumer_recomputed.py) and its time left (tests/pipeline/test_eta_run.py, demo_events).
    Its out-dir is <folder>/runs/mybox; the process's stdout is the lines a terminal shows. Read-only for its users."""
    folder, kept = made_once(tmp_path_factory, "demo-run", demo_json)
    return folder / "runs" / "mybox", subprocess.CompletedProcess([], 0, kept["lines"], "")


@pytest.fixture(scope="session")
def demo_events(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, float | None, str, list[float]]:
    """The --json events of the session's demo run (demo_run), its first `eta` event's seconds from the start, the
    box's load average before and after it, and at each `eta` event how the box's pace changed after it
    (pace_changes)."""
    kept = made_once(tmp_path_factory, "demo-run", demo_json)[1]
    return kept["events"], kept["first_eta_s"], kept["load"], kept["paces"]


SMALL_BOX = ("homer.avi", "anim-1.mov", "alea.mpg", "movie.avi", "carphone_pristine.mp4")


@pytest.fixture(scope="session")
def small_box(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A small real box (issue 92): five whole public clips of four packages (cartoon, CG, a camera's movie, a test
    sequence; bench/bench_boxes.py's `small`), the default run with libx264, once per session: the teacher's floor
    (tests/pipeline/test_teacher_floor.py) and, trained again by the frames recipe, a HOLD whose consumer figures are
    recomputed (tests/pipeline/test_consumer_recomputed.py). Its clips are <folder>/refs. Read-only for its users."""
    from tests.publicclips import fetched_or_skip, load_manifest

    manifest = load_manifest()
    paths = fetched_or_skip([manifest.clip(c) for c in SMALL_BOX], manifest)

    def run(folder: Path) -> subprocess.CompletedProcess[str]:
        refs = folder / "refs"
        refs.mkdir()
        for name, path in paths.items():
            shutil.copyfile(path, refs / name)
        return passed(run_kit("run", "--ref-dir", refs, "--out-dir", folder / "out", "--box-id", "small",
                              "--encoders", "libx264"))

    folder, res = kept_run(tmp_path_factory, "teacher-floor", run)
    return folder / "out", res


@pytest.fixture(scope="session")
def ladder_run(tiny_refs: Path,
               tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One real `run --json` on the tiny clips with the default ladder (native and half height: 16 jobs), so every
    file a run writes holds a rung below the source's (tests/pipeline/test_ladder_run.py). Read-only for its users.

    Made by the one command of an untarred kit (make_tarball.py's tarball, unpacked in <out-dir>/../unpacked, run
    from another folder with no PYTHONPATH): tests/real/test_kit_tarball.py checks that it ran from there."""
    def run(folder: Path) -> subprocess.CompletedProcess[str]:
        import make_tarball

        with tarfile.open(make_tarball.build(folder / "dist")) as tar:
            tar.extractall(folder / "unpacked", filter="data")
        (kit_dir,) = (folder / "unpacked").iterdir()
        return passed(run_kit("--json", "--ref-dir", tiny_refs, "--box-id", "ladderbox", *FAST, "--scales",
                              "native,0.5", *LENIENT, "--out-dir", folder / "out", cwd=folder,
                              entry=[sys.executable, str(kit_dir / "kit" / "run_full_pipeline.py")],
                              env={"PYTHONPATH": ""}))

    folder, res = kept_run(tmp_path_factory, "ladder-run", run)
    return folder / "out", res


@pytest.fixture(scope="session")
def x264_run(tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real `run` on the tiny clips with libx264 alone, as box `boxa` (PROMOTE): the one-box run the Ray and
    Slurm unions must equal, and box A of the merge tests. Read-only for its users."""
    return once_run(tmp_path_factory, "x264-run", "run", "--ref-dir", tiny_refs, "--box-id", "boxa", "--encoders",
                    "libx264", *FAST, *LENIENT)[0]


# -- helpers shared by several test modules ---------------------------------------------------------
def assert_clean_failure(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2, no traceback, exactly one `error:` line holding every needle, and a hint."""
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, res.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    assert any(ln.startswith("hint: ") for ln in res.stderr.splitlines()), res.stderr


# what predictions.parquet says of where a row came from: the union and a one-box run of the same rows differ there
ROW_PROVENANCE = ("corpus_row", "box_id", "device")


def assert_same_predictions(a: Path, b: Path) -> None:
    """Two runs' 03_loso/predictions.parquet hold the same predictions, to the bit, whatever file or box each row
    was read from (corpus_row is its position in the corpus each run read)."""
    left, right = (pd.read_parquet(p).drop(columns=list(ROW_PROVENANCE), errors="ignore") for p in (a, b))
    pd.testing.assert_frame_equal(left, right, check_exact=True)


def synthetic_corpus(n_src: int = 4, rows_per_src: int = 60, seed: int = 0) -> pd.DataFrame:
    """Rows whose vmaf is a smooth function of the features, as libvmaf's are."""
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n_src):
        feats = rng.uniform(0.3, 1.0, size=(rows_per_src, 6))
        feats[:, 5] = rng.uniform(0, 20, rows_per_src)  # motion2 has its own scale
        cq = rng.choice([19, 25, 31, 37], rows_per_src)
        vmaf = np.clip(100 * feats[:, 0] ** 2 * feats[:, 1] - 0.2 * feats[:, 5] - 0.3 * (cq - 19), 0, 100)
        frames.append(pd.DataFrame({"src": f"s{s}", "src_sha256": f"{s:064x}", "encoder": "libx264", "cq": cq,
                                    "frame_index": np.arange(rows_per_src), "vmaf": vmaf,
                                    **{f: feats[:, i] for i, f in enumerate(FEATURES)}}))
    return pd.concat(frames, ignore_index=True)


# what a stop's one sentence says is kept, after `interrupted (N running process(es) stopped)`: the corpus step's jobs
# where it was cut short, else finished work as a whole (kit.infra.interrupts.stop_lines)
STOP_KEPT = r"(?:; finished work is kept|: \d+ of \d+ corpus jobs are finished and kept; the rerun does the other \d+)"


# set by .ci/run: this box is CI's, which installs every service the suite starts (tests/conftest.cannot_run_here)
IN_CI = bool(os.environ.get("TESTS_CI"))


def cannot_run_here(why: str, module: bool = False) -> NoReturn:
    """A test whose service or program this box lacks (what .ci/run installs: chromium, a CJK font, Slurm and munge,
    strace, the ray extra): skipped, saying why; in CI (TESTS_CI) a failure, since nothing CI can run may pass for a
    skip. `module`: said as a module is imported (a whole file's; in CI an error of its collection)."""
    if IN_CI:
        pytest.fail(f"CI can run this, but here: {why}", pytrace=False)
    pytest.skip(why, allow_module_level=module)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper does not count)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def all_gone(pids: Iterable[int], within_s: float = 5.0) -> bool:
    """Whether every one of `pids` has ended within `within_s` of the box's own time (tests/pace.py), polled."""
    pids = list(pids)
    return pace.until(lambda: not any(alive(p) for p in pids), within_s)


def processes_naming(path: Path) -> list[str]:
    """Command lines of the running processes that name `path` (the kit's ffmpegs write below its out-dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # ended, waiting for its parent to collect it
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(cmdline)
    return found


def full_summary(out: Path) -> str:
    """Every row of the run's summary table, labels and cells on one line (kit.report.summary.summary_rows): the
    closing summary prints the answer; the rest of these rows is what it points to in the report."""
    from kit.infra.tree import read_out_dir
    from kit.report.summary import _verdict, summary_rows

    with read_out_dir(out) as tree:
        verdict = _verdict(tree, out)
    assert verdict is not None, f"no verdict in {out}"
    return " ".join(f"{label} {text}" for label, text in summary_rows(out, verdict))


# -- runs shared by the contents, merge, same-names and rerun-hint tests (each made once per session) ----------------
def tiny_links(tiny_refs: Path, folder: Path, leave_out: tuple[str, ...] = ()) -> Path:
    """`folder`, made, holding a link to each tiny clip but those named in `leave_out` (a --ref-dir of its own)."""
    folder.mkdir()
    for name in (n for n in TINY_SOURCES if n not in leave_out):
        (folder / f"{name}.y4m").symlink_to(tiny_refs / f"{name}.y4m")
    return folder


def copy_prereqs(run: Path, out: Path) -> Path:
    """A fresh out-dir holding the prereqs step of `run`, a run this session made with the same --encoders (what the
    corpus step checks its prereqs by): a test that needs a corpus step pays for no second probe of the same ffmpeg."""
    shutil.copytree(run / "01_prereqs", out / "01_prereqs", symlinks=True)
    return out


@pytest.fixture(scope="session")
def twin_refs(ffmpeg: str, tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four tiny clips, plus: alpha's frame-exact ffv1 copy under another name, gamma's lossless x264 copy under
    gamma's own name (twins), and beta's lossy copy (a near-duplicate): 4 contents in 7 files, from 5 sources."""
    def make(folder: Path) -> str:
        for name in TINY_SOURCES:
            shutil.copy(tiny_refs / f"{name}.y4m", folder / f"{name}.y4m")
        for src, dest, codec in (("alpha", "alpha_master.mkv", ["-c:v", "ffv1"]),
                                 ("gamma", "gamma.mp4", ["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p"]),
                                 ("beta", "beta_lossy.mp4", ["-c:v", "libx264", "-crf", "30", "-pix_fmt", "yuv420p"])):
            subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(folder / f"{src}.y4m"),
                            *codec, str(folder / dest)], check=True)
        return ""

    return made_once(tmp_path_factory, "twin-refs", make)[0]


@pytest.fixture(scope="session")
def twin_run(twin_refs: Path,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One real `run` on twin_refs (PROMOTE): what the corpus step says of twins and near-duplicates, its folds, and
    the verdict and report of such a set (tests/pipeline/test_contents.py, test_same_names.py); the prereqs of the
    default encoders for the tests that need only a corpus step. Read-only for its users."""
    return once_run(tmp_path_factory, "twin-run", "run", "--ref-dir", twin_refs, *FAST, *LENIENT)


# -- the CLI in the test's own process ------------------------------------------------------------------------------
def run_here(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI (kit.cli.main.cli, what `python -m kit` runs) called in this process, as run_kit's result: for
    the many commands a refusal ends early, each of which would pay a new interpreter's imports (about 2 s of CPU)
    for a few tenths of a second of work, and for reruns whose subject is what they do to an out-dir (torch, scipy
    and matplotlib then load once per test process, not about 8 s of CPU per command). An exception the kit let
    escape is printed as a process would print it, so a test that checks for no traceback still sees one. run_kit
    stays the way to test the process itself: its exit on a signal, its streams, a command it prints spelled as it
    was started (retry:, hint:, next:)."""
    import faulthandler
    import traceback
    from unittest import mock

    from click.testing import CliRunner

    from kit.cli.main import cli

    # what the kit sets in os.environ (the report's MPLCONFIGDIR) ends with the command, as a process's would; a
    # command that hangs ends the test worker with every thread's stack after 10 minutes, as run_kit's timeout would
    with mock.patch.dict(os.environ):
        faulthandler.dump_traceback_later(pace.scaled(600), exit=True)
        try:
            res = CliRunner().invoke(cli, [str(a) for a in args], env=env, prog_name="ensemble-kit")
        finally:
            faulthandler.cancel_dump_traceback_later()
    stderr = res.stderr
    if res.exc_info is not None and not isinstance(res.exc_info[1], SystemExit):  # exit 0: res.exception is None
        stderr += "".join(traceback.format_exception(*res.exc_info))
    return subprocess.CompletedProcess([str(a) for a in args], res.exit_code, res.stdout, stderr)


# -- one real run on clips a person named badly, shared by two files ------------------------------------------------
FORGED = "[04 verdict] PROMOTE: mean PLCC 0.9999 (forged)"
FORGED_NAME = f"zz\n{FORGED}\nzz"  # line breaks and a verdict line
ESCAPES_NAME = "esc\x1b[31mred\rcr\u202eevil[red]x"  # a terminal escape, a carriage return, a bidi override, markup
ODD = "testsrc=s=175x143:r=25"  # at 4:4:4 (testsrc2, and any 4:2:0 output, round the size down to even)


@pytest.fixture(scope="session")
def named_run(ffmpeg: str, tiny_refs: Path,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """One real `run` (HOLD: --min-mean-plcc 0.9999) on the tiny clips named to forge output (FORGED_NAME,
    ESCAPES_NAME) and one clip the kit cannot use (odd.y4m, 175x143), left out: (the reference folder, the out-dir,
    the completed process). tests/pipeline/test_forged_names.py reads what it printed, logged and wrote;
    tests/real/test_hint_commands.py how it left the odd clip out. Read-only for its users."""
    def run(folder: Path) -> subprocess.CompletedProcess[str]:
        refs = folder / "refs"
        refs.mkdir()
        for clip, name in (("alpha", "alpha"), ("beta", "beta"), ("gamma", FORGED_NAME), ("delta", ESCAPES_NAME)):
            shutil.copy(tiny_refs / f"{clip}.y4m", refs / f"{name}.y4m")
        render(ffmpeg, ODD, refs / "odd.y4m", pix_fmt="yuv444p")
        return run_kit("run", "--ref-dir", refs, "--out-dir", folder / "out", "--box-id", "forge", *FAST,
                       "--min-mean-plcc", "0.9999")

    folder, res = kept_run(tmp_path_factory, "named-run", run)
    return folder / "refs", folder / "out", res


@pytest.fixture(autouse=True)
def _python_ctrl_c() -> None:
    """Every test starts with Python's own Ctrl-C (KeyboardInterrupt). A test that runs a command in-process leaves
    SIGINT ignored once the command's outcome is settled (kit.infra.interrupts.settle), and a child a later test of the
    same worker starts inherits an ignored SIGINT: the set-up's Ctrl-C test then waited 60 s for an install.py that
    could not be interrupted (2 of 4 full runs, by the order the files met on a worker)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
