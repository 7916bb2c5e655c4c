"""Bash-kit JSONL sources that are a source the union already holds: one content with it, said at merge. Each is
compared with the union's sources of its name, frame by frame (one encoder, cq and frame_index): every compared frame's
six features within FEATURE_ATOL + FEATURE_RTOL x |value|, or no frame to compare (undecided), is one content; else
they are kept apart. Either way the merge says so, with the --content-groups entry that undoes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kit.corpus.contents import Source
from kit.corpus.jsonl import JSONL_FEATURES, jsonl_src_sha256
from kit.corpus.names import source_names

FEATURE_ATOL = 1e-3  # a feature of a JSONL row and of a kit row of one frame: equal within this, plus
FEATURE_RTOL = 1e-3  # this share of the kit's value
FRAME_KEY = ("encoder", "cq", "frame_index")


@dataclass(frozen=True)
class Legacy:
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (src_sha256, src_sha256, why)
    notes: list[str] = field(default_factory=list)  # names that match with rows that do not: different contents


def _names(s: Source) -> set[str]:
    found = {s.src, PurePath(s.src).stem}
    if s.file:
        found |= {PurePath(s.file).name, PurePath(s.file).stem}
    return {n for n in found if n}


def legacy_links(table: pa.Table, sources: Sequence[Source]) -> Legacy:
    """Each bash-kit JSONL source of `table` compared with the sources known by their bytes that carry its name."""
    unique: dict[str, Source] = {}
    for s in sorted(sources, key=lambda s: (s.file == "", s.box_id, s.src)):  # one per source, its file's name known
        unique.setdefault(s.src_sha256, s)
    legacy = [s for s in unique.values() if s.src_sha256 == jsonl_src_sha256(s.src)]
    by_name: dict[str, dict[str, Source]] = {}
    for s in unique.values():
        if s.src_sha256 != jsonl_src_sha256(s.src):
            for name in _names(s):
                by_name.setdefault(name, {})[s.src_sha256] = s
    pairs = [(a, b) for a in legacy
             for b in {sha: b for n in _names(a) for sha, b in by_name.get(n, {}).items()}.values()]
    if not pairs:
        return Legacy()
    shown = source_names((s.src_sha256, s.src) for s in sources)  # as the union names them
    found = Legacy()
    rows = _rows_of(table, {s.src_sha256 for pair in pairs for s in pair})
    for a, b in sorted(pairs, key=lambda p: (shown[p[0].src_sha256], shown[p[1].src_sha256])):
        names = (shown[a.src_sha256], shown[b.src_sha256])
        compared, differing, worst = _compare(rows(a.src_sha256), rows(b.src_sha256))
        box = f"{names[1]} ({b.box_id})" if b.box_id else names[1]
        if differing:
            found.notes.append(
                f"{names[0]} (bash-kit JSONL) has the name of {box}, but the features of {differing} of the "
                f"{compared} frame(s) both score differ ({worst}): kept as two contents; if they are one content, "
                f"pass --content-groups FILE with FILE holding {json.dumps({'same': [list(names)]})}")
            continue
        how = (f"the six features of all {compared} frame(s) both score agree (same encoder, cq and frame; within "
               f"{FEATURE_ATOL:g} + {FEATURE_RTOL:g} x the value)" if compared else "no frame both score to compare "
               "(no encoder, cq and frame in common): undecided, held out together")
        found.links.append((a.src_sha256, b.src_sha256, f"{names[0]} (bash-kit JSONL) holds the rows of {box}: the "
                            f"same name, and {how}; if they are different contents: "
                            f"{json.dumps({'different': [list(names)]})}"))
    return found


def _rows_of(table: pa.Table, shas: set[str]) -> Callable[[str], pa.Table]:
    """src_sha256 -> that source's rows (its frame key and six features), for the sources in `shas`."""
    cols = [*FRAME_KEY, *JSONL_FEATURES]
    some = table.filter(pc.is_in(table["src_sha256"], value_set=pa.array(sorted(shas), pa.string())))
    some = some.select(["src_sha256", *cols]).sort_by("src_sha256")
    found, first, count = np.unique(np.asarray(some["src_sha256"].to_pylist(), dtype=object), return_index=True,
                                    return_counts=True)
    at = {str(sha): (int(i), int(n)) for sha, i, n in zip(found, first, count, strict=True)}
    return lambda sha: some.slice(*at.get(sha, (0, 0))).select(cols)


def _compare(left: pa.Table, right: pa.Table) -> tuple[int, int, str]:
    """(frames both score, how many differ, the largest difference) of a JSONL source against a known one."""
    right = right.rename_columns([*FRAME_KEY, *(f"{c}_kit" for c in JSONL_FEATURES)])
    left = left.append_column("_frame", pa.array(np.arange(left.num_rows, dtype=np.int64)))
    both = left.join(right, keys=list(FRAME_KEY), join_type="inner", use_threads=False)
    if both.num_rows == 0:
        return 0, 0, ""
    ours = np.column_stack([both[c].to_numpy(zero_copy_only=False).astype(float) for c in JSONL_FEATURES])
    kits = np.column_stack([both[f"{c}_kit"].to_numpy(zero_copy_only=False).astype(float) for c in JSONL_FEATURES])
    gap = np.nan_to_num(np.abs(ours - kits), nan=np.inf)  # a NaN agrees with nothing
    close = (gap <= FEATURE_ATOL + FEATURE_RTOL * np.abs(kits)).all(axis=1)
    frame = both["_frame"].to_numpy()
    frames, agreeing = np.unique(frame), np.unique(frame[close])
    if len(agreeing) == len(frames):
        return len(frames), 0, ""
    bad = ~np.isin(frame, agreeing)  # the rows of frames no row of the known source agrees with
    row, col = np.unravel_index(int(np.argmax(np.where(bad[:, None], gap, -1.0))), gap.shape)
    key = {k: both[k][int(row)].as_py() for k in FRAME_KEY}
    return len(frames), len(frames) - len(agreeing), (f"the largest: {JSONL_FEATURES[col]} by {gap[row, col]:.3g} at "
                                                      f"{key['encoder']} cq {key['cq']} frame {key['frame_index']}")
