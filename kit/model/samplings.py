"""Each held-out encode as vmaf-tune predicts it from a sample of the clip (03_loso/samplings.parquet): the proxy fed
the mean features of a sampling's frames (kit.corpus.samplings), against the whole clip's teacher score, which is
what vmaf-tune's verify encode measures. Two ways to get those frames: `cut` from the whole encode's own rows (every
encode, every corpus) and `encoded`, each window encoded on its own by the corpus step as the consumer encodes it
(02_corpus/samples.parquet, this box's clips longer than the window only)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.corpus.samplings import BY_RATE, BY_TIMES, FIRST, SAMPLINGS, Sampling, Windows, longer_than
from kit.corpus.training import text
from kit.media.ladder import NATIVE
from kit.model.clips import ENCODE_KEY, column_sums
from kit.model.pooling import clipped

CUT, ENCODED = "cut", "encoded"
SAMPLING_COLUMNS = ("fps",)  # what LOSO reads of the corpus besides the training columns, to place the windows
# 03_loso/samplings.parquet (docs/reference/files.md); window_* of encodes.parquet are its rows of FIRST, cut
SAMPLINGS_COLUMNS = ("content", "src", *ENCODE_KEY, "rung", "crf", "crf_band", "counted", "sampling", "how",
                     "n_frames", "longer", "frames", "windows", "placed", "teacher", "window_teacher", "predicted",
                     "ceiling", "miss", "ceiling_miss", "gap", "n_seeds", "enc_seconds", "score_seconds", "enc_bytes")
# what encodes.parquet takes of its FIRST, cut row, under these names: the window as vmaf-tune's code takes it today
WINDOW_COLUMNS = {"frames": "window_frames", "longer": "longer", "placed": "window_placed",
                  "window_teacher": "window_teacher",
                  "predicted": "window_predicted", "ceiling": "window_ceiling", "miss": "window_miss",
                  "ceiling_miss": "window_ceiling_miss", "gap": "window_gap"}
Predict = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Placed:
    """Where each sampling's windows fall: per encode code, its length and rate, whether it is longer than the window
    and how many windows each sampling takes (`lengths`); per sampling, which corpus rows lie in them (`masks`)."""

    lengths: pd.DataFrame
    masks: dict[str, np.ndarray]


def place_windows(df: pd.DataFrame, codes: np.ndarray, window_s: float,
                  times: Mapping[str, Sequence[float]] | None = None) -> Placed | None:
    """Each sampling's windows in each encode (its length: its highest frame index plus one, so two boxes' copies of
    a frame are both in or both out): by its source's frames' `times` (by src_sha256, seconds) where recorded for
    every frame, else by the frames' rate (`placed`: kit.corpus.samplings.BY_TIMES or BY_RATE); None without the
    frames' rate (a hand-made or JSONL corpus): no window placed."""
    if "fps" not in df or not np.isfinite(fps := df["fps"].to_numpy(dtype=np.float64)).all() or (fps <= 0).any():
        return None
    frame = df["frame_index"].to_numpy(dtype=np.int64)
    lengths = pd.DataFrame({"code": codes, "n": frame + 1, "fps": fps, "sha": text(df["src_sha256"])}).groupby(
        "code").agg(n=("n", "max"), fps=("fps", "first"), sha=("sha", "first"))
    times = times or {}
    timed = [t if (t := times.get(sha)) is not None and len(t) == n else None
             for n, sha in zip(lengths["n"], lengths["sha"], strict=True)]
    keys = [(int(n), float(rate), sha if t is not None else "")
            for n, rate, sha, t in zip(lengths["n"], lengths["fps"], lengths["sha"], timed, strict=True)]
    which, firsts = distinct_placings(keys)
    spans = [{s.name: s.windows(keys[i][0], keys[i][1], window_s, timed[i]) for s in SAMPLINGS} for i in firsts]
    longer = np.array([longer_than(keys[i][0], keys[i][1], window_s, timed[i]) for i in firsts], dtype=bool)
    lengths["longer"] = longer[which]
    lengths["placed"] = [BY_TIMES if t is not None else BY_RATE for t in timed]
    lengths = lengths.drop(columns="sha")
    at = which[np.searchsorted(lengths.index.to_numpy(), codes)]  # each row's encode's placing, a row of `spans`
    masks = {}
    for s in SAMPLINGS:
        windows = [p[s.name] for p in spans]
        lengths[s.name] = np.array([len(w) for w in windows], dtype=np.int64)[which]
        masks[s.name] = in_windows(frame, at, windows)
    return Placed(lengths, masks)


