"""No free text leaves the box (issue 96, item 1): every text of a results tarball is one of the kit's catalogued
messages or a value of a declared kind (kit.bundle.catalogue), a child's words classified at the box into a failure
kind of kit.infra.ended, what the system says of the box typed (kit.infra.typed), the commands the kit built sent
whole (issue 98, item 6), and `verify` and `merge` refuse a tarball holding a text no kind admits.

The property: secrets drawn by Hypothesis (tests/faults.py's `pools`: paths under home, users and hosts, e-mail
addresses, IPv4 and IPv6 addresses, 40-hex keys, base64 tokens, paths glued to an option letter, environment values,
errors in other locales, arbitrary bytes and unicode) enter every place a text can: the box's ffmpeg (tests/faults.py's
wrapper of the real one) says lines of them at every call of every stage (the prereqs' probes, a clip's open, its
looks, its lossless copy and the copy's check, each job's encode, scoring, independent check and sample jobs) and
fails some clips, each at a stage in a way of tests/faults.py (an exit code whose last words are those lines, a
signal, a hang, an output cut short or garbled); its `-version` names its build and configuration with them; the
system's CPU name, its platform string, nvidia-smi's GPU name and driver (and, in a run before, its failure), the
environment (LIBVA_DRIVER_NAME, USER, LOGNAME, MAIL), the MP4 and transport-stream tags of the clips (title, comment,
service provider), hidden files beside the clips in --ref-dir and the name of a --teacher model file and its folder
hold others. Each run's tarball is scanned member by member (parquet's cells and metadata, decompressed page by page by
pyarrow, ONNX's metadata and names, JSON's strings, a gzip opened) for every secret in every spelling
(test_private_box.spellings: UTF-8, UTF-16/32 either way, JSON, URL, shell and ffmpeg-filter escaped, base64 at its
three alignments, hex, lower case): no hit. The box's own log holds the secrets, so a pass is no empty scan.

One run's cost covers many draws: each call of the wrapper says other lines of the pool. One whole run (every member
a run sends: LOSO, the verdict, the exports) has one clip failed at each stage, each in another way; a corpus step
(and its corpus-only bundle) per stage has a clip failed in every way. The shared runs of tests/conftest.py send no
text withheld at the box (a text the catalogue does not know yet would be).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, given, settings

import kit
from kit.corpus import jobs, samples
from kit.infra.keys import SIGNATURE, SIGNER, sign_manifest
from kit.infra.kinds import WITHHELD
from kit.infra.tree import Tree
from kit.media import decode, looks
from kit.media.svr import builtin_model_text
from tests.conftest import FAST, LENIENT, TINY_SOURCES, copy_prereqs, render, run_here, run_kit
from tests.faults import BUILD, CHATTER, FAULTS, PLAN, STAGES, faulty_ffmpeg, pools, random_lines, random_token
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


def parquet_views(data: bytes) -> list[tuple[str, bytes]]:
    """A parquet file's values as pyarrow decodes them (its pages decompressed): each column's, and its metadata."""
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    decoded = json.dumps(table.to_pylist(), default=str, ensure_ascii=False)
    return [("decoded", decoded.encode("utf-8", "surrogatepass")),
            ("metadata", json.dumps({k.decode(errors="replace"): v.decode(errors="replace")
                                     for k, v in (meta.metadata or {}).items()}).encode())]


def scan_all(tarball: Path, tokens: list[str]) -> tuple[dict[str, int], list[str]]:
    """(members, views, spellings scanned; `member: view: token` where a token is found), each member read once in
    every view of test_private_box.views and, gzipped, decompressed first, a parquet file decoded too."""
    words = {t: [*spellings(t), t.encode().hex().encode()] for t in tokens}
    counts, found = {"members": 0, "views": 0, "spellings": sum(len(w) for w in words.values())}, []
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            found += [f"{member.name}: its name: {t}" for t in tokens if t.lower() in member.name.lower()]
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            counts["members"] += 1
            more = [("gunzipped", gzip.decompress(data))] if data[:2] == b"\x1f\x8b" else []
            more += parquet_views(data) if member.name.endswith(".parquet") else []
            for view, seen in [*views(member.name, data), *more]:
                counts["views"] += 1
                folded = seen.lower()
                found += [f"{member.name}: {view}: {t}" for t, spelled in words.items()
                          if any(w in seen or w.lower() in folded for w in spelled)]
    return counts, found


class Clips(NamedTuple):
    folder: Path
    y4m: list[Path]  # distinct contents
    ts: list[Path]  # the same, each a transport stream (a master read through its lossless copy), tagged
    tagged: Path  # an MP4 whose title and comment tags hold secrets
    tokens: list[str]  # the secrets the clips' tags hold


@pytest.fixture(scope="module")
def clips(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Clips:
    import random

    folder = tmp_path_factory.mktemp("sent-catalogue")
    rng = random.Random()
    tags = [random_token(rng) for _ in range(5)]
    sources = [*TINY_SOURCES.values(), *(f"gradients=s=176x144:r=25:speed=0.05:n=3:seed={k}" for k in range(20, 29))]
    y4m = [render(ffmpeg, lavfi, folder / "clips" / f"s{i}.y4m") for i, lavfi in enumerate(sources)]
    ts = [render(ffmpeg, lavfi, folder / "clips" / f"s{i}.ts", fmt="mpegts",
                 extra=("-c:v", "libx264", "-qp", "0", "-metadata", f"service_provider={tags[0]}",
                        "-metadata", f"service_name={tags[1]} {tags[2]}"))
          for i, lavfi in enumerate(sources)]
    tagged = render(ffmpeg, "cellauto=s=176x144:r=25:rule=110", folder / "clips" / "tagged.mp4", fmt="mp4",
                    extra=("-c:v", "libx264", "-qp", "0", "-metadata", f"title={tags[3]}",
                           "-metadata", f"comment=shot by {tags[4]} at /home/{tags[3]}/clips"))
    return Clips(folder, y4m, ts, tagged, tags)


def ref_dir(clips: Clips, folder: Path, cells: list[tuple[str, str]], good: int,
            hidden: list[str]) -> tuple[Path, dict[str, list[str]]]:
    """A --ref-dir of `good` clips no fault touches (the tagged MP4 among them), one clip for each cell, and hidden
    files named by the `hidden` secrets beside them (a clip's, a note's); and the wrapper's plan for them."""
    refs = folder / "refs"
    refs.mkdir(parents=True)
    plan = {}
    for i in range(good):
        (refs / f"good{i}.y4m").write_bytes(clips.y4m[i].read_bytes())
    shutil.copyfile(clips.tagged, refs / "tagged.mp4")
    for i, (stage, kind) in enumerate(cells):
        master = stage in MASTER_STAGES
        name = f"f{i}-{stage}-{kind}.{'ts' if master else 'y4m'}"
        (refs / name).write_bytes((clips.ts if master else clips.y4m)[good + i].read_bytes())
        plan[name] = [stage, kind]
    (refs / f".{hidden[0]}.mp4").write_bytes(clips.tagged.read_bytes())
    (refs / f".{hidden[1]}").write_text(f"notes of {hidden[1]}\n")
    return refs, plan


