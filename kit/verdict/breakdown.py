"""The ensemble's figures (residuals, the intervals' coverage and width) per group of each of GROUPINGS, from the
held-out rows of `04_verdict/intervals.parquet`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from kit.corpus.summary import rung_labels
from kit.model.conformal import level_key
from kit.model.metrics import residuals
from kit.verdict.document import GroupErrors, LimitGate
from kit.verdict.intervals import column, level_of

GROUPINGS = ("encoder", "box", "resolution", "rung", "quality", "source")
# classes by picture height: what libvmaf's vmaf_v0.6.1 (trained for 1080p viewing) sees far from its setting
RESOLUTION_CLASSES = ((240, "<=240p"), (480, "<=480p"), (720, "<=720p"), (1080, "<=1080p"))


def resolution_class(height: int) -> str:
    if height <= 0:  # a corpus without the column (made by hand)
        return "unknown"
    return next((name for top, name in RESOLUTION_CLASSES if height <= top), ">1080p")


def group_labels(rows: pd.DataFrame, by: str) -> pd.Series:
    """Each row's group under one grouping."""
    if by in ("encoder", "box", "source"):
        return rows[{"box": "box_id", "source": "src"}.get(by, by)].astype(str)
    if by == "resolution":
        return rows["height"].map(resolution_class)
    if by == "rung":  # the share of the source's height the encode was made at (kit.media.ladder.rung_label)
        return pd.Series(rung_labels(rows), index=rows.index)
    if by == "quality":  # quality_key's label of each distinct setting, given to its rows (not a string a row)
        codes, settings = pd.factorize(pd.MultiIndex.from_arrays([rows["encoder"].astype(str), rows["cq"].astype(int)]))
        labels = np.array([quality_key(e, int(cq)) for e, cq in settings], dtype=object)
        return pd.Series(labels[codes], index=rows.index)
    raise ValueError(f"unknown grouping {by!r}")


LABELLED_BY = {"encoder": ("encoder",), "box": ("box_id",), "source": ("src",), "resolution": ("height",),
               "rung": ("enc_height", "height"), "quality": ("encoder", "cq")}  # the columns group_labels reads


def group_codes(rows: pd.DataFrame, by: str) -> tuple[np.ndarray, np.ndarray]:
    """Each row's group code under one grouping and the groups' names by code, in sorted order: the same as
    pd.factorize(group_labels(rows, by), sort=True), each name made once from a row of it (never a string a row)."""
    columns = [c for c in LABELLED_BY[by] if c in rows]
    if not columns:
        return pd.factorize(group_labels(rows, by), sort=True)
    parts = [pd.factorize(rows[c], use_na_sentinel=False) for c in columns]
    joint = np.ravel_multi_index([codes for codes, _ in parts], [max(1, len(uniques)) for _, uniques in parts])
    _, first, inverse = np.unique(joint, return_index=True, return_inverse=True)
    names, named = np.unique(np.asarray(group_labels(rows.iloc[first], by), dtype=object), return_inverse=True)
    return named[inverse].astype(np.intp), names


def quality_key(encoder: str, cq: int) -> str:
    """A quality setting's group: `libx264 cq25`."""
    return f"{encoder} cq{cq}"


def errors_of(by: str, group: str, part: pd.DataFrame) -> GroupErrors:
    """The figures of one group's rows (errors_from), from a frame of them."""
    return errors_from(by, group, figure_arrays(part), int(part["src_sha256"].nunique()))


def errors_from(by: str, group: str, columns: Mapping[str, np.ndarray], n_sources: int) -> GroupErrors:
    """The figures of one group's rows, from its columns (figure_columns' but the source, as arrays: a frame's
    column per group cost more than the figures at 1,000 groups) and its count of sources: residuals, and the
    coverage and mean width of each interval held."""
    r = residuals(columns["pred"], columns["vmaf"])
    vmaf = columns["vmaf"]
    levels = [lv for c in columns if c.startswith("lo") and (lv := level_of(c)) is not None]  # every level held
    figures = {level_key(lv): interval_figures(columns[column(lv, "lo")], columns[column(lv, "hi")], vmaf)
               for lv in levels}
    open_ended = [k for k, (inside, _) in figures.items() if inside is None]
    nominal, width = interval_figures(columns["lo"], columns["hi"], vmaf) if "lo" in columns else (None, None)
    return GroupErrors(by=by, group=group, n_frames=r.n, n_sources=n_sources,
                       **r.fields_of(GroupErrors), coverage=nominal, mean_width=width if nominal is not None else None,
                       coverage_by_level={k: inside for k, (inside, _) in figures.items()} or None,
                       width_by_level={k: w for k, (_, w) in figures.items()} or None,
                       coverage_reason=(f"unbounded at {', '.join(k + '%' for k in open_ended)} for rows of this group "
                                        "(too few content groups: the verdict's intervals.levels say why): no coverage "
                                        "or width there") if open_ended else None)


