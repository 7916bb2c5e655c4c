"""Identity by decoded pictures, with real ffmpeg on generated clips (kit.media.identity).

The same pictures in every container the kit reads are "identical"; a copy trimmed by a frame, rescaled
by 2 px, compressed hard, or letterboxed or pillarboxed (black bars added) is a "match"; different clips,
also look-alikes (two title cards of one layout style, two gradients), are "different"; two flat title
cards (black, a line of white "text") are "undecided" and never grouped on their own. A dark scene is not
cut as bars. A master's fingerprint comes from discovery's one decode.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from pathlib import Path

import pytest

from kit.corpus.contents import one_source_each
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.discovery import probe_clip
from kit.media.fingerprint import FRAMES_BYTES, signature_crop
from kit.media.identity import DIFFERENT_ABOVE, MATCH_AT, Fingerprint, bars_text, compare, fingerprint, similar_pairs
from kit.media.refs import Clip
from tests.conftest import TINY_SOURCES, render

FRAMES = 50
BASE = "testsrc2=s=176x144:r=25"
CARD = "color=c=0x203060:s=176x144:r=25,drawbox=x={x}:y={y}:w={w}:h={h}:color=white:t=fill"
GRADIENT = "gradients=s=176x144:r=25:speed=0.00001:n=2:c0={c0}:c1={c1}:x0=0:y0=0:x1={x1}:y1={y1}"
# the same pictures as BASE in each container the kit reads
TWINS = {
    "base.y4m": ("yuv4mpegpipe", ()),
    "base_176x144_25fps.yuv": ("rawvideo", ()),
    "base.mkv": ("matroska", ("-c:v", "ffv1")),
    "base.mp4": ("mp4", ("-c:v", "libx264", "-qp", "0")),  # 8-bit 4:2:0 at qp 0: lossless
    "base.mov": ("mov", ("-c:v", "ffv1")),
}
# BASE inside black bars: 18 px top and bottom (12.5 % each), 22 px left and right (12.5 % each)
LETTERBOX = "scale=176:108,pad=176:144:0:18:black"
PILLARBOX = "scale=132:144,pad=176:144:22:0:black"
BARS = {"letterboxed.y4m": (0.125, 0.125, 0.0, 0.0), "pillarboxed.mkv": (0.0, 0.0, 0.125, 0.125),
        "letterboxed_lossy.mp4": (0.125, 0.125, 0.0, 0.0)}
NEAR = {  # name: (lavfi, frames, extra), each a near-duplicate of BASE
    "trimmed.y4m": (f"{BASE},trim=start_frame=1,setpts=PTS-STARTPTS", FRAMES - 1, ()),
    "wider.y4m": (f"{BASE},scale=178:144", FRAMES, ()),
    "narrower.mkv": (f"{BASE},scale=174:144", FRAMES, ("-c:v", "ffv1")),
    "lossy.mp4": (BASE, FRAMES, ("-c:v", "libx264", "-crf", "35")),
    "letterboxed.y4m": (f"{BASE},{LETTERBOX}", FRAMES, ()),
    "pillarboxed.mkv": (f"{BASE},{PILLARBOX}", FRAMES, ("-c:v", "ffv1")),
    "letterboxed_lossy.mp4": (f"{BASE},{LETTERBOX}", FRAMES, ("-c:v", "libx264", "-crf", "35")),
}
# a dark scene (luma 16..55, moving): never cut as bars, and its letterboxed copy matches it
DARK = "mandelbrot=s=176x144:r=25,lutyuv=y=16+(val-16)/6"
# a still black band at one side (40 % of the width) is the picture's own, not a bar: never cut, so every copy
# of it is compared whole, whatever its compression does to the band's edge; its pillarboxed copy loses the bars
# only (the width the two bars share), not the band beside the right one
ONE_SIDE = "testsrc2=s=176x144:r=25,drawbox=x=106:y=0:w=70:h=144:color=black:t=fill"
DARKS = {"dark.y4m": DARK, "dark_letterboxed.y4m": f"{DARK},{LETTERBOX}", "one_side.y4m": ONE_SIDE,
         "one_side_pillarboxed.y4m": f"{ONE_SIDE},{PILLARBOX}"}
# two title cards: black, one line of white "text" (boxes the size of letters) that says something else on each
TEXT = "drawbox=x={}:y=64:w={}:h=14:color=white:t=fill"
CARDS = {name: "color=c=black:s=176x144:r=25," + ",".join(TEXT.format(x, w) for x, w in letters) for name, letters in (
    ("title_one.y4m", ((40, 6), (50, 4), (58, 8), (70, 3), (77, 6), (92, 5), (101, 7), (112, 4), (120, 6), (130, 5))),
    ("title_two.y4m", ((36, 8), (48, 6), (60, 3), (67, 7), (86, 6), (96, 4), (104, 8), (116, 5), (126, 3), (133, 7))))}
LOOKALIKES = {
    "card_a.y4m": CARD.format(x=20, y=40, w=136, h=20),
    "card_b.y4m": CARD.format(x=20, y=90, w=60, h=30),
    "ramp_across.y4m": GRADIENT.format(c0="black", c1="white", x1=175, y1=0),
    "ramp_down.y4m": GRADIENT.format(c0="black", c1="white", x1=0, y1=143),
    "ramp_colour.y4m": GRADIENT.format(c0="red", c1="blue", x1=175, y1=0),
}


@pytest.fixture(scope="module")
def clips(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    folder = tmp_path_factory.mktemp("identity")
    for name, (fmt, extra) in TWINS.items():
        render(ffmpeg, BASE, folder / name, frames=FRAMES, fmt=fmt, extra=extra)
    for name, (lavfi, frames, extra) in NEAR.items():
        fmt = "yuv4mpegpipe" if name.endswith(".y4m") else name.rsplit(".", 1)[1].replace("mkv", "matroska")
        render(ffmpeg, lavfi, folder / name, frames=frames, fmt=fmt, extra=extra)
    for name, lavfi in {**{f"{k}.y4m": v for k, v in TINY_SOURCES.items()}, **LOOKALIKES, **DARKS, **CARDS}.items():
        render(ffmpeg, lavfi, folder / name, frames=FRAMES)
    cache = Sha256Cache(None)
    return {p.name: probe_clip(p, ffmpeg, cache) for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def prints(clips: dict[str, Clip], ffmpeg: str) -> dict[str, Fingerprint]:
    return {name: fingerprint(clip, ffmpeg, Sha256Cache(None)) for name, clip in clips.items()}


def test_the_same_pictures_in_every_container_are_identical(prints: dict[str, Fingerprint],
                                                           clips: dict[str, Clip]) -> None:
    base = prints["base.y4m"]
    assert base.frames == FRAMES
    # the raw file is exactly the decoded planes: its byte hash is the pixel hash
    assert base.pixels_sha256 == clips["base_176x144_25fps.yuv"].sha256
    for name in TWINS:
        assert prints[name].pixels_sha256 == base.pixels_sha256, name
        assert prints[name].signature == base.signature, name
        assert compare(base, prints[name]).outcome == "identical", name
    assert len({clips[n].sha256 for n in TWINS}) == len(TWINS)  # while every file's bytes differ


@pytest.mark.parametrize("name", sorted(NEAR))
def test_a_trimmed_rescaled_or_lossy_copy_matches(prints: dict[str, Fingerprint], name: str) -> None:
    like = compare(prints["base.y4m"], prints[name])
    assert like.outcome == "match", like
    assert 0 <= like.distance <= MATCH_AT
    other_way = compare(prints[name], prints["base.mkv"])  # the other way round, against a twin
    assert (other_way.outcome, other_way.distance) == (like.outcome, like.distance)


def test_the_trimmed_copy_is_found_a_frame_off(prints: dict[str, Fingerprint]) -> None:
    like = compare(prints["base.y4m"], prints["trimmed.y4m"])
    assert "1-frame offset" in like.detail and f"{FRAMES} vs {FRAMES - 1} frames" in like.detail


def test_different_clips_and_lookalikes_are_different(prints: dict[str, Fingerprint]) -> None:
    others = [f"{k}.y4m" for k in TINY_SOURCES if TINY_SOURCES[k] != BASE] + list(LOOKALIKES) + ["dark.y4m",
                                                                                                  "title_one.y4m"]
    names = ["base.y4m", *others]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            like = compare(prints[a], prints[b])
            assert like.outcome == "different" and like.distance > DIFFERENT_ABOVE, (a, b, like)


def test_similar_pairs_finds_exactly_the_twins_and_near_copies(prints: dict[str, Fingerprint]) -> None:
    names = sorted(prints)
    pairs = similar_pairs([prints[n] for n in names])
    found = {(names[i], names[j]): like.outcome for i, j, like in pairs}
    family = set(TWINS) | set(NEAR) | {"alpha.y4m"}  # alpha is testsrc2 too: the same pictures as the base
    barred = {("dark.y4m", "dark_letterboxed.y4m"), ("one_side.y4m", "one_side_pillarboxed.y4m")}
    expected = {(a, b) for a in family for b in family if a < b} | barred | {tuple(sorted(CARDS))}
    assert set(found) == expected
    assert found[tuple(sorted(CARDS))] == "undecided"
    assert found[("base.mkv", "base.y4m")] == "identical" and found[("alpha.y4m", "base.y4m")] == "identical"
    assert found[("base.y4m", "lossy.mp4")] == "match"
    assert [(i, j) for i, j, _ in pairs] == sorted((i, j) for i, j, _ in pairs) and all(i < j for i, j, _ in pairs)


def test_a_master_fingerprint_comes_with_its_geometry_and_is_cached(clips: dict[str, Clip], ffmpeg: str,
                                                                     tmp_path: Path) -> None:
    cache = Sha256Cache(Tree.open(tmp_path), tmp_path / "sha256.json")
    master = Path(clips["base.mp4"].path)
    geometry, made, *_ = cache.master_decode(master, ffmpeg)
    assert geometry == (176, 144, "25/1", "yuv420p", FRAMES)
    assert cache.master_decode(master, ffmpeg).geometry == geometry
    y4m = clips["base.y4m"]
    assert fingerprint(y4m, ffmpeg, cache) == made.__class__(made.pixels_sha256, made.signature, FRAMES)
    reloaded = Sha256Cache(Tree.open(tmp_path), tmp_path / "sha256.json")  # from the file: no ffmpeg runs
    no_ffmpeg = str(tmp_path / "no-such-ffmpeg")
    assert fingerprint(clips["base.mp4"], no_ffmpeg, reloaded) == made
    assert fingerprint(y4m, no_ffmpeg, reloaded) == made
    assert Fingerprint.from_json(made.to_json()) == made
    assert len(made.signature) < 4096


def test_a_clip_replaced_with_the_same_size_and_mtime_gets_a_new_identity(ffmpeg: str, tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    clip_path = render(ffmpeg, TINY_SOURCES["beta"], refs / "clip.y4m", frames=FRAMES)
    cache = Sha256Cache(Tree.open(tmp_path / "cache"), tmp_path / "cache" / "sha256.json")
    before = probe_clip(clip_path, ffmpeg, cache)
    first = fingerprint(before, ffmpeg, cache)
    st = clip_path.stat()
    other = render(ffmpeg, TINY_SOURCES["gamma"], tmp_path / "other.y4m", frames=FRAMES)
    assert other.stat().st_size == st.st_size  # same geometry, same frame count: the same size
    with open(clip_path, "r+b") as fh:  # rewritten in place (as rsync --inplace or a tar unpack may): same inode
        fh.write(other.read_bytes())
    os.utime(clip_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    now = clip_path.stat()
    assert (now.st_size, now.st_mtime_ns, now.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert before.changed_on_disk() == "it was rewritten or changed in place (its status-change time moved)"
    # a later run reading the same cache file
    again = Sha256Cache(Tree.open(tmp_path / "cache"), tmp_path / "cache" / "sha256.json")
    after = probe_clip(clip_path, ffmpeg, again)
    assert after.sha256 != before.sha256
    second = fingerprint(after, ffmpeg, again)
    assert second.pixels_sha256 != first.pixels_sha256
    assert compare(first, second).outcome == "different"


@pytest.mark.parametrize("name", sorted(BARS))
def test_a_letterboxed_or_pillarboxed_copy_matches_inside_its_bars(prints: dict[str, Fingerprint], name: str) -> None:
    """Before bars were cut the letterboxed copy was 0.17 from its original and the pillarboxed one 0.20:
    "different", so they sat on both sides of a fold."""
    like = compare(prints["base.y4m"], prints[name])
    assert like.outcome == "match" and like.distance <= MATCH_AT / 2, like
    kind = "letterbox" if BARS[name][0] else "pillarbox"
    assert bars_text(prints[name].signature).startswith(f"{kind} bars (1"), bars_text(prints[name].signature)
    assert bars_text(prints["base.y4m"].signature) == ""
    assert signature_crop(prints[name].signature) == pytest.approx(BARS[name], abs=0.01)
    assert signature_crop(prints["base.y4m"].signature) == (0.0, 0.0, 0.0, 0.0)


def test_a_dark_scene_is_not_cut_as_bars_and_its_letterboxed_copy_matches(prints: dict[str, Fingerprint]) -> None:
    """Its lines are near black, but they move: no bar. With bars added, only the bars are cut; so too beside a
    still black band at one side of a picture."""
    assert signature_crop(prints["dark.y4m"].signature) == (0.0, 0.0, 0.0, 0.0)
    assert signature_crop(prints["dark_letterboxed.y4m"].signature) == pytest.approx((0.125, 0.125, 0, 0), abs=0.01)
    like = compare(prints["dark.y4m"], prints["dark_letterboxed.y4m"])
    assert like.outcome == "match" and like.distance < 0.005, like
    assert compare(prints["dark.y4m"], prints["base.y4m"]).outcome == "different"
    assert signature_crop(prints["one_side.y4m"].signature) == (0.0, 0.0, 0.0, 0.0)
    assert signature_crop(prints["one_side_pillarboxed.y4m"].signature) == pytest.approx((0, 0, 0.125, 0.125), abs=0.01)
    like = compare(prints["one_side.y4m"], prints["one_side_pillarboxed.y4m"])
    assert like.outcome == "match" and like.distance < 0.005, like


def test_two_title_cards_are_undecided_never_a_match(prints: dict[str, Fingerprint]) -> None:
    """Black with a line of white text: the thumbnails read the black, not the text (0.018 apart: a "match"
    before flat pictures were told)."""
    like = compare(prints["title_one.y4m"], prints["title_two.y4m"])
    assert like.outcome == "undecided" and like.flat and like.distance <= DIFFERENT_ABOVE, like
    assert "flat pictures" in like.detail and "cannot tell them apart" in like.detail


def test_discovery_groups_the_bars_and_says_the_cards_are_undecided(clips: dict[str, Clip],
                                                                    prints: dict[str, Fingerprint]) -> None:
    """What the corpus step says: every pair it groups and every pair it could not decide, both names, the
    distance and the --content-groups entry that reverses it; the cards are not grouped."""
    names = ["base.y4m", *sorted(BARS), *sorted(CARDS), "beta.y4m"]
    refs = one_source_each([clips[n] for n in names], {clips[n].sha256: prints[n] for n in names}, None)
    content = {Path(c.path).name: refs.grouping.content_of.get(c.sha256, c.sha256) for c in refs.clips}
    assert len({content[n] for n in ["base.y4m", *BARS]}) == 1
    assert content["title_one.y4m"] != content["title_two.y4m"]
    assert refs.grouping.contents(len(refs.clips)) == 4
    said = refs.grouping.said
    for name in BARS:
        (line,) = [s for s in said if s.startswith(f"base and {name.split('.')[0]} ")]
        assert "are held out together as one content (near-duplicate: thumbnail distance 0.0" in line
        assert f"; {name.split('.')[0]} compared inside its " in line
        assert f'pass --content-groups FILE with FILE holding {{"different": [["base", "{name.split(".")[0]}"]]}}' \
            in line
    (card,) = [s for s in said if "title_one" in s]
    assert card.startswith("title_one and title_two are undecided (flat pictures") and "kept as two contents" in card
    assert '{"same": [["title_one", "title_two"]]}' in card and card in refs.grouping.notes
    (group,) = refs.grouping.groups
    assert all('; if they are different contents: {"different": [["' in why for why in group.why)


def test_a_cached_signature_of_the_old_kind_is_never_read(clips: dict[str, Clip], ffmpeg: str, tmp_path: Path) -> None:
    """The signature is taken inside the bars now (t2): a sha256.json entry holding a t1 one, under the old key
    (print1|, as the kit wrote it before) or under today's, is computed again, never mixed in."""
    path = tmp_path / "sha256.json"
    made = fingerprint(clips["letterboxed.y4m"], ffmpeg, Sha256Cache(Tree.open(tmp_path), path))
    data = json.loads(path.read_text())
    (key,) = [k for k in data if k.startswith("print4|")]
    t1 = "t1:" + base64.b64encode(zlib.compress(bytes(FRAMES_BYTES))).decode()
    old = json.dumps([made.pixels_sha256, t1, made.frames, None, None])
    # print3: without the frames' times (kit 2.3's first); print2: a t2 signature without the pictures' repeats (kit
    # 2.2); print1: t1
    no_times = json.dumps([made.pixels_sha256, made.signature, made.frames, None])
    before = json.dumps([made.pixels_sha256, made.signature, made.frames])
    path.write_text(json.dumps({key.replace("print4|", "print1|"): old, key.replace("print4|", "print2|"): before,
                                key.replace("print4|", "print3|"): no_times, key: old}))
    again = fingerprint(clips["letterboxed.y4m"], ffmpeg, Sha256Cache(Tree.open(tmp_path), path))
    assert again == made and again.signature.startswith("t2:") and again.repeats == made.repeats is not None
    assert again.times == made.times is not None and made.times.frames == made.frames
    assert json.loads(path.read_text())[key] == json.dumps([made.pixels_sha256, made.signature, made.frames,
                                                            made.repeats.as_list(), made.times.to_json()])