class Box(NamedTuple):
    wrapper: Path
    prereqs: Path  # an out-dir holding the prereqs step made with the wrapper saying the module's pool
    pool: Pool
    env: dict[str, str]  # the box's other voices (nvidia-smi on PATH, its build, LIBVA_DRIVER_NAME) and its plan
    system: dict[str, str]  # what the system says of itself: its CPU's name and its platform string
    places: dict[str, int]  # the module's secrets by the place they entered


NVIDIA_SMI = """#!/bin/sh
if [ -e "{fail}" ]; then
  echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver: {line}" >&2
  exit 9
fi
echo "0, NVIDIA GeForce RTX 4090 {gpu}, 550.54.14-{driver}"
"""
ENCODE_DEPTH = ["--encode-depth", "source"]  # each encoder's 10-bit test encode too: one fails, and the run goes on


@contextmanager
def system_says(system: dict[str, str]) -> Iterator[None]:
    """The CPU's name (/proc/cpuinfo's) and the platform's string as the box's system gives them."""
    with mock.patch("kit.platforms.signals.cpu_name", return_value=system["cpu"]), \
            mock.patch.object(platform, "platform", return_value=system["platform"]):
        yield


@pytest.fixture(scope="module")
def box(ffmpeg: str, clips: Clips) -> Box:
    """The prereqs step, made once with the wrapper saying lines of a pool of its own at every probe and naming its
    build with others, and the box's other voices: libx264's 10-bit test encode fails in those words (the run goes on
    at 8 bit: prereqs.json's `encoders_10bit`), libx265's test encode too in a run before, refused (its refusal in
    the step's log, sent with the next run's) while nvidia-smi fails naming a folder of home, then an nvidia-smi
    that names a GPU and a driver with words of the box, LIBVA_DRIVER_NAME, USER, LOGNAME and MAIL words of the box,
    the CPU's name and the platform's string too."""
    import random

    rng = random.Random()
    wrapper = faulty_ffmpeg(clips.folder, ffmpeg)
    lines = random_lines(12)
    words = [random_token(rng) for _ in range(10)]
    build = f"{words[0]} /home/{words[1]}/src"
    lines.append((build.encode(), [words[0], words[1]]))
    pool = write_pool(clips.folder / "prereqs-pool", lines)
    bin_dir = clips.folder / "bin"
    bin_dir.mkdir()
    fail = clips.folder / "nvidia-smi-fails"
    (bin_dir / "nvidia-smi").write_text(NVIDIA_SMI.format(fail=fail, line=lines[0][0].decode(), gpu=words[2],
                                                          driver=words[3]))
    (bin_dir / "nvidia-smi").chmod(0o755)
    system = {"cpu": f"Intel(R) Xeon(R) {words[4]} CPU @ 2.60GHz",
              "platform": f"Linux-6.1.0-{words[5]}-x86_64-with-glibc2.36"}
    env = {CHATTER: str(pool.file), BUILD: build, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "LIBVA_DRIVER_NAME": words[6], "USER": words[7], "LOGNAME": words[7], "MAIL": f"/var/mail/{words[8]}"}
    out = clips.folder / "prereqs"
    fail.touch()
    with mock.patch.dict(os.environ, {**env, PLAN: json.dumps({"libx265": ["probe", "exit1"]})}), \
            system_says(system):
        refused = run_here("step", "prereqs", "--out-dir", out, "--ffmpeg", wrapper, "--encoders", "libx264,libx265")
    assert refused.returncode == 2 and "encoder libx265 does not work on this box" in refused.stderr, refused.stderr
    fail.unlink()
    env[PLAN] = json.dumps({"libx264": ["probe10", "exit1"]})
    with mock.patch.dict(os.environ, env), system_says(system):
        res = run_here("step", "prereqs", "--out-dir", out, "--ffmpeg", wrapper, "--encoders", "libx264",
                       *ENCODE_DEPTH)
    assert res.returncode == 0, res.stdout + res.stderr
    local = (out / "01_prereqs" / "logs" / "prereqs.log").read_text(errors="replace")
    assert words[0] in local and words[2] in json.dumps(json.loads((out / "01_prereqs" / "prereqs.json").read_text()))
    pool = Pool(pool.file, sorted({*pool.tokens, *words[2:9], *clips.tokens}))
    places = {"ffmpeg's lines (prereqs)": len(lines) - 1, "ffmpeg's build": 2, "nvidia-smi": 3, "CPU's name": 1,
              "platform string": 1, "environment": 3, "clips' tags": len(clips.tokens)}
    return Box(wrapper, out, pool, env, system, places)


