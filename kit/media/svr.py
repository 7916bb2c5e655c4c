"""The teacher as a function of its features: libvmaf's JSON SVR models evaluated on the canonical six as
libvmaf/src/predict.c does, and the built-in ones in the scoring ffmpeg (docs/teachers.md, "The teacher's function").

The function is proven on every training row (kit.model.teacher_fn) before the teacher recipe distils it. A teacher that
computes the six with options of its own (NEG: FEATURE_OPTIONS) is proven on its own six
(kit.media.libvmaf.TEACHER_FEATURES), never distilled."""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kit.infra.interrupts import check
from kit.infra.outside import JsonRefused, load_json
from kit.media.libvmaf import FEATURE_KEYS, FEATURES

if TYPE_CHECKING:  # numpy loads when a model is evaluated: `status` and `--help` import kit.media
    import numpy as np

# what libvmaf's integer extractors name the canonical six in a model's feature_names
INTEGER_PREFIX = "VMAF_integer_feature_"
# the built-in models the kit can find in libvmaf's compiled-in JSON, by their SVM header (total_sv, rho) and whether
# they compute their features with options of their own (NEG: vmaf_v0.6.1's SVM over enhancement-gain-limited ADM
# and VIF; libvmaf holds both forms of each SVM, told apart by `feature_opts_dicts`)
BUILTIN_IDENTITY: dict[str, tuple[int, str, bool]] = {"vmaf_v0.6.1": (211, "-1.33133", False),
                                                      "vmaf_4k_v0.6.1": (262, "-2.30449", False),
                                                      "vmaf_v0.6.1neg": (211, "-1.33133", True)}
# the options a teacher may compute one of the canonical six with, each with libvmaf's alias and default: libvmaf logs
# a feature computed with options other than their defaults under `<key>_<alias>_<value>` (the value as %g, aliases in
# order): NEG's `integer_adm2_egl_1` (tests/real/test_teacher_function.py reads the keys from libvmaf's own log)
FEATURE_OPTIONS: dict[str, tuple[str, float]] = {"adm_enhn_gain_limit": ("egl", 100.0),
                                                 "vif_enhn_gain_limit": ("egl", 100.0)}
# what an option's alias means, in words a collaborator reads (why a teacher is not the corpus's six's function)
OPTION_WORDS = {"egl": "enhancement-gain limit"}
# libvmaf logs six decimals: the function of logged features differs from the logged score by a few 1e-4 at most
PROOF_TOLERANCE = 0.01
MAX_BINARY_BYTES = 1 << 30  # an ffmpeg binary (or its libvmaf) read for its models; a larger one is not searched
MODEL_KEY = b'"model_dict"'  # the key every libvmaf model JSON has: how a compiled-in model is found
MAX_MODEL_BYTES = 4 << 20  # one model's JSON text (vmaf_v0.6.1's is 19 kB; a bootstrap set's 400 kB)
CHUNK_ROWS = 65_536  # rows evaluated at once: a (rows x 211) kernel of float64 is 110 MB


class NotReproducible(ValueError):
    """A teacher whose score this module cannot evaluate from the corpus's columns; says why after the model's name."""