def distinct_placings(keys: Sequence[tuple[int, float, str]]) -> tuple[np.ndarray, list[int]]:
    """Each encode's placing (the index of its key, a length, rate and timed source, among the distinct keys in order
    of first use) and the encode each placing is taken from: 80,000 encodes of 10,000 contents share a few hundred,
    each placed once."""
    distinct: dict[tuple[int, float, str], int] = {}
    firsts: list[int] = []
    for i, key in enumerate(keys):
        if key not in distinct:
            distinct[key] = len(firsts)
            firsts.append(i)
    return np.array([distinct[key] for key in keys], dtype=np.int64), firsts


def in_windows(frame: np.ndarray, at: np.ndarray, windows: Sequence[Windows]) -> np.ndarray:
    """Whether each row's frame lies in one of the windows of its placing (`at`: each row's, an index of `windows`):
    each placing's k-th window as two columns (empty where it has fewer), a few passes a row."""
    widest = max(map(len, windows), default=0)
    starts, ends = np.zeros((len(windows), widest), np.int64), np.zeros((len(windows), widest), np.int64)
    for i, spans in enumerate(windows):
        for k, (first, end) in enumerate(spans):
            starts[i, k], ends[i, k] = first, end
    inside = np.zeros(len(frame), dtype=bool)
    for k in range(widest):
        inside |= (frame >= starts[at, k]) & (frame < ends[at, k])
    return inside