@contextmanager
def faults_on(box: Box, plan: dict[str, list[str]], pool: Pool, cache: Path) -> Iterator[None]:
    """The box's voices, the wrapper's plan (the box's and `plan`) and pool in the environment, the system's words, a
    cache of the run's own (a clip once read is not looked at again), and a hung child stopped in seconds
    (tests/real/test_faults.py's quick_hangs)."""
    with ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, {
            **box.env, PLAN: json.dumps({**json.loads(box.env[PLAN]), **plan}), CHATTER: str(pool.file),
            "KIT_CACHE_DIR": str(cache)}))
        stack.enter_context(system_says(box.system))
        for module, name, value in ((jobs, "stall_s", lambda clip, encodes=1: HANG_S),
                                    (samples, "stall_s", lambda clip, encodes=1: HANG_S),
                                    (looks, "LOOK_START_S", 3.0), (decode, "LOOK_START_S", 3.0)):
            stack.enter_context(mock.patch.object(module, name, value))
        yield


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
    # the box's other voices, as sent: typed (a device of a family, a version's numbers), a failure by its kind
    signals, host = prereqs["host"]["signals"], prereqs["host"]
    assert prereqs["encoders_10bit"]["libx264"]["reason"] == "test encode failed: exit code 1", prereqs
    assert signals["nvidia_smi"] == "ok" and signals["libva_driver_name"] == "other", signals
    # a family and its model number (the longest run of digits after it), and a digest of the whole name
    assert re.fullmatch(r"NVIDIA GeForce RTX \d{1,6}\+[0-9a-f]{12}", signals["gpus"][0]["name"]), signals["gpus"]
    assert re.fullmatch(r"550\.54\.14\+[0-9a-f]{12}", signals["gpus"][0]["driver"]), signals["gpus"]
    assert re.fullmatch(r"Intel Xeon(?: \d{1,6})?\+[0-9a-f]{12}", host["cpu"]) and host["os"] == "Linux 6.1.0", host
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
    return {**counts, "children": calls(pools_said[0]), "secrets": len(tokens), "cells": len(cells)}


