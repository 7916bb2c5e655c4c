"""The teacher's function (kit.media.svr) against libvmaf itself, for each teacher of that form: the built-in
vmaf_v0.6.1 and vmaf_4k_v0.6.1 as this ffmpeg holds them, and a model file with its score transform enabled (the
phone form). libvmaf is run here by hand on a real encode, its JSON log read here, and the function of each frame's
logged features must be the frame's logged score (0.01). vmaf_v0.6.1neg reads features with options of its own: its
function is libvmaf's score of those, which libvmaf logs beside the six, and not of the six."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kit.media.libvmaf import FEATURES
from kit.media.svr import NotReproducible, builtin_model_text, parse_model
from tests import pace


def run(argv: list[str]) -> None:
    res = pace.run(argv, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, (argv, res.stderr[-1500:])


@pytest.fixture(scope="module")
def pair(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 12-frame reference (mandelbrot's fine detail, moving) and its libx264 encode at CRF 38, raw."""
    folder = tmp_path_factory.mktemp("pair")
    ref, enc, dis = folder / "ref.yuv", folder / "enc.mkv", folder / "dis.yuv"
    run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "mandelbrot=s=160x96:r=24", "-frames:v", "12",
         "-pix_fmt", "yuv420p", "-f", "rawvideo", str(ref)])
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "160x96", "-r", "24"]
    run([ffmpeg, "-v", "error", *raw, "-i", str(ref), "-c:v", "libx264", "-crf", "38", str(enc)])
    run([ffmpeg, "-v", "error", "-i", str(enc), "-f", "rawvideo", "-pix_fmt", "yuv420p", str(dis)])
    return ref, dis


def libvmaf(ffmpeg: str, pair: tuple[Path, Path], model: str, log: Path) -> tuple[np.ndarray, np.ndarray]:
    """libvmaf on the raw pair with `model` (the filter's model option, escaped for the graph): each frame's six
    features as libvmaf logs them, and its score."""
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "160x96"]
    run([ffmpeg, "-v", "error", *raw, "-i", str(pair[1]), *raw, "-i", str(pair[0]), "-lavfi",
         f"[0:v][1:v]libvmaf=model={model}:log_fmt=json:log_path={log}", "-f", "null", "-"])
    frames = json.loads(log.read_text())["frames"]
    return (np.array([[f["metrics"][f"integer_{name}"] for name in FEATURES] for f in frames]),
            np.array([f["metrics"]["vmaf"] for f in frames]))


@pytest.mark.parametrize("name", ["vmaf_v0.6.1", "vmaf_4k_v0.6.1"])
def test_a_builtin_teachers_function_is_libvmafs_score(ffmpeg: str, pair: tuple[Path, Path], tmp_path: Path,
                                                       name: str) -> None:
    feats, scores = libvmaf(ffmpeg, pair, f"version={name}", tmp_path / "log.json")
    model = parse_model(builtin_model_text(Path(ffmpeg), name), name)
    assert 5 < scores.mean() < 95  # a score in the middle of the scale, where the two models differ
    assert np.max(np.abs(model.predict(feats) - scores)) <= 0.01


def test_a_model_file_with_its_transform_enabled_is_libvmafs_score(ffmpeg: str, pair: tuple[Path, Path],
                                                                   tmp_path: Path) -> None:
    doc = json.loads(builtin_model_text(Path(ffmpeg), "vmaf_v0.6.1"))
    doc["model_dict"]["score_transform"]["enabled"] = True  # the phone form: p0 + p1 s + p2 s^2, never below s
    path = tmp_path / "phone.json"
    path.write_text(json.dumps(doc))
    feats, scores = libvmaf(ffmpeg, pair, f"path={path}", tmp_path / "log.json")
    plain = parse_model(builtin_model_text(Path(ffmpeg), "vmaf_v0.6.1"), "vmaf_v0.6.1").predict(feats)
    phone = parse_model(path.read_text(), "phone").predict(feats)
    assert np.max(np.abs(phone - scores)) <= 0.01
    assert np.min(phone - plain) > 1.0  # the transform moved every frame: the test can tell the two apart


def test_the_neg_teachers_function_is_libvmafs_score_of_its_own_features_not_of_the_six(
        ffmpeg: str, pair: tuple[Path, Path], tmp_path: Path) -> None:
    """NEG is vmaf_v0.6.1's SVM over ADM and VIF computed with an enhancement-gain limit: the kit finds its own JSON
    (not vmaf_v0.6.1's), reads the keys libvmaf logs those features under from its options, and its function of
    them is libvmaf's score; of the default six (what the corpus's columns and vmaf-tune's feed hold) it is not."""
    model = parse_model(builtin_model_text(Path(ffmpeg), "vmaf_v0.6.1neg"), "vmaf_v0.6.1neg")
    assert model.own_features and model.sha256 != parse_model(
        builtin_model_text(Path(ffmpeg), "vmaf_v0.6.1"), "vmaf_v0.6.1").sha256
    assert "enhancement-gain limit of 1" in model.options_said and "vif_enhn_gain_limit" in model.options_said
    log = tmp_path / "neg.json"
    # the six at libvmaf's defaults asked for beside it, as the corpus step asks (media/libvmaf.CANONICAL_EXTRACTORS)
    six, scores = libvmaf(ffmpeg, pair, "version=vmaf_v0.6.1neg:feature=name=adm|name=vif|name=motion", log)
    frames = json.loads(log.read_text())["frames"]
    own = np.array([[f["metrics"][key] for key in model.log_keys] for f in frames])  # a KeyError: a key misread
    assert model.log_keys[0] == "integer_adm2_egl_1" and model.log_keys[5] == "integer_motion2"
    assert np.max(np.abs(model.predict(own) - scores)) <= 0.01
    assert np.max(np.abs(model.predict(six) - scores)) > 0.5  # the default six are not its inputs


def test_a_builtin_is_found_in_any_binary_that_holds_its_json_and_a_binary_without_it_is_said(
        ffmpeg: str, tmp_path: Path) -> None:
    """The JSON is read to its end by the decoder, with no NUL around it (as a library's array of bytes may hold
    it); a binary that holds no model says where the kit looked."""
    text = builtin_model_text(Path(ffmpeg), "vmaf_v0.6.1")
    blob = tmp_path / "libvmaf.so"
    blob.write_bytes(b"\x7fELF" + bytes(range(1, 200)) + text.encode() + b"trailing bytes, no NUL")
    assert builtin_model_text(blob, "vmaf_v0.6.1") == text
    empty = tmp_path / "ffmpeg-without-models"
    empty.write_bytes(b"\x7fELF\x00nothing here\x00")
    with pytest.raises(NotReproducible, match=r"not found as libvmaf's JSON in .*ffmpeg-without-models"):
        builtin_model_text(empty, "vmaf_v0.6.1")
