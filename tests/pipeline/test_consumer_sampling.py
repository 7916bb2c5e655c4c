"""The consumer as it samples (issue 70), on one real run of four clips at 10 fps: a scene change at 6 s (the first
5 s a smooth gradient, the last 2 s grain), a steady test pattern and a grain clip of 7 s, and a clip of 3 s, shorter
than vmaf-tune's 5 s window. vmaf-tune's window recomputed from the corpus's own frames by a plain computation here;
the scene change warned; the short clip the same both ways; a window encoded on its own equal to ffmpeg and libvmaf
run by hand; every sampling figure of the verdict, the summary and the report recomputed from samplings.parquet."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.media.libvmaf import FEATURES
from kit.media.svr import builtin_model_text, parse_model
from kit.report.summary import closing_rows, summary_rows
from kit.rundir import RunDir
from tests.conftest import FAST, LENIENT, assert_clean_failure, made_once, once_run, render, run_here
from tests.kitfiles import verdict_of

pytestmark = pytest.mark.slow  # a whole run of its own
KEY = ["src_sha256", "encoder", "cq", "enc_width", "enc_height"]
FPS, WINDOW_S, TOLERANCE = 10, 5.0, 1.5
S = "s=176x144:r=10"
CLIPS = {  # name: (lavfi, frames)
    "scene": (f"gradients={S}:speed=0.02:seed=2,trim=end_frame=60[a];cellauto={S}:rule=30:seed=3,gblur=sigma=0.5,"
              "noise=alls=20:allf=t+u:all_seed=5,trim=end_frame=20[b];[a][b]concat=n=2:v=1:a=0", 80),
    "steady": (f"testsrc2={S}", 70),
    "grain": (f"cellauto={S}:rule=110:seed=7:random_fill_ratio=0.4,gblur=sigma=1.2,noise=alls=10:allf=t+u:all_seed=3",
              70),
    "short": (f"mandelbrot={S}", 30),
}


@pytest.fixture(scope="module")
def refs(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four clips, rendered once per session: every worker reads the files the shared run was made of."""
    def make(folder: Path) -> str:
        for name, (lavfi, frames) in CLIPS.items():
            render(ffmpeg, lavfi, folder / f"{name}.y4m", frames)
        return ""

    return made_once(tmp_path_factory, "sampling-refs", make)[0]


