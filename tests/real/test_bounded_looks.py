"""No run is lost to one file (issue 67, items 1 and 3): every look at a clip is bounded by the clip's own size, on
the lack of progress in ffmpeg's own time (issue 91: never its whole length, never a stop or a busy box's wait), a look
that hangs leaves the clip out of this run with ffmpeg's last words and its fix, never kept as the clip's refusal (the
next run looks again), a clip ffmpeg plays whole is used whatever its strict decode said, and one whose decode flags a
damaged picture is left out with the frame named.

The hang is simulated by a wrapper of the kit's ffmpeg (the real one needs opencv-doc's box.mp4 and ffmpeg 9's
`-err_detect explode`): on a second look it floods stderr with box.mp4's line and ignores SIGTERM, as box.mp4's
look did. box.mp4 itself, and opencv-doc's Megamind_bugy.avi, are whole real files the realfiles tier's fetcher gives
(tests/publicclips.py: opencv-doc's package, pinned by sha256, kept in $TESTS_MEDIA; skipped, saying so, only where
there is no network to fetch them).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from kit.errors import InputError
from kit.infra.invocation import kit_cli
from kit.infra.proc import NOT_KEPT, BoundedBuffer, TimedOut, lines_not_kept, run_process, seconds_said
from kit.infra.tree import Tree, read_out_dir
from kit.media import looks
from kit.media.cache import Sha256Cache
from kit.media.discovery import Unusable, discover, probe_clip
from kit.media.identity import fingerprint
from kit.media.looks import (
    LOOK_PASSES,
    LOOK_START_S,
    PLAIN_DECODE_PX_PER_S,
    LookCutShort,
    budget_of,
    convert_command,
)
from kit.report.summary import skipped_rows
from kit.rundir import RunDir
from tests import pace
from tests.conftest import FAST, LENIENT, ROOT, TINY_SOURCES, copy_prereqs, render, run_here, tiny_links
from tests.printed import kit_words
from tests.publicclips import fetched_or_skip, load_manifest
from tests.real.test_stray_slice import FRAMES, h264, mp4, nal_type, nal_units, played, with_stray_slice

MMCO = "[h264 @ 0x5581] [error] mmco: unref short failure"
SHORT_START_S = 2.0  # the looks' start allowance in these tests: a hang costs seconds, not half a minute


def hanging_ffmpeg(ffmpeg: str, folder: Path) -> tuple[Path, Path]:
    """(a wrapper of `ffmpeg` that hangs on a second look as box.mp4's did, the file it writes its pid to)."""
    pids = folder / "hung.pids"
    wrapper = folder / "ffmpeg-hangs"
    wrapper.write_text(f"""#!/bin/sh
case " $* " in
*" level+verbose -xerror "*)
    echo $$ >> '{pids}'
    trap '' TERM
    while :; do echo '{MMCO}'; done >&2;;
esac
exec '{ffmpeg}' "$@"
""")
    wrapper.chmod(0o755)
    return wrapper, pids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture()
def short_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(looks, "LOOK_START_S", SHORT_START_S)
    yield


def camera_clip(ffmpeg: str, folder: Path) -> Path:
    """A camera's .mp4 in `folder` whose strict decode stops before its first frame (test_stray_slice.py's)."""
    raw = folder / "camera.h264"
    stream = h264(ffmpeg, raw)
    raw.unlink()
    return mp4(ffmpeg, with_stray_slice(stream), folder / "camera.mp4")


def test_a_look_s_budget_is_a_multiple_of_a_plain_decode_of_the_clip() -> None:
    """The rule, restated the plain way: LOOK_START_S and each look's passes of frames x pixels at the floor rate."""
    budget = budget_of(455, 640, 480)
    for kind, passes in LOOK_PASSES.items():
        assert budget.seconds(kind) == pytest.approx(LOOK_START_S + passes * 455 * 640 * 480 / PLAIN_DECODE_PX_PER_S)
    assert budget.seconds("strict") == pytest.approx(30 + 2 * 139_776_000 / 8e6)  # box.mp4: 64.9 s, not 600 s
    assert "455 frames of 640x480" in budget.rule("second")
    assert budget_of(30 * 3600, 1920, 1080).seconds("copy") > 24 * 3600  # an hour of 1080p: more than 600 s, its own


def test_stderr_beyond_what_is_kept_is_counted_in_lines() -> None:
    buf = BoundedBuffer(head=10, tail=20)
    for i in range(1000):
        buf.add(f"{i:05d}\n".encode())
    value = buf.value().decode()
    assert value.startswith("00000\n0000") and value.endswith("00997\n00998\n00999\n")
    kept = [ln for ln in value.splitlines() if re.fullmatch(r"\d{4,5}", ln)]
    # 6,000 bytes: the head's 10 (a line and 4 bytes of the next) and the last 3 lines are kept, the rest counted
    assert lines_not_kept(value) == 1000 - 3 - 1 == 996 and len(kept) == 5
    assert NOT_KEPT.format(lines=996, size=6000 - 10 - 18).strip() in value


def test_a_child_that_ignores_sigterm_is_killed_at_its_timeout(tmp_path: Path) -> None:
    pids = tmp_path / "pid"
    script = tmp_path / "stubborn"
    script.write_text(f"#!/bin/sh\necho $$ > '{pids}'\ntrap '' TERM\nwhile :; do echo '{MMCO}'; done >&2\n")
    script.chmod(0o755)
    with pace.ticking() as clock, pytest.raises(TimedOut) as caught:  # the box's own time (tests/pace.py)
        run_process([script], timeout_s=1.5)
    assert clock.seconds() < 10
    assert not caught.value.retry_helps  # a hang is never offered as a retry
    assert lines_not_kept(caught.value.stderr) > 10_000, caught.value.stderr[-300:]
    assert caught.value.stderr_tail.splitlines()[-1].endswith("mmco: unref short failure")
    pid = int(pids.read_text())
    assert pace.until(lambda: not alive(pid), 5), "the child that ignores SIGTERM outlived its timeout"


class OneHangs(NamedTuple):
    """A --ref-dir of the camera clip and alpha.y4m, and an ffmpeg whose second look at the camera clip hangs."""

    refs: Path
    camera: Path
    wrapper: Path  # hanging_ffmpeg's
    pids: Path


@pytest.fixture()
def one_hangs(ffmpeg: str, tmp_path: Path, short_start: None) -> OneHangs:
    refs = tmp_path / "refs"
    refs.mkdir()
    camera = camera_clip(ffmpeg, refs)
    render(ffmpeg, TINY_SOURCES["alpha"], refs / "alpha.y4m")
    return OneHangs(refs, camera, *hanging_ffmpeg(ffmpeg, tmp_path))


def test_a_second_look_that_hangs_leaves_its_clip_out_and_the_others_are_read(
        ffmpeg: str, tmp_path: Path, one_hangs: OneHangs) -> None:
    refs, camera, wrapper, pids = one_hangs
    unusable: list[Unusable] = []
    with pace.ticking() as clock:
        clips = discover(refs, str(wrapper), Sha256Cache(None), unusable=unusable)
    stall = looks.budget_of(FRAMES, 160, 120).stall_s("second")
    assert clock.seconds() < stall + 20  # the strict look, the hung one up to its stall, alpha's (the box's time)
    assert [Path(c.path).name for c in clips] == ["alpha.y4m"]
    (left,) = unusable
    assert left.path == str(camera)
    assert re.match(rf"ffmpeg gave no frames for {seconds_said(stall)} s decoding it as it plays, on a second "
                    rf"look, its limit \(64 frames' worth of its budget\)", left.why), left.why
    assert "not kept as the clip's refusal" in left.why and "the next run looks at it again" in left.why, left.why
    assert "its last words: 'mmco: unref short failure'" in left.why and "lines not kept)" in left.why, left.why
    assert left.fix.endswith(convert_command(camera)), left.fix
    (pid,) = map(int, pids.read_text().split())
    assert not alive(pid), "the look that ignored SIGTERM outlived its budget"
    # its fix runs as printed, with the kit's own ffmpeg (no other on the PATH), and makes a clip the kit takes whole
    command = left.fix[left.fix.index(kit_cli()):]
    env = {**{k: v for k, v in os.environ.items() if k != "KIT_FFMPEG"}, "PYTHONPATH": str(ROOT),
           "PATH": str(tmp_path)}
    done = pace.run([*shlex.split(kit_cli()), *kit_words(command, kit_cli())], cwd=ROOT, env=env,
                    capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (command, done.stderr[-2000:])
    copy = probe_clip(camera.with_suffix(".mkv"), ffmpeg, Sha256Cache(None))
    assert (copy.n_frames, copy.width, copy.height) == (FRAMES, 160, 120)


def test_a_child_whose_output_stalls_is_stopped_long_before_its_timeout(tmp_path: Path) -> None:
    """A decode writes each frame's thumbnail as it goes: one that stops writing (stuck in a loop, its stderr still
    busy) is stopped after `stall_s`, whatever its timeout; one that writes on is let be."""
    script = tmp_path / "stalls"
    script.write_text(f"#!/bin/sh\nprintf 'frame'\nwhile :; do echo '{MMCO}'; done >&2\n")
    script.chmod(0o755)
    with pace.ticking() as clock, pytest.raises(TimedOut, match="gave no frames for 2 s") as caught:
        run_process([script], timeout_s=600, capture_stdout=True, stall_s=2)
    assert clock.seconds() < 15 and caught.value.stalled and caught.value.timeout_s == 2
    steady = tmp_path / "steady"
    steady.write_text("#!/bin/sh\nfor i in 1 2 3 4 5 6; do printf 'frame'; sleep 0.5; done\n")
    steady.chmod(0o755)
    assert run_process([steady], timeout_s=60, capture_stdout=True, stall_s=2).stdout == b"frame" * 6


def test_a_look_that_stalls_leaves_its_clip_out_in_frames_not_its_whole_budget(
        ffmpeg: str, tmp_path: Path, short_start: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Priced at a frame a second, the hung look's budget is 44 s; no frame for 4 s stops it."""
    monkeypatch.setattr(looks, "PLAIN_DECODE_PX_PER_S", 160 * 120)
    monkeypatch.setattr(looks, "STALL_FRAMES", 1)
    camera = camera_clip(ffmpeg, tmp_path)
    wrapper, pids = hanging_ffmpeg(ffmpeg, tmp_path)
    with pace.ticking() as clock, pytest.raises(InputError) as refused:
        probe_clip(camera, str(wrapper), Sha256Cache(None))
    assert clock.seconds() < 30  # the box's own time (tests/pace.py)
    assert refused.value.message.startswith(f"{camera}: ffmpeg gave no frames for 4 s decoding it as "
                                            "it plays, on a second look, its limit (1 frames' worth of its budget); "
                                            "its last words: 'mmco: unref short failure'"), refused.value.message
    assert isinstance(refused.value, looks.LookStalled) and refused.value.retry_helps
    assert not any(alive(int(pid)) for pid in pids.read_text().split())


class HungBox(NamedTuple):
    """The tiny clips and the camera clip, the hanging wrapper, its pids, and a prereqs step probed with it once."""

    refs: Path
    camera: Path
    wrapper: Path
    pids: Path
    prereqs: Path  # an out-dir holding the prereqs step (copied into each test's: conftest.copy_prereqs)


@pytest.fixture(scope="module")
def hung_box(ffmpeg: str, tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> HungBox:
    root = tmp_path_factory.mktemp("hung")
    refs = tiny_links(tiny_refs, root / "refs")
    camera = camera_clip(ffmpeg, refs)
    wrapper, pids = hanging_ffmpeg(ffmpeg, root)
    res = run_here("step", "prereqs", "--out-dir", root / "prereqs", "--ffmpeg", wrapper, "--encoders", "libx264")
    assert res.returncode == 0, res.stdout + res.stderr
    return HungBox(refs, camera, wrapper, pids, root / "prereqs")


def test_strict_refuses_naming_the_clip_and_offers_a_retry(hung_box: HungBox, tmp_path: Path,
                                                          short_start: None) -> None:
    """A stall is the box's or the moment's until it comes again (issue 91): `retry:`, and the fix for a decoder that
    is stuck on the file after it."""
    out = copy_prereqs(hung_box.prereqs, tmp_path / "out")
    res = run_here("run", "--ref-dir", hung_box.refs, "--out-dir", out, "--ffmpeg", hung_box.wrapper, "--encoders",
                   "libx264", *FAST, "--strict")
    assert res.returncode == 2, res.stdout + res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == [errors[0]] and errors[0].startswith(f"error: {hung_box.camera}: ffmpeg gave no frames for "), \
        res.stderr
    assert "retry:" in res.stderr, res.stderr
    assert ("hint: the same command again looks at it again; should it stall there again, ffmpeg's decoder is stuck "
            "on the file: if the file plays, use in its place") in res.stderr, res.stderr


def test_the_corpus_step_goes_on_past_a_clip_that_hangs(hung_box: HungBox, tmp_path: Path,
                                                        short_start: None) -> None:
    """The clip is left out where left-out clips are told: the step's lines, skipped.json, the shard manifest."""
    out = copy_prereqs(hung_box.prereqs, tmp_path / "out")
    res = run_here("step", "corpus", "--ref-dir", hung_box.refs, "--out-dir", out, "--ffmpeg", hung_box.wrapper,
                   "--encoders", "libx264", *FAST)
    assert res.returncode == 0, res.stdout + res.stderr
    camera = hung_box.camera
    said = [ln for ln in (res.stdout + res.stderr).splitlines() if f"skipped {camera}" in ln]
    assert len(said) == 1 and "gave no frames for" in said[0] and "; fix: " in said[0], res.stderr
    run = RunDir(out)
    skipped = json.loads(run.skipped_clips.read_text())["skipped"]
    assert [u["path"] for u in skipped] == [str(camera)] and "mmco: unref short failure" in skipped[0]["reason"]
    manifest = json.loads(run.shard_manifest.read_text())
    assert [u["file"] for u in manifest["left_out"]] == ["camera.mp4"]
    assert "gave no frames for" in manifest["left_out"][0]["why"]
    assert "retry:" not in res.stderr


def first_picture_damaged(ffmpeg: str, folder: Path) -> Path:
    """The issue's case, made here: an h264 .mp4 of 48 frames (two GOPs) whose first I frame's slice data is damaged
    (bytes flipped), which ffmpeg conceals and plays on (48 = 48 frames)."""
    raw = folder / "damaged.h264"
    render(ffmpeg, "testsrc2=s=160x96:r=25", raw, frames=48, fmt="h264",
           extra=("-c:v", "libx264", "-bf", "0", "-g", "24", "-x264-params", "log=-1"))
    stream = bytearray(raw.read_bytes())
    raw.unlink()
    idr = next(u for u in nal_units(bytes(stream)) if nal_type(bytes(stream), u) == 5)
    for k in range(idr[0] + 20, idr[0] + 60):
        stream[k] ^= 0x5A
    return mp4(ffmpeg, bytes(stream), folder / "damaged.mp4")


def test_a_clip_whose_first_picture_is_concealed_is_left_out_with_the_frame_named(
        ffmpeg: str, tmp_path: Path) -> None:
    damaged = first_picture_damaged(ffmpeg, tmp_path)
    code, frames, said = played(ffmpeg, damaged)
    assert (code, frames) == (0, 48) and "concealing" in said, said  # a plain decode plays all 48 frames
    with pytest.raises(InputError) as refused:
        probe_clip(damaged, ffmpeg, Sha256Cache(None))
    message = refused.value.message
    assert message.startswith(f"{damaged}: not a readable video (frame 0 is damaged: ffmpeg conceals it "
                              "('concealing 60 DC, 60 AC, 60 MV errors in I frame')"), message
    assert refused.value.hint.endswith(convert_command(damaged))


def test_a_first_picture_concealed_but_not_flagged_is_left_out_in_ffmpeg_s_words(ffmpeg: str, tmp_path: Path) -> None:
    """The same damage in a stream with B-frames (tests/realfiles' synthetic case): ffmpeg conceals the first I frame
    ('concealing 300 DC, ...'), flags no frame (its second look, -xerror, ends clean) and plays the 46 frames predicted
    from it; 2.2's merged looks used it whole. Its words say the picture is damaged: it is left out, in them."""
    raw = tmp_path / "bframes.h264"
    render(ffmpeg, "testsrc2=s=320x240:r=25", raw, frames=48, fmt="h264",
           extra=("-c:v", "libx264", "-bf", "2", "-g", "250", "-x264-params", "log=-1"))
    stream = bytearray(raw.read_bytes())
    idr = next(u for u in nal_units(bytes(stream)) if nal_type(bytes(stream), u) == 5)
    for k in range(idr[0] + 300, idr[0] + 308):  # inside the first picture's slice data, past its header
        stream[k] ^= 0x5A
    damaged = mp4(ffmpeg, bytes(stream), tmp_path / "bframes.mp4")
    code, frames, said = played(ffmpeg, damaged)
    assert (code, frames) == (0, 46) and "concealing 300 DC" in said and "corrupt decoded frame" not in said, said
    second = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "level+verbose", "-xerror", "-i",
                             str(damaged), "-map", "0:v:0", "-f", "null", "-"], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-1500:]  # nothing flagged: -xerror alone does not stop it
    with pytest.raises(InputError) as refused:
        probe_clip(damaged, ffmpeg, Sha256Cache(None))
    assert refused.value.message == (
        f"{damaged}: not a readable video (a picture is damaged: ffmpeg conceals it ('concealing 300 DC, 300 AC, "
        "300 MV errors in I frame') and plays on, and the frames predicted from it, up to the next key picture, carry "
        "the damage)"), refused.value.message
    assert refused.value.hint.endswith(convert_command(damaged))


def open_cache(folder: Path) -> Sha256Cache:
    """The kit's cache in `folder`, read afresh, as the next run reads it."""
    folder.mkdir(exist_ok=True)
    return Sha256Cache(Tree.open(folder), folder / "sha256.json")


def test_a_copied_container_whose_first_picture_is_concealed_is_left_out_too(ffmpeg: str, tmp_path: Path) -> None:
    """The same stream in a transport stream, read through the kit's lossless copy: its looks judge it alike, and no
    copy is kept of it."""
    damaged = first_picture_damaged(ffmpeg, tmp_path)
    refs = tmp_path / "refs"
    refs.mkdir()
    ts = refs / "damaged.ts"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(damaged), "-c", "copy", str(ts)],
                   check=True)
    render(ffmpeg, TINY_SOURCES["beta"], refs / "beta.y4m")
    unusable: list[Unusable] = []
    clips = discover(refs, ffmpeg, open_cache(tmp_path / "cache"), unusable=unusable)
    assert [Path(c.path).name for c in clips] == ["beta.y4m"]
    (left,) = unusable
    assert left.why.startswith("not a readable video (frame 0 is damaged: ffmpeg conceals it ('concealing "), left.why
    assert not list((tmp_path / "cache" / "intermediates").glob("damaged*")), "no copy is kept of a refused clip"


