"""What the lanes of issue 67 and 68 added is private by construction too (issue 69, item 1; ARCHITECTURE.md, "What
leaves the box"): a clip left out by a look past its budget or cut by KIT_TIMEOUT_S, its refusal read again from the
kit's cache on a rerun, an entry of --ref-dir that is no clip (a raw stream, an image sequence, a link to elsewhere), a
--teacher model file refused or one that cannot score a size, and an --incumbent's folders in the verdict: each says its
paths as paths (kit.infra.shown.Spelled), so what the lead is sent shows the box's folders by their tags and no byte of
them, where the box's own log and terminal keep them as they are."""

from __future__ import annotations

import os
from pathlib import Path, PurePath

import pytest

from kit.errors import InputError
from kit.infra.proc import TimedOut
from kit.infra.shown import Places, Spelled
from kit.media.cache import Sha256Cache
from kit.media.discovery import Skipped, other_entry
from kit.media.entries import kind_of, sequence_kind
from kit.media.libvmaf import Teacher
from kit.media.looks import LookCutShort, LookStalled, budget_of, convert_command, look_refusal
from kit.media.streams import FIRST

SECRET = "Zq7Sekritwort"
AWKWARD = os.fsdecode(b"it's $HOME: [b] \\ \xff ") + SECRET


@pytest.fixture
def box(tmp_path: Path) -> tuple[Path, Places]:
    """An awkward --ref-dir (the folders above it awkward too) and the places a run there shows paths by."""
    refs = tmp_path / f"up {AWKWARD}" / f"refs {AWKWARD}"
    refs.mkdir(parents=True)
    return refs, Places.of(ref_dir=refs, out_dir=tmp_path / f"out {AWKWARD}")


def sent(text: str, places: Places) -> str:
    shown = places.text(text)
    assert SECRET not in shown and SECRET not in os.fsencode(shown).decode("utf-8", "replace"), shown
    return shown


def timed_out(stalled: bool = False, after: float = 65.0, capped: bool = False) -> TimedOut:
    stderr = "[h264 @ 0x1] mmco: unref short failure\n" * 3
    return TimedOut("ffmpeg timed out", "", stderr, after, stderr, stalled, capped=capped)


@pytest.mark.parametrize("capped", [False, True])
def test_a_look_past_its_budget_is_refused_from_known_parts(box: tuple[Path, Places], capped: bool) -> None:
    refs, places = box
    clip = refs / "box.mp4"
    refusal = look_refusal(clip, "decoding it strictly", budget_of(455, 640, 480).rule("strict"), 65.0,
                           timed_out(after=20.0 if capped else 65.0, capped=capped), FIRST)
    assert isinstance(refusal, LookCutShort) and isinstance(refusal, LookStalled) is not capped  # never kept
    assert isinstance(refusal.message, Spelled) and isinstance(refusal.hint, Spelled)
    said = "ran past KIT_TIMEOUT_S (20 s), which caps every command" if capped else "timed out after 65 s"
    assert str(refusal.message).startswith(f"{clip}: ffmpeg {said}")  # the box's own words, as a job's child's
    assert sent(refusal.message, places).startswith(f"[ref-dir]/box.mp4: ffmpeg {said}")
    assert "mmco: unref short failure" in str(refusal.message)  # what ffmpeg said, in the box's log only
    assert "mmco" not in sent(refusal.message, places)  # a child's words have no catalogued form (issue 96)
    fix = sent(refusal.hint, places)
    assert "-i '[ref-dir]/box.mp4'" in fix and "'[ref-dir]/box.mkv'" in fix, fix
    assert ("KIT_TIMEOUT_S" in fix) is capped


