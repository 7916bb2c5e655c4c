"""libvmaf through ffmpeg's filter: the features the kit stores (TABLE), the teacher model, the filter, its log.

TABLE is the one declaration of a feature: its corpus column and model input name, libvmaf's log key, its extractor and
options, its plausible range, the input sets it is in, `log1p`. Everything else derives from it, in its order: what
libvmaf is asked for and how its log is read (FEATURES, FEATURE_KEYS, CANONICAL_EXTRACTORS; the opt-in rows' EXTRA_*),
the corpus's columns (kit.corpus.columns), the model's input sets (kit.model.contract), the cards' note. Only the
outside contracts spell a name, each a literal copy that says so (kit.corpus.jsonl, kit.corpus.export,
kit.bundle.vmaftune; tests/unit/test_model_contract.py). An opt-in feature in an input set of its own touches 5 kit
files: its row and the set's name here, the set's input version and INPUTS_HELP line (kit.model.contract),
SCHEMA_VERSION (kit.corpus.manifests), JOB_ROWS_VERSION (kit.corpus.columns) and the corpus step's format version
(kit/steps/__init__.py); older files read it as null (kit.corpus.inputs); beside them, the test's pins, the column's row
in docs/reference/files.md and the CHANGELOG. The opt-in rows are measured together (the corpus step's one `extra`
switch)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from kit.infra.records import Record
from kit.infra.shown import Spelled

if TYPE_CHECKING:  # numpy loads when a log is parsed: `status` and `--help` import this module
    import numpy as np

TEACHER_MODEL = "vmaf_v0.6.1"  # the default: what vmaf-tune scores content below 2160 lines with
# libvmaf's built-in models the kit offers as teachers (`model=version=NAME`)
BUILTIN_TEACHERS = (TEACHER_MODEL, "vmaf_v0.6.1neg", "vmaf_4k_v0.6.1")
# characters libvmaf's model string gives a meaning to, escaped with a backslash (below escape_filter_value's two)
MODEL_SPECIAL = "\\':="
# a path with this character cannot be said to libvmaf: its filter splits the model string on it before any escape
MODEL_SEPARATOR = "|"
TAG_STEM_CHARS = 12  # a model file's name in ids (kit.bundle.registry: an id is at most 64 characters)

CANONICAL6, CANONICAL6_V1 = "canonical6", "canonical6+v1"  # the model's input sets (--inputs; kit.model.contract)
INPUT_SET_NAMES = (CANONICAL6, CANONICAL6_V1)  # every input set: each starts with the canonical six
# what libvmaf's features can be, generously (kit.corpus.schema): adm and vif are ratios, motion a difference of luma
RATIO_RANGE = (0.0, 2.0)
# The smallest picture libvmaf scores, each way: its ADM extractor (integer_adm.c) takes a 4-level wavelet pyramid,
# each level half the one before, rounded up, and computes at each level `half - 2` as unsigned for its mirror indices
# (dwt2_src_indices_filt). At 16 pixels or fewer the fourth level's half is 1 pixel, that `1 - 2` wraps around and
# libvmaf writes far past its buffer: ffmpeg dies by SIGSEGV. 17 scores (its halves 9, 5, 3, 2), measured each way
# with the kit's ffmpeg 9.0.2's libvmaf 3.x (docs/design/robustness.md, "A child that fails").
MIN_SCORED_SIDE = 17
MOTION_RANGE = (0.0, 1024.0)


@dataclass(frozen=True)
class Feature:
    """One libvmaf feature the kit stores: its corpus column `name`, JSON log key, `feature=` entry, plausible range,
    input sets, whether the model takes log(1 + x), and whose options the model cards say ("" libvmaf's defaults)."""

    name: str
    key: str
    extractor: str
    plausible: tuple[float, float]
    sets: tuple[str, ...]
    log1p: bool = False
    options: str = ""

    @property
    def opt_in(self) -> bool:
        """Measured only when an input set needs it (null on every other row); the canonical six always are."""
        return CANONICAL6 not in self.sets


# Every feature the kit knows, in order: the canonical six (libvmaf's integer extractors at their defaults), then the
# opt-in ones VMAF v1's SVR reads (--inputs canonical6+v1) with v1's options. CAMBI and SpEED need about 640x360.
TABLE: tuple[Feature, ...] = (
    Feature("adm2", "integer_adm2", "name=adm", RATIO_RANGE, INPUT_SET_NAMES),
    Feature("vif_scale0", "integer_vif_scale0", "name=vif", RATIO_RANGE, INPUT_SET_NAMES),
    Feature("vif_scale1", "integer_vif_scale1", "name=vif", RATIO_RANGE, INPUT_SET_NAMES),
    Feature("vif_scale2", "integer_vif_scale2", "name=vif", RATIO_RANGE, INPUT_SET_NAMES),
    Feature("vif_scale3", "integer_vif_scale3", "name=vif", RATIO_RANGE, INPUT_SET_NAMES),
    Feature("motion2", "integer_motion2", "name=motion", MOTION_RANGE, INPUT_SET_NAMES, log1p=True),
    Feature("cambi", "cambi_hrs_1080_cmxv_17_vlt_0.06",
            "name=cambi:cambi_high_res_speedup=1080:cambi_max_val=17:cambi_vis_lum_threshold=0.06",
            (0.0, 100.0), (CANONICAL6_V1,), options="VMAF v1's options"),
    Feature("speed_chroma_uv", "speed_chroma_uv_mxv_45_nnf_0.1_snn_0.19_wvm_5",
            "name=speed_chroma:speed_kernelscale=1.0:speed_nn_floor=0.1:speed_sigma_nn=0.19:speed_weight_var_mode=5:"
            "speed_max_val=45", (0.0, 1000.0), (CANONICAL6_V1,), options="VMAF v1's options"),
    Feature("adm3", "integer_adm3_csf_2_dlmw_0.7_egl_1_min_0.5_nw_0.02",
            "name=adm:adm_dlm_weight=0.7:adm_enhn_gain_limit=1.0:adm_noise_weight=0.02:adm_csf_mode=2:adm_min_val=0.5",
            RATIO_RANGE, (CANONICAL6_V1,), options="VMAF v1's options"),
    Feature("motion3", "integer_motion3_mmxv_18", "name=motion:motion_max_val=18", MOTION_RANGE, (CANONICAL6_V1,),
            log1p=True, options="VMAF v1's options"),
)
CANONICAL = tuple(f for f in TABLE if not f.opt_in)
OPT_IN = tuple(f for f in TABLE if f.opt_in)
FEATURES = tuple(f.name for f in CANONICAL)  # the canonical six, in libvmaf's order: every corpus row holds them
FEATURE_KEYS = tuple(f.key for f in CANONICAL)
MOTION = CANONICAL[-1].name  # the six's motion feature: a frame against its neighbours (kit.verdict.regimes reads it)
# asked for beside another teacher (which computes its own variants); libvmaf runs an extractor once however asked
CANONICAL_EXTRACTORS = "|".join(dict.fromkeys(f.extractor for f in CANONICAL))
EXTRA_FEATURES = tuple(f.name for f in OPT_IN)  # measured when asked for (`extra`), all of them together
EXTRA_KEYS = tuple(f.key for f in OPT_IN)
# the opt-in features as a message names them: from the table (today VMAF v1's), never a family's name by hand
EXTRA_SAID = f"the opt-in features ({', '.join(EXTRA_FEATURES)})"
EXTRA_EXTRACTORS = "|".join(f.extractor for f in OPT_IN)
# the canonical six as the teacher computes them, where it computes them with options of its own (NEG's
# enhancement-gain limits: kit.media.svr reads the keys libvmaf logs them under from the model): the corpus's columns
# `teacher_<feature>`, in FEATURES order, null on every other row. The loso step proves the teacher on them; the
# student never reads them (vmaf-tune feeds the six at libvmaf's defaults)
TEACHER_FEATURES = tuple(f"teacher_{name}" for name in FEATURES)


@dataclass(frozen=True)
class Teacher(Record):
    """The libvmaf model whose score the proxy learns: a built-in (`path` and `sha256` empty) or a model file the
    user gave (`sha256` of its bytes: the identity, whatever the file's name; `name` made of it, file_teacher_name:
    the file's name is the box's, never sent)."""

    name: str
    path: str = ""
    sha256: str = ""

    @property
    def builtin(self) -> bool:
        return not self.sha256

    @property
    def default(self) -> bool:
        return self.builtin and self.name == TEACHER_MODEL

    @property
    def label(self) -> str:
        """How people read it: `vmaf_v0.6.1neg`, `vmaf_v1.0.16_3d0h (model file, sha256 1a2b3c4d5e6f)`."""
        return self.name if self.builtin else f"{self.name} (model file, sha256 {self.sha256[:12]})"

    @property
    def tag(self) -> str:
        """What exported ids and file names add for this teacher ("" for the default): `v0_6_1neg`, `4k_v0_6_1`, a
        file's `model_1a2b3c4d` (8 digits of its sha256); a name given another way (a record of a kit before 2.5:
        the file's name) cut to TAG_STEM_CHARS, with those digits."""
        if self.default:
            return ""
        if self.sha256 and self.name == file_teacher_name(self.sha256):
            return f"model_{self.sha256[:8]}"
        stem = re.sub(r"[^a-z0-9]+", "_", self.name.lower().removeprefix("vmaf_")).strip("_") or "model"
        return f"{stem[:TAG_STEM_CHARS].strip('_')}_{self.sha256[:8]}" if self.sha256 else stem

    def model_option(self) -> str:  # a Spelled: a model file is a path
        """The value of the libvmaf filter's `model` option (before the filter-level escape)."""
        if self.builtin:
            return f"version={self.name}"
        return Spelled("path=", Spelled(PurePath(self.path), escape=model_escape))


DEFAULT_TEACHER = Teacher(TEACHER_MODEL)


def file_teacher_name(sha256: str) -> str:
    """A model file's teacher name: `model_` and 12 digits of its sha256 (what the lead is sent of it)."""
    return f"model_{sha256[:12]}"


def renumber(fps: str) -> str:
    """The filters that put frame i at i / `fps` ("num/den"), whatever its container said: libvmaf pairs by time."""
    num, _, den = fps.partition("/")
    return f"settb={den or 1}/{num},setpts=N"


def model_escape(value: str) -> str:
    """A path inside libvmaf's model string: each of MODEL_SPECIAL escaped with a backslash."""
    return "".join("\\" + c if c in MODEL_SPECIAL else c for c in value)


def escape_filter_value(value: str) -> str:
    """Escape a value for a filter option inside a filtergraph: for the option parser, then the filtergraph parser."""
    level1 = "".join("\\" + c if c in "\\':" else c for c in value)
    return "".join("\\" + c if c in "\\'[],;" else c for c in level1)


def build_libvmaf_graph(width: int, height: int, pix_fmt: str, log_path: Path | str, n_threads: int,
                       teacher: Teacher = DEFAULT_TEACHER, extra: bool = False, upscaler: str = "bicubic", *,
                       fps: str, window: tuple[int, int] | None = None, ref_stream: str | None = None) -> Spelled:
    """The filtergraph scoring input 0 (distorted, scaled with `upscaler` to the reference's size) against input 1 with
    `teacher`, both converted to `pix_fmt` (kit.media.pixfmt.score_pix_fmt; "": to the format ffmpeg picks by itself,
    as a plain command does: the reference's own where libvmaf takes it, else the distorted's), both renumbered at
    `fps`, ending with the shorter (the job refuses a short log). Another teacher than the default gets
    CANONICAL_EXTRACTORS; `extra`: EXTRA_EXTRACTORS too; `window` (first, end); `ref_stream`: the reference's video
    stream where it is not its first (`v:K`)."""
    index = (f"trim=start_frame={window[0]}:end_frame={window[1]}," if window else "") + renumber(fps)
    to = f",format={pix_fmt}" if pix_fmt else ""
    return Spelled(
        f"[0:v]{index},scale={width}:{height}:flags={upscaler}{to}[dis];"
        f"[1:{ref_stream or 'v'}]{index}{to}[ref];"
        "[dis][ref]libvmaf=", libvmaf_options(log_path, n_threads, teacher, extra))


def libvmaf_options(log_path: Path | str, n_threads: int, teacher: Teacher = DEFAULT_TEACHER,
                    extra: bool = False) -> Spelled:
    """The libvmaf filter's options: the teacher, its extractors, a JSON log at `log_path`, ending with the shorter
    (a Spelled: the model file and the log are paths, shown as the lead may see them)."""
    extractors = "|".join([*([] if teacher.default else [CANONICAL_EXTRACTORS]),
                           *([EXTRA_EXTRACTORS] if extra else [])])
    return Spelled(":").join([
        Spelled("model=", Spelled(teacher.model_option(), escape=escape_filter_value)),
        *([f"feature={escape_filter_value(extractors)}"] if extractors else []),
        "log_fmt=json",
        Spelled("log_path=", Spelled(PurePath(log_path), escape=escape_filter_value)),  # the path kept a path
        f"n_threads={int(n_threads)}",
        "shortest=1",
    ])


def build_windows_graph(windows: Sequence[tuple[int, int]], width: int, height: int, pix_fmt: str,
                        log_paths: Sequence[Path | str], n_threads: int, teacher: Teacher = DEFAULT_TEACHER, *,
                        fps: str, ref_stream: str | None = None) -> Spelled:
    """The filtergraph scoring inputs 0..N-1 (each window's own encode, from its first frame) against the frames of
    window k of input N (the reference, decoded once: split, each branch trimmed to its window), each pair with its
    own libvmaf and log, both renumbered at `fps` as build_libvmaf_graph does (a window's first frame is its own
    first, as when it is scored alone: its motion starts at 0)."""
    n = len(windows)
    graph: list[str] = [f"[{n}:{ref_stream or 'v'}]split={n}{''.join(f'[w{k}]' for k in range(n))}"]
    for k, ((first, end), log) in enumerate(zip(windows, log_paths, strict=True)):
        graph += [f"[w{k}]trim=start_frame={first}:end_frame={end},{renumber(fps)},format={pix_fmt}[ref{k}]",
                  f"[{k}:v]{renumber(fps)},scale={width}:{height},format={pix_fmt}[dis{k}]",
                  Spelled(f"[dis{k}][ref{k}]libvmaf=", libvmaf_options(log, n_threads, teacher))]
    return Spelled(";").join(graph)


@dataclass(frozen=True)
class VmafLog:
    version: str
    features: np.ndarray  # (n_frames, 6) float64, in FEATURES order (the canonical six)
    vmaf: np.ndarray  # (n_frames,) float64
    extra: np.ndarray | None = None  # (n_frames, len(EXTRA_FEATURES)) float64, in their order, when asked for
    own: np.ndarray | None = None  # (n_frames, 6) the teacher's own six (TEACHER_FEATURES), when it has them

    @property
    def n_frames(self) -> int:
        return int(self.vmaf.shape[0])


def parse_vmaf_log(path: Path, extra: bool = False, own_keys: tuple[str, ...] = ()) -> VmafLog:
    """Per-frame canonical features and teacher score from a libvmaf JSON log (and the opt-in ones, `extra`; the
    teacher's own six under `own_keys`, where it computes them with options)."""
    import numpy as np

    # the kit's own large JSON, read past kit.infra.outside's bound: hours of frames pass 64 MiB
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)  # noqa: TID251 (cut short, or not JSON: ValueError, as JSONDecodeError and UnicodeDecodeError are)
    try:  # a log that parses but is not libvmaf's: a ValueError too
        frames = sorted(data.get("frames", []), key=lambda f: f["frameNum"])
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a libvmaf log (no list of numbered frames: {exc!r})") from None
    if not frames:
        raise ValueError(f"{path}: libvmaf log holds no frames")
    try:
        feats = np.array([[f["metrics"][k] for k in FEATURE_KEYS] for f in frames], dtype=np.float64)
        scores = np.array([f["metrics"]["vmaf"] for f in frames], dtype=np.float64)
        more = np.array([[f["metrics"][k] for k in EXTRA_KEYS] for f in frames], dtype=np.float64) if extra else None
        own = np.array([[f["metrics"][k] for k in own_keys] for f in frames], dtype=np.float64) if own_keys else None
    except KeyError as exc:
        raise ValueError(f"{path}: libvmaf log lacks metric {exc}") from exc
    except TypeError as exc:  # a frame that is not an object, a metric that is not a number
        raise ValueError(f"{path}: libvmaf log holds a frame it does not write ({exc})") from exc
    return VmafLog(str(data.get("version", "unknown")), feats, scores, more, own)
