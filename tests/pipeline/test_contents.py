"""One content, one source, in a real corpus step: twins skipped, near-duplicates grouped, overrides."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kit.corpus.schema import corpus_sha256
from tests.conftest import FAST, TINY_SOURCES, assert_clean_failure, copy_prereqs, render, run_kit

pytestmark = pytest.mark.slow  # real encodes and scores


def _copy(ffmpeg: str, src: Path, dest: Path, *codec: str, vf: str = "") -> Path:
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), *(["-vf", vf] if vf else []),
                    *codec, str(dest)], check=True)
    return dest


def _corpus(prereqs_of: Path, refs: Path, out: Path, *extra: str | Path) -> subprocess.CompletedProcess[str]:
    """The corpus step in a fresh out-dir, after the prereqs step of a session run made with the same --encoders
    (`prereqs_of`: twin_run's, FAST's default encoders; x264_run's with --encoders libx264)."""
    copy_prereqs(prereqs_of, out)
    return run_kit("step", "corpus", "--ref-dir", refs, "--out-dir", out, *FAST, *extra)


def test_twins_are_encoded_once_and_near_duplicates_form_one_group(
        twin_refs: Path, twin_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    # twin_refs (tests/conftest.py): the four tiny clips, alpha's frame-exact ffv1 copy under another name, gamma's
    # lossless x264 copy under gamma's own name, and beta's lossy copy (a near-duplicate); twin_run: `run` on them
    made, res = twin_run
    said = res.stdout + res.stderr
    assert "alpha_master.mkv holds the same pictures as" in said and "alpha.y4m (frame-identical)" in said
    assert "gamma.mp4 holds the same pictures as" in said
    manifest = json.loads((made / "02_corpus" / "shard.manifest.json").read_text())
    assert manifest["schema_version"] == 6  # corpus schema 6 (2.2.0)
    assert sorted(Path(t["file"]).name for t in manifest["twins"]) == ["alpha_master.mkv", "gamma.mp4"]
    assert sorted(s["src"] for s in manifest["sources"]) == ["alpha", "beta", "beta_lossy", "delta", "gamma"]
    # 2 encodes per source: the twins were not encoded
    assert "10 jobs (clip x encoder x cq)" in res.stdout, res.stdout
    (group,) = manifest["groups"]
    assert sorted(m["src"] for m in group["members"]) == ["beta", "beta_lossy"]
    assert group["why"] and "near-duplicate" in group["why"][0]
    by_src = {s["src"]: s for s in manifest["sources"]}
    assert by_src["beta"]["content"] == by_src["beta_lossy"]["content"] == group["content"]
    assert group["content"] == min(by_src["beta"]["src_sha256"], by_src["beta_lossy"]["src_sha256"])
    assert all(len(s["pixels_sha256"]) == 64 and s["signature"].startswith("t2:") for s in manifest["sources"])
    rows = pq.read_table(made / "02_corpus" / "shard.parquet", columns=["src", "src_sha256", "content"]).to_pylist()
    assert {r["content"] for r in rows if r["src"].startswith("beta")} == {group["content"]}
    assert all(r["content"] == r["src_sha256"] for r in rows if not r["src"].startswith("beta"))

    # LOSO holds the group out at once: one fold for beta and beta_lossy, four folds for five sources
    folds = pq.read_table(made / "03_loso" / "folds.parquet", columns=["seed", "fold", "src"]).to_pylist()
    fold_of = {r["src"]: r["fold"] for r in folds if r["seed"] == 0}
    assert fold_of["beta"] == fold_of["beta_lossy"] and len(set(fold_of.values())) == 4, fold_of

    # the user says beta_lossy is another content: the rows change, the jobs are reused (in a copy of the run)
    out = tmp_path / "out"
    shutil.copytree(made, out, symlinks=True)
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"different": [["beta", "beta_lossy.mp4"]]}))
    res = run_kit("step", "corpus", "--ref-dir", twin_refs, "--out-dir", out, *FAST, "--content-groups", groups)
    assert res.returncode == 0 and "10 already done" in res.stdout, res.stdout + res.stderr
    manifest = json.loads((out / "02_corpus" / "shard.manifest.json").read_text())
    assert manifest["groups"] == [] and manifest["overrides"][0].startswith("different contents: beta, beta_lossy.mp4")
    rows = pq.read_table(out / "02_corpus" / "shard.parquet", columns=["src_sha256", "content"]).to_pylist()
    assert all(r["content"] == r["src_sha256"] for r in rows)
    assert len(manifest["apart"]) == 1  # recorded as data: a merge without the file keeps them apart too
    res = run_kit("merge", out / "02_corpus" / "shard.parquet", "-o", tmp_path / "m.parquet")
    assert res.returncode == 0 and json.loads((tmp_path / "m.manifest.json").read_text())["groups"] == [], res.stdout
    # and a corpus file's rows name their groups: --content-groups with --corpus is refused, saying where it goes
    res = run_kit("run", "--corpus", tmp_path / "m.parquet", "--out-dir", tmp_path / "c", *FAST,
                  "--content-groups", groups)
    assert_clean_failure(res, "--content-groups has no effect with --corpus")
    assert "merge" in res.stderr and "regrouped.parquet" in res.stderr


