"""What the kit checked and left out is seen: the independent libvmaf check in the closing summary, the report and the
verdict (recomputed here from the manifests the corpus step wrote), also over the clip's own file where the kit
scores a lossless copy of it; and a union says every box's left-out clips, every corpus warning and one answer to
"send anything back?"."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from kit.bundle.tarball import write_results_tarball
from kit.infra.tree import Tree, read_out_dir
from kit.report.summary import CHECK_LABEL, _verdict, closing_rows
from kit.rundir import LAYOUT
from tests.conftest import FAST, LENIENT, ODD, TINY_SOURCES, copy_prereqs, render, run_kit

pytestmark = pytest.mark.slow  # real encodes and scores


def manifest_checks(manifest: dict[str, object]) -> list[dict[str, object]]:
    sources = manifest["sources"]
    assert isinstance(sources, list)
    return [s["oracle"] for s in sources if s.get("oracle")]


def test_the_independent_check_is_a_summary_row_a_report_section_and_a_verdict_field(
        json_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out = json_run[0]
    manifest = json.loads((out / "02_corpus" / "shard.manifest.json").read_text())
    checks = manifest_checks(manifest)
    assert len(checks) == len(manifest["sources"]) == len(TINY_SOURCES)
    worst = max(checks, key=lambda c: c["max_diff"])
    (verdict_file,) = (out / "04_verdict").glob("[PH]*.json")
    block = json.loads(verdict_file.read_text())["independent_check"]
    assert block["clips"] == len(checks) and block["refused"] == [] and block["unchecked"] == []
    assert math.isclose(block["max_diff"], worst["max_diff"]) and block["worst"].endswith(f"frame {worst['at_frame']}")
    with read_out_dir(out) as tree:
        verdict = _verdict(tree, out)
    assert verdict is not None
    rows = dict(closing_rows(out, verdict))
    said = rows[CHECK_LABEL]
    assert said.startswith(f"{len(checks)} clip(s), the first {block['frames']} frames of each") and "none refused" \
        in said and f"largest difference {worst['max_diff']:.6f} VMAF" in said, said
    report = (out / "05_bundle" / "report.html").read_text()
    assert "<h2 id='check'>Independent check</h2>" in report and f"{worst['max_diff']:.6f}" in report
    assert "<a href='#check'>check</a>" in report


def test_a_clip_read_through_a_lossless_copy_is_checked_against_its_own_file(
        ffmpeg: str, tiny_refs: Path, json_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """An .avi is scored through the kit's lossless copy in its cache (kit.media.containers): its check decodes the
    .avi itself, so a copy that drifted from the file would show."""
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in ("alpha", "beta", "gamma"):
        shutil.copy(tiny_refs / f"{name}.y4m", refs / f"{name}.y4m")
    avi = refs / "delta.avi"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(tiny_refs / "delta.y4m"),
                    "-c:v", "mpeg4", "-q:v", "2", str(avi)], check=True)
    out = copy_prereqs(json_run[0], tmp_path / "out")
    res = run_kit("step", "corpus", "--ref-dir", refs, "--out-dir", out, *FAST)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    manifest = json.loads((out / "02_corpus" / "shard.manifest.json").read_text())
    (entry,) = [s for s in manifest["sources"] if s["file"] == "delta.avi"]
    check = entry["oracle"]
    assert check["own_file"] is True and check["failure"] == "" and check["max_diff"] <= 0.5
    inputs = [check["argv"][i + 1] for i, a in enumerate(check["argv"]) if a == "-i"]
    # the reference: the user's file, not the copy in the kit's cache (the manifest spells it as the lead sees it)
    assert inputs[-1] == "[ref-dir]/delta.avi", inputs
    assert not any("intermediates" in a for a in check["argv"]), check["argv"]


def low_bitrate_master(ffmpeg: str, dest: Path) -> Path:
    """A master of 0.024 bits per pixel (x264 at CRF 51): what the corpus step warns of as heavily compressed."""
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "mandelbrot=s=352x288:r=25", "-frames:v", "8", "-c:v", "libx264", "-crf", "51", "-pix_fmt",
                    "yuv420p", str(dest)], check=True)
    return dest


@pytest.fixture(scope="module")
def two_boxes(ffmpeg: str, tiny_refs: Path, json_run: tuple[Path, subprocess.CompletedProcess[str]],
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Box A leaves a clip out (an odd size) and holds a heavily compressed master (`low`); box B is plain: each
    box's out-dir after its corpus step (`boxa`, `boxb`)."""
    root = tmp_path_factory.mktemp("two-boxes")
    a, b = root / "a", root / "b"
    a.mkdir()
    b.mkdir()
    for name in ("alpha", "gamma"):
        shutil.copy(tiny_refs / f"{name}.y4m", a / f"{name}.y4m")
    found = {"low": low_bitrate_master(ffmpeg, a / "fractal.mkv")}
    render(ffmpeg, ODD, a / "odd.y4m", pix_fmt="yuv444p")
    shutil.copy(tiny_refs / "delta.y4m", b / "delta.y4m")
    render(ffmpeg, "smptebars=s=176x144:r=25", b / "bars.y4m")
    render(ffmpeg, "testsrc=s=176x144:r=25", b / "pattern.y4m")
    for refs, box in ((a, "boxa"), (b, "boxb")):
        out = copy_prereqs(json_run[0], root / f"out_{box}")
        res = run_kit("step", "corpus", "--ref-dir", refs, "--out-dir", out, "--box-id", box, *FAST)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
        found[box] = out
    return found


