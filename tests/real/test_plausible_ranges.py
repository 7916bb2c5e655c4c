"""Impossible is refused where it is made (issue 91, item 4): every score column with a declared range
(kit.corpus.columns.PLAUSIBLE), given a value just below, at and just above each bound, is judged alike at the job's
parse of a real libvmaf log (kit.corpus.jobs.scores_read), at `verify` of a tarball whose shard holds it and at the
lead's merge of that tarball: the three agree, so a box never sends what its lead refuses."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kit import __version__
from kit.bundle.tarball import verify_tarball
from kit.corpus.children import JobFailed
from kit.corpus.columns import CORPUS_FEATURES, EXTRA_FEATURES, PLAUSIBLE, TEACHER_FEATURES
from kit.corpus.inputs import load_input
from kit.corpus.jobs import Job, Provenance, scores_read
from kit.errors import InputError
from kit.infra.proc import run_process
from kit.media.libvmaf import EXTRA_KEYS, FEATURE_KEYS, Teacher, build_libvmaf_graph
from kit.media.refs import Clip
from kit.platforms.teacher import own_keys
from tests.conftest import run_here, tiny_links

NEG = Teacher("vmaf_v0.6.1neg")  # a teacher with its own six: every column with a declared range is in its log
FRAMES = 3


def bounds_cases() -> list[tuple[str, float, bool]]:
    """(column, value, kept) for each column's bounds: just below, at and just above each."""
    cases = []
    for name, (lo, hi) in PLAUSIBLE.items():
        for bound in (lo, hi):
            for value in (np.nextafter(bound, -math.inf), bound, np.nextafter(bound, math.inf)):
                cases.append((name, float(value), lo <= value <= hi))
    return cases


CASES = bounds_cases()


def test_every_column_with_a_range_is_a_column_the_job_s_log_holds() -> None:
    """The matrix covers every declared range, and each is a column of the corpus's rows."""
    assert set(PLAUSIBLE) == {"vmaf", *CORPUS_FEATURES, *EXTRA_FEATURES, *TEACHER_FEATURES}
    assert len(CASES) == 6 * len(PLAUSIBLE)


@pytest.fixture(scope="module")
def scored(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Job, Provenance, Path, object]:
    """A real libvmaf log of a 640x360 clip against itself with the teacher's own six and the opt-in features (CAMBI
    and SpEED need about that size), the job and provenance that read it, and the scoring's process."""
    folder = tmp_path_factory.mktemp("scored")
    clip_path = folder / "big.y4m"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25",
                    "-frames:v", str(FRAMES), "-pix_fmt", "yuv420p", str(clip_path)], check=True)
    log = folder / "vmaf.json"
    graph = build_libvmaf_graph(640, 360, "yuv420p", log, 1, NEG, extra=True, fps="25/1")
    score = run_process([ffmpeg, "-hide_banner", "-i", str(clip_path), "-i", str(clip_path), "-lavfi", str(graph),
                         "-f", "null", "-"], timeout_s=120)
    assert score.returncode == 0 and log.is_file(), score.stderr
    digest = hashlib.sha256(clip_path.read_bytes()).hexdigest()
    clip = Clip(str(clip_path), "big", "y4m", 640, 360, "25/1", "yuv420p", FRAMES, digest)
    prov = Provenance("box", "linux-x86_64", "cpu", ffmpeg, "9", "9", "3", teacher=NEG, extra=True,
                      teacher_keys=own_keys(ffmpeg, NEG))
    assert len(prov.teacher_keys) == len(TEACHER_FEATURES)
    return Job(clip, "libx264", 37), prov, log, score


def log_key(name: str, prov: Provenance) -> str:
    """The key libvmaf logs column `name` under."""
    if name == "vmaf":
        return "vmaf"
    for names, keys in ((CORPUS_FEATURES, FEATURE_KEYS), (EXTRA_FEATURES, EXTRA_KEYS),
                        (TEACHER_FEATURES, prov.teacher_keys)):
        if name in names:
            return keys[names.index(name)]
    raise AssertionError(name)


def parse_keeps(scored: tuple[Job, Provenance, Path, object], name: str, value: float, folder: Path) -> bool:
    """Whether the job's parse keeps libvmaf's log with `value` as frame 1's `name`."""
    job, prov, log, score = scored
    doc = json.loads(log.read_text())
    doc["frames"][1]["metrics"][log_key(name, prov)] = value
    edited = folder / "vmaf.json"
    edited.write_text(json.dumps(doc))
    try:
        scores_read(job, edited, score, prov, True)  # type: ignore[arg-type]
    except JobFailed as exc:  # the column, or the one libvmaf logs under the same key (NEG's own motion2 is libvmaf's)
        same = [n for n in PLAUSIBLE if log_key(n, prov) == log_key(name, prov)]
        assert any(f"gave frame 1 a {n} of {value:g}, which " in str(exc) for n in same), exc
        return False
    return True


