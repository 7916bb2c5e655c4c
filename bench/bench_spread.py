"""The student's spread tried otherwise (issue 97, item 2): each form of log sigma's fit and of the law about the
function's unclipped score, measured as the kit measures its own (kit.model.floor), on the public encodes the kit
carries (kit/model/data/realrows.csv, each held out by content: its spread fitted without it) and on real boxes' own
held-out encodes (bench/bench_boxes.py's corpora, each content held out as LOSO holds it out).

    python bench/bench_spread.py [--boxes-work DIR] [--boxes demo,small,animation,camera] [--kit NAME]

Each box's path is what its LOSO does: the spread fitted on the box's encodes and the public ones (less a public clip
the box holds itself), the spread's factor chosen by the floor's rule on every encode (restated here: more within
--consumer-tolerance than the function, no fewer of the box's own, no content more than one fewer, then the most,
then the least median miss), each box fold's on the other folds. Printed per form: the public encodes within 1.5 at
each factor and at the chosen one, the same with the factor chosen on the other contents alone (`nested`), the
contents under the function, the box's own held-out encodes (its first 5 s against the whole encode, as the gates
judge) against the function's; and the fit's held-out root mean square error of log sigma on the box's encodes
(fitted on the public ones alone), the evidence for a form that does not count hits. Without --boxes-work, the
public encodes alone. The box's counted encodes and their windows are read from
`<work>/loso/<kit>/<box>/03_loso/encodes.parquet`, written by bench_boxes.py.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit.media.ffmpeg import resolve_ffmpeg  # noqa: E402
from kit.media.libvmaf import FEATURES, TEACHER_MODEL  # noqa: E402
from kit.media.svr import SvrModel, builtin_model_text, parse_model  # noqa: E402
from kit.model.consumer import CRF_RANGE, TOLERANCE  # noqa: E402
from kit.model.encodes import feed_codec  # noqa: E402
from kit.model.floor import CONTENT_SLACK  # noqa: E402
from kit.model.realrows import shipped  # noqa: E402
from kit.model.spread import FACTORS, LEAST_SPREAD, MOTION, RIDGE, expected_clipped  # noqa: E402

CLIP = (0.0, 100.0)
KEY = ["src_sha256", "encoder", "cq", "enc_width", "enc_height"]
ENCODERS = ("libx264", "libx265", "libsvtav1")
# three-point Gauss-Hermite quadrature over log sigma: (weight, node)
MIXTURE = ((1.0 / 6.0, -math.sqrt(3.0)), (2.0 / 3.0, 0.0), (1.0 / 6.0, math.sqrt(3.0)))


@dataclass(frozen=True)
class Rows:
    """Encodes as the fit and the judge read them: the whole encode's unclipped score, cq, motion, encoder and log
    spread (the fit's), the judged (first 5 s) unclipped score and motion, the whole encode's teacher, the content."""

    raw: np.ndarray
    cq: np.ndarray
    motion: np.ndarray
    encoder: np.ndarray
    log_spread: np.ndarray
    judged_raw: np.ndarray
    judged_motion: np.ndarray
    teacher: np.ndarray
    content: np.ndarray


def level(raw: np.ndarray) -> np.ndarray:
    return np.clip(raw, *CLIP) / (CLIP[1] - CLIP[0])


def kit_terms(raw: np.ndarray, cq: np.ndarray, motion: np.ndarray, encoder: np.ndarray) -> np.ndarray:
    """kit.model.spread.terms: 1, cq, level, log(1 + motion2)."""
    return np.column_stack([np.ones(len(raw)), cq, level(raw), np.log1p(np.maximum(motion, 0.0))])


def with_middle(raw: np.ndarray, cq: np.ndarray, motion: np.ndarray, encoder: np.ndarray) -> np.ndarray:
    """... and level (1 - level): a spread widest mid-scale, narrower towards both ends."""
    lv = level(raw)
    return np.column_stack([kit_terms(raw, cq, motion, encoder), lv * (1.0 - lv)])


def with_codec(raw: np.ndarray, cq: np.ndarray, motion: np.ndarray, encoder: np.ndarray) -> np.ndarray:
    """... and a term per encoder (the codec block's one-hot; an encoder no fitted encode shows keeps 0)."""
    return np.column_stack([kit_terms(raw, cq, motion, encoder), *(encoder == e for e in ENCODERS)])


def with_middle_codec(raw: np.ndarray, cq: np.ndarray, motion: np.ndarray, encoder: np.ndarray) -> np.ndarray:
    return np.column_stack([with_middle(raw, cq, motion, encoder), *(encoder == e for e in ENCODERS)])


def with_bands(raw: np.ndarray, cq: np.ndarray, motion: np.ndarray, encoder: np.ndarray) -> np.ndarray:
    """... and an intercept per third of the CRF range."""
    return np.column_stack([kit_terms(raw, cq, motion, encoder), (cq >= 1 / 3) & (cq < 2 / 3), cq >= 2 / 3])


def per_end(raw: np.ndarray, cq: np.ndarray, motion: np.ndarray, encoder: np.ndarray) -> np.ndarray:
    """The level's slope and intercept of each half apart: a spread for the bound at 0 and one for the bound at 100."""
    lv = level(raw)
    low = lv < 0.5
    base = kit_terms(raw, cq, motion, encoder)
    return np.column_stack([base[:, 0], base[:, 1], np.where(low, lv, 0.0), base[:, 3], low, np.where(low, 0.0, lv)])


Terms = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
FORMS: dict[str, Terms] = {"2.5.0's (1, cq, level, motion)": kit_terms, "+ level (1 - level)": with_middle,
                           "+ encoder": with_codec, "+ level (1 - level), encoder": with_middle_codec,
                           "+ CRF thirds": with_bands, "a fit per end": per_end}
LAWS = ("normal", "mixture", "logistic")  # X's law: the kit's; normals over log sigma's uncertainty; logistic tails


def expected(raw: np.ndarray, sigma: np.ndarray, unsure: np.ndarray, law: str) -> np.ndarray:
    """E[clip(X, 0, 100)] with X about `raw` at spread `sigma`: a normal (the kit's), a three-point mixture of normals
    over log sigma's residual deviation `unsure`, or a logistic of that standard deviation (E[max(X, 0)] = s
    softplus(mu / s))."""
    if law == "normal":
        return expected_clipped(raw, sigma, CLIP)
    if law == "mixture":
        return sum(w * expected_clipped(raw, sigma * np.exp(node * unsure), CLIP) for w, node in MIXTURE)
    s = sigma * math.sqrt(3.0) / math.pi
    return s * np.logaddexp(0.0, (raw - CLIP[0]) / s) - s * np.logaddexp(0.0, (raw - CLIP[1]) / s)


def solve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """kit.model.spread.Moments.solve: least squares, ridge RIDGE x n on every term but the intercept."""
    xx = x.T @ x
    return np.linalg.solve(xx + np.diag([0.0, *[RIDGE * len(x)] * (x.shape[1] - 1)]), x.T @ y)


def held_sigma(form: Terms, fit: Rows, judged: Rows, left: np.ndarray) -> tuple[np.ndarray, float, float]:
    """`judged`'s spreads at factor 1, the fit's residual deviation and the widest spread fitted, on `fit` less the
    rows `left`, bounded as the kit bounds them (the motion term and the spread, at any factor, at most the fitted
    encodes' largest)."""
    x = form(fit.raw, fit.cq, fit.motion, fit.encoder)[~left]
    y = fit.log_spread[~left]
    coefs = solve(x, y)
    t = form(judged.judged_raw, judged.cq, judged.judged_motion, judged.encoder)
    t[:, 3] = np.minimum(t[:, 3], x[:, 3].max())
    widest = float(np.exp(y.max()))
    return np.minimum(np.exp(t @ coefs), widest), float(np.sqrt(np.mean((y - x @ coefs) ** 2))), widest


def concat(a: Rows, b: Rows) -> Rows:
    return Rows(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in Rows.__dataclass_fields__))


def take(rows: Rows, mask: np.ndarray) -> Rows:
    return Rows(*(getattr(rows, f)[mask] for f in Rows.__dataclass_fields__))


def public_rows(model: SvrModel) -> Rows:
    rows, status = shipped(TEACHER_MODEL)
    if rows is None:
        raise SystemExit(f"the public encodes do not read: {status}")
    f, whole, window = rows.frame, rows.whole(), rows.window()
    return Rows(model.predict(whole, clipped=False), feed_codec(f["encoder"], f["crf"], CRF_RANGE)[:, -1].astype(float),
                whole[:, MOTION], f["encoder"].to_numpy(str),
                np.log(np.maximum(f["spread"].to_numpy(float), LEAST_SPREAD)), model.predict(window, clipped=False),
                window[:, MOTION], f["teacher"].to_numpy(float), np.char.add("public:", rows.contents.astype(str)))


def box_rows(model: SvrModel, shard: Path, encodes: Path) -> tuple[Rows, Rows, set[str]]:
    """A box's encodes as the fit reads them (every encode of the corpus), its counted held-out encodes as the gates
    judge them (the first window_frames frames of each), and its clips' sha256. A content is named by its clips'
    file names (Megamind's two copies are one content)."""
    frames = pd.read_parquet(shard)
    frames = frames[frames["encoder"].isin(ENCODERS)].sort_values([*KEY, "frame_index"])
    six = frames[list(FEATURES)].to_numpy(float)
    names = frames.groupby("content")["src"].agg(lambda s: "+".join(sorted(set(map(str, s)))))
    frames = frames.assign(u=model.predict(six, clipped=False), at=frames.groupby(KEY).cumcount(),
                           content=frames["content"].map(names))
    whole = frames.groupby(KEY).agg(**{f: (f, "mean") for f in FEATURES}, sd=("u", "std"),
                                    content=("content", "first")).reset_index()
    counted = pd.read_parquet(encodes)
    counted = counted[counted["counted"].astype(bool)].reset_index(drop=True)
    limit = frames.merge(counted[[*KEY, "window_frames"]], on=KEY)
    window = limit[limit["at"] < limit["window_frames"]].groupby(KEY)[list(FEATURES)].mean().reset_index()
    counted = counted.merge(window, on=KEY).assign(content=lambda t: t["content"].map(names))  # the window's six

    def rows(t: pd.DataFrame) -> Rows:
        means = model.predict(t[list(FEATURES)].to_numpy(float), clipped=False)
        cq = feed_codec(t["encoder"], t["cq"], CRF_RANGE)[:, -1].astype(float)
        sd = t["sd"].fillna(0.0).to_numpy(float) if "sd" in t else np.zeros(len(t))
        teacher = t["teacher"].to_numpy(float) if "teacher" in t else np.full(len(t), np.nan)
        return Rows(means, cq, t["motion2"].to_numpy(float), t["encoder"].to_numpy(str),
                    np.log(np.maximum(sd, LEAST_SPREAD)), means, t["motion2"].to_numpy(float), teacher,
                    t["content"].to_numpy(str))

    return rows(whole), rows(counted), set(whole["src_sha256"].astype(str))


def choose(hits: dict[float, np.ndarray], miss: dict[float, np.ndarray], function: np.ndarray, content: np.ndarray,
           own: np.ndarray, rows: np.ndarray) -> float:
    """The floor's rule for the spread's factor (kit.model.floor.Evidence.choose_spread) on the encodes `rows`."""
    func = pd.Series(function[rows]).groupby(content[rows]).sum()
    before, own_before = int(function[rows].sum()), int(function[rows & own].sum())
    chosen, best = 0.0, (before, -np.inf)
    for k in FACTORS[1:]:
        key = (int(hits[k][rows].sum()), -float(np.median(miss[k][rows])))
        lost = (func - pd.Series(hits[k][rows]).groupby(content[rows]).sum()).max()
        if key[0] > before and int(hits[k][rows & own].sum()) >= own_before and lost <= CONTENT_SLACK and key > best:
            chosen, best = k, key
    return chosen


def measure(form: Terms, law: str, public: Rows, box: tuple[Rows, Rows, set[str]] | None,
            shas: np.ndarray) -> dict[str, object]:
    """One form and law on one path (the public encodes alone, or a box's)."""
    keep = ~np.isin(shas, list(box[2])) if box is not None else np.ones(len(public.raw), bool)
    pub = take(public, keep)
    fit_box = box[0] if box is not None else take(public, np.zeros(len(public.raw), bool))
    judged_box = box[1] if box is not None else fit_box
    fit = concat(fit_box, pub)
    n_box, n_fit_box = len(judged_box.raw), len(fit_box.raw)
    sigma, unsure, widest = (np.zeros(n_box + len(pub.raw)) for _ in range(3))
    for c in np.unique(judged_box.content):  # each box fold: its content's encodes out of the fit
        left = np.r_[fit_box.content == c, np.zeros(len(pub.raw), bool)]
        at = np.r_[judged_box.content == c, np.zeros(len(pub.raw), bool)]
        sigma[at], unsure[at], widest[at] = held_sigma(form, fit, take(judged_box, at[:n_box]), left)
    for c in np.unique(pub.content):
        left = np.r_[np.zeros(n_fit_box, bool), pub.content == c]
        at = np.r_[np.zeros(n_box, bool), pub.content == c]
        sigma[at], unsure[at], widest[at] = held_sigma(form, fit, take(pub, at[n_box:]), left)
    judged = concat(judged_box, pub)
    own = np.r_[np.ones(n_box, bool), np.zeros(len(pub.raw), bool)]
    function = np.abs(np.clip(judged.judged_raw, *CLIP) - judged.teacher) <= TOLERANCE
    miss = {k: np.abs(np.clip(expected(judged.judged_raw, np.minimum(k * sigma, widest), unsure, law), *CLIP)
                      - judged.teacher) for k in FACTORS[1:]}
    hits = {k: m <= TOLERANCE for k, m in miss.items()}
    every = np.ones(len(function), bool)
    export = choose(hits, miss, function, judged.content, own, every)
    at_export = function if export == 0.0 else hits[export]
    nested, box_hits = function.copy(), function.copy()
    for c in np.unique(judged.content):
        mine = judged.content == c
        k = choose(hits, miss, function, judged.content, own, ~mine)
        (box_hits if own[mine].all() else nested)[mine] = function[mine] if k == 0.0 else hits[k][mine]
    under = [str(c) for c in np.unique(judged.content[~own])
             if at_export[~own & (judged.content == c)].sum() < function[~own & (judged.content == c)].sum()]
    return {"function": int(function[~own].sum()), "factors": {k: int(h[~own].sum()) for k, h in hits.items()},
            "export": export, "public": int(at_export[~own].sum()), "nested": int(nested[~own].sum()),
            "under": under, "box": int(box_hits[own].sum()), "box_function": int(function[own].sum()), "n": n_box,
            "box_under": [str(c) for c in np.unique(judged_box.content)
                          if box_hits[own][judged_box.content == c].sum()
                          < function[own][judged_box.content == c].sum()]}


def fit_error(form: Terms, public: Rows, box: tuple[Rows, Rows, set[str]], shas: np.ndarray) -> float:
    """Held-out root mean square error of log sigma on the box's encodes, fitted on the public ones it does not hold."""
    pub = take(public, ~np.isin(shas, list(box[2])))
    x = form(pub.raw, pub.cq, pub.motion, pub.encoder)
    coefs = solve(x, pub.log_spread)
    t = form(box[0].raw, box[0].cq, box[0].motion, box[0].encoder)
    t[:, 3] = np.minimum(t[:, 3], x[:, 3].max())
    return float(np.sqrt(np.mean((t @ coefs - box[0].log_spread) ** 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boxes-work", type=Path, help="bench_boxes.py's --work (its corpora and LOSO out-dirs)")
    ap.add_argument("--boxes", default="demo,small,animation,camera")
    ap.add_argument("--kit", default="this", help="whose LOSO's encodes.parquet names the counted encodes")
    args = ap.parse_args()
    model = parse_model(builtin_model_text(Path(resolve_ffmpeg(None).path), TEACHER_MODEL), TEACHER_MODEL)
    public = public_rows(model)
    rows, _ = shipped(TEACHER_MODEL)
    assert rows is not None
    shas = rows.frame["source_sha256"].to_numpy(str)
    paths: dict[str, tuple[Rows, Rows, set[str]] | None] = {"public alone": None}
    for name in args.boxes.split(",") if args.boxes_work else []:
        work = args.boxes_work
        paths[name] = box_rows(model, work / "boxes" / name / "02_corpus" / "shard.parquet",
                               work / "loso" / args.kit / name / "03_loso" / "encodes.parquet")
    for path, box in paths.items():
        print(f"{path}:")
        for form_name, form in FORMS.items():
            error = f"; log sigma's held-out RMSE {fit_error(form, public, box, shas):.3f}" if box else ""
            for law in LAWS:
                m = measure(form, law, public, box, shas)
                factors = " ".join(f"{k:g}:{v}" for k, v in m["factors"].items())  # type: ignore[attr-defined]
                own = (f"; box {m['box']} of {m['n']} (function {m['box_function']}, under: {m['box_under'] or '-'})"
                       if box else "")
                print(f"  {form_name:32} {law:8} public: function {m['function']}, at {factors}; factor "
                      f"{m['export']:g}: {m['public']} (nested {m['nested']}), under: {m['under'] or '-'}{own}"
                      f"{error if law == 'normal' else ''}")


if __name__ == "__main__":
    main()
