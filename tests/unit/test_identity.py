"""The perceptual signature and its comparison, on thumbnails made here (kit.media.signature, identity)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from kit.infra.perms import Rules
from kit.infra.records import RecordError
from kit.infra.tree import Tree
from kit.media.fingerprint import signature_crop
from kit.media.identity import DIFFERENT_ABOVE, MATCH_AT, Fingerprint, compare, remembered_pairs, similar_pairs
from kit.media.signature import POSITIONS, all_distances, build_signature, decode_signature, distance
from tests.conftest import THUMB8_BYTES as THUMB_BYTES
from tests.conftest import grid_thumbs as _thumbs


def _clip(seed: int, n: int = 60, motion: float = 3.0) -> np.ndarray:
    """A moving picture: a smooth random field drifting by `motion` levels a frame."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(30, 220, THUMB_BYTES)
    drift = rng.normal(0, motion, THUMB_BYTES)
    return np.stack([base + drift * t for t in range(n)])


def _print(frames: np.ndarray) -> Fingerprint:
    data = _thumbs(frames)
    return Fingerprint(hashlib.sha256(data).hexdigest(), build_signature(data), len(frames))


def test_the_same_frames_are_identical_and_a_frame_lost_still_matches() -> None:
    frames = _clip(1)
    a = _print(frames)
    assert compare(a, _print(frames)).outcome == "identical"
    for cut in (frames[1:], frames[:-1]):
        like = compare(a, _print(cut))
        assert like.outcome == "match" and like.distance == pytest.approx(0.0, abs=1e-9), like
    assert "1-frame offset" in compare(a, _print(frames[1:])).detail


def test_noise_of_a_lossy_copy_matches_and_other_content_is_different() -> None:
    frames = _clip(2)
    noisy = frames + np.random.default_rng(9).normal(0, 2.0, frames.shape)  # ~2 levels: a hard re-encode
    assert compare(_print(frames), _print(noisy)).outcome == "match"
    assert compare(_print(frames), _print(_clip(3))).outcome == "different"


def test_the_three_way_outcome_follows_the_thresholds() -> None:
    frames = _clip(4, motion=0.0)
    a = _print(frames)
    for shift, outcome in ((0.5 * MATCH_AT, "match"), ((MATCH_AT + DIFFERENT_ABOVE) / 2, "undecided"),
                           (2 * DIFFERENT_ABOVE, "different")):
        like = compare(a, _print(frames + shift * 255))  # every sample moved by `shift`: the distance is `shift`
        assert like.outcome == outcome and like.distance == pytest.approx(shift, abs=0.003), (shift, like)


def test_colour_alone_tells_two_pictures_of_one_layout_apart() -> None:
    frames = _clip(5, motion=0.0)
    frames[:, 64:80], frames[:, 80:] = 60, 200  # reddish
    recoloured = frames.copy()
    recoloured[:, 64:80], recoloured[:, 80:] = 200, 60  # the same luma, bluish
    like = compare(_print(frames), _print(recoloured))
    assert like.outcome == "different", like


def test_similar_pairs_equals_every_pair_compared_one_by_one() -> None:
    rng = np.random.default_rng(0)
    clips = [_clip(s, n=int(rng.integers(2, 80))) for s in range(40)]
    clips += [c[1:] for c in clips[:5]] + [c + rng.normal(0, 6, c.shape) for c in clips[5:10]]
    clips += [clips[11] + 255 * (MATCH_AT + DIFFERENT_ABOVE) / 2, clips[12].copy()]
    prints = [_print(c) for c in clips]
    expected = [(i, j, compare(prints[i], prints[j])) for i, j in itertools.combinations(range(len(prints)), 2)]
    assert similar_pairs(prints) == [e for e in expected if e[2].outcome != "different"]
    assert {like.outcome for _, _, like in similar_pairs(prints)} == {"identical", "match", "undecided"}


def test_the_pairs_a_run_kept_are_what_status_reads_and_a_damaged_record_is_computed_again(tmp_path: Path) -> None:
    """identity.remembered_pairs (issue 77: `status` at most 0.5 s of CPU, numpy's import alone ~0.1 s): a run keeps
    similar_pairs' answer for its fingerprints in the cache, `status` (reading) reads it back equal without
    computing it and keeps nothing itself; another list of fingerprints, or a damaged record, is computed again."""
    rng = np.random.default_rng(1)
    clips = [_clip(s, n=30) for s in range(6)]
    clips += [clips[0][1:], clips[1] + rng.normal(0, 6, clips[1].shape),
              clips[2] + 255 * (MATCH_AT + DIFFERENT_ABOVE) / 2]
    prints = [_print(c) for c in clips]
    truth = similar_pairs(prints)
    assert {like.outcome for _, _, like in truth} == {"match", "undecided"}
    cache = Tree.open(tmp_path / "cache", Rules())
    assert remembered_pairs(cache, reading=True)(prints) == truth and not any(cache.root.rglob("*.json"))
    assert remembered_pairs(cache, reading=False)(prints) == truth
    kept = list(cache.root.rglob("*.json"))
    assert len(kept) == 1
    with pytest.MonkeyPatch.context() as mp:  # read back, not computed: the signatures are never compared
        mp.setattr("kit.media.identity.similar_pairs", lambda prints: pytest.fail("computed again"))
        assert remembered_pairs(cache, reading=True)(prints) == truth
    assert remembered_pairs(cache, reading=True)(prints[:-1]) == similar_pairs(prints[:-1])  # another list
    for damage in ('{"key": "x", "pairs": []}', '{"pairs": [[0, 1, ["same", 0.0, "", false]]]}', "[", ""):
        kept[0].write_text(damage)
        assert remembered_pairs(cache, reading=True)(prints) == truth, damage
    # a record of the very key whose pairs point outside the list, backwards, twice, unsorted or at a float
    remembered_pairs(cache, reading=False)(prints)
    record = json.loads(kept[0].read_text())
    like = record["pairs"][0][2]
    for pairs in ([[0, len(prints), like]], [[1, 0, like]], [[0, 1, like], [0, 1, like]],
                  [[0, 2, like], [0, 1, like]], [[0.0, 1, like]], [[-1, 1, like]], [[True, 2, like]]):
        kept[0].write_text(json.dumps({"key": record["key"], "pairs": pairs}))
        assert remembered_pairs(cache, reading=True)(prints) == truth, pairs