@dataclass(frozen=True)
class SvrModel:
    """One libvmaf SVR model, ready to evaluate on the canonical six (columns in kit.media.libvmaf.FEATURES order)."""

    name: str
    sha256: str  # of the JSON text it was read from
    order: tuple[int, ...]  # for each of the model's features in its own order, its column in FEATURES
    slopes: tuple[float, ...]  # [0]: the score's, then the features' in the model's order
    intercepts: tuple[float, ...]
    rescale: bool
    gamma: float
    rho: float
    coefs: tuple[float, ...]
    support: tuple[tuple[float, ...], ...]  # each support vector, in the model's feature order
    transform: tuple[float, float, float] | None  # (p0, p1, p2) when the model enables its transform
    out_gte_in: bool
    out_lte_in: bool
    clip: tuple[float, float] | None
    # per feature of FEATURES, the options the model computes it with, as libvmaf's log key adds them (`_egl_1`), ""
    # for libvmaf's defaults: a model with any is a function of its own features, not of the corpus's six
    suffixes: tuple[str, ...] = ("",) * len(FEATURES)

    @property
    def own_features(self) -> bool:
        """It reads one of the six computed with options of its own (NEG): the corpus's six are not its inputs."""
        return any(self.suffixes)

    @property
    def log_keys(self) -> tuple[str, ...]:
        """The keys libvmaf logs the model's inputs under, in FEATURES order (FEATURE_KEYS for a model of the six)."""
        return tuple(key + suffix for key, suffix in zip(FEATURE_KEYS, self.suffixes, strict=True))

    @property
    def options_said(self) -> str:
        """Its features' own options in words (options_text)."""
        return options_text(self.suffixes)

    def predict(self, features: np.ndarray, clipped: bool = True) -> np.ndarray:
        """The score of each row of `features` (N, 6), CHUNK_ROWS at a time, a stop signal polled between two;
        `clipped=False`: before the model's score_clip (what the student's expected clip reads, kit.model.spread)."""
        import numpy as np

        rows = features if isinstance(features, np.ndarray) else np.asarray(features)
        parts = []
        for start in range(0, len(rows), CHUNK_ROWS):  # each chunk in float64 on its own: no copy of all the rows
            check()
            parts.append(self._predict(np.asarray(rows[start : start + CHUNK_ROWS], dtype=np.float64), clipped))
        return np.concatenate(parts) if parts else np.zeros(0)

    def _predict(self, features: np.ndarray, clipped: bool = True) -> np.ndarray:
        import numpy as np

        x = features[:, list(self.order)]
        if self.rescale:
            x = x * np.asarray(self.slopes[1:]) + np.asarray(self.intercepts[1:])
        sv = np.asarray(self.support)
        # |x - sv|^2 = |x|^2 - 2 x.sv + |sv|^2, then exp(-gamma max(d, 0)): each step in place on one (rows x SVs)
        # kernel (the same operations in the same order as the expression they replace: the same bits, a third of the
        # time on 3,000,000 rows, where five temporaries of 110 MB each were made and freed per chunk)
        kernel = 2.0 * x @ sv.T
        np.subtract((x * x).sum(1)[:, None], kernel, out=kernel)
        kernel += (sv * sv).sum(1)[None, :]
        np.maximum(kernel, 0.0, out=kernel)
        np.multiply(-self.gamma, kernel, out=kernel)
        np.exp(kernel, out=kernel)
        score = kernel @ np.asarray(self.coefs) - self.rho
        if self.rescale:
            score = (score - self.intercepts[0]) / self.slopes[0]
        if self.transform is not None:
            p0, p1, p2 = self.transform
            out = p0 + p1 * score + p2 * score * score
            out = np.maximum(out, score) if self.out_gte_in else out
            score = np.minimum(out, score) if self.out_lte_in else out
        if self.clip is not None and clipped:
            score = np.clip(score, *self.clip)
        return score


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _features(model: dict[str, object]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Each of the model's features' column in FEATURES, and each of FEATURES' log key suffix (`_suffixes`);
    NotReproducible unless they are the canonical six of libvmaf's integer extractors."""
    names = model.get("feature_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise NotReproducible("names no feature list (feature_names)")
    bare = [n.removeprefix(INTEGER_PREFIX).removesuffix("_score") for n in names]
    if not all(n.startswith(INTEGER_PREFIX) for n in names) or sorted(bare) != sorted(FEATURES):
        raise NotReproducible(f"reads {', '.join(names)}, not the canonical six of libvmaf's integer extractors "
                              "the corpus stores")
    order = tuple(FEATURES.index(n) for n in bare)
    suffixes = [""] * len(FEATURES)
    for column, suffix in zip(order, _suffixes(model.get("feature_opts_dicts"), len(names)), strict=True):
        suffixes[column] = suffix
    return order, tuple(suffixes)


def _suffixes(opts: object, n: int) -> list[str]:
    """What libvmaf's log key adds to each feature for its options (FEATURE_OPTIONS), "" at libvmaf's defaults;
    NotReproducible for options the kit does not know the log key of."""
    if opts is None or opts == []:
        return [""] * n
    if not isinstance(opts, list) or len(opts) != n or not all(isinstance(o, dict) for o in opts):
        raise NotReproducible("has feature options (feature_opts_dicts) that are not one object per feature")
    out = []
    for options in opts:
        unknown = sorted(k for k in options if k not in FEATURE_OPTIONS)
        if unknown:
            raise NotReproducible(f"computes its features with options the kit does not read ({', '.join(unknown)}), "
                                  "where the corpus's columns are libvmaf's defaults")
        try:
            given = {FEATURE_OPTIONS[k][0]: float(v) for k, v in options.items() if float(v) != FEATURE_OPTIONS[k][1]}
        except (TypeError, ValueError):
            raise NotReproducible(f"has a feature option that is not a number ({options})") from None
        out.append("".join(f"_{alias}_{given[alias]:g}" for alias in sorted(given)))
    return out


def options_text(suffixes: tuple[str, ...]) -> str:
    """The features computed with options, by their options: `adm2, vif_scale0, ... with an enhancement-gain limit of
    1 (libvmaf's adm_enhn_gain_limit, vif_enhn_gain_limit)`; "" where none is."""
    said: dict[str, list[str]] = {}
    for name, suffix in zip(FEATURES, suffixes, strict=True):
        if suffix:
            said.setdefault(suffix, []).append(name)
    parts = []
    for suffix, names in said.items():
        pairs = re.findall(r"_([a-z]+)_([^_]+)", suffix)
        words = ", ".join(f"{OPTION_WORDS.get(alias, alias)} of {value}" for alias, value in pairs)
        options = ", ".join(k for k, (alias, _) in FEATURE_OPTIONS.items() if any(alias == a for a, _ in pairs))
        parts.append(f"{', '.join(names)} with an {words} (libvmaf's {options})")
    return "; ".join(parts)


def _svm(text: str) -> tuple[float, float, list[float], list[tuple[float, ...]]]:
    """(gamma, rho, coefficients, support vectors) of a libsvm model text of an RBF SVR."""
    head, sep, body = text.partition("\nSV\n")
    fields = dict(line.split(" ", 1) for line in head.splitlines() if " " in line)
    if not sep or fields.get("svm_type") not in ("nu_svr", "epsilon_svr") or fields.get("kernel_type") != "rbf":
        raise NotReproducible("is not a libsvm regression with an RBF kernel")
    coefs, support = [], []
    for line in filter(str.strip, body.splitlines()):
        coef, *pairs = line.split()
        vector = [0.0] * len(FEATURES)
        for pair in pairs:
            index, _, value = pair.partition(":")
            if not 1 <= int(index) <= len(FEATURES):
                raise ValueError(f"a support vector's index {index} is not one of its features' 1..{len(FEATURES)}")
            vector[int(index) - 1] = float(value)
        coefs.append(float(coef))
        support.append(tuple(vector))
    return float(fields["gamma"]), float(fields["rho"]), coefs, support


def parse_model(text: str, name: str) -> SvrModel:
    """The model in libvmaf's JSON text; NotReproducible (saying why) for one this module cannot evaluate."""
    try:
        doc = load_json(text)
    except JsonRefused as exc:
        raise NotReproducible(f"is not JSON ({exc})") from None
    model = doc.get("model_dict") if isinstance(doc, dict) else None
    if not isinstance(model, dict):
        raise NotReproducible("is not a single libvmaf model (no model_dict: a bootstrap set of models, say)")
    if model.get("model_type") not in ("LIBSVMNUSVR", "LIBSVMEPSILONSVR"):
        raise NotReproducible(f"is a {model.get('model_type')} model, not one of libsvm's SVRs")
    order, suffixes = _features(model)
    norm = model.get("norm_type", "none")
    if norm not in ("linear_rescale", "none"):
        raise NotReproducible(f"normalises its features by {norm}, which libvmaf's SVR scoring does not do")
    try:
        gamma, rho, coefs, support = _svm(str(model["model"]))
        slopes = tuple(float(v) for v in model.get("slopes", [1.0] * 7))
        intercepts = tuple(float(v) for v in model.get("intercepts", [0.0] * 7))
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise NotReproducible(f"has an SVM this module cannot read ({exc})") from None
    if len(slopes) != len(FEATURES) + 1 or len(intercepts) != len(FEATURES) + 1:
        raise NotReproducible("has slopes or intercepts of another length than its features and score")
    clip = model.get("score_clip")
    return SvrModel(name, hashlib.sha256(text.encode()).hexdigest(), order, slopes, intercepts,
                    norm == "linear_rescale", gamma, rho, tuple(coefs), tuple(support), *_transform(model),
                    (float(clip[0]), float(clip[1])) if isinstance(clip, list) and len(clip) == 2 else None,
                    suffixes)


def _transform(model: dict[str, object]) -> tuple[tuple[float, float, float] | None, bool, bool]:
    """((p0, p1, p2) when the model's score_transform is enabled, else None; out_gte_in; out_lte_in)."""
    spec = model.get("score_transform")
    if not isinstance(spec, dict) or not _truthy(spec.get("enabled")):
        return None, False, False
    if spec.get("knots"):
        raise NotReproducible("transforms its score through knots, which this module does not evaluate")
    if not any(k in spec for k in ("p0", "p1", "p2")):
        raise NotReproducible("enables a score transform without its polynomial (p0, p1, p2)")
    p = tuple(float(spec.get(k, 0.0)) for k in ("p0", "p1", "p2"))
    return (p[0], p[1], p[2]), _truthy(spec.get("out_gte_in")), _truthy(spec.get("out_lte_in"))


def _embedded_models(blob: bytes | mmap.mmap, end: int | None = None) -> Iterator[str]:
    """The libvmaf model JSON texts compiled into a binary, in its order, each found as the search reaches it: the
    JSON object around each `"model_dict"` key that lies wholly before `end`."""
    seen: set[int] = set()
    end = len(blob) if end is None else end
    at = blob.find(MODEL_KEY, 0, end)
    while at >= 0:
        lo = max(blob.rfind(b"\x00", 0, at) + 1, at - MAX_MODEL_BYTES)
        for brace in re.finditer(rb"\{", blob[lo:at]):
            if (start := lo + brace.start()) in seen:
                break
            if (text := _object_at(blob, start, end)) is not None and MODEL_KEY.decode() in text:
                seen.add(start)
                yield text
                break
        at = blob.find(MODEL_KEY, at + 1, end)


def _object_at(blob: bytes | mmap.mmap, start: int, end: int) -> str | None:
    """The JSON object that starts at `start` and ends before `end`, as text; None where none does."""
    window = blob[start : min(start + MAX_MODEL_BYTES, end)].split(b"\x00", 1)[0]
    try:
        text = window.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:  # bytes past the object's end: decode up to them
        text = window[: exc.start].decode("utf-8")
    try:
        _, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    return text[:end]


def linked_libraries(ffmpeg: Path) -> list[Path]:
    """The libvmaf libraries a dynamically linked ffmpeg loads (ldd; otool -L on macOS); [] when none or no tool."""
    from kit.infra.proc import run_process

    argv = ["otool", "-L", str(ffmpeg)] if sys.platform == "darwin" else ["ldd", str(ffmpeg)]
    try:
        res = run_process(argv, timeout_s=30, capture_stdout=True)
    except OSError:
        return []
    found = re.findall(r"(/\S*libvmaf[^\s:]*)", res.stdout.decode("utf-8", "replace")) if res.returncode == 0 else []
    return [Path(p) for p in dict.fromkeys(found) if Path(p).is_file()]


def _binaries(ffmpeg: Path) -> Iterator[Path]:
    """The ffmpeg, then the libvmaf libraries it links, looked up only when the ffmpeg does not hold the model."""
    yield ffmpeg
    yield from linked_libraries(ffmpeg)


@contextlib.contextmanager
def _mapped(binary: Path) -> Iterator[bytes | mmap.mmap]:
    """The binary's bytes, mapped read-only where the system can (a binary of 170 MB is then not copied), else read.
    A mapped file cut short while it is read ends the process by SIGBUS, not an error: the risk of running that
    binary at all, which the system's loader maps the same way (a binary the kit replaces, `binaries`, is renamed
    over, which leaves a mapping of the one before whole)."""
    with open(binary, "rb") as fh:
        try:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # an empty file, or one the system cannot map
            yield fh.read(MAX_BINARY_BYTES)
            return
        with mapped:
            yield mapped


def builtin_model_text(ffmpeg: Path | None, name: str) -> str:
    """The JSON text of built-in model `name` as libvmaf in this ffmpeg holds it; NotReproducible when not found."""
    if name not in BUILTIN_IDENTITY:
        raise NotReproducible("is not among the built-in models the kit can find")
    if ffmpeg is None:
        raise NotReproducible("is compiled into libvmaf, and no ffmpeg was found to read it from")
    total_sv, rho, own = BUILTIN_IDENTITY[name]
    for binary in _binaries(ffmpeg):
        try:
            with _mapped(binary) as blob:
                # by its SVM header and its options, read without parsing the rest; the first one that is it ends
                # the search
                for text in _embedded_models(blob, MAX_BINARY_BYTES):
                    head = re.search(r"total_sv (\d+)\\nrho (-?[0-9.]+)", text)
                    if head and (int(head[1]), head[2]) == (total_sv, rho) and INTEGER_PREFIX in text \
                            and ("feature_opts_dicts" in text) == own:
                        return text
        except OSError as exc:
            raise NotReproducible(f"could not be read from {binary.name} ({exc.strerror or exc})") from None
    # the files by their names: the reason goes into the LOSO reports, the verdict and the model cards, which are
    # sent (prereqs.json names the ffmpeg as the lead may see it)
    raise NotReproducible(f"is not found as libvmaf's JSON in {ffmpeg.name} or the libvmaf it links (a libvmaf built "
                          "without its built-in models, or another release of them)")