def test_a_refusal_is_kept_so_a_second_discovery_runs_no_ffmpeg(ffmpeg: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A clip its looks refused is refused again at once while the file and ffmpeg are the same (a rerun, `status`),
    and looked at again once the file changes."""
    refs = tmp_path / "refs"
    refs.mkdir()
    first_picture_damaged(ffmpeg, refs)
    render(ffmpeg, TINY_SOURCES["gamma"], refs / "gamma.y4m")
    first: list[Unusable] = []
    discover(refs, ffmpeg, open_cache(tmp_path / "cache"), unusable=first)

    def no_ffmpeg(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"ffmpeg run again: {args}")

    with monkeypatch.context() as patched:
        patched.setattr(looks, "run_process", no_ffmpeg)
        again: list[Unusable] = []
        discover(refs, ffmpeg, open_cache(tmp_path / "cache"), unusable=again)
    assert again == first and "frame 0 is damaged" in first[0].why
    damaged = refs / "damaged.mp4"
    camera_clip(ffmpeg, tmp_path).replace(damaged)  # a new version of the file: looked at again, and used
    assert len(discover(refs, ffmpeg, open_cache(tmp_path / "cache"))) == 2


def test_a_look_that_stalls_is_never_kept_and_the_next_run_uses_the_clip(
        ffmpeg: str, tmp_path: Path, one_hangs: OneHangs) -> None:
    """Issue 91: a stall is the box's or the moment's, never a fact about the file. The run whose look stalled leaves
    the clip out; the next one (its decoder no longer stuck: here the real ffmpeg) looks again and uses it. A refusal
    an older kit kept (refused3, whose looks had a wall-clock budget) is never read."""
    refs, camera, wrapper, _ = one_hangs
    stalled: list[Unusable] = []
    used = discover(refs, str(wrapper), open_cache(tmp_path / "cache"), unusable=stalled)
    assert [Path(c.path).name for c in used] == ["alpha.y4m"]
    assert [u.path for u in stalled] == [str(camera)] and "gave no frames for" in stalled[0].why
    kept = json.loads((tmp_path / "cache" / "sha256.json").read_text())
    assert not any(key.startswith("refused") for key in kept), kept
    again = discover(refs, ffmpeg, open_cache(tmp_path / "cache"))
    assert [(Path(c.path).name, c.n_frames) for c in again] == [("alpha.y4m", 8), ("camera.mp4", FRAMES)]
    # an older kit's refusal of this file version (refused3: a look past its wall-clock budget; refused4: a cover read
    # as the film, judged): never read
    from kit.media.cache import REFUSED, refusal_key

    for kept_by in ("refused3|", "refused4|"):
        old = refusal_key(camera, ffmpeg).replace(REFUSED, kept_by)
        assert old.startswith(kept_by)
        other = tmp_path / f"other-cache-{kept_by[:-1]}"
        other.mkdir()
        (other / "sha256.json").write_text(json.dumps({old: json.dumps([
            "clip: ffmpeg timed out after 114 s making its lossless copy", "the file may be damaged"])}))
        assert [c.n_frames for c in discover(refs, ffmpeg, open_cache(other))] == [8, FRAMES]


def test_a_look_cut_short_by_kit_timeout_s_is_not_kept(ffmpeg: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """KIT_TIMEOUT_S is the user's cap, not the clip's budget: its refusal says so and is looked at again next time."""
    refs = tmp_path / "refs"
    refs.mkdir()
    camera = camera_clip(ffmpeg, refs)
    wrapper, _ = hanging_ffmpeg(ffmpeg, tmp_path)
    monkeypatch.setenv("KIT_TIMEOUT_S", "2")
    for _ in range(2):
        with pytest.raises(LookCutShort, match="ran past KIT_TIMEOUT_S \\(2 s\\), which caps every command, ") as cut:
            probe_clip(camera, str(wrapper), open_cache(tmp_path / "cache"))
        assert "the cap is KIT_TIMEOUT_S's, not the clip's; not kept" in cut.value.message, cut.value.message
        assert cut.value.hint.startswith("raise or unset KIT_TIMEOUT_S, which caps every command; or, if the file")


def public_clip(name: str, folder: Path) -> Path:
    """A copy in `folder` of the public clip `name` (tests/data/publicclips.toml), fetched by the tier's fetcher."""
    manifest = load_manifest()
    (cached,) = fetched_or_skip([manifest.clip(name)], manifest).values()
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(cached, folder / name))


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return public_clip("box.mp4", tmp_path_factory.mktemp("box"))


