"""How alike two clips' Fingerprints are: identical, match, undecided or different (docs/design/identity.md)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from kit.infra.files import sha256_json
from kit.infra.tree import Tree
from kit.media.cache import Sha256Cache
from kit.media.fingerprint import VERSION, Fingerprint, signature_crop
from kit.media.looks import budget_of
from kit.media.refs import Clip

__all__ = ["DIFFERENT_ABOVE", "FLAT_SHARE", "MATCH_AT", "Fingerprint", "Judge", "Likeness", "Outcome", "bars_text",
           "compare", "fingerprint", "remembered_pairs", "similar_pairs"]

Outcome = Literal["identical", "match", "undecided", "different"]
MATCH_AT = 0.02  # signature distance at or under which two clips are the same scene
DIFFERENT_ABOVE = 0.04  # over which they are different contents; between the two: undecided
FLAT_SHARE = 0.8  # a picture with this share of its signature on one level is flat (signature.flat_share)


@dataclass(frozen=True)
class Likeness:
    outcome: Outcome
    distance: float  # the signature distance (0 for identical pictures)
    detail: str  # one line for people
    flat: bool = False  # undecided because both pictures are flat: never grouped without the user's word


def bars_text(signature: str) -> str:
    """"letterbox bars (12% top, 12% bottom)" for the bars a signature was taken inside; "" for none."""
    top, bottom, left, right = signature_crop(signature)
    sides = [f"{share:.0%} {side}" for share, side in ((top, "top"), (bottom, "bottom"), (left, "left"),
                                                        (right, "right")) if share > 0]
    kind = " and ".join(k for k, on in (("letterbox", top or bottom), ("pillarbox", left or right)) if on)
    return f"{kind} bars ({', '.join(sides)})" if sides else ""


def compare(a: Fingerprint, b: Fingerprint) -> Likeness:
    if a.pixels_sha256 == b.pixels_sha256:
        return Likeness("identical", 0.0, f"frame-identical ({a.frames} frames)")
    from kit.media.signature import decode_signature, distance, flat_share  # numpy: where two pictures differ

    sig_a, sig_b = decode_signature(a.signature), decode_signature(b.signature)
    dist, offset = distance(sig_a, sig_b)
    flat = min(flat_share(sig_a, signature_crop(a.signature)), flat_share(sig_b, signature_crop(b.signature)))
    shift = f", {abs(offset)}-frame offset" if offset else ""  # at some positions at least
    lengths = f", {a.frames} vs {b.frames} frames" if a.frames != b.frames else ""
    if dist <= DIFFERENT_ABOVE and flat >= FLAT_SHARE:
        return Likeness("undecided", dist, f"flat pictures (a title card, a colour field: {flat:.0%} or more of "
                                           f"each on one level): thumbnail distance {dist:.3f} cannot tell "
                                           f"them apart{lengths}", flat=True)
    if dist <= MATCH_AT:
        return Likeness("match", dist, f"near-duplicate: thumbnail distance {dist:.3f} (match <= {MATCH_AT})"
                                       f"{shift}{lengths}")
    if dist <= DIFFERENT_ABOVE:
        return Likeness("undecided", dist, f"alike: thumbnail distance {dist:.3f} (match <= {MATCH_AT}, "
                                           f"different > {DIFFERENT_ABOVE}){shift}{lengths}")
    return Likeness("different", dist, f"different: thumbnail distance {dist:.3f} (> {DIFFERENT_ABOVE})")


def similar_pairs(prints: Sequence[Fingerprint]) -> list[tuple[int, int, Likeness]]:
    """Every pair (i < j, sorted) whose outcome is not "different": by their hash, and by all distances at once."""
    found: dict[tuple[int, int], Likeness] = {}
    by_hash: dict[str, list[int]] = {}
    for i, p in enumerate(prints):
        by_hash.setdefault(p.pixels_sha256, []).append(i)
    for members in by_hash.values():
        for i, j in itertools.combinations(members, 2):
            found[(i, j)] = compare(prints[i], prints[j])
    if len(prints) > 1:
        import numpy as np

        from kit.media.signature import all_distances, decode_signature

        sigs = np.stack([decode_signature(p.signature) for p in prints])
        dist = all_distances(sigs, DIFFERENT_ABOVE)
        rows, cols = np.nonzero(np.triu(dist <= DIFFERENT_ABOVE, k=1))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            if (i, j) not in found:
                found[(i, j)] = compare(prints[i], prints[j])  # the exact figure and its offset, for the detail
    return [(i, j, like) for (i, j), like in sorted(found.items()) if like.outcome != "different"]


Pairs = list[tuple[int, int, Likeness]]
# of remembered_pairs' records: raise it with any change of how two signatures are compared (kit.media.signature's
# distance, compare's words) that keeps the bounds and the signature's version, so no record of before is read
PAIRS_VERSION = "pairs1"
Judge = Callable[[Sequence[Fingerprint]], Pairs]  # similar_pairs, or remembered_pairs' memo of it


def remembered_pairs(cache: Tree, reading: bool) -> Judge:
    """similar_pairs, its answer for one list of fingerprints kept in the kit's cache (pairs/, by their values and this
    module's bounds): a run computes and keeps it, `status` reads what the run kept (no numpy to load, no signature to
    decode) and computes, keeping nothing, only what no run did."""

    def pairs(prints: Sequence[Fingerprint]) -> Pairs:
        if len(prints) < 2:
            return similar_pairs(prints)
        key = sha256_json([PAIRS_VERSION, VERSION, MATCH_AT, DIFFERENT_ABOVE, FLAT_SHARE,
                           [[p.pixels_sha256, p.signature, p.frames] for p in prints]])
        record = cache.root / "pairs" / f"{key[:32]}.json"
        found, _ = cache.read_json_object(record)
        with contextlib.suppress(ValueError, TypeError, KeyError):  # not as written here: computed again
            if found is not None and found["key"] == key:
                kept = [(_index(i), _index(j), _likeness(like)) for i, j, like in found["pairs"]]
                ordered = [(i, j) for i, j, _ in kept]
                if ordered == sorted(set(ordered)) and all(0 <= i < j < len(prints) for i, j in ordered):
                    return kept  # as similar_pairs gives them: i < j, in the list, each pair once, sorted
        computed = similar_pairs(prints)
        if not reading:
            cache.write_json(record, {"key": key, "pairs": [[i, j, [like.outcome, like.distance, like.detail,
                                                                   like.flat]] for i, j, like in computed]})
        return computed

    return pairs


def _index(value: object) -> int:
    """A kept pair's index, an int as written (not a float or a bool json would also turn into one)."""
    if type(value) is not int:
        raise ValueError(f"not an index: {value!r}")
    return value


def _likeness(values: Sequence[object]) -> Likeness:
    outcome, dist, detail, flat = values
    known: tuple[Outcome, ...] = get_args(Outcome)
    if outcome not in known or not isinstance(dist, float | int) or not isinstance(detail, str) \
            or not isinstance(flat, bool):
        raise ValueError(f"not a likeness: {values!r}")
    return Likeness(known[known.index(outcome)], float(dist), detail, flat)


def fingerprint(clip: Clip, ffmpeg: str, cache: Sha256Cache) -> Fingerprint:
    """The clip's fingerprint (a master's made by discovery's decode), cached per file version in `cache`."""
    if clip.kind == "master":
        return cache.master_decode(Path(clip.path), ffmpeg).identity
    return cache.pictures(Path(clip.path), clip.input_args(), ffmpeg, budget_of(clip.n_frames, clip.width, clip.height))
