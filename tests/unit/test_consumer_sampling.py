"""The consumer as it samples (issue 70), on a hand-made corpus and a short training: the windows each sampling
takes restated here, by the rate where no frame times are recorded (vmaf-tune's `int(5 x fps)` frames from frame 0;
the centre; windows spread over the clip, each centred in its part) and by the times where they are (issue 76), the
window's figures and the samplings' computed as the verdict computes them, a clip no longer than the window the same
both ways, and no best sampling named from frames cut from the whole encode alone."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from kit.corpus.jobs import Job, JobLedger, Provenance
from kit.corpus.samples import SAMPLES_COLUMNS, SampleJob, empty_samples, sample_is_done, write_samples
from kit.corpus.samplings import SAMPLINGS, frames_in, sampling
from kit.infra.files import sha256_bytes
from kit.infra.tree import Tree
from kit.media.libvmaf import FEATURES
from kit.media.refs import Clip
from kit.model.loso import LosoInputs, evaluate_loso
from kit.model.recipe import TrainConfig
from kit.model.train import train_members
from kit.report.summary import sampling_rows
from kit.verdict.consumer import consumer_fit


def test_the_windows_each_sampling_takes() -> None:
    assert frames_in(5.0, 10) == 50 and frames_in(5.0, 30000 / 1001) == 149  # vmaf-tune's int(5 x fps)
    assert frames_in(0.5, 30) == 15 and frames_in(0.5, 25) == 12 and frames_in(0.01, 10) == 1
    first, centre = sampling("first"), sampling("centre")
    assert first.windows(80, 10, 5.0) == ((0, 50),) and centre.windows(80, 10, 5.0) == ((15, 65),)
    spread = sampling("spread-1s").windows(100, 10, 5.0)  # five parts of 20 frames, a window of 10 in the middle
    assert spread == ((5, 15), (25, 35), (45, 55), (65, 75), (85, 95))
    half = sampling("spread-0.5s").windows(80, 10, 5.0)
    assert len(half) == 10 and all(e - s == 5 for s, e in half)
    assert all(e <= s2 for (_, e), (s2, _) in itertools.pairwise(half))  # never overlapping, in order
    for s in SAMPLINGS:  # a clip no longer than the window is its own window, whatever the sampling
        assert s.windows(50, 10, 5.0) == ((0, 50),) and s.windows(30, 10, 5.0) == ((0, 30),)
    assert [s.runs(5.0) for s in SAMPLINGS] == [1, 1, 5, 10]


def test_the_windows_by_the_frames_times() -> None:
    """Issue 76: spans of the clip's own timeline. At 30 frames a second under any header: the first 5 s are 150
    frames, the centre 5 s of 10 s run from 2.5 s, the spread ones are centred in their parts; a variable rate's gap
    gives the frame shown at the window's start; a stream that starts at 6 s keeps one frame (a -t cut keeps none)."""
    at_30 = [i / 30 for i in range(300)]
    first, centre = sampling("first"), sampling("centre")
    assert first.windows(300, 25, 5.0, at_30) == ((0, 150),) and centre.windows(300, 25, 5.0, at_30) == ((75, 225),)
    assert sampling("spread-1s").windows(300, 25, 5.0, at_30) == ((15, 45), (75, 105), (135, 165), (195, 225),
                                                                   (255, 285))
    assert first.windows(300, 25, 5.0, at_30[:100]) == ((0, 125),)  # times of another count: by the rate
    gap = [0.0, 0.1, 0.2, 9.0, 9.1, 9.2, 9.3, 9.4, 9.5, 9.6]  # 9.7 s: frames at the ends, none between
    assert first.windows(10, 25, 5.0, gap) == ((0, 3),) and centre.windows(10, 25, 5.0, gap) == ((2, 3),)
    spread = sampling("spread-1s").windows(10, 25, 5.0, gap)
    # parts of 1.94 s, each run of 1 s centred in its own: the first four in the gap (the frame at 0.2 s shown), the
    # last [8.23, 9.23) s
    assert spread == ((2, 3), (2, 3), (2, 3), (2, 3), (3, 6))
    assert first.windows(3, 25, 5.0, [6.0, 6.04, 6.08]) == ((0, 1),)
    for s in SAMPLINGS:  # a clip no longer than the window by its times is its own window
        assert s.windows(120, 10, 5.0, at_30[:120]) == ((0, 120),)
    for n in (70, 80):  # a span's ends are float sums: at 10 fps each window of 0.5 s holds 5 frames wherever it lies
        at_10 = [i / 10 for i in range(n)]
        for s, each in zip(SAMPLINGS, (50, 50, 10, 5), strict=True):
            assert [b - a for a, b in s.windows(n, 10, 5.0, at_10)] == [each] * s.runs(5.0), (n, s.name)