def test_the_prefilter_bound_never_exceeds_the_distance() -> None:
    rng = np.random.default_rng(1)
    sigs = np.stack([decode_signature(_print(_clip(s, motion=float(rng.uniform(0, 9)))).signature)
                     for s in range(30)])
    full = all_distances(sigs, within=10.0)  # nothing cut: every pair computed in full
    for i, j in itertools.combinations(range(len(sigs)), 2):
        assert full[i, j] == pytest.approx(distance(sigs[i], sigs[j])[0], abs=1e-9)
    cut = all_distances(sigs, within=0.05)
    assert np.all((cut == full) | (np.isinf(cut) & (full > 0.05)))


def test_a_signature_is_small_and_versioned() -> None:
    noise = np.random.default_rng(2).integers(0, 256, (5000, THUMB_BYTES))  # nothing to compress
    sig = build_signature(_thumbs(noise))
    assert sig.startswith("t2:") and len(sig) < 4400 and sig.isascii() and sig.isprintable()
    assert decode_signature(sig).shape == (POSITIONS, 2, 66)
    assert len(build_signature(_thumbs(np.full((5000, THUMB_BYTES), 128)))) < 200  # a static clip


@pytest.mark.parametrize("bad", ["t3:" + "A" * 8, "t2:not base64!", "t2:" + "QUFB", ""])
def test_a_damaged_or_foreign_signature_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_signature(bad)


def test_a_fingerprint_reads_back_from_json_and_refuses_a_damaged_one() -> None:
    made = _print(_clip(6))
    assert Fingerprint.from_json(made.to_json()) == made
    assert list(made.to_json()) == ["pixels_sha256", "signature", "frames", "repeats", "times"]
    for field, value in (("pixels_sha256", "xyz"), ("signature", "t2:AAAA"), ("frames", 0)):
        with pytest.raises((ValueError, RecordError)):
            Fingerprint.from_json({**made.to_json(), field: value})


def test_an_older_t1_signature_still_reads_and_compares_as_taken_without_bars() -> None:
    """A manifest written before bars were cut carries t1 signatures (the whole picture): a merge compares them."""
    frames = _clip(7)
    made = _print(frames)
    raw = decode_signature(made.signature)
    t1 = "t1:" + base64.b64encode(zlib.compress(np.rint(raw * 255).astype(np.uint8).tobytes())).decode()
    old = Fingerprint("0" * 64, t1, made.frames)
    assert signature_crop(t1) == (0.0, 0.0, 0.0, 0.0) and signature_crop(made.signature) == (0.0, 0.0, 0.0, 0.0)
    like = compare(made, old)
    assert like.outcome == "match" and like.distance == pytest.approx(0.0, abs=1e-9)


def test_a_flat_picture_pair_is_undecided_however_close_and_a_textured_one_matches() -> None:
    card = np.full((40, THUMB_BYTES), 60.0)
    card[:, 64:] = 128  # dark grey (not black: no bar), neutral chroma
    one, two = card.copy(), card.copy()
    one[:, [27, 28, 29]] = 84  # a word in the middle row, as 8x8 thumbnails see text: a little lighter...
    two[:, [26, 28, 30]] = 84  # ...another word
    like = compare(_print(one), _print(two))
    assert like.outcome == "undecided" and like.flat and like.distance < MATCH_AT, like
    assert "flat pictures" in like.detail
    textured = _clip(8, motion=0.0)
    assert not compare(_print(textured), _print(textured + 1.0)).flat


def test_a_payload_that_inflates_past_its_size_is_refused_without_inflating_it_whole() -> None:
    """A manifest or cache another box sent: its frame times or signature, a few hundred KB that inflate to 200 MB,
    refused by the length they must have, never inflated past it (kit.media.fingerprint.inflated)."""
    import base64
    import tracemalloc
    import zlib

    from kit.media.fingerprint import TIMES_VERSION, FrameTimes

    bomb = base64.b64encode(zlib.compress(bytes(200 * 2**20), 9)).decode("ascii")
    tracemalloc.start()
    with pytest.raises(ValueError, match="frames, not 3"):
        FrameTimes(3, "1/30", f"{TIMES_VERSION}:{bomb}").tick_list()
    with pytest.raises(ValueError, match="signature holds"):
        decode_signature(f"t2:{bomb}")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20, peak