@pytest.fixture(scope="module")
def sampled_run(refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    fast = [a if a != "25,37" else "25,45" for a in FAST]  # CRF 45: where the scene's two halves part most
    out, _ = once_run(tmp_path_factory, "sampling-run", "run", "--ref-dir", refs, "--box-id", "sampled", *fast,
                      "--consumer-samplings", "encoded", *LENIENT)  # the study's opt-in: the windows on their own
    return out


def window_by_hand(shard: pd.DataFrame) -> pd.DataFrame:
    """Per encode: its frames, whether it is longer than the window (int(5 x fps) frames, what vmaf-tune scores), and
    the mean of the teacher and of each feature over the whole encode and over the window's frames."""
    rows = []
    for key, part in shard.groupby(KEY):
        n = int(part["frame_index"].max()) + 1
        take = min(n, int(WINDOW_S * float(part["fps"].iloc[0])))
        first = part[part["frame_index"] < take]
        rows.append({**dict(zip(KEY, key, strict=True)), "src": part["src"].iloc[0], "n": n, "take": take,
                     "whole": part["vmaf"].mean(), "window": first["vmaf"].mean(),
                     **{f"f_{f}": first[f].mean() for f in FEATURES}})
    return pd.DataFrame(rows).set_index(KEY)


def test_the_window_figure_is_the_corpus_frames_cut_as_vmaf_tune_samples(sampled_run: Path, ffmpeg: str) -> None:
    run, verdict = RunDir(sampled_run), verdict_of(sampled_run)
    shard, encodes = pd.read_parquet(run.shard), pd.read_parquet(run.encodes).set_index(KEY)
    # the corpus holds each clip whole: every frame of every encode, not a cut of it
    assert shard.groupby(["src", "cq"])["frame_index"].nunique().to_dict() == {
        (name, cq): frames for name, (_, frames) in CLIPS.items() for cq in (25, 45)}
    mine = window_by_hand(shard).loc[encodes.index]
    assert (encodes["window_frames"] == mine["take"]).all() and (encodes["n_frames"] == mine["n"]).all()
    assert (encodes["longer"] == (mine["n"] > mine["take"])).all()
    assert np.allclose(encodes["teacher"], mine["whole"]) and np.allclose(encodes["window_teacher"], mine["window"])
    assert np.allclose(encodes["window_gap"], (mine["window"] - mine["whole"]).abs())
    # the ceiling from the window: the teacher's own function (libvmaf's SVR) on the window's mean features
    svr = parse_model(builtin_model_text(Path(ffmpeg), "vmaf_v0.6.1"), "vmaf_v0.6.1")
    assert np.allclose(encodes["window_ceiling"], svr.predict(mine[[f"f_{f}" for f in FEATURES]].to_numpy()),
                       atol=1e-3)
    assert np.allclose(encodes["window_miss"], (encodes["window_predicted"] - mine["whole"]).abs())
    c = verdict.consumer
    assert c is not None and c.sampling is not None and c.sampling.window_s == WINDOW_S
    counted = encodes[encodes["counted"]].reset_index()
    assert c.window_share == pytest.approx((counted["window_miss"] <= TOLERANCE).mean())
    assert c.window_ceiling_share == pytest.approx((counted["window_ceiling_miss"] <= TOLERANCE).mean())
    assert c.n_longer == int(counted["longer"].sum()) == 6  # the three clips of 7 s and more, two CRFs each
    names = counted.groupby("content")["src"].first()
    for g in c.groups:
        column = counted["content"].map(names) if g.by == "content" else counted[g.by]
        part = counted[column == g.group]
        assert g.window_share == pytest.approx((part["window_miss"] <= TOLERANCE).mean()), g
        assert g.n_longer == int(part["longer"].sum())
    # the gates count those hits: the student's and the ceiling's from the window, the pool the ceiling's
    j = c.judged
    assert j is not None and j.sampled and j.n_longer == 6
    assert (j.whole.within, j.whole.ceiling_within) == ((counted["window_miss"] <= TOLERANCE).sum(),
                                                        (counted["window_ceiling_miss"] <= TOLERANCE).sum())
    assert j.whole.pool_within == ((counted["window_miss"] <= TOLERANCE)
                                   & (counted["window_ceiling_miss"] <= TOLERANCE)).sum()
    said = dict(summary_rows(sampled_run, verdict))["as vmaf-tune uses it"]
    assert c.judged_words() in said and f"its first 5 s against the whole clip (6 of the {len(counted)} encodes " \
                                        "of clips longer than 5 s)" in said
    assert said.count("5 s") == 2 and "vmaf-tune's window" not in said  # one figure, said once
    assert f"a diagnosis): {c.share_within:.1%} of {c.n_encodes}" in said  # the whole encodes' beside it


def test_a_scene_change_after_the_window_is_warned(sampled_run: Path) -> None:
    run, verdict = RunDir(sampled_run), verdict_of(sampled_run)
    shard = pd.read_parquet(run.shard)
    gaps = window_by_hand(shard).assign(gap=lambda f: (f["window"] - f["whole"]).abs()).groupby("src")["gap"].max()
    assert gaps["scene"] > 5 * TOLERANCE and gaps["steady"] < TOLERANCE and gaps["short"] == 0
    c = verdict.consumer
    assert c is not None and c.sampling is not None and c.sampling.warnings
    warned = {w.split(":")[0] for w in c.sampling.warnings}
    assert "scene" in warned and not warned & {"steady", "short"}
    (scene,) = [w for w in c.sampling.warnings if w.startswith("scene:")]
    assert f"its first 5 s lie {gaps['scene']:.2f} VMAF from the whole clip" in scene
    rows = [text for label, text in closing_rows(sampled_run, verdict) if label == "WARNING"]
    assert scene in rows
    assert "WARNING: " + scene.split(":")[0] in run.report.read_text()


def test_a_clip_shorter_than_the_window_gives_the_same_figure_both_ways(sampled_run: Path) -> None:
    run = RunDir(sampled_run)
    encodes, samplings = pd.read_parquet(run.encodes), pd.read_parquet(run.samplings)
    short = encodes[encodes["src"] == "short"]
    assert len(short) == 2 and not short["longer"].any() and (short["window_frames"] == short["n_frames"]).all()
    for whole, window in (("predicted", "window_predicted"), ("ceiling", "window_ceiling"),
                          ("teacher", "window_teacher"), ("miss", "window_miss")):
        assert (short[whole].to_numpy() == short[window].to_numpy()).all(), whole  # the same bits: the same frames
    mine = samplings[samplings["src"] == "short"].merge(short[[*KEY, "predicted"]], on=KEY, suffixes=("", "_whole"))
    assert set(mine["how"]) == {"cut"} and len(mine) == 2 * 4  # every sampling is the whole clip; none encoded
    assert (mine["predicted"].to_numpy() == mine["predicted_whole"].to_numpy()).all()
    assert "short" not in set(pd.read_parquet(run.samples)["src"])


def test_a_window_encoded_on_its_own_scores_as_ffmpeg_by_hand(sampled_run: Path, refs: Path, ffmpeg: str,
                                                               tmp_path: Path) -> None:
    """One window of the ten of 0.5 s, encoded by hand from the clip with the job's encoder arguments (the shard's
    preset and quality_args, one thread) and scored by libvmaf run by hand on it and the same frames of the clip."""
    run = RunDir(sampled_run)
    samples, shard = pd.read_parquet(run.samples), pd.read_parquet(run.shard)
    part = samples[(samples["src"] == "scene") & (samples["cq"] == 45) & (samples["sampling"] == "spread-0.5s")]
    assert sorted(set(part["window"])) == list(range(10)) and len(part) == 10 * 5  # 10 windows of int(0.5 x 10)
    window = part[part["window"] == 6].sort_values("frame_index")
    first, end = int(window["frame_index"].min()), int(window["frame_index"].max()) + 1
    job = shard[(shard["src"] == "scene") & (shard["cq"] == 45)].iloc[0]
    clip = refs / "scene.y4m"
    enc, log = tmp_path / "w.h264", tmp_path / "w.json"
    trim = f"trim=start_frame={first}:end_frame={end}"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip), "-vf",
                    f"{trim},setpts=PTS-STARTPTS", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", job["preset"],
                    *job["quality_args"].split(), "-threads", "1", "-f", "h264", str(enc)], check=True)
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(enc), "-i", str(clip), "-lavfi",
                    f"[0:v]settb=1/10,setpts=N[d];[1:v]{trim},settb=1/10,setpts=N[r];"  # frame i against frame i
                    f"[d][r]libvmaf=log_fmt=json:log_path={log}",
                    "-f", "null", "-"], check=True)
    frames = json.loads(log.read_text())["frames"]
    assert len(frames) == end - first == 5
    assert np.allclose(window["vmaf"], [f["metrics"]["vmaf"] for f in frames], atol=1e-5)
    assert np.allclose(window["motion2"], [f["metrics"]["integer_motion2"] for f in frames], atol=1e-5)
    assert window["motion2"].iloc[0] == 0  # its own first frame: no motion before it, as when vmaf-tune scores it
    assert (window["enc_bytes"] == enc.stat().st_size).all()


