"""What a child says of the box never leaves it (issue 89, item 1): every file of a results tarball is the kit's own
words and values of known kinds, and free text (a child's stderr, an exception's message) reaches it only through
the one door (kit.infra.known), which keeps what it can classify and replaces the rest with `[text not sent]`.

The box's ffmpeg (tests/faults.py's wrapper of the real one) says, at every call of every stage (the prereqs' probes,
a clip's open, its looks, its lossless copy and the copy's check, each job's encode, scoring, independent check and
sample jobs), a few lines drawn by Hypothesis (`pools`): absolute paths (a preset's and a config's, as a real ffmpeg
names them, a Windows one, one in quotes with a space), user and host names, e-mail addresses, environment values,
addresses, arbitrary bytes and unicode, each around a token of its own; and it fails some clips, each at a stage in
a way of tests/faults.py (an exit code whose last words are those lines, a signal, a hang, an output cut short or
garbled). Each run's tarball is scanned member by member (parquet's cells and metadata, ONNX's metadata and names,
JSON's strings, HTML unescaped, a gzip opened) for every token in every spelling (test_private_box.spellings: UTF-8,
UTF-16/32 either way, JSON, URL, shell, HTML and ffmpeg-filter escaped, base64 at its three alignments, lower case):
no hit. The box's own log holds the tokens, so a pass is no empty scan, and what each failed clip's reason says in the
tarball is still the kit's words (how it failed, where).

One run's cost covers many draws: each call of the wrapper says other lines of the pool. One whole run (every member
a run sends: LOSO, the verdict, the report, the exports) has one clip failed at each stage, each in another way; a
corpus step (and its corpus-only bundle) per stage has a clip failed in every way.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from kit.corpus import jobs, samples
from kit.infra.known import NOT_SENT
from kit.media import decode, looks
from tests.conftest import FAST, LENIENT, TINY_SOURCES, copy_prereqs, render, run_here, run_kit
from tests.faults import CHATTER, FAULTS, PLAN, STAGES, faulty_ffmpeg, pools, random_lines
from tests.pipeline.test_no_torch import NO_TORCH
from tests.pipeline.test_private_box import spellings, views
from tests.real.test_faults import CLIP as FAULT_CLIP
from tests.real.test_faults import FAULT_WORDS, GRID, MASTER_STAGES, MASTER_WORDS, UNUSED_OUTPUT, reason_said

HANG_S = 6.0  # each job's child may count no frame on this long here (kit.corpus.jobs.stall_s)
CORPUS_STAGES = tuple(s for s in STAGES if s != "teacher")  # the teacher check's failure refuses the prereqs step
WINDOW = ["--consumer-window", "0.2", "--consumer-samplings", "encoded"]  # sample jobs: the `sample` stage
# the whole run's faulted clips: one at each stage, the faults taken in turn
WHOLE_CELLS = [(stage, FAULTS[i % len(FAULTS)]) for i, stage in enumerate(CORPUS_STAGES)]
# the issue's two cases, in the whole run: an encode's exit whose last words name a preset under home, a master's
# open that fails naming a config under home
ISSUE = {"encode": "exit1", "open": "exit1"}
WHOLE_CELLS = [(s, ISSUE.get(s, k)) for s, k in WHOLE_CELLS]

class Pool(NamedTuple):
    file: Path  # the wrapper's FAULT_CHATTER
    tokens: list[str]


def write_pool(folder: Path, lines: list[tuple[bytes, list[str]]]) -> Pool:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / "pool.json"
    file.write_text(json.dumps([base64.b64encode(line).decode() for line, _ in lines]))
    return Pool(file, sorted({t for _, tokens in lines for t in tokens}))


def calls(pool: Pool) -> int:
    """The wrapper's calls that said lines of `pool` (one line each in its .said file)."""
    said = Path(f"{pool.file}.said")
    return len(said.read_text().splitlines()) if said.is_file() else 0


