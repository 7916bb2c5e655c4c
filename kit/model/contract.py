"""The model's input contract, pinned apart from the corpus's columns and the encoders the kit drives: an input set's
raw features (INPUT_SETS), then a one-hot over CODEC_VOCAB and the cq normalised over its encoder's cq_range. Changing
either is a major version, pinned in tests/unit/test_model_contract.py. Light (no numpy): the CLI reads it.

An input set's canonical six come first (incumbents and vmaf-tune read those); an opt-in feature it takes is measured by
the corpus step only where a set needs it (RunSettings.extra_features), null on every other row. The width flows from
Arch.n_features, never a constant."""

from __future__ import annotations

from kit.media.libvmaf import CANONICAL6, CANONICAL6_V1, TABLE
from kit.platforms.encoders import get_spec

INPUT_VERSION = 2  # fr_regressor_v2: the canonical six
V1_INPUT_VERSION = 3  # the opt-in set: the canonical six, then VMAF v1's four
INPUT_VERSIONS: dict[str, int] = {CANONICAL6: INPUT_VERSION, CANONICAL6_V1: V1_INPUT_VERSION}
# --inputs: each set's (input version, features: the rows of kit.media.libvmaf.TABLE that name it, in order)
INPUT_SETS: dict[str, tuple[int, tuple[str, ...]]] = {
    name: (version, tuple(f.name for f in TABLE if name in f.sets)) for name, version in INPUT_VERSIONS.items()}
assert {s for f in TABLE for s in f.sets} == set(INPUT_SETS), "a set of kit.media.libvmaf.TABLE has no input version"
MODEL_FEATURES = INPUT_SETS[CANONICAL6][1]
# the heavy-tailed motion features enter every form of the model as log(1 + x) (docs/quality-and-ladder.md)
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


_V1_OWN = [f for f in INPUT_SETS[CANONICAL6_V1][1] if f not in MODEL_FEATURES]
# --inputs' help (kit.cli.flags), the opt-in set's own features named from the table
INPUTS_HELP = ("The proxy's input set: canonical6 (what vmaf-tune feeds; the default), or canonical6+v1 (its own model "
               "contract: the six and VMAF v1's "
               f"{', '.join(_V1_OWN[:-1])} and {_V1_OWN[-1]}, scored by the "
               "corpus step; for a v1 --teacher, which the six cannot carry; no vmaf-tune export; docs/teachers.md).")


def input_features(inputs: str = CANONICAL6) -> tuple[str, ...]:
    return INPUT_SETS[inputs][1]


def log_columns(n_features: int) -> tuple[bool, ...]:
    """Which of the input set of this width (each set has its own) enter the model as log(1 + x)."""
    if (names := _BY_WIDTH.get(n_features)) is None:
        raise ValueError(f"no input set is {n_features} features wide (kit.model.contract.INPUT_SETS)")
    return tuple(name in LOG_FEATURES for name in names)


# every input set has a width of its own: a model knows its set by its width (Arch.n_features)
_BY_WIDTH = {len(features): features for _, features in INPUT_SETS.values()}
assert len(_BY_WIDTH) == len(INPUT_SETS), "two input sets of one width: log_columns cannot tell them apart"


def input_version(inputs: str = CANONICAL6) -> int:
    return INPUT_SETS[inputs][0]


def unslotted(encoders: tuple[str, ...] | list[str]) -> list[str]:
    """The encoders among `encoders` the model has no codec slot for (it cannot learn their rows)."""
    return [e for e in encoders if e not in CODEC_VOCAB]


def no_slot_message(encoders: list[str]) -> str:
    return (f"{', '.join(encoders)} {'has' if len(encoders) == 1 else 'have'} no slot in the model's codec "
            f"vocabulary (model input v{INPUT_VERSION}, codec vocabulary v{CODEC_VOCAB_VERSION}): the models "
            "cannot learn such rows")


N_FEATURES = len(MODEL_FEATURES)  # the default input set's (canonical6): what vmaf-tune feeds
CODEC_DIM = len(CODEC_VOCAB) + 1  # the codec block: a slot per encoder of CODEC_VOCAB, then crf_norm