@pytest.mark.parametrize(("n_frames", "fps", "window_s"), [(100, 25, 2.6), (10, 25, 0.3), (80, 29.97, 2.6),
                                                          (40, 10, 0.7), (1000, 23.976, 5.0), (7, 30, 0.1)])
def test_spread_windows_fit_the_window_at_any_length(n_frames: int, fps: float, window_s: float) -> None:
    """Off the default window the spread windows stay inside the clip, in order, none overlapping, together no longer
    than the window (--consumer-window 2.6 took three runs of 1 s; 0.3 on a 10-frame clip started at frame -15)."""
    total = frames_in(window_s, fps)
    for s in (sampling("spread-1s"), sampling("spread-0.5s")):
        windows = s.windows(n_frames, fps, window_s)
        assert all(0 <= a < b <= n_frames for a, b in windows), windows
        assert all(e <= s2 for (_, e), (s2, _) in itertools.pairwise(windows)), windows
        assert sum(b - a for a, b in windows) <= total and len(windows) == s.runs(window_s)
        # the words say what is taken: as many runs of the run's length (or the window's, when shorter)
        assert s.words(window_s).startswith(f"{len(windows)} windows of {min(s.run_s, window_s):g} s")
    assert sampling("spread-1s").runs(2.6) == 2 and sampling("spread-0.5s").runs(2.6) == 5


def test_a_sample_job_is_reused_and_merged_only_of_its_fingerprint_and_generation(tmp_path: Path) -> None:
    """A sample job's rows of another ffmpeg (or teacher) are never merged into samples.parquet, nor counted, and a
    forced run's generation redoes the sample jobs as it redoes the corpus jobs (kit.corpus.jobs.job_is_done)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    prov = Provenance("box", "linux-x86_64", "cpu", "ffmpeg", "9", "9+x", "3.0")
    other = dataclasses.replace(prov, ffmpeg_build="9+y")  # rerun with another ffmpeg: another fingerprint
    sample = SampleJob(Job(Clip(str(tmp_path / "a.y4m"), "a", "y4m", 64, 36, "10/1", "yuv420p", 80, "ab" * 32),
                           "libx264", 30), 5.0)
    tree, jobs_dir = Tree.open(tmp_path / "out"), tmp_path / "out" / "jobs"
    row = {c: [0] for c in SAMPLES_COLUMNS} | {c: ["a"] for c in ("src", "src_sha256", "encoder", "sampling")}
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(row, schema=empty_samples().schema), sink)
    rows = sink.getvalue().to_pybytes()
    data_path, ledger_path = sample.paths(jobs_dir)
    tree.write_bytes(data_path, rows)
    tree.write_json(ledger_path, JobLedger(sample.job_id, sample.fingerprint(prov), sha256_bytes(rows), 1, 1.0,
                                           generation="g1").to_json())
    out = tmp_path / "out" / "samples.parquet"
    assert write_samples(tree, [sample], jobs_dir, out, prov) == 1 and len(pq.read_table(out)) == 1
    assert write_samples(tree, [sample], jobs_dir, out, other) == 0 and len(pq.read_table(out)) == 0  # left out
    assert sample_is_done(tree, jobs_dir, sample, prov) and not sample_is_done(tree, jobs_dir, sample, other)
    assert sample_is_done(tree, jobs_dir, sample, prov, "g1")  # of the forced run resumed: kept
    assert not sample_is_done(tree, jobs_dir, sample, prov, "g2")  # a forced run after it: redone


def hand_made() -> pd.DataFrame:
    """Four sources at 10 fps (three of 8 s whose first 3 s are darker, one of 3 s), two CRFs."""
    rng = np.random.default_rng(0)
    frames = []
    for s in range(4):
        n = 80 if s < 3 else 30
        for cq in (20, 40):
            feats = rng.uniform(0.5, 1.0, size=(n, 6))
            feats[:, 5] = rng.uniform(0, 20, n)
            feats[:30, 0] *= 0.7  # the first 3 s differ from the rest
            vmaf = np.clip(100 * feats[:, 0] ** 2 * feats[:, 1] - 0.2 * feats[:, 5] - 0.3 * (cq - 19), 0, 100)
            frames.append(pd.DataFrame({"src": f"s{s}", "src_sha256": f"{s:064x}", "encoder": "libx264", "cq": cq,
                                        "frame_index": np.arange(n), "vmaf": vmaf, "fps": 10.0, "enc_width": 64,
                                        "enc_height": 36, "height": 36,
                                        **{f: feats[:, i] for i, f in enumerate(FEATURES)}}))
    return pd.concat(frames, ignore_index=True)


def sampled_with(times: dict[str, list[float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """hand_made()'s LOSO of two seeds, each source's frames' `times` given where recorded."""
    inputs = dataclasses.replace(LosoInputs.of(hand_made()), times=times)
    ens = train_members(inputs.feats, inputs.codec, inputs.target, inputs.members([0, 1]), TrainConfig(epochs=2))
    result = evaluate_loso(inputs, [0, 1], ens)
    assert result.encodes is not None and result.samplings is not None
    return result.encodes, result.samplings


