"""Which of a master's video streams is its film, over every order of every mix of the kinds of stream a file holds
beside it (issue 98, item 9): kit.media.streams.choose_film read from ffmpeg's own stream lines, with each stream's
frames as count_frames gives them. tests/real/test_film_stream.py makes the files; this enumerates the choice itself,
in milliseconds: every order of the film with up to three of the others (583 listings)."""

from __future__ import annotations

import itertools
from typing import NamedTuple

import pytest

from kit.media.streams import FILM_SHARE, choose_film, dropped, film_candidates


class Kind(NamedTuple):
    line: str  # what ffmpeg prints after `Video: `
    frames: int


FILM = Kind("h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 160x96, 24 fps, 24 tbr, 12288 tbn (default)", 24)
# what phones, editors and tag tools write beside a film, none of which is the film, wherever it lies
BESIDE = {
    "mjpeg cover": Kind("mjpeg (Baseline) (mp4v / 0x7634706D), yuvj420p(pc, bt470bg/unknown/unknown), 64x64, "
                        "1 fps, 1 tbr, 1 tbn", 1),
    "png cover": Kind("png (mp4v / 0x7634706D), rgb24(pc, gbr/unknown/unknown), 640x640, 1 fps, 1 tbr, 1 tbn", 1),
    "flagged cover": Kind("mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 1920x1080, 90k tbr, 90k tbn "
                          "(attached pic)", 1),
    "mjpeg thumbnails": Kind("mjpeg (Baseline), yuvj420p(pc), 320x180, 1 fps, 1 tbr, 1k tbn", 3),
    "h264 thumbnails": Kind("h264 (High), yuv420p(progressive), 1280x720, 1 fps, 1 tbr, 1k tbn", 2),
    "png track": Kind("png, rgb24(pc), 160x96, 24 fps, 24 tbr, 1k tbn", 11),
}


def listing(kinds: tuple[Kind, ...]) -> str:
    lines = "".join(f"  Stream #0:{k}[0x{k + 1}](und): Video: {kind.line}\n" for k, kind in enumerate(kinds))
    return f"Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mp4':\n{lines}Stream mapping:\n"


MIXES = [mix for n in range(4) for mix in itertools.permutations((FILM, *BESIDE.values()), n + 1) if FILM in mix]


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_the_film_is_read_beside_any_cover_or_thumbnails_in_any_order(size: int) -> None:
    for mix in (m for m in MIXES if len(m) == size):
        said = listing(mix)
        places = film_candidates(said)
        film = choose_film(said, [kind.frames for kind in mix] if len(places) > 1 else ())
        assert (mix[film.place], film.rivals) == (FILM, ()), [k.line.split(",")[0] for k in mix]
        notes = dropped(said, film)
        assert len(notes) == (size > 1), notes
        if size > 1:  # each other stream named with what it is, the film as the one read
            assert f"only the film (#0:{film.place}, 24 frames)" in notes[0] or \
                f"(#0:{film.place}) is encoded and scored" in notes[0], notes


@pytest.mark.parametrize(("second", "read", "why"), [
    (FILM, 0, "the first of them"),
    (Kind(FILM.line.replace("160x96", "80x48"), 24), 0, "the one of the larger picture"),
    (Kind(FILM.line.replace("160x96", "320x192"), 24), 1, "the one of the larger picture"),
    (Kind(BESIDE["png track"].line, 24), 0, "the one in a codec of moving pictures (h264; the other's is png)"),
    (Kind(FILM.line, 12), 0, "the one of more frames"),
    (Kind(FILM.line, 40), 1, "the one of more frames"),
])
def test_two_streams_that_could_each_be_the_film_are_decided_and_said(second: Kind, read: int, why: str) -> None:
    said = listing((FILM, second))
    film = choose_film(said, (FILM.frames, second.frames))
    assert (film.place, film.rivals) == (read, (1 - read,))
    assert dropped(said, film)[-1].endswith(f": the kit reads #0:{read}, {why}")


def test_a_stream_under_the_film_s_share_is_no_rival() -> None:
    below = int(FILM.frames * FILM_SHARE) - 1
    film = choose_film(listing((Kind(FILM.line, below), FILM)), (below, FILM.frames))
    assert (film.place, film.rivals) == (1, ())


def test_several_candidates_are_never_chosen_without_their_frames() -> None:
    with pytest.raises(ValueError, match="their frames are counted first"):
        choose_film(listing((BESIDE["mjpeg cover"], FILM)))
