"""The model's input contract, pinned: what fr_regressor_v2 consumes, versioned apart from what the
corpus measures (kit.corpus.schema) and from the encoders the kit can drive (kit.platforms.encoders).

    features[6]  MODEL_FEATURES: raw libvmaf values, in this order (each model z-scores them itself): the rows of
                 kit.media.libvmaf.TABLE in the input set (INPUT_SETS), in the table's order
    codec[V+1]   one-hot over CODEC_VOCAB, then cq normalised within its encoder's own range:
                 (cq - best) / (worst - best) over EncoderSpec.cq_range = (best, worst), so 0 is the best
                 quality in every family (x264/x265 CRF and the hardware QP/CQ scales (cq - 0) / 51, QSV's
                 (cq - 1) / 50, SVT-AV1's (cq - 1) / 62, AV1 QP (cq - 0) / 255, VideoToolbox's q:v (100 - cq) / 99)

The corpus carries no scale input: a ladder rung's rows are scored upscaled to the reference's size, and the
held-out figures with and without one (bench/bench_scale_input.py) showed no gain (docs/quality-and-ladder.md).

A new encoder row, or a new opt-in libvmaf feature in an input set of its own, changes nothing here. Changing a
set's features (a row of kit.media.libvmaf.TABLE that names it), CODEC_VOCAB or the cq range of a vocabulary
encoder changes every model's inputs: every incumbent bundle stops fitting and every figure moves (the first
layer's initial weights are drawn for another width). That is a major version (CHANGELOG): bump the set's version
(INPUT_VERSIONS) or CODEC_VOCAB_VERSION (vocabulary) and pin the new digest in tests/unit/test_model_contract.py
(PINNED), deliberately; that test fails until both are done.

An input set is opt-in (`--inputs`): `canonical6` (INPUT_VERSION 2) is the default and the only one vmaf-tune
feeds; `canonical6+v1` (V1_INPUT_VERSION 3) adds the four features VMAF v1's SVR reads (cambi,
speed_chroma_uv, adm3, motion3, computed with v1's options: kit.media.libvmaf.TABLE), for a v1 teacher
the canonical six cannot carry (docs/teachers.md). Each set is its own contract, pinned apart.

Light on purpose (no numpy): the CLI checks an `--encoders` list against the vocabulary before any work.
"""

from __future__ import annotations

from kit.media.libvmaf import CANONICAL6, CANONICAL6_V1, TABLE
from kit.platforms.encoders import get_spec

INPUT_VERSION = 2  # fr_regressor_v2: the canonical six
V1_INPUT_VERSION = 3  # the opt-in set: the canonical six, then VMAF v1's four
# --inputs: each set's input version; its features are the rows of kit.media.libvmaf.TABLE that name it, in order
INPUT_VERSIONS: dict[str, int] = {CANONICAL6: INPUT_VERSION, CANONICAL6_V1: V1_INPUT_VERSION}
# each set's (input version, features, in order)
INPUT_SETS: dict[str, tuple[int, tuple[str, ...]]] = {
    name: (version, tuple(f.name for f in TABLE if name in f.sets)) for name, version in INPUT_VERSIONS.items()}
assert {s for f in TABLE for s in f.sets} == set(INPUT_SETS), "a set of kit.media.libvmaf.TABLE has no input version"
MODEL_FEATURES = INPUT_SETS[CANONICAL6][1]
# The motion features enter every model as log(1 + x), its first operation in every form (training rows, the torch
# module, the ONNX graph): the consumer still feeds them raw. Motion is heavy-tailed (0..4 on most of the demo
# clips, 11..21 on its drifting noise) where the other features live in 0..1, and a z-scored input 19 standard
# deviations out made a held-out source's every prediction an extrapolation: on the demo at CRF 10..51 its bias
# was +19 VMAF points raw and +0.4 logged, the other sources' figures unchanged (docs/quality-and-ladder.md).
LOG_FEATURES = tuple(f.name for f in TABLE if f.log1p)
# 2: VideoToolbox's cq is the -q:v it receives (1..100, higher is better), no longer a CRF-shaped knob mapped to it
CODEC_VOCAB_VERSION = 2
CODEC_VOCAB: tuple[str, ...] = (
    "libx264", "libx265", "libsvtav1", "h264_nvenc", "hevc_nvenc", "av1_nvenc", "h264_qsv", "hevc_qsv", "av1_qsv",
    "h264_vaapi", "hevc_vaapi", "av1_vaapi", "h264_videotoolbox", "hevc_videotoolbox",
)

# what the model cards say of the ladder: the decision and the measurement behind it
SCALE_INPUT_NOTE = ("no scale input: a ladder rung's rows are scored upscaled to the reference's size, so the rung is "
                    "already in the six features; held out on the demo's ladder corpus (LOSO, 3 seeds), a scale input "
                    "made the half-height rows' RMSE 4.83 against 3.71 without it, and every other figure worse "
                    "(docs/quality-and-ladder.md)")
CQ_NORM_NOTE = "cq_norm = (cq - cq_ranges[0]) / (cq_ranges[1] - cq_ranges[0]): 0 at each family's best quality"


def cq_ranges() -> dict[str, tuple[int, int]]:
    """Each vocabulary encoder's quality range, over which its cq is normalised (from the encoder table)."""
    return {name: get_spec(name).cq_range for name in CODEC_VOCAB}


def said(names: tuple[str, ...]) -> str:
    """Names as a sentence lists them: `a, b and c`."""
    return " and ".join(filter(None, (", ".join(names[:-1]), names[-1])))


# --inputs' help (kit.cli.flags), the opt-in set's own features named from the table
INPUTS_HELP = ("The proxy's input set: canonical6 (what vmaf-tune feeds; the default), or canonical6+v1 (its own model "
               "contract: the six and VMAF v1's "
               f"{said(tuple(f for f in INPUT_SETS[CANONICAL6_V1][1] if f not in MODEL_FEATURES))}, scored by the "
               "corpus step; for a v1 --teacher, which the six cannot carry; no vmaf-tune export; docs/teachers.md).")


def input_features(inputs: str = CANONICAL6) -> tuple[str, ...]:
    """The features, in order, of the input set `inputs` (INPUT_SETS)."""
    return INPUT_SETS[inputs][1]


def log_columns(n_features: int) -> tuple[bool, ...]:
    """Which of the input set of this width (each set has its own) enter the model as log(1 + x)."""
    names = _BY_WIDTH.get(n_features)
    if names is None:
        raise ValueError(f"no input set is {n_features} features wide (kit.model.contract.INPUT_SETS)")
    return tuple(name in LOG_FEATURES for name in names)


# every input set has a width of its own: a model knows its set by its width (Arch.n_features)
_BY_WIDTH = {len(features): features for _, features in INPUT_SETS.values()}
assert len(_BY_WIDTH) == len(INPUT_SETS), "two input sets of one width: log_columns cannot tell them apart"


def input_version(inputs: str = CANONICAL6) -> int:
    return INPUT_SETS[inputs][0]


def unslotted(encoders: tuple[str, ...] | list[str]) -> list[str]:
    """The encoders among `encoders` the model has no codec slot for (the kit drives them; the model cannot
    learn their rows until the vocabulary takes them, a deliberate version change)."""
    return [e for e in encoders if e not in CODEC_VOCAB]


def no_slot_message(encoders: list[str]) -> str:
    return (f"{', '.join(encoders)} {'has' if len(encoders) == 1 else 'have'} no slot in the model's codec "
            f"vocabulary (model input v{INPUT_VERSION}, codec vocabulary v{CODEC_VOCAB_VERSION}): the models "
            "cannot learn such rows")
