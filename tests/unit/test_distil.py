"""The teacher recipe (kit.model.distil): the codec block never read, a seed's members the same bits twice, the
encodes' windows their frames' means, the teacher's samples where encodes lie; a teacher the kit cannot evaluate
trains the frames' way and says why (kit.model.teacher_fn)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from kit.errors import InputError
from kit.media.libvmaf import FEATURES
from kit.media.svr import NotReproducible, parse_model
from kit.model.batches import Kept, Member
from kit.model.contract import CODEC_DIM, CODEC_VOCAB
from kit.model.distil import Distillation, by_feature, draw_prior, encode_codes, encode_windows
from kit.model.features import Codec
from kit.model.loso import LosoInputs
from kit.model.recipe import FRAMES, TEACHER, TrainConfig
from kit.model.teacher_fn import prove
from kit.model.train import train_members

# A small SVR of libvmaf's JSON form, written here: an RBF over the six integer features with two support vectors,
# a linear rescale and a clip. Its value is computed by hand in `by_hand` below, not by the module under test.
GAMMA, RHO, COEFS = 0.5, -0.25, (30.0, -12.0)
SUPPORT = ((0.9, 0.1, 0.3, 0.5, 0.7, 0.8), (0.2, 0.4, 0.1, 0.2, 0.3, 0.35))  # libsvm order: feature_names order
NAMES = ("adm2", "motion2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3")  # libvmaf's (sorted) order
SLOPES = (0.02, 1.0, 0.05, 1.0, 1.0, 1.0, 1.0)
INTERCEPTS = (-0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def model_json(**extra: object) -> str:
    lines = [f"{c} " + " ".join(f"{i + 1}:{v}" for i, v in enumerate(sv)) for c, sv in zip(COEFS, SUPPORT, strict=True)]
    svs = "\n".join(lines)
    model = {"model_type": "LIBSVMNUSVR", "norm_type": "linear_rescale", "score_clip": [0.0, 100.0],
             "feature_names": [f"VMAF_integer_feature_{n}_score" for n in NAMES],
             "slopes": list(SLOPES), "intercepts": list(INTERCEPTS),
             "model": f"svm_type nu_svr\nkernel_type rbf\ngamma {GAMMA}\nnr_class 2\ntotal_sv 2\nrho {RHO}\nSV\n"
                      f"{svs}\n",
             **extra}
    return json.dumps({"param_dict": {}, "model_dict": model})


def by_hand(row: dict[str, float], transform: tuple[float, float, float] | None = None) -> float:
    x = [SLOPES[i + 1] * row[name] + INTERCEPTS[i + 1] for i, name in enumerate(NAMES)]
    kernel = [np.exp(-GAMMA * sum((a - b) ** 2 for a, b in zip(x, sv, strict=True))) for sv in SUPPORT]
    s = sum(c * k for c, k in zip(COEFS, kernel, strict=True)) - RHO
    s = (s - INTERCEPTS[0]) / SLOPES[0]
    if transform:
        s = max(s, transform[0] + transform[1] * s + transform[2] * s * s)  # out_gte_in
    return min(100.0, max(0.0, s))


ROWS = [dict(zip(FEATURES, v, strict=True)) for v in ((0.95, 0.6, 0.8, 0.9, 0.95, 3.0), (0.5, 0.1, 0.2, 0.3, 0.4, 0.5),
                                         (0.99, 0.9, 0.97, 0.99, 1.0, 12.0))]


def test_an_svr_of_libvmafs_form_is_evaluated_as_written_by_hand() -> None:
    m = parse_model(model_json(), "tiny")
    got = m.predict(np.array([[r[f] for f in FEATURES] for r in ROWS]))
    assert got == pytest.approx([by_hand(r) for r in ROWS], abs=1e-9)
    t = parse_model(model_json(score_transform={"enabled": True, "p0": 1.0, "p1": 1.1, "p2": -0.001,
                                                "out_gte_in": "true"}), "tiny")
    assert t.predict(np.array([[r[f] for f in FEATURES] for r in ROWS])) == \
        pytest.approx([by_hand(r, (1.0, 1.1, -0.001)) for r in ROWS], abs=1e-9)


@pytest.mark.parametrize(("change", "words"), [
    ({"feature_opts_dicts": [{"adm_dlm_weight": 0.7}, {}, {}, {}, {}, {}]}, "options the kit does not read"),
    ({"feature_names": ["Cambi_feature_cambi_score"] * 6}, "not the canonical six"),
    ({"model_type": "RESIDUEBOOTSTRAP_LIBSVMNUSVR"}, "not one of libsvm's SVRs"),
])
def test_a_model_the_corpus_cannot_carry_is_not_reproducible_and_says_why(change: dict, words: str) -> None:
    doc = json.loads(model_json())
    doc["model_dict"].update(change)
    with pytest.raises(NotReproducible, match=words):
        parse_model(json.dumps(doc), "other")


def corpus(n_encodes: int = 6, frames: int = 12, seed: int = 0, teacher: str = "tiny") -> pd.DataFrame:
    """Rows of `n_encodes` encodes of three sources, their `vmaf` the tiny model's function of their features."""
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(n_encodes):
        q = 0.3 + 0.6 * rng.random()
        for i in range(frames):
            v = np.clip(q + rng.normal(0, 0.05, 4), 0, 1)
            rows.append({"src": f"s{e % 3}", "src_sha256": f"{e % 3:064d}", "content": f"c{e % 3}",
                         "encoder": "libx264", "cq": 20 + e, "frame_index": i, "adm2": q + 0.05,
                         "vif_scale0": v[0] * 0.6, "vif_scale1": v[1] * 0.8, "vif_scale2": v[2] * 0.9,
                         "vif_scale3": v[3], "motion2": 2.0 + rng.random(), "teacher_model": teacher})
    df = pd.DataFrame(rows)
    df["vmaf"] = parse_model(model_json(), "tiny").predict(df[list(FEATURES)].to_numpy())
    return df