def test_opencv_box_mp4_is_used_as_ffmpeg_plays_it(ffmpeg: str, box: Path) -> None:
    """The phone clip that lost issue 67's run: its strict decode stops before its first frame, a plain decode gives
    every frame; it is read in seconds and used, its pictures those of the plain decode, frame for frame."""
    with pace.ticking() as clock:
        clip = probe_clip(box, ffmpeg, Sha256Cache(None))
    assert clock.seconds() < 60  # the box's own time (tests/pace.py)
    code, frames, _ = played(ffmpeg, box)
    assert (code, clip.n_frames, clip.width, clip.height, clip.fps) == (0, frames, 640, 480, "30000/1001") == (
        0, 455, 640, 480, "30000/1001")
    assert "A non-intra slice in an IDR NAL unit." in clip.dropped[0], clip.dropped
    plain = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(box), "-map", "0:v:0",
                            "-fps_mode", "passthrough", "-c:v", "rawvideo", "-f", "hash", "-hash", "sha256", "-"],
                           capture_output=True, text=True, check=True)
    assert fingerprint(clip, ffmpeg, Sha256Cache(None)).pixels_sha256 == plain.stdout.strip().split("=")[1]


def test_opencv_megamind_bugy_avi_is_read_through_its_copy(ffmpeg: str, tmp_path: Path) -> None:
    """opencv-doc's "buggy" AVI (Megamind.avi remuxed at 30 fps): ffmpeg reads it without a word, so it is used."""
    buggy = public_clip("Megamind_bugy.avi", tmp_path / "refs")
    (clip,) = discover(buggy.parent, ffmpeg, Sha256Cache(None))
    assert (clip.n_frames, clip.width, clip.height, clip.fps) == (played(ffmpeg, buggy)[1], 720, 528, "30/1")