def test_every_sampling_figure_is_recomputed_from_samplings_parquet(sampled_run: Path) -> None:
    run, verdict = RunDir(sampled_run), verdict_of(sampled_run)
    samplings = pd.read_parquet(run.samplings)
    c = verdict.consumer
    assert c is not None and c.sampling is not None
    s = c.sampling
    rows = samplings[samplings["counted"] & samplings["longer"] & (samplings["rung"] == "native")]
    assert len(rows) == 6 * 4 * 2 and len(s.shares) == 8  # six encodes, four samplings, both ways
    for x in s.shares:
        part = rows[(rows["sampling"] == x.sampling) & (rows["how"] == x.how)]
        assert x.n_encodes == len(part) == 6
        assert x.share_within == pytest.approx((part["miss"] <= TOLERANCE).mean())
        assert x.ceiling_share == pytest.approx((part["ceiling_miss"] <= TOLERANCE).mean())
        assert x.gap_share == pytest.approx((part["gap"] <= TOLERANCE).mean())
        assert x.median_miss == pytest.approx(part["miss"].median())
        assert x.encodes_per_trial == part["windows"].mean() == {"first": 1, "centre": 1, "spread-1s": 5,
                                                                 "spread-0.5s": 10}[x.sampling]
        assert x.frames_per_trial == part["frames"].mean() == 50  # the same length: 5 s, 5 x 1 s, 10 x 0.5 s
        if x.how == "encoded":
            assert x.seconds_per_trial == pytest.approx((part["enc_seconds"] + part["score_seconds"]).mean())
    # a sampling's seconds: its sample job's (one encoding, one scoring process) shared out by the frames it takes
    samples = pd.read_parquet(run.samples)
    job = samples.groupby(["src_sha256", "cq"]).agg(n=("vmaf", "size"), enc=("enc_seconds", "first"))
    mine = samples.groupby(["src_sha256", "cq", "sampling"]).size().rename("frames").reset_index().join(
        job, on=["src_sha256", "cq"])
    encoded = rows[rows["how"] == "encoded"].merge(mine, on=["src_sha256", "cq", "sampling"])
    assert len(encoded) == 6 * 4 and np.allclose(encoded["enc_seconds"], encoded["enc"] * encoded["frames_y"]
                                                 / encoded["n"])
    first = rows[rows["sampling"] == "first"].pivot_table(index=KEY, columns="how", values="predicted")
    diff = (first["encoded"] - first["cut"]).abs()
    assert s.cut_vs_encoded == [pytest.approx(diff.mean()), pytest.approx(diff.max())]
    encoded = [x for x in s.shares if x.how == "encoded"]
    top = max(x.share_within for x in encoded)
    today = next(x for x in encoded if x.sampling == "first")
    assert s.best is not None
    if today.share_within == top:  # a tie is said as one: never "serves best" over a sampling as good
        tied = [x.words for x in encoded if x.share_within == top and x is not today]
        assert s.best.startswith("vmaf-tune's own, the first 5 s, serves as well as any sampling measured")
        assert all(words in s.best for words in tied)
    else:
        assert f"serves better than vmaf-tune's own (the first 5 s): {100 * (top - today.share_within):+.1f} " \
               "points" in s.best
    assert "on 6 encodes of clips longer than the window" in s.best and "%" not in s.best  # no second share
    said = dict(closing_rows(sampled_run, verdict))["vmaf-tune's sampling"]
    assert said == f"which sampling serves vmaf-tune best: {s.best}"
    page = run.report.read_text()
    assert "As vmaf-tune samples a clip (the first 5 s)" in page and "03_loso/samplings.parquet" in page