def scan_all(tarball: Path, tokens: list[str]) -> tuple[dict[str, int], list[str]]:
    """(members, views, spellings scanned; `member: view: token` where a token is found), each member read once in
    every view of test_private_box.views and, gzipped, decompressed first."""
    words = {t: spellings(t) for t in tokens}
    counts, found = {"members": 0, "views": 0, "spellings": sum(len(w) for w in words.values())}, []
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            found += [f"{member.name}: its name: {t}" for t in tokens if t.lower() in member.name.lower()]
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            counts["members"] += 1
            for view, seen in [*views(member.name, data),
                               *([("gunzipped", gzip.decompress(data))] if data[:2] == b"\x1f\x8b" else [])]:
                counts["views"] += 1
                folded = seen.lower()
                found += [f"{member.name}: {view}: {t}" for t, spelled in words.items()
                          if any(w in seen or w.lower() in folded for w in spelled)]
    return counts, found


class Clips(NamedTuple):
    folder: Path
    y4m: list[Path]  # distinct contents
    ts: list[Path]  # the same, each a transport stream (a master read through its lossless copy)


@pytest.fixture(scope="module")
def clips(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Clips:
    folder = tmp_path_factory.mktemp("sent-known")
    sources = [*TINY_SOURCES.values(), *(f"gradients=s=176x144:r=25:speed=0.05:n=3:seed={k}" for k in range(20, 29))]
    y4m = [render(ffmpeg, lavfi, folder / "clips" / f"s{i}.y4m") for i, lavfi in enumerate(sources)]
    ts = [render(ffmpeg, lavfi, folder / "clips" / f"s{i}.ts", fmt="mpegts", extra=("-c:v", "libx264", "-qp", "0"))
          for i, lavfi in enumerate(sources)]
    return Clips(folder, y4m, ts)


def ref_dir(clips: Clips, folder: Path, cells: list[tuple[str, str]], good: int) -> tuple[Path, dict[str, list[str]]]:
    """A --ref-dir of `good` clips no fault touches and one clip for each cell, and the wrapper's plan for them."""
    refs = folder / "refs"
    refs.mkdir(parents=True)
    plan = {}
    for i in range(good):
        (refs / f"good{i}.y4m").write_bytes(clips.y4m[i].read_bytes())
    for i, (stage, kind) in enumerate(cells):
        master = stage in MASTER_STAGES
        name = f"f{i}-{stage}-{kind}.{'ts' if master else 'y4m'}"
        (refs / name).write_bytes((clips.ts if master else clips.y4m)[good + i].read_bytes())
        plan[name] = [stage, kind]
    return refs, plan


@contextmanager
def faults_on(box: Box, plan: dict[str, list[str]], pool: Pool, cache: Path) -> Iterator[None]:
    """The box's voices, the wrapper's plan (the box's and `plan`) and pool in the environment, a cache of the run's
    own (a clip once read is not looked at again), and a hung child stopped in seconds (tests/real/test_faults.py's
    quick_hangs)."""
    with ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, {
            **box.env, PLAN: json.dumps({**json.loads(box.env[PLAN]), **plan}), CHATTER: str(pool.file),
            "KIT_CACHE_DIR": str(cache)}))
        for module, name, value in ((jobs, "stall_s", lambda clip, encodes=1: HANG_S),
                                    (samples, "stall_s", lambda clip, encodes=1: HANG_S),
                                    (looks, "LOOK_START_S", 3.0), (decode, "LOOK_START_S", 3.0)):
            stack.enter_context(mock.patch.object(module, name, value))
        yield


class Box(NamedTuple):
    wrapper: Path
    prereqs: Path  # an out-dir holding the prereqs step made with the wrapper saying the module's pool
    pool: Pool
    env: dict[str, str]  # the box's other voices (an nvidia-smi on PATH, LIBVA_DRIVER_NAME) and its faults' plan


ENCODE_DEPTH = ["--encode-depth", "source"]  # each encoder's 10-bit test encode too: one fails, and the run goes on
NVIDIA_SMI = """#!/bin/sh
echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver: {line}" >&2
exit 9
"""