def test_each_window_is_the_mean_of_its_encodes_frames() -> None:
    df = corpus()
    codes = df.groupby(["src", "cq"], sort=True).ngroup().to_numpy()
    x, y, c = encode_windows(df[list(FEATURES)].to_numpy(), df["vmaf"].to_numpy(), codes,
                             TrainConfig(windows_per_encode=4))
    assert len(x) == len(np.unique(codes)) * 9  # the whole encode, 4 runs and 4 subsets
    for code in np.unique(codes):  # the first window of an encode is its whole mean, taken here the plain way
        whole = df[codes == code]
        assert x[c == code][0] == pytest.approx(whole[list(FEATURES)].mean().to_numpy())
        assert y[c == code][0] == pytest.approx(whole["vmaf"].mean())
        frames = df.loc[codes == code, list(FEATURES)].to_numpy()
        assert (x[c == code] >= frames.min(0) - 1e-12).all() and (x[c == code] <= frames.max(0) + 1e-12).all()


def windows_one_by_one(feats: np.ndarray, target: np.ndarray, codes: np.ndarray, config: TrainConfig,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The windows as the kit took them before it batched their means, each window's mean its own numpy call: the
    bits encode_windows must keep."""
    rng = np.random.default_rng(config.window_seed)
    order = np.argsort(codes, kind="stable")
    xs, ys, cs = [], [], []
    for rows in np.split(order, np.flatnonzero(np.diff(codes[order])) + 1):
        x, y, n = feats[rows], target[rows], len(rows)
        picks = [np.arange(n)]
        for _ in range(config.windows_per_encode if n > 1 else 0):
            length = int(rng.integers(2, n + 1))
            start = int(rng.integers(0, n - length + 1))
            picks += [np.arange(start, start + length), rng.choice(n, size=int(rng.integers(2, n + 1)), replace=False)]
        xs += [x[p].mean(0) for p in picks]
        ys += [y[p].mean() for p in picks]
        cs += [codes[rows[0]]] * len(picks)
    return np.array(xs), np.array(ys), np.array(cs, dtype=np.int64)


LATER = pytest.mark.wide  # the fast tier's cut of the windows' matrix: a short and a block length, a few long encodes


@pytest.mark.parametrize("frames", [[1] * 20 + [2] * 20, pytest.param([3, 1, 7] * 12, marks=LATER),
                                    pytest.param([8, 9, 16, 17] * 10, marks=LATER),
                                    pytest.param([127, 128, 129, 130] * 3, marks=LATER), [128] * 70,
                                    pytest.param([257] * 140, marks=LATER), [136, 257, 1000],
                                    pytest.param([2500], marks=LATER)])
@pytest.mark.parametrize("dtype", [np.float32, pytest.param(np.float64, marks=LATER)])
@pytest.mark.parametrize("at_once", [50, pytest.param(2_000_000, marks=LATER)])
@pytest.mark.parametrize("together", ["as chosen", "all", "none"])
def test_the_windows_means_taken_together_are_each_windows_own_bit_for_bit(frames: list[int], dtype: type,
                                                                              at_once: int, together: str,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Encodes of every length numpy's summation treats its own way (one frame, under 8, a block of 128 and past it,
    halves of halves), many of one length and a few long ones, rows in any order, features float32 as the kit reads
    them or float64, scores with ties, the batches cut anywhere and the windows taken together as the kit chooses,
    all of them or none: each window's mean is the float `x[picks].mean(0)` and `y[picks].mean()` gave."""
    from kit.model import distil

    monkeypatch.setattr(distil, "WINDOW_ROWS_AT_ONCE", at_once)
    if together != "as chosen":
        monkeypatch.setattr(distil, "batched", lambda windows, length: together == "all")
    rng = np.random.default_rng(len(frames) * 1000 + sum(frames))
    codes = rng.permutation(np.repeat(np.arange(len(frames)) * 3 + 5, frames))
    feats = (rng.normal(0.6, 0.3, (len(codes), 6)) * rng.choice([1e-3, 1.0, 1e4], 6)).astype(dtype)
    target = np.round(rng.uniform(0, 100, len(codes)), 1)
    config = TrainConfig(windows_per_encode=5)
    for mine, theirs in zip(encode_windows(feats, target, codes, config), windows_one_by_one(feats, target, codes,
                                                                                          config), strict=True):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        assert mine.tobytes() == theirs.tobytes()


def test_the_teacher_samples_lie_where_encodes_do_and_repeat() -> None:
    a, b = draw_prior(20_000, TrainConfig()), draw_prior(20_000, TrainConfig())
    assert np.array_equal(a, b)
    adm, vif, motion = a[:, 0], a[:, 1:5], a[:, 5]
    assert (np.diff(vif, axis=1) >= -0.01).mean() > 0.99  # the finest scale loses most
    assert (vif > 0.95).all(axis=1).mean() > 0.1  # the near-lossless corner is dense (a uniform box: 6e-6)
    assert adm.min() > -0.1 and adm.max() < 1.02 and motion.min() >= 0 and motion.max() <= 40
    # the recipe's knobs are TrainConfig's (in LOSO's and the bundle's fingerprints): each one moves the draws
    assert draw_prior(20_000, TrainConfig(motion_max=10.0))[:, 5].max() <= 10 < motion.max()
    assert not np.array_equal(draw_prior(2_000, TrainConfig(prior_seed=1)), draw_prior(2_000, TrainConfig()))


def test_the_prior_s_columns_are_placed_by_the_feature_table() -> None:
    """Each extractor's draws go to its features' columns by the table (kit.media.libvmaf.TABLE), not by position:
    the model's canonical six in their order, every column drawn placed once."""
    n = 5
    placed = by_feature({"motion": np.full((n, 1), 7.0), "vif": np.tile([[0.1, 0.2, 0.3, 0.4]], (n, 1)),
                         "adm": np.full((n, 1), 0.9)})
    assert dict(zip(FEATURES, placed[0], strict=True)) == {"adm2": 0.9, "vif_scale0": 0.1, "vif_scale1": 0.2,
                                                           "vif_scale2": 0.3, "vif_scale3": 0.4, "motion2": 7.0}
    with pytest.raises(AssertionError, match="the prior draws the table's six"):
        by_feature({"adm": np.zeros((n, 2)), "vif": np.zeros((n, 4)), "motion": np.zeros((n, 1))})


def distilled(df: pd.DataFrame, config: TrainConfig) -> tuple[Distillation, np.ndarray, Codec]:
    inputs = LosoInputs.of(df)
    model = parse_model(model_json(), "tiny")
    return (Distillation.of(inputs.feats, inputs.target, np.arange(len(df)) // 12, model, config),
            inputs.feats, inputs.codec)


SMALL = TrainConfig(epochs=6, teacher_samples=4_000, tune_batch=32)  # 60 tune steps


def test_an_encoder_slot_no_row_trained_predicts_as_a_trained_one() -> None:
    df = corpus()
    data, feats, codec = distilled(df, SMALL)
    ens = train_members(feats, codec, df["vmaf"].to_numpy(), [Member(0, 0, np.arange(36))], SMALL, distil=data)
    trained = np.zeros((len(feats), CODEC_DIM), dtype=np.float32)
    trained[:, CODEC_VOCAB.index("libx264")], trained[:, -1] = 1.0, 0.4
    never = np.zeros_like(trained)
    never[:, CODEC_VOCAB.index("hevc_videotoolbox")], never[:, -1] = 1.0, 0.9
    a, b = ens.predict(0, feats, trained), ens.predict(0, feats, never)
    assert np.max(np.abs(a - b)) <= 0.5  # the bound; the recipe gives exactly the same
    assert np.array_equal(a, b)
    assert float(ens.net.slots[0].weight[0, feats.shape[1]:].abs().max()) == 0.0  # never moved from zero


def test_the_recipe_gives_the_same_bits_for_a_seed_however_the_members_are_grouped() -> None:
    df = corpus()
    data, feats, codec = distilled(df, SMALL)
    members = [Member(0, 0, np.arange(36)), Member(1, 0, np.arange(36)), Member(0, 1, np.arange(36, 72))]
    one = train_members(feats, codec, df["vmaf"].to_numpy(), members, SMALL, distil=data, workers=1)
    three = train_members(feats, codec, df["vmaf"].to_numpy(), members, SMALL, distil=data, workers=3)
    alone = train_members(feats, codec, df["vmaf"].to_numpy(), members[2:], SMALL, distil=data, workers=1)
    for k in range(3):
        for a, b in zip(one.net.slots, three.net.slots, strict=True):
            assert torch.equal(a.weight[k], b.weight[k]) and torch.equal(a.bias[k], b.bias[k])
    assert torch.equal(one.net.slots[0].weight[2], alone.net.slots[0].weight[0])
    assert not torch.equal(one.net.slots[0].weight[0], one.net.slots[0].weight[1])  # another seed, other bits


def test_a_member_draws_windows_only_of_encodes_it_trains_on_whole_and_two_boxes_are_two_encodes() -> None:
    df = corpus(n_encodes=3)
    df = pd.concat([df.assign(box_id="a"), df.assign(box_id="b")], ignore_index=True)  # one setting, two boxes
    codes = encode_codes(df)
    assert len(np.unique(codes)) == 6  # 3 settings x 2 boxes
    inputs = LosoInputs.of(df)
    data = Distillation.of(inputs.feats, inputs.target, codes, parse_model(model_json(), "tiny"),
                           TrainConfig(teacher_samples=2_000))
    box_a = np.flatnonzero(df["box_id"] == "a")
    _, windows = data.member_rows(Member(0, 0, box_a))
    drawn = data.window_codes[windows.numpy() - data.n_frames]
    assert set(drawn) == set(codes[box_a]) and not set(drawn) & set(codes[df["box_id"] == "b"])
    half = box_a[: len(box_a) // 2 + 5]  # an encode cut in two: none of its windows
    _, windows = data.member_rows(Member(0, 0, half))
    cut = set(codes[half]) - {c for c in set(codes[half]) if (codes[half] == c).sum() == (codes == c).sum()}
    assert cut and not set(data.window_codes[windows.numpy() - data.n_frames]) & cut


def test_a_fold_s_member_draws_the_rows_of_its_complement_without_an_array_of_them() -> None:
    """A member that trains on a fold's complement: its frames and windows as the rows the fold leaves out (Kept),
    each position the row the arrays of the kept ones gave (2.7.4's), and no tensor of the kept rows made."""
    df = corpus(n_encodes=9)
    inputs = LosoInputs.of(df)
    data = Distillation.of(inputs.feats, inputs.target, encode_codes(df), parse_model(model_json(), "tiny"),
                           TrainConfig(teacher_samples=2_000))
    for rows in inputs.train:
        frames, windows = data.member_rows(Member(0, 0, rows))
        kept = rows.array()
        assert isinstance(frames, Kept) and isinstance(windows, Kept)
        assert len(frames.shifts) == len(rows.held_out) < len(kept)
        assert torch.equal(frames[torch.arange(len(frames))], torch.from_numpy(kept.astype(np.int64)))
        _, wanted = data.member_rows(Member(0, 0, kept))  # the same rows given as an array: the arrays' way
        assert len(windows.shifts) < len(wanted) and torch.equal(windows[torch.arange(len(windows))], wanted.long())


def test_a_teacher_the_kit_cannot_evaluate_trains_the_frames_way_and_says_why(tmp_path: Path) -> None:
    df = corpus(teacher="vmaf_v0.6.1neg")
    proof, model = prove(df, None, None)  # a built-in, and no ffmpeg to read it from
    assert model is None and not proof.reproduced
    assert "vmaf_v0.6.1neg not reproduced: it is compiled into libvmaf, and no ffmpeg" in proof.label
    inputs = LosoInputs.of(df).distilled(proof, model, TrainConfig())
    assert inputs.recipe == FRAMES and inputs.distil is None and inputs.teacher_fn == proof


def test_a_teacher_of_features_of_its_own_is_not_distilled_and_says_why_in_its_own_terms(tmp_path: Path) -> None:
    """NEG's form: the six computed with an enhancement-gain limit. Its function is known, but the corpus's columns are
    libvmaf's defaults: the frames recipe, the reason naming its options, whatever the recipe asked."""
    path = tmp_path / "neg-like.json"
    limits = [{"adm_enhn_gain_limit": 1.0}, {}, *[{"vif_enhn_gain_limit": 1.0}] * 4]  # NAMES' order: adm2, motion2, vif
    path.write_text(model_json(feature_opts_dicts=limits))
    df = corpus(teacher="neg-like").assign(teacher_sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    proof, model = prove(df, None, path)
    assert model is None and not proof.reproduced and not proof.distillable
    assert proof.own_features == ("adm2, vif_scale0, vif_scale1, vif_scale2, vif_scale3 with an enhancement-gain limit "
                                  "of 1 (libvmaf's adm_enhn_gain_limit, vif_enhn_gain_limit)")
    assert proof.label.startswith("neg-like not reproduced: it computes adm2, vif_scale0") and \
        "which the corpus's columns (libvmaf's defaults) and vmaf-tune's feed do not carry" in proof.label
    assert LosoInputs.of(df).distilled(proof, model, TrainConfig()).recipe == FRAMES
    assert "which these rows were scored without" in (proof.reason or "")
    # rows that hold its own six (TEACHER_FEATURES, as the corpus step stores NEG's): proven on them, still not
    # distilled; a frame those columns do not give is refused as any other teacher's
    own = df.assign(**{f"teacher_{f}": df[f] * (0.9 if f != "motion2" else 1.0) for f in FEATURES})
    own["vmaf"] = parse_model(path.read_text(), "x").predict(own[[f"teacher_{f}" for f in FEATURES]].to_numpy())
    proof, model = prove(own, None, path)
    assert proof.reproduced and not proof.distillable and model is None and proof.max_abs_diff is not None
    assert proof.label.startswith("neg-like reproduced from its own features (adm2, vif_scale0") and \
        "not distilled: the student reads libvmaf's default features" in proof.label
    assert LosoInputs.of(own).distilled(proof, model, TrainConfig()).recipe == FRAMES
    own.loc[3, "vmaf"] += 1.0
    with pytest.raises(InputError, match=r"neg-like, evaluated from the corpus's teacher's own features .* s0 frame"):
        prove(own, None, path)


def test_a_model_file_that_disagrees_with_the_corpus_is_refused_naming_the_source_and_frame(tmp_path: Path) -> None:
    df = corpus(teacher="tiny")
    df.loc[7, "vmaf"] += 0.5  # one frame the function does not give
    path = tmp_path / "tiny.json"
    path.write_text(model_json())
    df["teacher_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    proof, model = prove(df.drop(index=7), None, path)
    assert proof.reproduced and model is not None and proof.max_abs_diff is not None and proof.max_abs_diff < 1e-6
    assert LosoInputs.of(df.drop(index=7)).distilled(proof, model, TrainConfig()).recipe == TEACHER
    with pytest.raises(InputError, match=r"tiny.*0\.5000 points away.* at s0 frame 7 \(libx264 cq 20\)"):
        prove(df, None, path)
    said, none = prove(df, None, path, strict=False)  # --recipe frames: said, not refused
    assert none is None and not said.reproduced and "frame 7" in (said.reason or "")


@pytest.mark.parametrize(("spaced", "chunk", "parts"), [(1, 1, 1), (7, 5, 1), (7, 5, 2), (36, 36, 1),
                                                        (1 << 20, 65_536, 16)])
def test_the_table_made_a_part_at_a_time_is_the_whole_arrays_bit_for_bit(spaced: int, chunk: int, parts: int,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The teacher recipe's table and targets, their rows put in model space a part at a time (kit.model.distil.
    SPACED_ROWS, cut anywhere), each of the teacher's function's chunks (kit.media.svr.CHUNK_ROWS) made float64 on
    its own and the residuals taken `parts` chunks at a time (RESIDUAL_CHUNKS): the bits of the expressions as the
    kit took them before, the table of every row at once and the function's chunks cut from all the rows made
    float64 first (its chunks where they were: a matrix product of other sizes may round otherwise)."""
    from kit.media import svr
    from kit.model import distil
    from kit.model.features import model_space

    monkeypatch.setattr(distil, "SPACED_ROWS", spaced)
    monkeypatch.setattr(svr, "CHUNK_ROWS", chunk)
    monkeypatch.setattr(distil, "RESIDUAL_CHUNKS", parts)
    df = corpus(n_encodes=3)
    inputs = LosoInputs.of(df)
    teacher, config = parse_model(model_json(), "tiny"), TrainConfig(teacher_samples=500)
    data = Distillation.of(inputs.feats, inputs.target, encode_codes(df), teacher, config)
    prior = distil.Prior.of(teacher, config)
    wx, wy, _ = encode_windows(inputs.feats, inputs.target, encode_codes(df), config)
    whole = model_space(np.vstack([inputs.feats, wx]))
    whole -= prior.mean
    whole /= prior.std
    table = np.vstack([whole, prior.z]).astype(np.float32, copy=False)

    def missed(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        all_rows = np.asarray(x, dtype=np.float64)
        told = np.concatenate([teacher._predict(all_rows[i:i + chunk]) for i in range(0, len(all_rows), chunk)])
        return (np.asarray(y, dtype=np.float64) - told).astype(np.float32)

    scores = np.concatenate([missed(inputs.feats, inputs.target), missed(wx, wy), np.zeros(len(prior.z), np.float32)])
    assert data.table.numpy().tobytes() == table.tobytes() and data.target.numpy().tobytes() == scores.tobytes()
    assert (data.n_frames, data.n_windows) == (len(inputs.feats), len(wx))


def test_the_set_holds_no_copy_of_every_frame_while_the_function_scores_them(monkeypatch: pytest.MonkeyPatch,
                                                                              ) -> None:
    """Beside the teacher recipe's table, while the teacher's function scores its rows: the windows' means only
    during the windows' turn, and of the frames a part (RESIDUAL_CHUNKS of the function's chunks) at a time, never a
    float64 array of every frame (numpy's memory, traced at each of the function's chunks). 2.7.4 held the windows'
    means and the frames' scores so far beside the table through the frames' turn (at 10,000 contents, three float64
    arrays of 3,000,000 rows beside them)."""
    import tracemalloc

    from kit.media import svr
    from kit.model import distil

    monkeypatch.setattr(svr, "CHUNK_ROWS", 256)
    monkeypatch.setattr(distil, "RESIDUAL_CHUNKS", 4)
    df = corpus(n_encodes=100, frames=400)
    inputs = LosoInputs.of(df)
    codes, teacher = encode_codes(df), parse_model(model_json(), "tiny")
    held: list[tuple[int, int]] = []  # (rows the function scores at once, numpy's memory then)
    scoring = svr.SvrModel._predict

    def traced(self: svr.SvrModel, features: np.ndarray, clipped: bool = True) -> np.ndarray:
        held.append((len(features), tracemalloc.get_traced_memory()[0]))
        return scoring(self, features, clipped)

    monkeypatch.setattr(svr.SvrModel, "_predict", traced)
    tracemalloc.start()
    try:
        data = Distillation.of(inputs.feats, inputs.target, codes, teacher, TrainConfig(teacher_samples=1_000))
    finally:
        tracemalloc.stop()
    kept = data.table.numpy().nbytes + data.target.numpy().nbytes + data.window_codes.nbytes
    means = data.n_windows * (inputs.feats.shape[1] * 4 + 8)  # the windows' features and scores (105 KB)
    part = 4 * 256 * 8 * 3  # a part's float64 scores, their difference and its chunks' list
    # the function's calls: the windows' chunks, then the frames' (40,000 rows: 157 chunks), the last ones
    chunks = -(-data.n_frames // 256)
    frames = held[len(held) - chunks:]
    assert data.n_frames == 40_000 and sum(n for n, _ in frames) == data.n_frames
    assert max(at for _, at in held) - kept <= means + part + 48_000, (max(at for _, at in held) - kept, means)
    assert max(at for _, at in frames) - kept <= part + 48_000, (max(at for _, at in frames) - kept, means)
