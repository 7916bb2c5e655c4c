"""Nothing in --ref-dir is skipped without a word (issue 24 I, issue 67 item 2).

An entry named like a clip that no clip can be (a named pipe, a link to a device, a folder) is skipped with
one line naming it and why, and the run goes on with the usable clips; a link to nothing or a loop of links
is refused. A file named like no clip (a note, a raw stream) is named too, as what it is. Nothing is opened to find
out, and a clip that turns into a named pipe never blocks discovery. tests/real/test_every_file.py takes a folder of
every kind of file, and every container.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

from kit.errors import InputError
from kit.infra.invocation import kit_cli
from kit.media.cache import Sha256Cache
from kit.media.discovery import find_clip_files, list_clip_files, probe_clip
from kit.media.refs import CLIP_EXTS
from tests import pace
from tests.conftest import run_kit

ARGS = ("--encoders", "libx264", "--cqs", "30")


@pytest.fixture()
def refs(tiny_refs: Path, tmp_path: Path) -> Path:
    """Three good clips (links to them, as users keep them) and three entries no clip can be."""
    folder = tmp_path / "refs"
    folder.mkdir()
    for name in ("alpha", "beta", "delta"):
        (folder / f"{name}.y4m").symlink_to(tiny_refs / f"{name}.y4m")
    os.mkfifo(folder / "pipe.y4m")
    (folder / "zero.y4m").symlink_to("/dev/zero")
    (folder / "folder.y4m").mkdir()
    (folder / "notes.txt").write_text("not a video: named as what it is\n")
    return folder


REMOVE = "; fix: remove it from --ref-dir, or put the clip file in its place"  # said with each skip, as recorded


NOT_A_VIDEO = "; fix: none needed, the kit reads only videos (move it out of --ref-dir to drop this line)"


def skipped_lines(folder: Path) -> list[str]:
    return [f"skipped {folder / 'folder.y4m'}: a folder, not a clip file{REMOVE}",
            f"skipped {folder / 'notes.txt'}: not a video: a document (.txt){NOT_A_VIDEO}",
            f"skipped {folder / 'pipe.y4m'}: a named pipe (FIFO), not a clip file{REMOVE}",
            f"skipped {folder / 'zero.y4m'}: a symbolic link to /dev/zero, a device, not a clip file{REMOVE}"]


def test_each_entry_that_is_no_clip_file_is_named_with_why(refs: Path) -> None:
    files, skipped = list_clip_files(refs)
    assert [p.name for p in files] == ["alpha.y4m", "beta.y4m", "delta.y4m"]
    assert [s.line() for s in skipped] == skipped_lines(refs)
    heard: list[str] = []
    assert find_clip_files(refs, heard.append)[0] == files
    assert heard == skipped_lines(refs)


def test_a_video_the_kit_does_not_read_is_named_with_how_to_convert_it(refs: Path) -> None:
    (refs / "trailer.264").write_bytes(b"\0\0\0\1\x67")
    (refs / ".notes.txt").write_text("hidden: passed over")
    _, skipped = list_clip_files(refs)
    # the command last on its line: copied to the line's end, it runs (tests/real/test_commands_as_printed.py)
    assert f"skipped {refs / 'trailer.264'}: a raw .264 video stream, which holds no timestamps (its frame rate " \
           f"would be a guess); fix: convert it losslessly with the kit's ffmpeg at its true frame rate (e.g. 25 or " \
           f"30000/1001) in place of RATE: {kit_cli()} ffmpeg -framerate RATE -i {refs / 'trailer.264'} -map 0:v:0 " \
           f"-an -vf setpts=N/FR/TB -c:v ffv1 {refs / 'trailer.mkv'}" in [s.line() for s in skipped]
    assert not any(".notes.txt" in s.line() for s in skipped)


def test_every_entry_skipped_at_the_listing_is_a_clip_left_out_with_its_fix(refs: Path, ffmpeg: str) -> None:
    """A raw stream, a FIFO, a folder named like a clip, a note: each one is in the list of clips left out
    (02_corpus/skipped.json, the summary's SKIPPED row), not only a line that scrolls by (issue 54: `skipped 0`)."""
    from kit.media.discovery import Unusable, discover

    (refs / "trailer.264").write_bytes(b"\0\0\0\1\x67")
    left: list[Unusable] = []
    clips = discover(refs, ffmpeg, Sha256Cache(None), unusable=left)
    assert sorted(c.src for c in clips) == ["alpha", "beta", "delta"]
    named = {Path(u.path).name: u for u in left}
    assert set(named) == {"folder.y4m", "pipe.y4m", "zero.y4m", "trailer.264", "notes.txt"}
    assert named["trailer.264"].fix.startswith("convert it losslessly with the kit's ffmpeg at its true frame rate")
    assert named["pipe.y4m"].why == "a named pipe (FIFO), not a clip file" and "remove it" in named["pipe.y4m"].fix
    assert named["notes.txt"].why == "not a video: a document (.txt)"


def test_a_folder_of_only_unusable_entries_says_what_it_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.y4m")
    (tmp_path / "zero.mov").symlink_to("/dev/zero")
    with pytest.raises(InputError) as err:
        find_clip_files(tmp_path)
    assert err.value.message == (f"no reference clips in {tmp_path} (looked for {' '.join(CLIP_EXTS)}; skipped "
                                 f"{tmp_path / 'pipe.y4m'}, a named pipe (FIFO) and 1 more)")


def test_a_loop_of_links_is_left_out_naming_it(refs: Path) -> None:
    """One entry loses no run (issue 91): a loop of links, as a link to nothing (a share not mounted), is left out
    with what it is and its fix, and the next run looks at it again."""
    (refs / "loop.y4m").symlink_to("loop.y4m")
    (refs / "gone.y4m").symlink_to(refs / "unmounted" / "gone.y4m")
    files, skipped = list_clip_files(refs)
    assert "loop.y4m" not in {f.name for f in files}
    said = {s.path.name: s.unusable() for s in skipped}
    # its target named where it leads from the link's folder: a path, shown as the box's folders are in what is sent
    assert said["loop.y4m"].why == (f"a symbolic link to {refs / 'loop.y4m'}, which leads back to itself (a loop of "
                                    "links)")
    assert said["loop.y4m"].fix == "point the link at the clip, or remove it from --ref-dir"
    assert said["gone.y4m"].why == f"a symbolic link to {refs / 'unmounted' / 'gone.y4m'}, which does not exist"
    assert said["gone.y4m"].fix == "mount or restore its target, or remove the link from --ref-dir"


def test_a_clip_turned_into_a_named_pipe_never_blocks_discovery(tmp_path: Path) -> None:
    """Listed as a file, a FIFO by the time it is probed: refused at once, not an open() waiting for a writer."""
    fifo = tmp_path / "clip.y4m"
    os.mkfifo(fifo)

    returned, blocked = threading.Event(), threading.Event()

    def unblock() -> None:
        """A writer after 5 s of the box's own time (tests/pace.py), so that a blocking open ends instead of hanging:
        its open succeeds only where a reader waits in one (else ENXIO), which is what the test fails on."""
        if not pace.until(returned.is_set, 5):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                blocked.set()

    writer = threading.Thread(target=unblock, daemon=True)
    writer.start()
    try:
        with pytest.raises(InputError, match=r"clip\.y4m: a named pipe \(FIFO\) now, not a clip file"):
            probe_clip(fifo, "ffmpeg", Sha256Cache(None))
    finally:
        returned.set()
        writer.join()
    assert not blocked.is_set(), "the probe waited in open() for a writer"


def test_the_run_names_each_skipped_entry_once_and_goes_on(refs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_kit("run", "--ref-dir", refs, "--out-dir", out, *ARGS, "--only", "prereqs").returncode == 0
    res = run_kit("run", "--ref-dir", refs, "--out-dir", out, *ARGS, "--only", "corpus", timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    for line in skipped_lines(refs):
        assert res.stdout.count(f"[02 corpus] {line}\n") == 1, res.stdout
        assert line in (out / "02_corpus" / "logs" / "corpus.log").read_text()
    assert "sources 3" in res.stdout  # the run went on with the three usable clips