def test_a_refusal_read_again_from_the_cache_is_sent_as_it_was_made(box: tuple[Path, Places], tmp_path: Path) -> None:
    """A rerun leaves a refused clip out at once, from the kit's cache (kit.media.cache): its reason and fix still
    know their paths, whatever spelling of --ref-dir the rerun was given."""
    refs, places = box
    clip, ffmpeg = refs / "box.mp4", tmp_path / "ffmpeg"
    clip.write_bytes(b"\0" * 100)
    ffmpeg.write_bytes(b"")
    cache = Sha256Cache(None)

    def hangs() -> None:
        raise look_refusal(clip, "decoding it strictly", "its rule", 65.0, timed_out(), FIRST)

    def damaged() -> None:  # what the file's bytes decide, with a fix naming paths (made of known parts)
        raise InputError(Spelled(PurePath(clip), ": not a readable video (frame 0 is damaged)"),
                         hint=Spelled("use the lossless copy of what ffmpeg plays of it: ", convert_command(clip)))

    with pytest.raises(LookStalled):  # the moment's: never kept (issue 91), the next look looks again
        cache._looked(clip, str(ffmpeg), hangs)
    with pytest.raises(InputError) as first:
        cache._looked(clip, str(ffmpeg), damaged)
    again = Path(os.path.relpath(clip))  # the same file, by another spelling
    with pytest.raises(InputError) as kept:
        cache._looked(again, str(ffmpeg), lambda: pytest.fail("looked again"))
    assert isinstance(kept.value.message, Spelled) and isinstance(kept.value.hint, Spelled)
    assert str(kept.value.message).startswith(f"{again}: ")  # named as this run names it
    assert sent(kept.value.message, places) == sent(first.value.message, places)
    assert sent(kept.value.hint, places) == sent(first.value.hint, places)
    other = refs / "other.mp4"
    other.write_bytes(b"\0" * 50)
    plain = InputError(f"{other}: not a readable video (moov atom not found)", hint="remove it from --ref-dir")

    def refused() -> None:
        raise plain

    with pytest.raises(InputError):
        cache._looked(other, str(ffmpeg), refused)
    with pytest.raises(InputError) as heard_again:  # a plain refusal is kept read as heard: the clip's path found
        cache._looked(Path(os.path.relpath(other)), str(ffmpeg), lambda: pytest.fail("looked again"))
    assert sent(heard_again.value.message, places).startswith("[ref-dir]/other.mp4: not a readable video")


def test_an_entry_that_is_no_clip_says_its_fix_from_known_parts(box: tuple[Path, Places]) -> None:
    refs, places = box
    raw = kind_of(refs / "cam.h264")
    assert isinstance(raw.fix, Spelled) and "-i '[ref-dir]/cam.h264'" in sent(raw.fix, places)
    assert "'[ref-dir]/cam.mkv'" in sent(raw.fix, places)
    pattern, seq = sequence_kind([refs / "shot_0001.dpx", refs / "shot_0002.dpx"])
    assert "-i '[ref-dir]/shot_%04d.dpx'" in sent(seq.fix, places) and "'[ref-dir]/shot.mkv'" in sent(seq.fix, places)
    left = Skipped(pattern, seq.what, "", seq.fix).unusable().sent(places)
    assert left.path == "[ref-dir]/shot_%04d.dpx" and left.reason.startswith("[ref-dir]/shot_%04d.dpx: an image")


def test_a_link_to_elsewhere_is_named_by_where_it_leads(box: tuple[Path, Places], tmp_path: Path) -> None:
    """A link in --ref-dir to a folder of the box outside it, and one to nothing: each target a path."""
    refs, places = box
    far = tmp_path / f"far {AWKWARD}"
    far.mkdir()
    (refs / "old").symlink_to(far)
    (refs / "gone.y4m").symlink_to(tmp_path / f"gone {AWKWARD}" / "x.y4m")
    folder, gone = other_entry(refs / "old"), other_entry(refs / "gone.y4m")
    assert folder is not None and str(folder.what) == f"a symbolic link to {far}, a folder"  # the box's log
    for entry in (folder, gone):
        assert entry is not None
        unusable = entry.unusable()
        assert isinstance(unusable.why, Spelled)  # its path cut, its target still a path
        shown = unusable.sent(places)
        assert SECRET not in shown.reason + shown.fix + shown.path, shown
        assert sent(unusable.line(), places).startswith(f"skipped {shown.path}: a symbolic link to ")
    assert folder.unusable().sent(places).reason == "[ref-dir]/old: a symbolic link to [elsewhere], a folder, which " \
                                                    "the kit does not look into (it reads the files directly in " \
                                                    "--ref-dir)"