def mean_rows(groups: np.ndarray, feats: np.ndarray, target: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(group ids, each group's first row, frames, mean features as float32, mean teacher score), the means taken as
    kit.model.clips.clip_predictions takes an encode's, so a sample of every frame gives the whole encode's bits."""
    ids, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    sums = column_sums(inverse, feats, len(ids))
    first = np.zeros(len(ids), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(groups))[::-1]
    teacher = np.bincount(inverse, weights=target) / counts
    return ids, first, counts, (sums / counts[:, None]).astype(np.float32), teacher


@dataclass(frozen=True)
class Pooled:
    """A fold's held-out encodes pooled as vmaf-tune pools a sampling's frames, what no member changes (their keys,
    frames, mean features and teacher score, what vmaf-tune feeds, the teacher's function's ceiling), made once per
    fold, the same object for each of its members, which predict its rows (`predicted`; members_rows takes their
    mean)."""

    out: pd.DataFrame  # a row per encode and sampling, `predicted` left NaN (members_rows fills it)
    mean_feats: np.ndarray
    fed: np.ndarray

    @classmethod
    def of_groups(cls, keys: pd.DataFrame, mean_feats: np.ndarray, fed: np.ndarray,
                  teacher_fn: Callable[[np.ndarray], np.ndarray] | None, **columns: object) -> Pooled:
        """`keys` (a row per group) with `columns`, the seed and prediction to come, the ceiling computed."""
        ceiling = teacher_fn(mean_feats[:, :6].astype(np.float64)) if teacher_fn is not None else \
            np.full(len(mean_feats), np.nan)
        out = keys.reset_index(drop=True).assign(seed=np.int32(0), **columns)
        return cls(out.assign(predicted=np.nan, ceiling=ceiling), mean_feats, fed)

    def predicted(self, predict: Predict) -> np.ndarray:
        """A member's prediction of each row: the export's clipped prediction where vmaf-tune has a slot, NaN
        elsewhere."""
        pred = np.full(len(self.mean_feats), np.nan)
        asked = np.isfinite(self.fed).all(axis=1)
        if asked.any():
            pred[asked] = clipped(predict(self.mean_feats[asked], self.fed[asked]))
        return pred


def members_rows(parts: list[tuple[Pooled, np.ndarray]]) -> pd.DataFrame:
    """Every fold's pooled rows once (its members share them: the seeds' parts of one Pooled), with the seeds that
    predicted each (`n_seeds`) and their mean (`predicted`: NaN where a seed's is; else the mean a grouped mean of the
    members' rows took, the seeds in the members' order, by the same pandas reduction: the same bits). At 10,000
    contents the members' rows were 1.2 million, a copy of their fold's keys each, grouped by them."""
    folds: dict[int, tuple[Pooled, list[np.ndarray]]] = {}
    for pooled, pred in parts:
        folds.setdefault(id(pooled), (pooled, []))[1].append(np.asarray(pred, dtype=np.float64))
    frames = []
    for pooled, preds in folds.values():
        seeds, rows = len(preds), len(pooled.out)
        each = np.concatenate(preds)
        mean = pd.Series(each).groupby(np.tile(np.arange(rows), seeds), sort=True).mean().to_numpy() if rows else each
        broken = np.isnan(each).reshape(seeds, rows).any(axis=0)
        frames.append(pooled.out.assign(n_seeds=np.int64(seeds), predicted=np.where(broken, np.nan, mean)))
    return pd.concat(frames, ignore_index=True)


def cut_pooled(rows: np.ndarray, codes: np.ndarray, feats: np.ndarray, target: np.ndarray, keys: pd.DataFrame,
               masks: dict[str, np.ndarray], feed: Callable[[pd.Series, pd.Series], np.ndarray],
               teacher_fn: Callable[[np.ndarray], np.ndarray] | None) -> list[Pooled]:
    """A fold's held-out encodes (`rows` of its fold) pooled over each sampling's frames cut from them."""
    parts = []
    for name, mask in masks.items():
        taken = rows[mask[rows]]
        ids, first, counts, mean_feats, teacher = mean_rows(codes[taken], feats[taken], target[taken])
        held = keys.iloc[taken[first]]
        parts.append(Pooled.of_groups(held, mean_feats, feed(held["encoder"], held["cq"]), teacher_fn, code=ids,
                                      sampling=name, how=CUT, frames=counts.astype(np.int32), window_teacher=teacher))
    return parts


def encoded_pooled(held: set[str], samples: pd.DataFrame, feats: np.ndarray,
                   feed: Callable[[pd.Series, pd.Series], np.ndarray],
                   teacher_fn: Callable[[np.ndarray], np.ndarray] | None) -> Pooled | None:
    """The sample encodes of the sources a fold holds out (`held`: their sha256) pooled per encode and sampling (its
    windows' frames, each window encoded and scored on its own); None where it holds none."""
    rows = np.flatnonzero(samples["src_sha256"].isin(held).to_numpy())
    if not len(rows):
        return None
    _, first, counts, mean_feats, teacher = mean_rows(samples["group"].to_numpy()[rows], feats[rows],
                                                         samples["vmaf"].to_numpy(dtype=np.float64)[rows])
    keys = samples.iloc[rows[first]][["src_sha256", "encoder", "cq", "sampling", "enc_width", "enc_height"]]
    return Pooled.of_groups(keys, mean_feats, feed(keys["encoder"], keys["cq"]), teacher_fn, how=ENCODED,
                            frames=counts.astype(np.int32), window_teacher=teacher)


def sample_groups(samples: pd.DataFrame) -> pd.DataFrame:
    """The sample rows with their encode at the source's size (enc_width, enc_height 0: kit.model.clips' native key
    is the corpus's own size, filled in by consumer_samplings) and a code per (encode, sampling)."""
    samples = samples.assign(enc_width=0, enc_height=0)
    return samples.assign(group=samples.groupby(["src_sha256", "encoder", "cq", "sampling"], sort=True).ngroup())


def sample_costs(samples: pd.DataFrame) -> pd.DataFrame:
    """Per encode and sampling: its windows (each its own encode), the bytes they wrote, and this box's seconds to
    encode and score them: the sample job encodes every sampling's windows in one process and scores them in another
    (`enc_seconds`, `score_seconds` on each of its rows), its seconds shared out by the frames each sampling takes."""
    key = ["src_sha256", "encoder", "cq"]
    per_window = samples.groupby([*key, "sampling", "window"], sort=True).agg(
        frames=("vmaf", "size"), enc_bytes=("enc_bytes", "first"), enc_seconds=("enc_seconds", "first"),
        score_seconds=("score_seconds", "first"))
    per = per_window.groupby(level=[0, 1, 2, 3]).agg(
        windows=("frames", "size"), frames=("frames", "sum"), enc_bytes=("enc_bytes", "sum"),
        enc_seconds=("enc_seconds", "first"), score_seconds=("score_seconds", "first")).reset_index()
    share = per["frames"] / per.groupby(key)["frames"].transform("sum")
    return per.assign(enc_seconds=per["enc_seconds"] * share, score_seconds=per["score_seconds"] * share).drop(
        columns="frames")


def consumer_samplings(members: pd.DataFrame, encodes: pd.DataFrame, lengths: pd.DataFrame,
                       costs: pd.DataFrame | None) -> pd.DataFrame:
    """03_loso/samplings.parquet from every member's sampled predictions: one row per held-out encode, sampling and
    way (cut, encoded), the mean over the seeds that held it out, against the whole encode's teacher score."""
    cut = members[members["how"] == CUT].merge(lengths, left_on="code", right_index=True)
    taken = np.stack([cut[s.name].to_numpy() for s in SAMPLINGS])  # each sampling's windows, per row
    which = cut["sampling"].map({s.name: i for i, s in enumerate(SAMPLINGS)}).to_numpy()
    cut = cut.assign(n_frames=cut["n"], windows=taken[which, np.arange(len(cut))])
    key = [*ENCODE_KEY, "sampling", "how"]
    frames = [cut]
    if (enc := members[members["how"] == ENCODED]).size:
        native = encodes[encodes["rung"] == NATIVE][[*ENCODE_KEY]]
        enc = enc.drop(columns=["enc_width", "enc_height"]).merge(native, on=["src_sha256", "encoder", "cq"])
        frames.append(enc.assign(n_frames=np.nan, longer=True, windows=np.nan))
    both = pd.concat(frames, ignore_index=True)
    by = both.groupby(key, sort=True)  # a row each (members_rows), in the key's order
    assert (by.size() <= 1).all(), "an encode's sampling in two of members_rows' rows: its seeds' mean not taken"
    out = by.agg(frames=("frames", "first"), window_teacher=("window_teacher", "first"), ceiling=("ceiling", "first"),
                 n_seeds=("n_seeds", "first"), longer=("longer", "first"), windows=("windows", "first"),
                 placed=("placed", "first"), predicted=("predicted", "first"))
    out = out.reset_index()
    whole = encodes[[*ENCODE_KEY, "content", "src", "rung", "crf", "crf_band", "counted", "n_frames", "teacher"]]
    out = out.merge(whole, on=list(ENCODE_KEY), how="inner")
    # an encoded window's frames are the corpus step's, placed as the cut ones of its encode (the same manifest's times)
    out["placed"] = out.groupby(list(ENCODE_KEY))["placed"].transform("first")
    if costs is not None and len(costs):
        out = out.merge(costs.assign(how=ENCODED), on=["src_sha256", "encoder", "cq", "sampling", "how"], how="left",
                        suffixes=("", "_encoded"))
        out["windows"] = out["windows"].fillna(out.pop("windows_encoded"))
    for column in ("enc_seconds", "score_seconds", "enc_bytes"):
        out[column] = out.get(column, np.nan)
    out["miss"] = (out["predicted"] - out["teacher"]).abs()
    out["ceiling_miss"] = (out["ceiling"] - out["teacher"]).abs()
    out["gap"] = (out["window_teacher"] - out["teacher"]).abs()
    out["windows"] = out["windows"].astype("int64")
    order = {s.name: i for i, s in enumerate(SAMPLINGS)}
    out = out.assign(rank=out["sampling"].map(order)).sort_values(
        ["src", "src_sha256", "encoder", "cq", "enc_height", "rank", "how"],
        ascending=[True, True, True, True, False, True, True], kind="stable")
    return out[list(SAMPLINGS_COLUMNS)].reset_index(drop=True)


def with_window(encodes: pd.DataFrame, samplings: pd.DataFrame, sampling: Sampling = FIRST) -> pd.DataFrame:
    """encodes.parquet with its window columns: the FIRST sampling's cut row of each encode (vmaf-tune's window as its
    code takes it today: the whole encode's frames of the window; the window encoded on its own in samplings.parquet),
    NaN where the corpus gives no frame rate."""
    mine = samplings[(samplings["sampling"] == sampling.name) & (samplings["how"] == CUT)]
    mine = pd.DataFrame({WINDOW_COLUMNS.get(c, c): mine[c] for c in (*ENCODE_KEY, *WINDOW_COLUMNS)})
    out = encodes.merge(mine, on=list(ENCODE_KEY), how="left")
    out["longer"] = out["longer"].astype("boolean")
    return out