def test_the_union_says_the_boxes_left_out_clips_their_warnings_and_that_nothing_is_sent(
        two_boxes: dict[str, Path], tmp_path: Path) -> None:
    """The merge, the union's closing summary and its report say box A's clip left out and its warning, and the
    union's recommendation and summary agree that nothing is sent. The union is run in box A's own out-dir: the
    02_corpus/skipped.json its corpus step left there is not the union's, neither said nor sent."""
    # the box's manifest names its clip as the lead may see it (issue 69): under the box's --ref-dir, no folder
    low = f"[ref-dir]/{two_boxes['low'].name}"
    shards = [two_boxes[box] / "02_corpus" / "shard.parquet" for box in ("boxa", "boxb")]
    merged = run_kit("merge", *shards, "-o", tmp_path / "u.parquet")
    assert merged.returncode == 0, merged.stderr
    said = merged.stdout + merged.stderr
    assert "left out on box boxa: odd.y4m: " in said and "independent check: 6 clip(s)" in said, said
    assert f"warning: box boxa: {low}: its own bitrate is" in merged.stderr, merged.stderr
    union = tmp_path / "union"
    shutil.copytree(two_boxes["boxa"], union, symlinks=True)
    assert (union / "02_corpus" / "skipped.json").is_file()
    res = run_kit("run", "--corpus", tmp_path / "u.parquet", "--out-dir", union, *FAST, *LENIENT,
                  env={"COLUMNS": "400"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    rows = [line.split("│")[1:3] for line in res.stdout.splitlines() if line.count("│") >= 3]
    table = {label.strip(): text.strip() for label, text in rows if label.strip()}
    assert table["SKIPPED clips"].startswith("1 left out on the boxes: odd.y4m on box boxa ("), table
    warnings = [text.strip() for label, text in rows if label.strip() == "WARNING"]
    assert any(w.startswith(f"box boxa: {low}: its own bitrate is") for w in warnings), warnings
    assert table[CHECK_LABEL].startswith("6 clip(s), the first"), table
    (verdict_file,) = (union / "04_verdict").glob("[PH]*.json")
    recommendation = json.loads(verdict_file.read_text())["recommendation"]
    assert "nothing to send" in recommendation and "send the results tarball back" not in recommendation
    assert "nothing to send" in res.stdout and "send it to the lead" not in res.stdout
    report = (union / "05_bundle" / "report.html").read_text()
    assert "send the results tarball back" not in report.lower() and "nothing to send" in report
    assert "<h2 id='skipped'>Clips left out</h2>" in report and "odd.y4m" in report and "its own bitrate is" in report
    assert "From each box" in report and "From 02_corpus/skipped.json" not in report  # the union's, not box A's
    (tarball,) = (union / "05_bundle").glob("results-*.tar.gz")
    with tarfile.open(tarball) as tar:
        assert not [n for n in tar.getnames() if n.startswith("02_corpus/")], tar.getnames()


@pytest.mark.usefixtures("own_lead")
def test_a_kit_2_0_box_s_left_out_clips_are_read_from_its_tarball(two_boxes: dict[str, Path], tmp_path: Path) -> None:
    """A box of kit 2.0 sent its left-out clips in 02_corpus/skipped.json only (its manifest has no `left_out`):
    the merge reads them there."""
    box = two_boxes["boxa"]
    manifest = json.loads((box / "02_corpus" / "shard.manifest.json").read_text())
    del manifest["left_out"], manifest["warnings"], manifest["corpus_sha256"]
    old = tmp_path / "shard.manifest.json"
    old.write_text(json.dumps(manifest))
    tarball = tmp_path / "results-boxa-20261125T000000Z.tar.gz"
    with Tree.open(Path(os.path.commonpath([tmp_path, box]))) as tree:
        write_results_tarball(tree, tarball, "results-boxa-20261125T000000Z",
                              {LAYOUT.shard.as_posix(): box / "02_corpus" / "shard.parquet",
                               LAYOUT.shard_manifest.as_posix(): old,
                               LAYOUT.skipped_clips.as_posix(): box / "02_corpus" / "skipped.json"},
                              {"box_id": "boxa", "created_utc": "2026-11-25T00:00:00Z"})
    res = run_kit("merge", tarball, two_boxes["boxb"] / "02_corpus" / "shard.parquet", "-o", tmp_path / "u.parquet")
    assert res.returncode == 0, res.stderr
    assert "left out on box boxa: odd.y4m: " in res.stdout, res.stdout
    union = json.loads((tmp_path / "u.manifest.json").read_text())
    assert [(u["file"], u["box_id"]) for u in union["left_out"]] == [("odd.y4m", "boxa")]
