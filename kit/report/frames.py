"""The report's tables as data, each read from one file the kit writes so every figure can be recomputed, and the
worst of each kind for the first screen (WorstItem).

A table's caption names the file it is read from."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit.corpus.schema import CORPUS_ROW, VMAF_RANGE
from kit.infra.parquet import column_max, parquet_columns, read_batches
from kit.model.conformal import level_key
from kit.model.metrics import correlated
from kit.model.results import FoldResult
from kit.report.markup import ROWS_SHOWN, Measure, median
from kit.verdict import decide
from kit.verdict.breakdown import errors_of, quality_key
from kit.verdict.document import GroupErrors, WorstFold
from kit.verdict.gates import HOLDOUT_PLCC, shown
from kit.verdict.intervals import level_of
from kit.verdict.kinds import POOLED, SOURCE

if TYPE_CHECKING:
    from kit.corpus.summary import SourceInfo
    from kit.verdict.document import HoldoutBlock, Verdict

PANELS = 6  # predicted-vs-teacher panels: the worst few sources of the verdict's ranking
ROW_COLUMNS = ("seed", CORPUS_ROW, "src_sha256", "encoder", "cq", "vmaf", "pred")


DENSITY_CELLS = 120  # the pooled density's cells a side, over the span of teacher and prediction
CHUNK_ROWS = 1 << 22  # held-out rows summed at a time: a few arrays of this many floats beside the gathered ones


def padded(lo: float, hi: float) -> tuple[float, float]:
    """One square range around values from `lo` to `hi` (teacher and prediction share an axis scale)."""
    pad = max(1.0, 0.05 * (hi - lo))
    return lo - pad, hi + pad


@dataclass(frozen=True)
class HeldOut:
    """What the report shows of the held-out rows, each row's prediction the mean over the verdict's seeds of the
    members that held it out (`Gathered`): made a table of every row, they were 9.6 GiB of the bundle's 21 at 50,000
    contents (bench/README.md#step-memory); gathered, arrays of 36 bytes a row."""

    n: int  # the rows a seed predicts
    names: tuple[str, ...]  # the sources of those rows, sorted (a source the verdict does not name: its hash's 12)
    plcc: float  # pooled over every row: Pearson's r from centred sums (`Gathered.summary`)
    rmse: float
    share_out_of_range: float  # of the rows' mean predictions outside [0, 100]
    span: tuple[float, float]  # the square the density covers (`padded` around every finite teacher and prediction)
    density: np.ndarray  # (DENSITY_CELLS, DENSITY_CELLS) rows per cell over span x span, [teacher, prediction]
    panels: pd.DataFrame  # every row of the sources asked for, in row order: src, src_sha256, encoder, cq, vmaf, pred
    quality: tuple[GroupErrors, ...] = ()  # per quality setting: asked for when the verdict has no breakdown


class Gathered:
    """The held-out rows of predictions.parquet gathered a batch at a time (`add`): per corpus row how many of the
    chosen seeds predict it, the sum and count of those predictions that are not NaN (summed in the file's order; a
    row of NaN only is NaN, as pandas' mean skips a NaN), its teacher score and its source, encoder and CRF as
    codes."""

    def __init__(self, seeds: Sequence[int]) -> None:
        self.seeds = np.asarray(sorted(set(seeds)), dtype=np.int64)
        self.total, self.vmaf = np.zeros(0), np.zeros(0)
        self.count, self.valid = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
        self.src, self.encoder = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
        self.cq = np.zeros(0, dtype=np.int32)
        self.shas: dict[str, int] = {}
        self.encoders: dict[str, int] = {}
        self.quality_columns = True

    def add(self, part: pd.DataFrame) -> None:
        """One batch of the file: seed, corpus_row, vmaf, pred, and src_sha256, encoder and cq where it has them."""
        keep = np.isin(part["seed"].to_numpy(), self.seeds)
        if not keep.any():
            return
        rows = part[CORPUS_ROW].to_numpy()[keep].astype(np.int64)
        self.grow(int(rows.max()) + 1)
        pred = part["pred"].to_numpy(dtype=np.float64)[keep]
        number = ~np.isnan(pred)
        np.add.at(self.total, rows[number], pred[number])
        np.add.at(self.valid, rows[number], 1)
        np.add.at(self.count, rows, 1)
        self.vmaf[rows] = part["vmaf"].to_numpy(dtype=np.float64)[keep]
        self.src[rows] = codes(part["src_sha256"], self.shas)[keep] if "src_sha256" in part else -1
        self.quality_columns &= {"encoder", "cq"} <= set(part.columns)
        if {"encoder", "cq"} <= set(part.columns):
            self.encoder[rows] = codes(part["encoder"], self.encoders)[keep]
            self.cq[rows] = part["cq"].to_numpy()[keep]

    def grow(self, size: int) -> None:
        if size <= len(self.total):
            return
        size = max(size, 2 * len(self.total)) if len(self.total) else size
        for name in ("total", "vmaf", "count", "valid", "src", "encoder", "cq"):
            old = getattr(self, name)
            new = np.full(size, -1, dtype=old.dtype) if name in ("src", "encoder") else np.zeros(size, old.dtype)
            new[:len(old)] = old
            setattr(self, name, new)

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(corpus rows, teacher, mean prediction) of the predicted rows, CHUNK_ROWS of the row range at a time."""
        for start in range(0, len(self.count), CHUNK_ROWS):
            rows = start + np.flatnonzero(self.count[start:start + CHUNK_ROWS])
            yield rows, self.vmaf[rows], self.mean(rows)

    def mean(self, rows: np.ndarray) -> np.ndarray:
        """The rows' mean prediction over the seeds (NaN where each is NaN)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.valid[rows] > 0, self.total[rows] / self.valid[rows], np.nan)

    def summary(self, names: dict[str, str], panel_sources: Sequence[str] = (), quality: bool = False) -> HeldOut:
        """The report's figures of the gathered rows, in two passes over them (the means, then the sums about them);
        `panel_sources`: the sources whose every row `panels` holds."""
        n = out = 0
        sums, sse, finite = np.zeros(2), 0.0, True
        lows, highs = np.full(2, math.inf), np.full(2, -math.inf)  # [teacher, prediction], of finite values
        for _, y, p in self.chunks():
            n, sums = n + len(y), sums + np.array([np.sum(y), np.sum(p)])
            sse += float(np.sum((p - y) ** 2))
            out += int(np.count_nonzero((p < VMAF_RANGE[0]) | (p > VMAF_RANGE[1])))
            finite &= bool(np.isfinite(p).all())
            for side, values in enumerate((y[np.isfinite(y)], p[np.isfinite(p)])):
                if len(values):
                    lows[side], highs[side] = min(lows[side], values.min()), max(highs[side], values.max())
        span = padded(float(lows.min()), float(highs.max())) if np.isfinite(lows).any() else padded(0.0, 100.0)
        mean_y, mean_p = sums / n if n else (math.nan, math.nan)
        sxx = syy = sxy = 0.0
        density = np.zeros((DENSITY_CELLS, DENSITY_CELLS))
        for _, y, p in self.chunks():
            dy, dp = y - mean_y, p - mean_p
            sxx, syy, sxy = sxx + float(dy @ dy), syy + float(dp @ dp), sxy + float(dy @ dp)
            density += np.histogram2d(y, p, bins=DENSITY_CELLS, range=[span, span])[0]
        constant = lows == highs
        sources = self.named(names)
        present = np.unique(self.src[self.count > 0])
        return HeldOut(n=n, names=tuple(sorted({sources[c] for c in present if c >= 0})),
                       plcc=pooled_plcc(n, sxx, syy, sxy, finite, bool(constant[0]), bool(constant[1])),
                       rmse=math.sqrt(sse / n) if n else math.nan, share_out_of_range=out / n if n else math.nan,
                       span=span, density=density, panels=self.rows_of(sources, set(panel_sources)),
                       quality=tuple(quality_rows(self.rows_of(sources))) if quality else ())

    def named(self, names: dict[str, str]) -> list[str]:
        """Each source code's name: the verdict's, else its hash's first 12 characters."""
        return [names.get(sha, sha[:12]) for sha in self.shas]

    def rows_of(self, sources: list[str], only: set[str] | None = None) -> pd.DataFrame:
        """The predicted rows as a table (of the sources named in `only`, when given), in row order."""
        held = self.count > 0
        if only is not None:
            held &= np.isin(self.src, [c for c, name in enumerate(sources) if name in only])
        rows = np.flatnonzero(held)
        shas = np.array([*self.shas, None], dtype=object)  # code -1 (no source): the None appended
        src = self.src[rows]
        frame = pd.DataFrame({"src_sha256": shas[src],
                              "vmaf": self.vmaf[rows], "pred": self.mean(rows)})
        if self.quality_columns:
            encoders = np.array([*self.encoders, None], dtype=object)  # code -1 (no encoder): the None appended
            frame.insert(1, "encoder", encoders[self.encoder[rows]])
            frame.insert(2, "cq", self.cq[rows])
        frame.insert(0, "src", np.array([*sources, ""], dtype=object)[src])  # no source: ""
        return frame


def codes(texts: pd.Series, known: dict[str, int]) -> np.ndarray:
    """Each text's code in `known` (a new text given the next), -1 where the row has none."""
    cat = texts if isinstance(texts.dtype, pd.CategoricalDtype) else texts.astype("category")
    lookup = np.array([known.setdefault(str(v), len(known)) for v in cat.cat.categories] + [-1], dtype=np.int32)
    return lookup[cat.cat.codes.to_numpy()]  # code -1 (no text) picks the -1 appended


def pooled_plcc(n: int, sxx: float, syy: float, sxy: float, finite: bool, teacher_constant: bool,
                constant: bool) -> float:
    """Pearson's r from centred sums, by kit.model.metrics.correlations' rule: NaN with too few rows, a constant
    teacher or a prediction not finite; 0 for a constant prediction."""
    if not correlated(n, teacher_constant) or not finite:
        return math.nan
    if constant:
        return 0.0
    return float(np.clip(sxy / math.sqrt(sxx * syy), -1.0, 1.0))


def held_out(path: Path, seeds: Sequence[int], names: dict[str, str], panel_sources: Sequence[str] = (),
             quality: bool = False) -> HeldOut:
    """predictions.parquet's held-out rows as the report shows them (HeldOut), read a batch of rows at a time."""
    have = set(parquet_columns(path))
    gathered = Gathered(seeds)
    gathered.grow((column_max(path, CORPUS_ROW) or -1) + 1)  # its arrays made once, at their size, where it says it
    texts = [c for c in ("src_sha256", "encoder") if c in have]  # as dictionaries: a code a row, each text once
    for batch in read_batches(path, [c for c in ROW_COLUMNS if c in have], dictionary=texts):
        gathered.add(batch.to_pandas())
    return gathered.summary(names, panel_sources, quality)


def coverage_by_source(path: Path) -> pd.DataFrame:
    """Per source (index src_sha256, sorted) of the intervals at `path`: the share of its rows with lo <= teacher <=
    hi, one column per level keyed as the verdict keys levels ("nominal", "95", ...); NaN where a row of it is
    unbounded there. Counted a batch of rows at a time (the file is every held-out row: 15,000,000 at 50,000
    contents)."""
    columns = parquet_columns(path)
    pairs = [(lo, "hi" + lo[2:]) for lo in columns if lo.startswith("lo") and "hi" + lo[2:] in columns]
    keys = ["nominal" if (lv := level_of(lo)) is None else level_key(lv) for lo, _ in pairs]
    shas: dict[str, int] = {}
    rows = np.zeros(0, np.int64)
    inside, unbounded = np.zeros((0, len(pairs)), np.int64), np.zeros((0, len(pairs)), np.int64)
    wanted = ["src_sha256", "vmaf", *(c for pair in pairs for c in pair)]
    for batch in read_batches(path, wanted, dictionary=["src_sha256"]):
        part = batch.to_pandas()
        code = codes(part["src_sha256"], shas)
        known = code >= 0  # a row of no source is no source's
        size = len(shas)
        rows = np.pad(rows, (0, size - len(rows)))
        inside, unbounded = (np.pad(a, ((0, size - len(a)), (0, 0))) for a in (inside, unbounded))
        rows += np.bincount(code[known], minlength=size)
        y = part["vmaf"].to_numpy(dtype=np.float64)
        for k, (lo_col, hi_col) in enumerate(pairs):
            lo, hi = part[lo_col].to_numpy(dtype=np.float64), part[hi_col].to_numpy(dtype=np.float64)
            bounded = ~(np.isnan(lo) | np.isnan(hi))
            inside[:, k] += np.bincount(code[known], (bounded & (lo <= y) & (y <= hi))[known], size).astype(np.int64)
            unbounded[:, k] += np.bincount(code[known], ~bounded[known], size).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(unbounded == 0, inside / rows[:, None], np.nan)
    frame = pd.DataFrame(share, index=pd.Index(list(shas), name="src_sha256"), columns=keys, dtype=float)
    return frame.sort_index()


def rate_quality_points(corpus: Path) -> pd.DataFrame | None:
    """Mean bitrate and VMAF per (src, encoder, cq) of the rows with a bitrate above 0, each source by its name
    (kit.corpus.names: two sources of one name told apart); None when the corpus records no bitrate or no row has one.
    Summed a batch of rows at a time, the means taken of the sums."""
    from kit.corpus.names import source_names

    wanted = ["src", "src_sha256", "encoder", "cq", "bitrate_kbps", "vmaf"]
    if not set(wanted) <= set(parquet_columns(corpus)):
        return None
    keys = ["src_sha256", "src", "encoder", "cq"]
    parts = []
    for batch in read_batches(corpus, wanted, dictionary=["src", "src_sha256", "encoder"]):
        df = batch.to_pandas()
        rate = df["bitrate_kbps"].to_numpy(dtype=np.float64)
        ok = np.isfinite(rate) & (rate > 0)
        vmaf = df["vmaf"].where(ok)
        part = pd.DataFrame({**{k: df[k] for k in keys}, "rate": np.where(ok, rate, 0.0), "n_rate": ok.astype(np.int64),
                             "vmaf": vmaf.fillna(0.0), "n_vmaf": vmaf.notna().astype(np.int64)})
        part = part.groupby(keys, as_index=False, sort=False, observed=True, dropna=False).sum()  # texts made once
        parts.append(part.assign(**{k: part[k].astype(str) for k in keys[:3]}))
    if not parts:
        return None
    sums = pd.concat(parts, ignore_index=True).groupby(keys, as_index=False, sort=False, dropna=False).sum()
    names = source_names(zip(sums["src_sha256"], sums["src"], strict=True))  # every row's source, as with_names
    sums = sums[(sums["n_rate"] > 0) & sums["encoder"].notna() & sums["cq"].notna()]
    if sums.empty:
        return None
    sums = sums.assign(src=sums["src_sha256"].map(names))
    by = sums.groupby(["src", "encoder", "cq"], as_index=False)[["rate", "n_rate", "vmaf", "n_vmaf"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"src": by["src"], "encoder": by["encoder"], "cq": by["cq"],
                             "bitrate_kbps": by["rate"] / by["n_rate"],
                             "vmaf": np.where(by["n_vmaf"] > 0, by["vmaf"] / by["n_vmaf"], np.nan)})


def folds_frame(per_fold: Sequence[FoldResult]) -> pd.DataFrame:
    """The verdict's per-fold table (03_loso/folds.parquet) as a frame: one row per (seed, source)."""
    frame = pd.DataFrame([vars(f) for f in per_fold], columns=[f.name for f in fields(FoldResult)])
    figures = [c for c in frame.columns if c not in ("src", "src_sha256", "teacher_constant")]
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce") for c in figures})  # None (absent): NaN


def ranked_sources(folds: pd.DataFrame, clips: Sequence[SourceInfo] | None, coverage: pd.DataFrame | None
                   ) -> pd.DataFrame:
    """The ROWS_SHOWN worst sources as the verdict ranks them, with figures, geometry, coverage; empty without folds."""
    if folds.empty:
        return pd.DataFrame(columns=["src", "src_sha256", "rmse"])
    worst = decide.worst_folds(folds, n=ROWS_SHOWN)
    ranked = pd.DataFrame([vars(w) for w in worst], columns=[f.name for f in fields(WorstFold)])
    ranked["share_out_of_range"] = ranked["src_sha256"].map(decide.per_source(folds).set_index("src_sha256")
                                                            ["share_out_of_range"])
    geometry = {c.src_sha256: c for c in clips or ()}
    found = [geometry.get(s) for s in ranked["src_sha256"]]
    ranked["resolution"] = [f"{g.width}x{g.height}" if g and g.width and g.height else "n/a" for g in found]
    ranked["fps"] = [g.fps if g else float("nan") for g in found]
    ranked["frames"] = [g.frames if g else 0 for g in found]
    if coverage is not None and "nominal" in coverage:
        ranked["coverage"] = ranked["src_sha256"].map(coverage["nominal"])
    return ranked


def panel_sources(verdict: Verdict) -> list[str]:
    """The sources the report draws frame by frame: the PANELS worst of the ranking (ranked_sources)."""
    return [w.src for w in decide.worst_folds(folds_frame(verdict.per_fold), n=PANELS)] if verdict.per_fold else []


def quality_rows(per_row: pd.DataFrame) -> list[GroupErrors]:
    """The error of each quality setting over its held-out rows, for a verdict without the breakdown."""
    if not {"encoder", "cq"} <= set(per_row.columns):
        return []
    return [errors_of("quality", quality_key(str(encoder), int(cq)), rows)
            for (encoder, cq), rows in per_row.groupby(["encoder", "cq"], sort=True)]


GROUPINGS = (("encoder", "encoder", "encoders"), ("box", "box", "boxes"), ("quality", "quality setting", "settings"),
             ("resolution", "resolution class", "classes"), ("rung", "ladder rung", "rungs"))


@dataclass(frozen=True)
class WorstItem:
    """One line of the first screen: the worst of one kind, its figure, the median of its kind and its gate."""

    what: str  # source | encoder | box | quality setting | resolution class | ladder rung
    name: str
    measure: Measure  # the figure that makes it worst
    value: float
    kind: str  # the figure's kind (kit.verdict.kinds)
    typical: float | None  # the median over its kind; None when it is the only one
    count: int  # how many of its kind there are
    plural: str
    source: str  # the file its figures come from
    gate: str = ""  # the limit on this figure, e.g. "|bias| <= 10 (--max-abs-bias)"
    passed: bool | None = None  # that gate's outcome; None without one


def worst_source(folds: pd.DataFrame, verdict: Verdict) -> WorstItem | None:
    """The source the verdict ranks worst, with its value against the per-source gate on (its worst figure's first)."""
    if folds.empty:
        return None
    sources, scores, order = decide.ranked(folds)
    top = sources.iloc[order[0]]
    measure: Measure = str(scores.iloc[order[0]].idxmax())  # type: ignore[assignment]
    typical = float(sources[measure].abs().median() if measure == "bias" else sources[measure].median())
    item = WorstItem("source", str(top["src"]), measure, float(top[measure]), SOURCE, typical,
                     len(sources), "sources", "03_loso/folds.parquet")
    on = [s for s in shown(verdict) if s.per_source and s.row.enabled and s.row.threshold is not None]
    if not on:
        return item
    first = min(on, key=lambda s: s.gate.column != measure)  # the gate on its worst figure, else the first
    gate, threshold = first.gate, first.row.threshold
    value = abs(float(top[gate.column])) if gate.absolute else float(top[gate.column])
    return replace(item, gate=f"{gate.figure} {value:.2f} {gate.sign} {threshold:g} ({gate.flag})",
                   passed=math.isfinite(value) and gate.keeps(value, threshold))


def worst_groups(groups: Sequence[GroupErrors], holdout: Sequence[HoldoutBlock] = ()) -> list[WorstItem]:
    """Per grouping: the group of the largest RMSE against the median group's; for an encoder or box --holdout
    judges, its own held-out PLCC, else the gate's worst."""
    items = []
    for by, what, plural in GROUPINGS:
        mine = [g for g in groups if g.by == by and math.isfinite(g.rmse)]
        if not mine:
            continue
        worst = max(mine, key=lambda g: (g.rmse, g.group))
        typical = median([g.rmse for g in mine]) if len(mine) > 1 else None
        item = WorstItem(what, worst.group, "rmse", worst.rmse, POOLED, typical, len(mine), plural,
                         "04_verdict/intervals.parquet (the verdict's breakdown)")
        block = next((b for b in holdout if b.kind == by), None)
        if block is not None and (gate := block.gate).enabled and gate.threshold is not None:
            rule = f"{HOLDOUT_PLCC.sign} {gate.threshold:g} ({HOLDOUT_PLCC.flag})"
            if (unseen := next((g for g in block.groups if g.group == worst.group), None)) is not None:
                item = replace(item, gate=f"held out: PLCC {unseen.plcc:.4f} {rule}",
                               passed=unseen.plcc >= gate.threshold)
            else:
                item = replace(item, gate=f"held out, lowest: {gate.worst} PLCC {gate.worst_value:.4f} {rule}",
                               passed=gate.passed)
        items.append(item)
    return items
