"""How a child that failed ended, in the kit's words (kit.media.ffmpeg.how_it_ended): every way it can end, and
whether running the same command again can end otherwise (what decides a `retry:` and a clip tried again)."""

from __future__ import annotations

import signal

import pytest

from kit.infra.ended import OUTSIDE_SIGNALS
from kit.infra.proc import ProcResult
from kit.media.ffmpeg import how_it_ended


def ended(returncode: int, stderr: str = "") -> ProcResult:
    return ProcResult(("ffmpeg",), returncode, b"", stderr, 0.1)


@pytest.mark.parametrize("signum", sorted(OUTSIDE_SIGNALS))
def test_a_signal_from_outside_can_end_otherwise(signum: int) -> None:
    how, said, again = how_it_ended(ended(-signum))
    assert how.startswith(f"was killed ({signal.Signals(signum).name}) from outside the kit") and not said and again


@pytest.mark.parametrize("signum", [signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL])
def test_a_crash_comes_again(signum: int) -> None:
    assert how_it_ended(ended(-signum)) == (f"crashed ({signal.Signals(signum).name})", "", False)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_ffmpeg_stopping_cleanly_on_a_signal_it_caught_is_a_stop_from_outside(signum: int) -> None:
    """ffmpeg catches SIGTERM and SIGINT, stops cleanly and exits 255 saying so: a kill from outside, not the clip's
    failure (before, `failed (exit 255)`, the clip left out for good with no retry)."""
    res = ended(255, f"frame=  12 fps=0.0\nReceived signal {int(signum)}: terminating.\nExiting normally, received "
                     f"signal {int(signum)}.\n")
    how, said, again = how_it_ended(res)
    assert how.startswith(f"was stopped ({signal.Signals(signum).name}) from outside the kit") and not said and again


def test_an_exit_code_comes_again_and_a_full_disk_can_end_otherwise() -> None:
    how, said, again = how_it_ended(ended(1, "[error] Invalid data found when processing input\n"))
    assert (how, again) == ("failed (exit 1)", False) and "Invalid data" in said
    how, _, again = how_it_ended(ended(1, "[error] Error writing trailer: No space left on device\n"))
    assert how == "failed (exit 1) on a full disk" and again


def test_a_muxer_s_line_spliced_into_a_log_line_is_taken_out_and_kept_in_order() -> None:
    """ffmpeg's logger writes a log line in parts from another thread, so a line a muxer writes to pipe:2 (a frame's
    md5, the pictures' sha256) can land inside one (seen under load: an HDV copy's stream line no longer said its
    colour tags whole): every log line whole again, every md5 and the sha256 kept, in order, after the log."""
    from kit.media.decode import _DECODED as DECODED
    from kit.media.decode import HASH_LINE
    from kit.media.looks import FRAME_LINE, muxed_lines_last

    md5 = ["35c7ecae34f2ff22684ccb5fc6cdb5f4", "cc2fd018e124d1c0ab11f1e673d6a2fa", "cc2fd018e124d1c0ab11f1e673d6a2fa"]
    frame = [f"0,          {i},          {i},        1,    38016, {m}\n" for i, m in enumerate(md5)]
    sha = "SHA256=" + "ab" * 32 + "\n"
    stderr = (f"{frame[0]}[info]   Stream #4:0{frame[1]}: Video: ffv1, yuv420p(tv, bt709, top first), 1440x1080\n"
              f"[info] frame= 10 fps=0.0\n{frame[2]}[verbose]   Input stream #0:0 (video): 3 packets read (9 bytes); "
              f"{sha}3 frames decoded; 0 decode errors\n")
    regrouped = muxed_lines_last(stderr)
    assert "[info]   Stream #4:0: Video: ffv1, yuv420p(tv, bt709, top first), 1440x1080\n" in regrouped
    assert DECODED.search(regrouped) is not None  # the frames decoded, whole again
    assert FRAME_LINE.findall(regrouped) == md5 and HASH_LINE.findall(regrouped) == ["ab" * 32]
    assert regrouped.endswith("".join(frame[:2]) + frame[2] + sha)
    assert muxed_lines_last("no frame here\n") == "no frame here\n"