@pytest.fixture(scope="module")
def box(ffmpeg: str, clips: Clips) -> Box:
    """The prereqs step, made once with the wrapper saying lines of a pool of its own at every probe, and the box's
    other voices: libx264's 10-bit test encode fails in those words (the run goes on at 8 bit: prereqs.json's
    `encoders_10bit`), libx265's test encode too in a run before, refused (its refusal in the step's log, sent with
    the next run's), an nvidia-smi that fails naming a folder of home (a GPU box's signal this box cannot have) and
    LIBVA_DRIVER_NAME a word of the box."""
    wrapper = faulty_ffmpeg(clips.folder, ffmpeg)
    lines = random_lines(12)
    pool = write_pool(clips.folder / "prereqs-pool", lines)
    bin_dir = clips.folder / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(NVIDIA_SMI.format(line=lines[0][0].decode()))
    (bin_dir / "nvidia-smi").chmod(0o755)
    env = {CHATTER: str(pool.file), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "LIBVA_DRIVER_NAME": lines[1][1][1]}
    out = clips.folder / "prereqs"
    with mock.patch.dict(os.environ, {**env, PLAN: json.dumps({"libx265": ["probe", "exit1"]})}):
        refused = run_here("step", "prereqs", "--out-dir", out, "--ffmpeg", wrapper, "--encoders", "libx264,libx265")
    assert refused.returncode == 2 and "encoder libx265 does not work on this box" in refused.stderr, refused.stderr
    env[PLAN] = json.dumps({"libx264": ["probe10", "exit1"]})
    with mock.patch.dict(os.environ, env):
        res = run_here("step", "prereqs", "--out-dir", out, "--ffmpeg", wrapper, "--encoders", "libx264",
                       *ENCODE_DEPTH)
    assert res.returncode == 0, res.stdout + res.stderr
    prereqs = json.loads((out / "01_prereqs" / "prereqs.json").read_text())
    said = (prereqs["encoders_10bit"]["libx264"]["reason"], prereqs["host"]["signals"]["nvidia_smi"],
            prereqs["host"]["signals"]["libva_driver_name"])
    assert all(any(t in text for t in pool.tokens) for text in said), said  # the box's own record holds them
    return Box(wrapper, out, pool, env)


def check_sent(tarball: Path, out: Path, pools_said: list[Pool], cells: list[tuple[str, str]]) -> dict[str, int]:
    """No token of `pools_said` in the tarball; the box's own log holds some; each failed clip's reason, as sent,
    says how and where in the kit's words. The figures."""
    tokens = sorted({t for pool in pools_said for t in pool.tokens})
    counts, found = scan_all(tarball, tokens)
    assert found == [], found[:20]
    local = "".join((out / step / "logs" / f"{step[3:]}.log").read_text(errors="replace")
                    for step in ("01_prereqs", "02_corpus"))
    assert any(t in local for t in tokens), "the box's own logs hold no token: the scan proves nothing"
    with tarfile.open(tarball) as tar:
        def member(path: str) -> dict[str, Any]:
            (name,) = [n for n in tar.getnames() if n.endswith(path)]
            return json.loads(tar.extractfile(name).read())  # type: ignore[union-attr,no-any-return]

        sent, prereqs = member("02_corpus/skipped.json")["skipped"], member("01_prereqs/prereqs.json")
    # the box's other voices, as sent: each in the kit's words around the door's mark
    signals = prereqs["host"]["signals"]
    assert NOT_SENT in prereqs["encoders_10bit"]["libx264"]["reason"], prereqs["encoders_10bit"]  # ffmpeg's words
    assert signals["nvidia_smi"].startswith("nvidia-smi failed: NVIDIA-SMI has failed because it couldn't "), signals
    assert NOT_SENT in signals["nvidia_smi"] and signals["libva_driver_name"] == NOT_SENT, signals
    reasons = {u["path"].rsplit("/", 1)[-1]: u["reason"] for u in sent}
    unsaid = []
    for i, (stage, kind) in enumerate(cells):
        name = next((n for n in reasons if n.startswith(f"f{i}-")), None)
        if (stage, kind) in UNUSED_OUTPUT:
            continue
        # tests/real/test_faults.py's words for the cell, or for how a child of another clip's content ends that
        # way (a third of another encode may hold no frame at all: `failed (exit 69)` where alpha's said `wrote`)
        said = re.compile(reason_said(stage, kind).pattern.replace(re.escape(FAULT_CLIP), re.escape(name or "")),
                          re.DOTALL)
        either = re.compile(f"({'|'.join(FAULT_WORDS.values())}|{MASTER_WORDS})", re.DOTALL)
        if name is None or not (said.search(reasons[name]) or either.search(reasons[name])):
            unsaid.append((stage, kind, reasons.get(name or "")))
    assert unsaid == [], unsaid
    return {**counts, "children": calls(pools_said[0]), "tokens": len(tokens), "cells": len(cells)}


