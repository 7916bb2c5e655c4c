"""An output's stream line cut by another of ffmpeg's threads (kit.media.ffmpeg.outputs_whole): ffmpeg prints it
in several calls once the output opens, with the other outputs' threads already logging, so under load a line of
theirs lands inside it. Seen on CI: a DVD clip's lossless copy refused for colour tags its line no longer said whole
(1 look in 150 at a load of 4). The class, generated on the real look's log: every output's stream line cut at every
character by another thread's message, as ffmpeg's logger writes it (the message without its prefix, the rest of the
line on a new line with one). Every cut is seen; what the kit reads in the line (a copy's colour tags, a decoded
size) is never read wrong from a cut one; a look so cut is taken again; a clean look is taken once."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import kit.media.looks as looks
from kit.infra.proc import ProcResult
from kit.media.argv import INTERMEDIATE_OUTPUT, build_intermediate_argv
from kit.media.decode import parse_probe
from kit.media.ffmpeg import outputs_whole, parse_output_colour
from kit.media.looks import LOOK_TRIES, muxed_lines_last, run_look
from kit.media.streams import FIRST
from tests.conftest import render

FOREIGN = "Selected 1001/30000 time base\n"  # an encoder's message, as it landed in the one seen


@pytest.fixture(scope="module")
def copy_log(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The log of a real look writing a lossless copy of an MPEG-2 program stream (five outputs), its muxers' lines
    put last."""
    folder = tmp_path_factory.mktemp("lines")
    clip = render(ffmpeg, "testsrc2=s=64x48:r=30000/1001", folder / "dvd.mpg", 8, fmt="vob",
                  extra=("-c:v", "mpeg2video", "-bf", "2"))
    for _ in range(10):  # the look itself cut under load, as the kit's can be: taken again, as the kit takes it
        res = subprocess.run(build_intermediate_argv(ffmpeg, clip, folder / "copy.nut", "30000/1001"),
                             capture_output=True, check=True)  # its stdout: the thumbnails' bytes
        if len(stream_lines(log := muxed_lines_last(res.stderr.decode()))) == 5 and outputs_whole(log):
            return log
    raise AssertionError("ten looks, each cut")


def stream_lines(log: str) -> list[tuple[int, str]]:
    """(output number, line) of each output's stream line."""
    return [(int(m[1]), m[0]) for m in re.finditer(r"^\[\w+\]   Stream #(\d+):0: Video: .*$", log, re.MULTILINE)]


def cut(log: str, line: str, at: int) -> str:
    """`log` with `line` cut after its `at`-th character by FOREIGN, its rest on a line of its own, prefixed."""
    return log.replace(line, line[:at] + FOREIGN + "[info] " + line[at:], 1)


def test_every_output_s_line_cut_anywhere_is_seen_and_never_read_wrong(copy_log: str) -> None:
    assert outputs_whole(copy_log)
    lines = stream_lines(copy_log)
    assert sorted(n for n, _ in lines) == [0, 1, 2, 3, 4]  # count, hash, thumbnails, frame md5s, the copy
    tags = parse_output_colour(copy_log, INTERMEDIATE_OUTPUT, codec="ffv1")
    assert tags is not None and ("chroma_sample_location", "left") in tags
    size = parse_probe(copy_log)
    start = len("[info]   Stream #")
    cases = 0
    for n, line in lines:
        for at in range(start, len(line)):  # inside the line, from its number on ("Stream #" then a thread's line)
            spliced = cut(copy_log, line, at)
            assert not outputs_whole(spliced), (n, line[:at])
            read = parse_output_colour(spliced, INTERMEDIATE_OUTPUT, codec="ffv1")
            assert read in (None, tags), (n, line[:at], read)  # not read, or read whole: never another tag
            if n == 0:  # the decoded frames' size: the input's line says it too, and the cut line is never used
                assert parse_probe(spliced) == size, line[:at]
            cases += 1
    assert cases > 500, cases  # 757: five lines of about 150 characters


def logged(logs: Iterator[str], ran: list[list[str]]) -> Callable[..., ProcResult]:
    """A run_process that gives each run the next of `logs` as its log, noting its argv in `ran`."""
    def fake(argv: list[str], **_: object) -> ProcResult:
        ran.append(argv)
        return ProcResult(tuple(argv), 0, b"", next(logs), 0.1)
    return fake


def test_a_look_cut_is_taken_again_and_a_clean_one_once(copy_log: str, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    (line,) = [s for n, s in stream_lines(copy_log) if n == INTERMEDIATE_OUTPUT]
    spliced = cut(copy_log, line, len("[info]   Stream #4"))
    for logs, runs in (([copy_log], 1), ([spliced, copy_log], 2), ([spliced] * LOOK_TRIES, LOOK_TRIES)):
        ran: list[list[str]] = []
        monkeypatch.setattr(looks, "run_process", logged(iter(logs), ran))
        res = run_look(tmp_path / "dvd.mpg", ["ffmpeg", "-i", "dvd.mpg"], 60.0, "writing its copy", film=FIRST)
        assert len(ran) == runs
        assert res.stderr == logs[-1]  # the last try's log, read as it is (a third cut one: its tags refused as before)