def interval_figures(lo: np.ndarray, hi: np.ndarray, vmaf: np.ndarray) -> tuple[float | None, float | None]:
    """The share of rows inside [lo, hi] (closed) and the mean width, each None when some row is unbounded."""
    width = np.asarray(hi - lo, dtype=np.float64)
    inside = None if pd.isna(lo).any() or pd.isna(hi).any() else float(((lo <= vmaf) & (vmaf <= hi)).mean())
    return inside, float(width.mean()) if np.isfinite(width).all() else None


def breakdown(rows: pd.DataFrame) -> tuple[GroupErrors, ...]:
    """Every group of every grouping, in grouping order then by group name. Each group's figures read the columns
    errors_from reads (`figure_columns`), as arrays taken once, each group's rows taken from them (at 10,000
    contents all the rows' columns were 0.9 GiB a copy, bench/README.md#scale-10000); its sources counted on codes."""
    columns = figure_arrays(rows)
    sources = pd.factorize(rows["src_sha256"])[0]  # a missing one -1, not counted (as nunique)
    return tuple(errors_from(by, str(name), {c: a[at] for c, a in columns.items()}, distinct(sources[at]))
                 for by in GROUPINGS for name, at in parts(rows, by))


def distinct(codes: np.ndarray) -> int:
    """How many codes of pd.factorize there are, its sentinel (-1: missing) left out."""
    return int(np.unique(codes[codes >= 0]).size)


def parts(rows: pd.DataFrame, by: str) -> Iterator[tuple[str, np.ndarray]]:
    """Each group of one grouping by name and its rows' positions in their order (as a groupby's parts), one at a
    time: grouped on the labels' codes, never on an array of their Python strings."""
    codes, names = group_codes(rows, by)
    for code, at in positions(codes, len(names)):
        yield str(names[code]), at


def positions(codes: np.ndarray, n: int) -> Iterator[tuple[int, np.ndarray]]:
    """Each code of 0 to n - 1 and the positions that hold it, in their order (a code below 0 is in no group)."""
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes[codes >= 0], minlength=n)
    ends = np.cumsum(counts) + int(np.count_nonzero(codes < 0))  # the negative codes sort first
    for code, (start, end) in enumerate(zip(ends - counts, ends, strict=True)):
        yield code, order[start:end]


def figure_arrays(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns errors_from reads (figure_columns but the source, counted apart), as arrays."""
    return {c: rows[c].to_numpy() for c in figure_columns(rows) if c != "src_sha256"}


def figure_columns(rows: pd.DataFrame) -> list[str]:
    """The columns errors_of reads, in the rows' order: the prediction, the teacher, the source and every interval."""
    return [c for c in rows.columns if c in ("pred", "vmaf", "src_sha256", "lo", "hi") or level_of(c) is not None]


def range_gate(groups: tuple[GroupErrors, ...], threshold: float | None, measure: str) -> LimitGate:
    """--max-out-of-range: no source's share of predictions outside [0, 100] above the threshold."""
    sources = [g for g in groups if g.by == "source"]
    worst = max(sources, key=lambda g: (g.share_out_of_range, g.group), default=None)
    value = worst.share_out_of_range if worst else float("nan")
    failing = sorted(g.group for g in sources if threshold is not None and not g.share_out_of_range <= threshold)
    statement = (f"source {worst.group}: {value:.1%} of its held-out predictions lie outside [0, 100]"
                 if worst is not None and value > 0 else None)
    return LimitGate.of(measure, threshold, worst.group if worst else None, value, failing, statement,
                        None if sources else "no held-out source in the breakdown")