FIGURES: dict[str, int] = {}


def tally(request: pytest.FixtureRequest, figures: dict[str, int], box: Box) -> None:
    """The session's figures so far (the prereqs' children once: every run reuses that step)."""
    for key, value in figures.items():
        FIGURES[key] = FIGURES.get(key, 0) + value
    FIGURES["prereqs children"] = calls(box.pool)
    line = ", ".join(f"{k} {v}" for k, v in FIGURES.items())
    request.node.user_properties.append(("timing", f"sent words: {line}, hits 0"))


def drawn():  # type: ignore[no-untyped-def]
    """One draw of a pool per run (each run's wrapper says many of its lines), never shrunk nor kept."""
    return settings(max_examples=1, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


@pytest.mark.slow  # a whole run
@drawn()
@given(lines=pools())
def test_a_whole_run_sends_no_word_its_children_said(box: Box, clips: Clips, lines: list[tuple[bytes, list[str]]],
                                                      request: pytest.FixtureRequest) -> None:
    folder = Path(tempfile.mkdtemp(dir=clips.folder))
    pool = write_pool(folder, lines)
    refs, plan = ref_dir(clips, folder, WHOLE_CELLS, good=4)
    out = copy_prereqs(box.prereqs, folder / "out")
    with faults_on(box, plan, pool, folder / "cache"):
        res = run_here("run", "--ref-dir", refs, "--out-dir", out, "--ffmpeg", box.wrapper, "--box-id", "sent",
                       *FAST, *LENIENT, "--encoders", "libx264", *WINDOW, *ENCODE_DEPTH)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    figures = check_sent(tarball, out, [pool, box.pool], WHOLE_CELLS)
    assert figures["members"] >= 25, figures
    tally(request, figures, box)
    # what the user reads before sending it (verify --show-sent): every text, none of the box's words
    shown = run_here("verify", "--show-sent", tarball)
    assert shown.returncode == 0, shown.stdout[-2000:] + shown.stderr[-2000:]
    assert [t for t in pool.tokens + box.pool.tokens if t.lower() in shown.stdout.lower()] == []
    issue = [ln.strip() for ln in shown.stdout.splitlines() if "skipped[" in ln and ".reason: " in ln
             and any(f"-{s}-" in ln for s in ISSUE)]
    assert len(issue) == 2 and all(NOT_SENT in ln for ln in issue), issue
    request.node.user_properties.append(("timing", "the issue's cases as sent: " + " | ".join(issue)))


@pytest.mark.slow  # a corpus step and its bundle per stage
@pytest.mark.parametrize("stage", CORPUS_STAGES)
@drawn()
@given(lines=pools())
def test_a_corpus_sends_no_word_its_children_said_at_any_stage_in_any_fault(
        box: Box, clips: Clips, stage: str, lines: list[tuple[bytes, list[str]]],
        request: pytest.FixtureRequest) -> None:
    """Every fault at one stage, one clip each, in one corpus step, then its corpus-only bundle (a box without
    torch: tests/pipeline/test_no_torch.py's simulation)."""
    folder = Path(tempfile.mkdtemp(dir=clips.folder))
    pool = write_pool(folder, lines)
    cells = [(stage, kind) for kind in FAULTS]
    refs, plan = ref_dir(clips, folder, cells, good=3)  # LOSO needs 3 contents: the step refuses fewer
    out = copy_prereqs(box.prereqs, folder / "out")
    with faults_on(box, plan, pool, folder / "cache"):
        res = run_here("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--ffmpeg", box.wrapper, *GRID, *WINDOW,
                       *ENCODE_DEPTH)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    bundled = run_kit("step", "bundle", "--out-dir", out, entry=NO_TORCH)
    assert bundled.returncode == 0, bundled.stdout[-2000:] + bundled.stderr[-2000:]
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    tally(request, check_sent(tarball, out, [pool, box.pool], cells), box)