def test_samples_parquet_edited_after_the_corpus_step_is_never_bundled(sampled_run: Path, refs: Path,
                                                                       tmp_path: Path) -> None:
    """samples.parquet is sent as the corpus step recorded it, as every other step output is (kit.bundle.contents):
    the run's tarball holds it; edited afterwards, a bundle made again is refused naming it."""
    import shutil
    import tarfile

    (tarball,) = (sampled_run / "05_bundle").glob("results-*.tar.gz")
    with tarfile.open(tarball) as tar:
        assert any(name.endswith("/02_corpus/samples.parquet") for name in tar.getnames())
    out = tmp_path / "out"
    shutil.copytree(sampled_run, out)
    samples = RunDir(out).samples
    edited = pd.read_parquet(samples)
    edited["vmaf"] += 1.0  # a number moved by hand
    edited.to_parquet(samples)
    fast = [a if a != "25,37" else "25,45" for a in FAST]
    # the bundle made again (its own inputs are the verdict's files: samples.parquet reaches it through this check)
    res = run_here("step", "bundle", "--force", "--ref-dir", refs, "--out-dir", out, "--box-id", "sampled", *fast,
                   *LENIENT)
    assert_clean_failure(res, "samples.parquet was changed after step 'corpus' wrote it")


def page_text(html: str) -> str:
    """The report's words as a reader sees them: tags dropped, entities read, white space folded."""
    import html as entities
    import re

    return " ".join(entities.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def one_figure(out: Path) -> tuple[float, int, int]:
    """The consumer gates' figure as vmaf-tune samples, read from the verdict, and the same numbers said by the summary
    (its row, and no second share in the sampling row) and the report (its sentence; with the windows cut alone, the
    samplings table's first row gives the share of all the encodes, the count the gates read)."""
    verdict = verdict_of(out)
    c = verdict.consumer
    assert c is not None and c.sampling is not None and c.judged is not None
    j, w = c.judged, c.judged.whole
    said = c.judged_words()
    assert f"{w.pool_share:.1%} of {w.pool} held-out encodes" in said and f"{j.n_longer} of the {w.n_encodes}" in said
    rows = dict(summary_rows(out, verdict))
    assert said in rows["as vmaf-tune uses it"] and "%" not in rows["vmaf-tune's sampling"]
    page = page_text(RunDir(out).report.read_text())
    assert said[0].upper() + said[1:] in page
    if not any(x.how == "encoded" for x in c.sampling.shares):  # cut alone: the table's first row is the window's
        first = next(x for x in c.sampling.shares if x.sampling == "first")
        assert (first.share_within, first.n_encodes) == (w.share, w.n_encodes) == (c.window_share, c.n_encodes)
        assert f"the first 5 s its frames cut from the whole encode {c.n_encodes} {w.share:.1%}" in page
    return w.pool_share, w.pool, j.n_longer


def test_one_figure_for_the_share_as_vmaf_tune_samples_on_a_box_and_on_a_union(sampled_run: Path,
                                                                               tmp_path: Path) -> None:
    """Issue 76: the summary, the report and the verdict give the one figure with its base, on the box's run (windows
    encoded on their own beside) and on a union of its shard (`run --corpus`, the windows cut alone), each on the
    same base."""
    box = one_figure(sampled_run)
    merged = tmp_path / "union.parquet"
    assert run_here("merge", RunDir(sampled_run).shard, "-o", merged).returncode == 0
    fast = [a if a != "25,37" else "25,45" for a in FAST]
    res = run_here("run", "--corpus", merged, "--out-dir", tmp_path / "union", *fast, *LENIENT)
    assert res.returncode in (0, 1), res.stderr[-3000:]
    union = one_figure(tmp_path / "union")
    assert union[1:] == box[1:]  # the same encodes, the same clips longer than the window (the models trained anew)