def test_a_teacher_file_is_named_by_its_place(box: tuple[Path, Places]) -> None:
    from kit.media.teachers import read_model_file
    from kit.platforms.teacher import clips_label, size_refusal

    refs, places = box
    model = refs.parent / f"teach {AWKWARD}" / "model.json"
    with pytest.raises(InputError) as missing:
        read_model_file(model)
    assert sent(missing.value.message, places) == "--teacher [elsewhere]: does not exist"
    teacher = Teacher("model", str(model), "ab" * 32)
    refused = size_refusal(teacher, False, "176x144", clips_label([str(refs / "a.y4m"), str(refs / "b.y4m")]),
                           "libvmaf refused it")
    assert sent(refused.message, places) == ("--teacher [elsewhere] scores no 176x144 frames, the size of "
                                             "[ref-dir]/a.y4m (and 1 more of that size): libvmaf refused it")
    assert "leave [ref-dir]/a.y4m (and 1 more of that size) out of --ref-dir" in sent(refused.hint, places)


def test_an_incumbent_elsewhere_is_sent_by_its_place(box: tuple[Path, Places], tmp_path: Path) -> None:
    """The verdict's --incumbent names the folder of the models it scored (kit.model.incumbent.incumbent_loso): one
    elsewhere by no name, one the out-dir holds by its tag."""
    from kit.bundle.sent import shown_incumbent
    from kit.model.results import BaselineResult
    from kit.rundir import RunDir

    _, places = box
    run = RunDir(tmp_path / f"out {AWKWARD}")
    elsewhere = tmp_path / f"models {AWKWARD}" / "exports"
    elsewhere.mkdir(parents=True)
    incumbent = BaselineResult("incumbent", {"path": str(elsewhere), "copied_from": "05_bundle/exports",
                                             "members": ["m.onnx"]})
    assert shown_incumbent(incumbent, run, places).details == {
        "path": "[elsewhere]", "copied_from": "[out-dir]/05_bundle/exports", "members": ["m.onnx"]}


def test_an_older_kits_twins_are_never_sent(tmp_path: Path) -> None:
    """A log and a skipped.json an older kit began: the twins in `sent/` (before 2.3.0) showed the folders below home
    and the current folder (`~/tools-X/ffmpeg`), those in `sent-v2/` (2.3) a child's own words (issue 89), those in
    `sent-v3/` (2.4) texts a door of words let through (issue 96), so the tarball sends the twin this kit writes in
    `sent-v4/` (the entries it added), and a file with only an old twin not at all."""
    from kit.bundle.contents import in_place
    from kit.infra.tree import Tree
    from kit.rundir import RunDir

    run = RunDir(tmp_path / "out")
    logs = {name: run.log(name) for name in ("prereqs", "corpus")}
    for log in (*logs.values(), run.skipped_clips):
        for older in ("sent", "sent-v2", "sent-v3"):
            old = log.parent / older / log.name
            old.parent.mkdir(parents=True, exist_ok=True)
            old.write_text(f"12:00:00 ffmpeg ~/tools-{SECRET}/ffmpeg\n")  # as 2.2.0 and 2.3 wrote it
        log.write_text(f"12:00:00 ffmpeg /home/u/tools-{SECRET}/ffmpeg\n")
    RunDir.sent(logs["corpus"]).parent.mkdir()
    RunDir.sent(logs["corpus"]).write_text("12:01:00 ffmpeg [elsewhere]/ffmpeg\n")  # this kit's, on the rerun
    files = {run.rel(p): p for p in (*logs.values(), run.skipped_clips)}
    with Tree.open(run.root, make=False) as tree:
        sent_files = in_place(tree, run, files)
    assert sent_files == {run.rel(logs["corpus"]): logs["corpus"].parent / "sent-v4" / "corpus.log"}, sent_files