@pytest.fixture(scope="module")
def sampled() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The hand-made corpus with no frame times (a JSONL or older corpus): its windows by the rate."""
    return sampled_with({})


def test_the_window_is_the_first_frames_against_the_whole_clip(sampled: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    encodes, samplings = sampled
    long, short = encodes[encodes["longer"]], encodes[~encodes["longer"]]
    assert set(long["src"]) == {"s0", "s1", "s2"} and set(short["src"]) == {"s3"}
    assert (long["window_frames"] == 50).all() and (short["window_frames"] == 30).all()
    for column in ("predicted", "teacher", "miss"):  # the same frames: the same bits
        assert (short[column].to_numpy() == short[f"window_{column}"].to_numpy()).all()
    assert (long["window_teacher"] != long["teacher"]).all()
    assert np.allclose(long["window_gap"], (long["window_teacher"] - long["teacher"]).abs())
    assert np.allclose(encodes["window_miss"], (encodes["window_predicted"] - encodes["teacher"]).abs())
    cut = samplings[(samplings["sampling"] == "first") & (samplings["how"] == "cut")].set_index(["src_sha256", "cq"])
    mine = encodes.set_index(["src_sha256", "cq"])
    assert np.array_equal(cut.loc[mine.index, "predicted"].to_numpy(), mine["window_predicted"].to_numpy())
    assert set(samplings["how"]) == {"cut"} and len(samplings) == len(encodes) * len(SAMPLINGS)


def test_the_verdict_takes_the_window_and_names_no_best_from_cut_frames(
        sampled: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    encodes, samplings = sampled
    fit = consumer_fit(encodes, 1.5, (10, 51), True, samplings, 5.0)
    assert fit.window_share == pytest.approx((encodes["window_miss"] <= 1.5).mean()) and fit.n_longer == 6
    for g in fit.of("content"):
        part = encodes[encodes["src"] == g.group]
        assert g.window_share == pytest.approx((part["window_miss"] <= 1.5).mean())
    s = fit.sampling
    assert s is not None and len(s.shares) == 4 and {x.how for x in s.shares} == {"cut"}
    for x in s.shares:  # cut alone: compared on every counted encode, the base of the consumer's figure
        part = samplings[samplings["sampling"] == x.sampling]
        assert x.n_encodes == len(encodes) and x.share_within == pytest.approx((part["miss"] <= 1.5).mean())
    first = next(x for x in s.shares if x.sampling == "first")
    assert (first.share_within, first.n_encodes) == (fit.window_share, fit.n_encodes)  # one figure, one base
    assert s.best is not None and s.best.startswith("none named") and s.cut_vs_encoded is None
    warned = {w.split(":")[0] for w in s.warnings or ()}
    assert warned == set(encodes.loc[encodes["window_gap"] > 1.5, "src"])
    (row, *warnings) = sampling_rows(SimpleNamespace(consumer=fit))  # type: ignore[arg-type]  # the block alone
    assert row.text.startswith("which sampling serves vmaf-tune best: none named: no window was encoded on its own")
    assert [w.label for w in warnings] == ["WARNING"] * len(s.warnings or ())


def test_windows_by_the_frames_times_where_recorded_and_said_by_the_rate_elsewhere(
        sampled: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Issue 76: s0's 80 frames 1/30 s apart under its 10 fps header are 2.7 s, no longer than the window (its own
    window), s1's 80 frames 1/12 s apart hold 60 in their first 5 s (the rate's rule: 50); s2's times of another
    count of frames are not its frames' (placed by its rate: 50 frames), and the verdict's words count the encodes
    placed by the rate (its two), as they count all eight of a corpus without times."""
    encodes, samplings = sampled
    assert set(encodes["window_placed"]) == {"rate"} and set(samplings["placed"]) == {"rate"}
    fit = consumer_fit(encodes, 1.5, (10, 51), True, samplings, 5.0)
    assert fit.sampling is not None and "8 of the 8 held-out encodes' windows are placed by the header's frame " \
                                       "rate (int(seconds x rate) frames)" in str(fit.sampling.placed)
    sha = {f"s{s}": f"{s:064x}" for s in range(4)}
    timed_encodes, timed = sampled_with({sha["s0"]: [i / 30 for i in range(80)], sha["s1"]: [i / 12 for i in range(80)],
                                         sha["s3"]: [i / 10 for i in range(30)], sha["s2"]: [0.0] * 3})
    by = timed_encodes.set_index("src")
    assert by.loc["s0", "window_placed"].tolist() == ["times"] * 2 and not by.loc["s0", "longer"].any()
    assert (by.loc["s0", "window_frames"] == 80).all()
    assert (by.loc["s1", "window_frames"] == 60).all() and by.loc["s1", "longer"].all()  # 60 frames before 5 s
    assert (by.loc["s2", "window_placed"] == "rate").all() and (by.loc["s2", "window_frames"] == 50).all()
    fit = consumer_fit(timed_encodes, 1.5, (10, 51), True, timed, 5.0)
    assert fit.sampling is not None and "2 of the 8 held-out encodes' windows are placed by the header's" in \
        str(fit.sampling.placed) and "whose own timestamps lie before 5 s" in fit.sampling.how
    assert set(timed.loc[timed["src"] == "s1", "placed"]) == {"times"}