FIGURES: dict[str, int] = {}


def tally(request: pytest.FixtureRequest, figures: dict[str, int], box: Box, places: dict[str, int]) -> None:
    """The session's figures so far (the prereqs' children once: every run reuses that step)."""
    for key, value in figures.items():
        FIGURES[key] = FIGURES.get(key, 0) + value
    FIGURES["prereqs children"] = calls(box.pool)
    every = {**box.places, **places}
    line = ", ".join(f"{k} {v}" for k, v in FIGURES.items())
    request.node.user_properties.append(("timing", f"sent secrets: {line}, places {len(every)} "
                                                   f"({', '.join(every)}), hits 0"))


def drawn():  # type: ignore[no-untyped-def]
    """One draw of a pool per run (each run's wrapper says many of its lines), never shrunk nor kept."""
    return settings(max_examples=1, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def teacher_file(ffmpeg: str, folder: Path, words: list[str]) -> Path:
    """A --teacher model file named by words of the box, in a folder so named: vmaf_v0.6.1 as this ffmpeg holds it."""
    model = folder / f"models-{words[0]}" / f"{words[1]}.json"
    model.parent.mkdir(parents=True)
    model.write_text(builtin_model_text(Path(ffmpeg), "vmaf_v0.6.1"))
    return model


@pytest.mark.slow  # a whole run
@drawn()
@given(lines=pools())
def test_a_whole_run_sends_no_secret_of_the_box(box: Box, clips: Clips, ffmpeg: str,
                                                 lines: list[tuple[bytes, list[str]]],
                                                 request: pytest.FixtureRequest) -> None:
    import random

    folder = Path(tempfile.mkdtemp(dir=clips.folder))
    rng = random.Random()
    hidden, named = [random_token(rng) for _ in range(2)], [random_token(rng) for _ in range(2)]
    pool = write_pool(folder, [*lines, (b"", [*hidden, *named])])
    refs, plan = ref_dir(clips, folder, WHOLE_CELLS, good=4, hidden=hidden)
    teacher = teacher_file(ffmpeg, folder, named)
    out = copy_prereqs(box.prereqs, folder / "out")
    argv = ["run", "--ref-dir", refs, "--out-dir", out, "--ffmpeg", box.wrapper, "--box-id", "sent", *FAST, *LENIENT,
            "--encoders", "libx264", *WINDOW, *ENCODE_DEPTH, "--teacher", teacher]
    # run.json's argv as a process started so would record it (run_here runs in this process: pytest's own argv)
    started = [str(Path(kit.__file__).parent / "__main__.py"), *map(str, argv)]
    with faults_on(box, plan, pool, folder / "cache"), mock.patch.object(sys, "argv", started):
        res = run_here(*argv)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    figures = check_sent(tarball, out, [pool, box.pool], WHOLE_CELLS)
    assert figures["members"] >= 25, figures
    tally(request, figures, box, {"ffmpeg's lines (every stage x fault)": len(lines), "hidden files": 2,
                                  "a --teacher file's name": 2})
    # what the user reads before sending it (verify --show-sent): every text, none of the box's words, none withheld
    shown = run_here("verify", "--show-sent", tarball)
    assert shown.returncode == 0, shown.stdout[-2000:] + shown.stderr[-2000:]
    assert [t for t in pool.tokens + box.pool.tokens if t.lower() in shown.stdout.lower()] == []
    issue = [ln.strip() for ln in shown.stdout.splitlines() if "skipped[" in ln and ".reason  [" in ln
             and any(f"-{s}-" in ln for s in ISSUE)]
    assert len(issue) == 2 and all(WITHHELD not in ln for ln in issue), issue
    request.node.user_properties.append(("timing", "the issue's cases as sent: " + " | ".join(issue)))
    withheld = [ln.strip() for ln in shown.stdout.splitlines() if WITHHELD in ln]
    assert withheld == [], withheld[:20]


@pytest.mark.slow  # a corpus step and its bundle per stage
@pytest.mark.parametrize("stage", CORPUS_STAGES)
@drawn()
@given(lines=pools())
def test_a_corpus_sends_no_secret_its_children_said_at_any_stage_in_any_fault(
        box: Box, clips: Clips, stage: str, lines: list[tuple[bytes, list[str]]],
        request: pytest.FixtureRequest) -> None:
    """Every fault at one stage, one clip each, in one corpus step, then its corpus-only bundle (a box without
    torch: tests/pipeline/test_no_torch.py's simulation)."""
    import random

    folder = Path(tempfile.mkdtemp(dir=clips.folder))
    hidden = [random_token(random.Random()) for _ in range(2)]
    pool = write_pool(folder, [*lines, (b"", hidden)])
    cells = [(stage, kind) for kind in FAULTS]
    refs, plan = ref_dir(clips, folder, cells, good=3, hidden=hidden)  # LOSO needs 3 contents: the step refuses fewer
    out = copy_prereqs(box.prereqs, folder / "out")
    with faults_on(box, plan, pool, folder / "cache"):
        res = run_here("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--ffmpeg", box.wrapper, *GRID, *WINDOW,
                       *ENCODE_DEPTH)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    with faults_on(box, plan, pool, folder / "cache"):
        bundled = run_kit("step", "bundle", "--out-dir", out, entry=NO_TORCH)
    assert bundled.returncode == 0, bundled.stdout[-2000:] + bundled.stderr[-2000:]
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    tally(request, check_sent(tarball, out, [pool, box.pool], cells), box,
          {f"ffmpeg's lines ({stage} x every fault)": len(lines), "hidden files": 2})


# -- the shared runs: nothing withheld; a text no kind admits refused by verify and merge ---------------------------
SHARED = ["demo_run", "ladder_run", "named_run", "twin_run"]


def tarball_of(request: pytest.FixtureRequest, fixture: str) -> Path:
    made = request.getfixturevalue(fixture)
    folders = [p for p in (made if isinstance(made, tuple) else (made,)) if isinstance(p, Path)]
    found = sorted(t for folder in folders for t in folder.rglob("05_bundle/results-*.tar.gz"))
    assert found, f"{fixture} made no results tarball"
    return found[-1]


def every_text_admitted(tarball: Path) -> tuple[list[Any], list[str]]:
    """(every text the tarball sends, its members), each checked: admitted by its kind, none withheld at the box."""
    from kit.bundle.texts import sent_texts

    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        (top,) = Path(tmp).iterdir()
        members = sorted(str(p.relative_to(top)) for p in top.rglob("*") if p.is_file())
        texts = sent_texts(top, members)[1]
    withheld = [t.line() for t in texts if WITHHELD in t.value]
    refused = [t.line() for t in texts if not t.admitted]
    assert (withheld, refused) == ([], []), (withheld[:20], refused[:20])
    return texts, members


@pytest.mark.parametrize("fixture", SHARED)
def test_a_shared_run_sends_every_text_by_its_kind(fixture: str, request: pytest.FixtureRequest) -> None:
    """Each text of a shared run's tarball is admitted by its kind, and none was withheld at the box (a text the
    catalogue does not know yet would be: its message belongs in kit.bundle.messages)."""
    tarball = tarball_of(request, fixture)
    shown = run_here("verify", tarball)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    texts, members = every_text_admitted(tarball)
    request.node.user_properties.append(("timing", f"{fixture}: {len(texts)} texts in {len(members)} members"))


def test_a_union_without_frame_times_sends_every_text_by_its_kind(demo_run: tuple[Path, Any],
                                                                   tmp_path: Path) -> None:
    """A lead's union whose manifest is not beside it (a corpus copied alone, or JSONL merged) records no frame
    times: vmaf-tune's windows are placed by the header's rate, and the verdict says how many. That field was once
    worded apart from the catalogue and sent withheld; the whole run on such a corpus sends every text admitted, none
    withheld, the placed words among them."""
    out, _ = demo_run
    alone = tmp_path / "union.parquet"
    shutil.copyfile(out / "02_corpus" / "shard.parquet", alone)  # no manifest beside it: no frame times
    done = run_kit("run", "--corpus", alone, "--out-dir", tmp_path / "lead", "--box-id", "leadbox", "--epochs", "3",
                   "--seeds", "0,1", env={"KIT_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    (tarball,) = (tmp_path / "lead" / "05_bundle").glob("results-*.tar.gz")
    texts, _ = every_text_admitted(tarball)
    placed = [t.value for t in texts if "placed by the header's frame rate" in t.value]
    assert placed and all(t.startswith(tuple(str(k) for k in range(10))) for t in placed), placed[:3]


def edited(tarball: Path, dest: Path, member: str, edit: Any) -> Path:
    """`tarball` with `member` (a JSON file) edited by `edit` and manifest.json's sha256 of it made to match: what a
    box whose kit said more than this one knows would send."""
    import hashlib

    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        (top,) = Path(tmp).iterdir()
        path = top / member
        doc = json.loads(path.read_text())
        edit(doc)
        path.write_text(json.dumps(doc, indent=2))
        manifest = json.loads((top / "manifest.json").read_text())
        manifest["files"][member]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        manifest["files"][member]["bytes"] = path.stat().st_size
        signer = Path(tmp) / "signer-cache"  # signed again, by a key of its own: only the text is wrong
        signer.mkdir()
        with Tree.open(signer) as cache:
            manifest = sign_manifest(manifest, str(manifest["box_id"]), str(manifest[SIGNER]["part"]), cache)
        (top / "manifest.json").write_text(json.dumps(manifest, indent=2))
        with tarfile.open(dest, "w:gz") as out:
            out.add(top, arcname=top.name)
    return dest


def test_a_tarball_holding_a_text_no_kind_admits_is_refused_naming_it(demo_run: tuple[Path, Any],
                                                                      tmp_path: Path) -> None:
    """A CPU's name as the system said it (an address in it), put back into prereqs.json after the box typed it:
    verify and merge refuse the tarball (exit 2), naming the member, the field and the kind, and the hint's command
    (verify --show-sent) shows the text marked."""
    tarball = tarball_of_folder(demo_run[0])
    secret = "Intel Xeon lee 10.1.2.3"
    bad = edited(tarball, tmp_path / tarball.name, "01_prereqs/prereqs.json",
                 lambda doc: doc["host"].__setitem__("cpu", secret))
    res = run_kit("verify", bad)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "01_prereqs/prereqs.json" in res.stderr and "host.cpu" in res.stderr, res.stderr
    (hint,) = [ln for ln in res.stderr.splitlines() if ln.startswith("hint: ")]
    command = re.search(r"\(([^()]*verify --show-sent .*?) names each text", hint)
    assert command is not None, hint
    # as printed, as a shell splits it (the kit spells itself as it was started)
    shown = subprocess.run(shlex.split(command.group(1)), capture_output=True, text=True, check=False)
    assert shown.returncode == 2 and any("host.cpu" in ln and secret in ln for ln in shown.stdout.splitlines())
    merged = run_kit("merge", bad, "-o", tmp_path / "m.parquet")
    assert merged.returncode == 2 and "01_prereqs/prereqs.json" in merged.stderr and "host.cpu" in merged.stderr
    assert "nothing was merged" in merged.stderr and not (tmp_path / "m.parquet").exists(), merged.stderr


def tarball_of_folder(folder: Path) -> Path:
    found = sorted(Path(folder).rglob("05_bundle/results-*.tar.gz"))
    assert found
    return found[-1]


def test_an_older_kit_s_tarball_is_read_for_its_corpus_alone(demo_run: tuple[Path, Any], tmp_path: Path) -> None:
    """A tarball without the catalogue's mark (2.4's, whose texts a door of words let through): verify says so and
    passes its files, merge takes its corpus rows (device and ffmpeg names typed) and none of its other texts."""
    tarball = tarball_of_folder(demo_run[0])
    old = edited(tarball, tmp_path / "old.tar.gz", "01_prereqs/prereqs.json", lambda doc: None)
    with tempfile.TemporaryDirectory() as tmp:  # the manifest as 2.4 wrote it: no `catalogue`
        with tarfile.open(old) as tar:
            tar.extractall(tmp, filter="data")
        (top,) = Path(tmp).iterdir()
        manifest = json.loads((top / "manifest.json").read_text())
        for key in ("catalogue", SIGNER, SIGNATURE):  # nor signed
            manifest.pop(key, None)
        (top / "manifest.json").write_text(json.dumps(manifest, indent=2))
        old.unlink()
        with tarfile.open(old, "w:gz") as out:
            out.add(top, arcname=top.name)
    res = run_kit("verify", old)
    assert res.returncode == 0 and "made by a kit before the catalogue" in res.stdout, res.stdout + res.stderr
    # at a lead that never met the box (one that knows its key refuses it unsigned: tests/pipeline/test_box_keys.py)
    merged = run_kit("merge", old, "-o", tmp_path / "m.parquet", env={"KIT_CACHE_DIR": str(tmp_path / "lead")})
    assert merged.returncode == 0, merged.stdout + merged.stderr