def test_an_override_naming_no_source_is_refused(
        twin_refs: Path, twin_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"same": [["alpha", "nosuchclip"]]}))
    res = _corpus(twin_run[0], twin_refs, tmp_path / "out", "--content-groups", groups)
    assert_clean_failure(res, str(groups), "'nosuchclip' names no source")


def test_clips_whose_names_reduce_to_one_are_each_used_under_their_file_s_name(
        ffmpeg: str, tiny_refs: Path, twin_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """alpha.y4m, alpha.mkv (other pictures) and alpha_422.mkv (alpha's in 4:2:2) all reduce to the source name
    'alpha', which ended 2.1's run (exit 2): each is used, named by its file (alpha.y4m and alpha.mkv, whose names
    without the extension clash too, by their whole names), the names said; alpha_422 is alpha's content still."""
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in TINY_SOURCES:
        shutil.copy(tiny_refs / f"{name}.y4m", refs / f"{name}.y4m")
    render(ffmpeg, "smptebars=s=176x144:r=25", refs / "alpha.mkv", fmt="matroska", extra=("-c:v", "ffv1"))
    _copy(ffmpeg, refs / "alpha.y4m", refs / "alpha_422.mkv", "-c:v", "ffv1", "-pix_fmt", "yuv422p")
    res = _corpus(twin_run[0], refs, tmp_path / "out")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (f"3 clips give the source name 'alpha' (a file's name without its tokens of size, rate and depth): each "
            f"is named by its file instead, {refs / 'alpha.mkv'} as 'alpha.mkv', {refs / 'alpha.y4m'} as "
            f"'alpha.y4m', {refs / 'alpha_422.mkv'} as 'alpha_422'") in " ".join((res.stdout + res.stderr).split())
    manifest = json.loads((tmp_path / "out" / "02_corpus" / "shard.manifest.json").read_text())
    by_file = {Path(s["file"]).name: s for s in manifest["sources"]}
    assert {name: s["src"] for name, s in by_file.items() if name.startswith("alpha")} == {
        "alpha.y4m": "alpha.y4m", "alpha.mkv": "alpha.mkv", "alpha_422.mkv": "alpha_422"}
    (group,) = manifest["groups"]  # alpha's pictures in 4:2:2: one content with alpha, the bars another
    assert sorted(m["src"] for m in group["members"]) == ["alpha.y4m", "alpha_422"]
    assert by_file["alpha.mkv"]["content"] == by_file["alpha.mkv"]["src_sha256"]
    rows = pq.read_table(tmp_path / "out" / "02_corpus" / "shard.parquet", columns=["src"]).to_pylist()
    assert {r["src"] for r in rows} == {"alpha.y4m", "alpha.mkv", "alpha_422", "beta", "gamma", "delta"}


def test_twins_change_no_row_of_the_corpus(ffmpeg: str, tiny_refs: Path, x264_run: Path, tmp_path: Path) -> None:
    """A set with frame-identical copies trains on exactly the rows of the set without them: the held-out
    figures of a source with a twin are those it has alone (the set alone: the session's x264_run, whose flags
    these are)."""
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in TINY_SOURCES:
        shutil.copy(tiny_refs / f"{name}.y4m", refs / f"{name}.y4m")
    _copy(ffmpeg, refs / "alpha.y4m", refs / "alpha_master.mkv", "-c:v", "ffv1")
    raw = refs / "delta_176x144_25fps.yuv"
    _copy(ffmpeg, refs / "delta.y4m", raw, "-f", "rawvideo", "-pix_fmt", "yuv420p")
    with_twins, alone = tmp_path / "twins", x264_run
    res = _corpus(x264_run, refs, with_twins, "--encoders", "libx264", "--box-id", "boxa")
    assert res.returncode == 0, res.stdout + res.stderr
    shard = Path("02_corpus") / "shard.parquet"
    assert corpus_sha256(with_twins / shard) == corpus_sha256(alone / shard)


def test_merge_groups_one_content_across_boxes_and_names_unchecked_inputs(
        ffmpeg: str, tiny_refs: Path, twin_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """Box A keeps alpha as .y4m, box B the same pictures as .mkv (and a lossy beta): the union holds
    four contents in six sources, whatever the order of the inputs; an older input is named as unchecked."""
    box_a, box_b = tmp_path / "a", tmp_path / "b"
    box_a.mkdir()
    box_b.mkdir()
    for name in ("alpha", "beta", "gamma"):
        shutil.copy(tiny_refs / f"{name}.y4m", box_a / f"{name}.y4m")
    shutil.copy(tiny_refs / "delta.y4m", box_b / "delta.y4m")
    _copy(ffmpeg, tiny_refs / "alpha.y4m", box_b / "alpha.mkv", "-c:v", "ffv1")
    _copy(ffmpeg, tiny_refs / "beta.y4m", box_b / "beta_lossy.mp4", "-c:v", "libx264", "-crf", "30", "-pix_fmt",
          "yuv420p")
    for refs, out, box in ((box_a, tmp_path / "out_a", "boxa"), (box_b, tmp_path / "out_b", "boxb")):
        res = _corpus(twin_run[0], refs, out, "--box-id", box)
        assert res.returncode == 0, res.stderr
    shards = [tmp_path / "out_a" / "02_corpus" / "shard.parquet", tmp_path / "out_b" / "02_corpus" / "shard.parquet"]
    res = run_kit("merge", *shards, "-o", tmp_path / "ab.parquet")
    assert res.returncode == 0, res.stderr
    assert "4 contents in 6 sources" in res.stdout, res.stdout
    # two files named alpha are told apart as alpha~<hex>, as in every fold and figure
    # (in the order of their names: the .mkv's bytes, hence its ~<hex>, differ from run to run, its muxer
    # writing a random segment UID)
    pair = re.search(r"one content in 2 sources: alpha~([0-9a-f]{6}) \((box.)\), alpha~([0-9a-f]{6}) \((box.)\); ",
                     res.stdout)
    assert pair and "frame-identical" in res.stdout, res.stdout
    assert pair[1] < pair[3] and {pair[2], pair[4]} == {"boxa", "boxb"}, res.stdout
    assert "beta (boxa), beta_lossy (boxb)" in res.stdout
    manifest = json.loads((tmp_path / "ab.manifest.json").read_text())
    assert manifest["n_contents"] == 4 and len(manifest["groups"]) == 2 and manifest["unchecked_inputs"] == []
    assert all(s["pixels_sha256"] and s["content"] for s in manifest["sources"])
    assert run_kit("merge", *reversed(shards), "-o", tmp_path / "ba.parquet").returncode == 0
    assert (tmp_path / "ab.parquet").read_bytes() == (tmp_path / "ba.parquet").read_bytes()
    rows = pq.read_table(tmp_path / "ab.parquet", columns=["src", "content"]).to_pylist()
    assert len({r["content"] for r in rows}) == 4

    # an input without fingerprints (a schema-2 shard, here without its manifest) still merges, named
    old = tmp_path / "old" / "shard.parquet"
    old.parent.mkdir()
    table = pq.read_table(shards[1])
    pq.write_table(table.drop_columns(["content"]), old)
    res = run_kit("merge", shards[0], old, "-o", tmp_path / "legacy.parquet")
    assert res.returncode == 0, res.stderr
    assert "1 input(s) could not be checked" in res.stdout and "shard.parquet" in res.stdout, res.stdout
    assert "4 contents" not in res.stdout  # alpha on box B is compared by sha256 only: not joined

    # the lead's word: beta_lossy is another content
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"different": [["beta", "beta_lossy.mp4"]]}))  # a file name, as at discovery
    res = run_kit("merge", *shards, "-o", tmp_path / "split.parquet", "--content-groups", groups)
    assert res.returncode == 0 and "5 contents in 6 sources" in res.stdout, res.stdout + res.stderr
    split = json.loads((tmp_path / "split.manifest.json").read_text())
    assert split["overrides"][0].startswith("different contents: beta, beta_lossy")