def test_each_fold_s_encodes_are_pooled_once_for_all_its_members(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 77 item 2: LOSO pooled a fold's held-out encodes again for every member (the whole encodes and each
    sampling's frames: their means, vmaf-tune's feed, the teacher function's ceiling), what no member changes: 1.5 s
    of the demo's 44 s. Now once per fold, whatever the seeds; the members' predictions as before (the tests above)."""
    import kit.model.loso as loso

    rng = np.random.default_rng(1)
    df = pd.concat([pd.DataFrame({"src": f"s{s}", "src_sha256": f"{s:064x}", "encoder": "libx264", "cq": cq,
                                  "frame_index": np.arange(60), "vmaf": rng.uniform(20, 90, 60), "fps": 10.0,
                                  "enc_width": 64, "enc_height": 36, "height": 36,
                                  **{f: rng.uniform(0.5, 1.0, 60) for f in FEATURES}})
                    for s in range(3) for cq in (20, 40)], ignore_index=True)
    inputs = LosoInputs.of(df)
    seeds = [0, 1, 2]
    ens = train_members(inputs.feats, inputs.codec, inputs.target, inputs.members(seeds), TrainConfig(epochs=1))
    calls = {"held_encodes": 0, "sampled_pooled": 0}
    for name in calls:
        def counted(*args: object, _real: object = getattr(loso, name), _name: str = name) -> object:
            calls[_name] += 1
            return _real(*args)  # type: ignore[operator]
        monkeypatch.setattr(loso, name, counted)
    result = evaluate_loso(inputs, seeds, ens)
    assert len(ens.members) == 3 * len(inputs.folds) and calls == dict.fromkeys(calls, len(inputs.folds)), calls
    assert result.samplings is not None and len(result.clips) == len(seeds) * 6  # every member's encodes


@pytest.mark.parametrize("seeds", [1, 2, 5, 9])
def test_each_pooled_row_s_seeds_mean_is_the_grouped_mean_of_the_members_rows(seeds: int) -> None:
    """members_rows takes each fold's pooled rows once with their seeds' mean: the bits of the mean the kit took
    before, grouping every member's copy of its fold's rows by their keys (pandas' compensated sum, the seeds in the
    members' order), NaN where a seed's prediction is, and the seeds counted; on values where a plain sum rounds
    otherwise."""
    from kit.model.clips import ENCODE_KEY
    from kit.model.samplings import Pooled, members_rows

    rng = np.random.default_rng(seeds)
    key = [*ENCODE_KEY, "sampling", "how"]
    folds = []
    for fold in range(3):
        n = 40 + fold
        keys = pd.DataFrame({"src_sha256": [f"{fold:02d}{i:062d}" for i in range(n)], "encoder": "libx264",
                             "cq": rng.integers(10, 52, n), "enc_width": 640, "enc_height": 360,
                             "sampling": "first", "how": "cut"})
        folds.append(Pooled.of_groups(keys, np.zeros((n, 6)), np.zeros((n, 8)), None))
    parts, seeded = [], []
    for seed in range(seeds):  # the members' order: seed by seed, fold by fold
        for pooled in folds:
            pred = 1e8 + rng.uniform(0, 1, len(pooled.out)) * 10.0 ** rng.integers(-8, 2, len(pooled.out))
            pred[rng.random(len(pred)) < 0.05] = np.nan
            parts.append((pooled, pred))
            seeded.append(seed)
    every = pd.concat([p.out.assign(seed=np.int32(s), predicted=pred)
                       for (p, pred), s in zip(parts, seeded, strict=True)], ignore_index=True)
    broken = every["predicted"].isna().groupby([every[c] for c in key], sort=True).any()
    by = every.groupby(key, sort=True)
    before = pd.DataFrame({"predicted": by["predicted"].mean().where(~broken), "n_seeds": by["seed"].nunique()})
    after = members_rows(parts)
    assert len(after) == sum(len(p.out) for p in folds)
    after = after.set_index(key).sort_index()[["predicted", "n_seeds"]]
    assert after.index.equals(before.index)
    assert after["predicted"].to_numpy().tobytes() == before["predicted"].to_numpy().tobytes()
    assert (after["n_seeds"].to_numpy() == before["n_seeds"].to_numpy()).all() and (after["n_seeds"] == seeds).all()
    plain = {}  # a plain mean of each row's seeds, added one after the other: what the values tell apart
    for pooled in folds:
        preds = [pred for p, pred in parts if p is pooled]
        total = np.zeros(len(pooled.out))
        for pred in preds:
            total = total + pred
        plain.update(zip(map(tuple, pooled.out[key].itertuples(index=False)), total / len(preds), strict=True))
    naive = np.array([plain[k] for k in before.index])
    kept = ~np.isnan(naive)
    assert seeds < 3 or (naive[kept] != before["predicted"].to_numpy()[kept]).any()
