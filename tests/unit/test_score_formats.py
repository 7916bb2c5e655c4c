"""The format a job is scored in (kit.media.pixfmt.score_pix_fmt), what the manifest says of it, the graphs that name
it or leave it to ffmpeg, and a master's decoder format kept as it is (issue 74, item 2). The real measure of each
format against libvmaf by hand is tests/real/test_pixel_formats.py."""

from __future__ import annotations

import pytest

from kit.corpus.jobs import Job
from kit.corpus.shared import reads_shared_copy, shareable
from kit.media.decode import parse_probe
from kit.media.libvmaf import build_libvmaf_graph
from kit.media.pixfmt import (
    ENC_PIX_FMTS,
    LIBVMAF_PIX_FMTS,
    converted_on_purpose,
    score_pix_fmt,
    scoring_note,
)
from kit.media.refs import Clip

# a member of each family a decoder gives that libvmaf does not take
OTHERS = ("yuv410p", "yuv411p", "yuv440p", "yuvj420p", "yuvj422p", "yuvj444p", "gray", "gray10le", "gray16le",
          "rgb24", "bgra", "pal8", "rgb48le", "gbrp", "gbrp12le", "nv12", "nv21", "p010le", "p016le", "yuv444p9le",
          "yuv422p14le", "yuva420p", "xyz12le", "bayer_rggb8", "grayf32le")


@pytest.mark.parametrize("bits", [8, 10])
def test_a_format_libvmaf_takes_is_scored_as_it_is_every_other_in_the_encodes(bits: int) -> None:
    enc = ENC_PIX_FMTS[bits]
    assert [score_pix_fmt(f, enc) for f in LIBVMAF_PIX_FMTS] == list(LIBVMAF_PIX_FMTS)
    assert {score_pix_fmt(f, enc) for f in OTHERS} == {enc}
    assert not any(converted_on_purpose(f, enc) for f in (*OTHERS, enc))
    assert [f for f in LIBVMAF_PIX_FMTS if converted_on_purpose(f, enc)] == [f for f in LIBVMAF_PIX_FMTS if f != enc]


def test_the_manifest_says_how_a_reference_is_scored() -> None:
    assert scoring_note("yuv420p", "yuv420p") == ""
    assert scoring_note("yuv410p", "yuv420p") == ("converted to yuv420p to be scored, as ffmpeg converts it by itself "
                                                  "for libvmaf (docs/design/pixel-formats.md)")
    note = scoring_note("yuv420p10le", "yuv420p")
    assert note.startswith("scored in its own yuv420p10le, the yuv420p encode converted to it, on purpose: a plain ")
    assert "scores in yuv420p (docs/design/pixel-formats.md measures the difference)" in note


def test_the_graph_names_the_format_or_leaves_it_to_ffmpeg() -> None:
    named = str(build_libvmaf_graph(96, 64, "yuv444p", "/l.json", 1, fps="25"))
    assert named.startswith("[0:v]settb=1/25,setpts=N,scale=96:64:flags=bicubic,format=yuv444p[dis];"
                            "[1:v]settb=1/25,setpts=N,format=yuv444p[ref];[dis][ref]libvmaf=")
    plain = str(build_libvmaf_graph(96, 64, "", "/l.json", 1, fps="25"))  # the independent check's
    assert plain.startswith("[0:v]settb=1/25,setpts=N,scale=96:64:flags=bicubic[dis];[1:v]settb=1/25,setpts=N[ref];"
                            "[dis][ref]libvmaf=") and "format=" not in plain


@pytest.mark.parametrize(("line", "pix_fmt"), [
    ("Stream #0:0: Video: indeo3 (IV32 / 0x32335649), yuv410p, 160x120, 448 kb/s, 25 fps, 25 tbr, 25 tbn", "yuv410p"),
    ("Stream #0:0: Video: rawvideo (BGGR / 0x47474242), bayer_bggr8, 64x48, 5 fps, 5 tbr, 5 tbn", "bayer_bggr8"),
    ("Stream #0:0: Video: rawvideo (Y3[10][10] / 0xA0A3359), yuv420p10le, 64x48, 5 fps, 5 tbr, 5 tbn", "yuv420p10le"),
    ("Stream #0:0: Video: mjpeg (Baseline) (MJPG), yuvj422p(pc, bt470bg/unknown/unknown), 160x120, 15 fps, 15 tbr",
     "yuvj422p"),
])
def test_a_masters_format_is_its_decoders(line: str, pix_fmt: str) -> None:
    assert parse_probe(line)[3] == pix_fmt


def job(pix_fmt: str, bits: int = 8) -> Job:
    return Job(Clip("/r/a.mkv", "a", "master", 64, 48, "25/1", pix_fmt, 10, "a" * 64), "libx264", 30, bits)


def test_a_jobs_fingerprint_names_the_conversion_only_where_it_scores_in_another_format(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A reference scored in its own format keeps kit 2.2's fingerprint (its jobs are kept); one converted is
    fingerprinted with the format it is scored in (its jobs are done again once, as ffmpeg converts it)."""
    import kit.corpus.jobs as jobs_module

    for pix_fmt, bits in (("yuv420p", 8), ("yuv422p", 8), ("yuv444p12le", 8), ("yuv420p10le", 10)):
        assert job(pix_fmt, bits).score_pix_fmt == pix_fmt
    assert job("gray").score_pix_fmt == "yuv420p" and job("gray10le", 10).score_pix_fmt == "yuv420p10le"
    seen: list[dict] = []
    monkeypatch.setattr(jobs_module, "sha256_json", seen.append)
    prov = jobs_module.Provenance("box", "linux-x86_64", "cpu", "ffmpeg", "9", "9+x", "3.0")
    job("yuv420p").fingerprint(prov)
    job("rgb24").fingerprint(prov)
    assert "scored_in" not in seen[0] and seen[1]["scored_in"] == "yuv420p"


def test_a_4_1_0_clip_is_decoded_by_each_of_its_jobs() -> None:
    assert not shareable(job("yuv410p")) and not reads_shared_copy(job("yuv410p"), lambda j: True)
    assert all(shareable(job(f)) for f in ("yuv420p", "yuv411p", "rgb24", "yuvj422p"))