@pytest.mark.slow  # a whole run
def test_a_whole_run_goes_on_past_a_clip_that_hangs_and_says_so_everywhere(
        hung_box: HungBox, tmp_path: Path, short_start: None) -> None:
    """The run ends with its verdict on the other clips; the hung clip is in the summary's SKIPPED row and the report,
    with its reason in its own words, and, a stall being the box's or the moment's (issue 91), in the retry row that
    follows, and the same command that looks at it again stands under the table."""
    out = copy_prereqs(hung_box.prereqs, tmp_path / "out")
    res = run_here("run", "--ref-dir", hung_box.refs, "--out-dir", out, "--ffmpeg", hung_box.wrapper, "--encoders",
                   "libx264", *FAST, *LENIENT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "retry:" not in res.stderr
    assert "SKIPPED clips" in res.stdout, res.stdout  # the closing summary's row, as the box's run prints it
    with read_out_dir(out) as tree:
        ((label, row), (retry, again)) = skipped_rows(tree, out)
    assert (label, retry) == ("SKIPPED clips", "retry"), (label, retry)
    assert "camera.mp4" in again and again.endswith("the same command tries them again, below"), again
    assert "the same command tries camera.mp4 again, the rest reused:\n  " in res.stdout, res.stdout[-3000:]
    assert re.match(r"1 left out \(--strict refuses instead\): camera\.mp4 \(ffmpeg gave no frames for [\d.]+ s "
                    r"decoding it as it plays, on a second look", row), row
    report = (out / "05_bundle" / "report.html").read_text()
    assert "camera.mp4" in report and "gave no frames for" in report  # the kit's words; ffmpeg's stay in its log
    assert not any(alive(int(pid)) for pid in hung_box.pids.read_text().split())
