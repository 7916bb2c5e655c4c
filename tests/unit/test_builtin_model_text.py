"""kit.media.svr.builtin_model_text: a built-in teacher's JSON found where libvmaf compiled it, in the ffmpeg or in a
libvmaf it links (searched only when the ffmpeg does not hold it), the first of its kind, within MAX_BINARY_BYTES;
a file that holds none, is empty or cannot be read is said as such. tests/real/test_teacher_function.py finds the
real ones in this kit's ffmpeg."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.media import svr
from kit.media.svr import NotReproducible, builtin_model_text


def model_text(total_sv: int, rho: str, own_options: bool = False) -> str:
    """A model JSON as libvmaf compiles it in, with the header and names the search reads."""
    doc: dict[str, object] = {"model_dict": {
        "feature_names": ["VMAF_integer_feature_adm2_score", "VMAF_integer_feature_motion2_score"],
        "model": f"svm_type epsilon_svr\nkernel_type rbf\ntotal_sv {total_sv}\nrho {rho}\nSV\n"}}
    if own_options:
        doc["feature_opts_dicts"] = [{"adm_enhn_gain_limit": 1.0}]
    return json.dumps(doc)


WANTED = model_text(211, "-1.33133")  # vmaf_v0.6.1's header (svr.BUILTIN_IDENTITY)
NEG = model_text(211, "-1.33133", own_options=True)  # vmaf_v0.6.1neg's: the same header, its own options
FOUR_K = model_text(262, "-2.30449")


def binary(path: Path, *texts: str, pad: int = 4096) -> Path:
    """A file laid out as a binary holds them: code bytes, then each text between NULs."""
    body = b"\x7fELF" + bytes(range(256)) * (pad // 256)
    for text in texts:
        body += b"\x00" + text.encode() + b"\x00" + b"\x90" * pad
    path.write_bytes(body)
    return path


@pytest.fixture
def no_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(ffmpeg: Path) -> list[Path]:
        raise AssertionError(f"ldd run for {ffmpeg.name}, which holds the model")
    monkeypatch.setattr(svr, "linked_libraries", refused)


def test_the_model_in_the_ffmpeg_is_found_without_asking_for_its_libraries(tmp_path: Path, no_libraries: None) -> None:
    ffmpeg = binary(tmp_path / "ffmpeg", FOUR_K, NEG, WANTED)
    assert builtin_model_text(ffmpeg, "vmaf_v0.6.1") == WANTED
    assert builtin_model_text(ffmpeg, "vmaf_v0.6.1neg") == NEG
    assert builtin_model_text(ffmpeg, "vmaf_4k_v0.6.1") == FOUR_K


def test_a_model_in_a_linked_libvmaf_is_found_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ffmpeg = binary(tmp_path / "ffmpeg", FOUR_K)
    lib = binary(tmp_path / "libvmaf.so.3", WANTED)
    monkeypatch.setattr(svr, "linked_libraries", lambda _: [lib])
    assert builtin_model_text(ffmpeg, "vmaf_v0.6.1") == WANTED


@pytest.mark.parametrize("content", [b"", b"\x7fELF no model here\x00"])
def test_a_binary_without_the_model_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes) -> None:
    ffmpeg = tmp_path / "ffmpeg"
    ffmpeg.write_bytes(content)  # an empty file cannot be mapped: read instead
    monkeypatch.setattr(svr, "linked_libraries", lambda _: [])
    with pytest.raises(NotReproducible, match="is not found as libvmaf's JSON in ffmpeg"):
        builtin_model_text(ffmpeg, "vmaf_v0.6.1")


def test_a_binary_that_cannot_be_read_is_named(tmp_path: Path, no_libraries: None) -> None:
    folder = tmp_path / "ffmpeg"
    folder.mkdir()
    with pytest.raises(NotReproducible, match="could not be read from ffmpeg"):
        builtin_model_text(folder, "vmaf_v0.6.1")


def test_only_the_first_max_binary_bytes_are_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ffmpeg = binary(tmp_path / "ffmpeg", WANTED, pad=8192)
    starts = ffmpeg.read_bytes().index(WANTED.encode())
    monkeypatch.setattr(svr, "linked_libraries", lambda _: [])
    monkeypatch.setattr(svr, "MAX_BINARY_BYTES", starts + len(WANTED))  # the whole model, just
    assert builtin_model_text(ffmpeg, "vmaf_v0.6.1") == WANTED
    monkeypatch.setattr(svr, "MAX_BINARY_BYTES", starts + len(WANTED) // 2)  # its key in, its end out
    with pytest.raises(NotReproducible, match="is not found"):
        builtin_model_text(ffmpeg, "vmaf_v0.6.1")