@pytest.fixture(scope="module")
def shard(scored: tuple[Job, Provenance, Path, object], tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """The rows a job makes of the real log (kit.corpus.jobs.frame_table), as a corpus: a shard of one job."""
    from kit.corpus.jobs import frame_table
    from kit.corpus.schema import JOB_COLUMNS, SCHEMA, with_content

    job, prov, log, score = scored
    vlog = scores_read(job, log, score, prov, True)  # type: ignore[arg-type]
    table = frame_table(job, prov, vlog.features, vlog.vmaf, 1000, 10.0, vlog.extra, vlog.own)
    return with_content(table.select(JOB_COLUMNS)).cast(SCHEMA)


def tarball_holding(table: pa.Table, name: str, value: float, folder: Path) -> Path:
    """A results tarball whose shard holds `value` as row 1's `name` (its manifest's sums made for it)."""
    column = table[name].to_numpy(zero_copy_only=False).copy()
    column[1] = value
    buf = io.BytesIO()
    pq.write_table(table.set_column(table.column_names.index(name), name, pa.array(column)), buf)
    files = {"02_corpus/shard.parquet": buf.getvalue()}
    sums = {arc: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for arc, data in files.items()}
    manifest = {"kind": "ensemble-kit-results", "kit_version": __version__, "box_id": "box",
                "created_utc": "2026-01-02T03:04:05Z", "contents": "corpus", "files": sums}
    dest = folder / "results-box-20260102T030405Z.tar.gz"
    with tarfile.open(dest, "w:gz") as tar:
        for arc, data in [*files.items(), ("manifest.json", json.dumps(manifest).encode())]:
            info = tarfile.TarInfo(f"results-box-20260102T030405Z/{arc}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest


def verify_keeps(tarball: Path, name: str, value: float) -> bool:
    report = verify_tarball(tarball)
    if not report.ok:
        said = f"02_corpus/shard.parquet: row 1 column {name!r}: {value}"
        assert any(p.startswith(said) for p in report.problems), report.problems
    return report.ok


def merge_keeps(tarball: Path, name: str, value: float) -> bool:
    try:
        load_input(tarball)  # what merge reads each input by, before any row is merged
    except InputError as exc:
        assert f"02_corpus/shard.parquet: row 1 column {name!r}: {value}" in exc.message, exc.message
        return False
    return True


@pytest.mark.parametrize("name", sorted(PLAUSIBLE))
def test_the_job_s_parse_verify_and_merge_agree_at_every_bound(name: str, scored: tuple[Job, Provenance, Path, object],
                                                               shard: pa.Table, tmp_path: Path) -> None:
    for column, value, kept in (c for c in CASES if c[0] == name):
        folder = tmp_path / f"{value!r}"
        folder.mkdir()
        tarball = tarball_holding(shard, column, value, folder)
        found = (parse_keeps(scored, column, value, folder), verify_keeps(tarball, column, value),
                 merge_keeps(tarball, column, value))
        assert found == (kept, kept, kept), (column, value, "parse, verify, merge", found)


@pytest.mark.parametrize(("name", "value"), [("vmaf", -50.0), ("adm2", 7.0)])
def test_the_issue_s_rewritten_scores_are_refused_by_verify_and_merge_naming_them(
        name: str, value: float, shard: pa.Table, tmp_path: Path) -> None:
    """The issue's box: its rows rewritten to VMAF -50, adm2 7.0. Before, `verify` said OK and only the lead's merge
    refused; now `verify` refuses it first, exit 2, naming the file, the column and the value, as the merge does."""
    tarball = tarball_holding(shard, name, value, tmp_path)
    res = run_here("verify", tarball)
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"MISMATCH: 02_corpus/shard.parquet: row 1 column {name!r}: {value} is outside " in res.stderr, res.stderr
    merged = run_here("merge", tarball, "-o", tmp_path / "union.parquet")
    assert merged.returncode == 2 and f"row 1 column {name!r}: {value} is outside" in merged.stderr, merged.stderr
    (tmp_path / "kept").mkdir()
    kept = tarball_holding(shard, name, PLAUSIBLE[name][0], tmp_path / "kept")
    assert run_here("verify", kept).returncode == 0


@pytest.mark.parametrize(("counted", "words"), [
    (FRAMES + 1, "the encode or the reference decoded to fewer frames"),
    (FRAMES - 1, f"the encode and the reference decoded to more frames than the {FRAMES - 1} the kit counted in "
                 "the clip")])
def test_libvmaf_s_frames_are_said_fewer_or_more_as_they_are(scored: tuple[Job, Provenance, Path, object],
                                                            counted: int, words: str) -> None:
    """A real log of 3 frames read by a job whose clip the kit counted otherwise: `fewer` only when there were fewer
    (before: `libvmaf gave 48 frames' scores ... decoded to fewer frames` when there were more)."""
    job, prov, log, score = scored
    counted_job = Job(dataclasses.replace(job.clip, n_frames=counted), job.encoder, job.cq)
    with pytest.raises(JobFailed) as failed:
        scores_read(counted_job, log, score, prov, True)  # type: ignore[arg-type]
    assert f"libvmaf gave {FRAMES} frames' scores, not {counted}, scoring big.y4m" in str(failed.value)
    assert str(failed.value).endswith(words), failed.value


@pytest.mark.slow
def test_a_real_corpus_step_whose_libvmaf_writes_an_impossible_score_leaves_that_job_undone(
        ffmpeg: str, tiny_refs: Path, tmp_path: Path) -> None:
    """A real `step corpus` whose ffmpeg rewrites one clip's libvmaf log to VMAF -50 (a wrapper, as a broken build
    would): that clip's job fails in the kit's words, its clip is left out, no row of it is in the shard and its job
    is not recorded as done (before: the step ended 0 with the row in the shard, and `verify` said OK)."""
    wrapper = tmp_path / "ffmpeg-rewrites"
    wrapper.write_text(f"#!{sys.executable} -IS\n" + REWRITER.replace("REAL", repr(ffmpeg)))
    wrapper.chmod(0o755)
    refs = tiny_links(tiny_refs, tmp_path / "refs")
    cheap = ["--ffmpeg", wrapper, "--encoders", "libx264", "--cqs", "37", "--scales", "native"]
    out = tmp_path / "out"
    assert run_here("step", "prereqs", "--out-dir", out, *cheap).returncode == 0
    res = run_here("step", "corpus", "--ref-dir", refs, "--out-dir", out, *cheap)
    said = res.stdout + res.stderr
    assert "gave frame 0 a vmaf of -50, which is outside [0, 100], the plausible range" in said, said[-3000:]
    table = pq.read_table(out / "02_corpus" / "shard.parquet")
    assert "gamma" not in set(table["src"].to_pylist()) and table["vmaf"].to_numpy().min() >= 0
    assert not list((out / "02_corpus" / "jobs").glob("gamma-*.json"))
    # a job's rows rewritten with their ledger (its sha256 made to match): the shard is not assembled of them
    (data,) = (out / "02_corpus" / "jobs").glob("alpha-*.parquet")
    rows = pq.read_table(data)
    pq.write_table(rows.set_column(rows.column_names.index("adm2"), "adm2", pa.array([7.0] * rows.num_rows)), data)
    ledger = data.with_suffix(".json")
    ledger.write_text(json.dumps({**json.loads(ledger.read_text()),
                                  "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}))
    (out / "02_corpus" / "shard.parquet").unlink()  # the step runs again, its jobs reused
    again = run_here("step", "corpus", "--ref-dir", refs, "--out-dir", out, *cheap)
    assert again.returncode == 2, again.stdout[-2000:]
    assert f"error: {data}: row 0 column 'adm2': 7.0 is outside [0, 2], the plausible range: the lead's merge " \
           "would refuse this box's corpus for it" in again.stderr, again.stderr


# runs the real ffmpeg; for gamma's scoring, rewrites frame 0's score in libvmaf's log to -50 once it is written
REWRITER = r'''import json, re, subprocess, sys
argv = sys.argv[1:]
res = subprocess.run([REAL, *argv])
joined = " ".join(argv)
found = re.findall(r"log_path=((?:\\.|[^:\\])+)", joined)
if res.returncode == 0 and found and "-progress" in argv and "gamma" in joined:
    log = re.sub(r"\\(.)", r"\1", found[-1])
    doc = json.load(open(log))
    doc["frames"][0]["metrics"]["vmaf"] = -50.0
    json.dump(doc, open(log, "w"))
sys.exit(res.returncode)
'''
