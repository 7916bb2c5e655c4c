"""--encode-depth and enc_pix_fmt: bit depths, the 10-bit capability data, the refusal before any
encode, the schema-1 upgrade on merge, and the corpus identity that ignores enc_time_ms."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kit.corpus import schema
from kit.corpus.depth import check_prereqs_depth, plan_depths
from kit.corpus.jobs import Job, Provenance
from kit.corpus.manifests import SCHEMA_VERSION
from kit.corpus.merge import merge_files
from kit.corpus.rungs import RUNG_COLUMNS
from kit.corpus.schema import COLUMNS, JOB_SCHEMA, MEASURED_COLUMNS, corpus_sha256, with_content
from kit.corpus.training import training_corpus
from kit.errors import EXIT_BAD_INPUT, InputError
from kit.infra.invocation import kit_command
from kit.media.ffmpeg import parse_pix_fmts
from kit.media.libvmaf import FEATURES
from kit.media.pixfmt import bit_depth, encode_bits
from kit.media.refs import Clip
from kit.platforms.encoders import SPECS, HwArgs, get_spec
from kit.platforms.probe import ProbeResult, ten_bit_refusal

# `ffmpeg -h encoder=libx264` of the imageio-ffmpeg 9.0.2 build (10-bit x264), and the same line as an
# 8-bit-only x264 build prints it
X264_HELP = """Encoder libx264 [libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10]:
    General capabilities: dr1 delay threads reorderedopaque flush reconframe
    Threading capabilities: other
    Supported pixel formats: yuv420p yuvj420p yuv422p yuvj422p yuv444p yuvj444p nv12 nv16 nv21 yuv420p10le \
yuv422p10le yuv444p10le nv20le gray gray10le
libx264 AVOptions:
  -preset            <string>     E..V....... Set the encoding preset (cf. x264 --fullhelp) (default "medium")
"""
X264_8BIT_HELP = X264_HELP.replace(" yuv420p10le yuv422p10le yuv444p10le nv20le", "").replace(" gray10le", "")
VAAPI_HELP = """Encoder hevc_vaapi [H.265/HEVC (VAAPI)]:
    General capabilities: dr1 delay hardware reorderedopaque
    Supported hardware devices: vaapi
    Supported pixel formats: vaapi
h265_vaapi AVOptions:
"""


def clip(src: str, pix_fmt: str) -> Clip:
    return Clip(f"/r/{src}.y4m", src, "y4m", 64, 64, "25/1", pix_fmt, 8, f"{abs(hash(src)):064x}"[-64:])


@pytest.mark.parametrize(("pix_fmt", "bits"), [
    ("yuv420p", 8), ("yuv422p", 8), ("gray", 8), ("nv12", 8), ("yuv420p10le", 10), ("yuv444p10le", 10),
    ("yuv422p12le", 12), ("gray10le", 10), ("p010le", 10), ("yuva420p10le", 10)])
def test_bit_depth_of_pixel_formats(pix_fmt: str, bits: int) -> None:
    assert bit_depth(pix_fmt) == bits


def test_encode_bits_keeps_10_bit_only_with_source_and_a_deeper_reference() -> None:
    assert [encode_bits(f, "8bit") for f in ("yuv420p", "yuv420p10le", "yuv444p12le")] == [8, 8, 8]
    assert [encode_bits(f, "source") for f in ("yuv420p", "yuv422p", "yuv420p10le", "yuv444p12le")] == [8, 8, 10, 10]


def test_every_spec_says_its_10_bit_format_or_why_it_has_none() -> None:
    table = {name: spec.pix_fmt_10bit or f"none: {spec.no_10bit}" for name, spec in SPECS.items()}
    assert table == {
        "libx264": "yuv420p10le", "libx265": "yuv420p10le", "libsvtav1": "yuv420p10le",
        "h264_nvenc": "p010le", "hevc_nvenc": "p010le", "av1_nvenc": "p010le",
        "h264_qsv": "none: Intel Quick Sync encodes H.264 in 8 bit only", "hevc_qsv": "p010le", "av1_qsv": "p010le",
        "h264_vaapi": "none: VA-API encodes H.264 in 8 bit only", "hevc_vaapi": "p010le", "av1_vaapi": "p010le",
        "h264_videotoolbox": "none: VideoToolbox encodes H.264 in 8 bit only", "hevc_videotoolbox": "p010le",
        "h264_amf": "none: AMF encodes H.264 in 8 bit only", "hevc_amf": "p010le", "av1_amf": "p010le",
    }
    assert get_spec("hevc_nvenc").at_bits(10).pix_fmt == "p010le"
    assert get_spec("libx265").at_bits(8) is get_spec("libx265")
    with pytest.raises(ValueError, match="h264_qsv has no 10-bit encode"):
        get_spec("h264_qsv").at_bits(10)


def test_the_binary_decides_whether_libx264_takes_10_bit() -> None:
    assert "yuv420p10le" in parse_pix_fmts(X264_HELP)
    assert ten_bit_refusal(get_spec("libx264"), parse_pix_fmts(X264_HELP)) == ""
    reason = ten_bit_refusal(get_spec("libx264"), parse_pix_fmts(X264_8BIT_HELP))
    assert reason.startswith("this ffmpeg's libx264 takes no 10-bit input (it lists yuv420p yuvj420p")
    assert reason.endswith("yuv420p10le is not among them)")
    # VAAPI lists only its device format: the 10-bit test encode decides; no format listed at all: the same
    assert parse_pix_fmts(VAAPI_HELP) == ("vaapi",)
    assert ten_bit_refusal(get_spec("hevc_vaapi"), ("vaapi",)) == ""
    assert ten_bit_refusal(get_spec("libx265"), ()) == ""
    assert ten_bit_refusal(get_spec("h264_videotoolbox"), ()) == "VideoToolbox encodes H.264 in 8 bit only"


def _probe(name: str, ok: bool, reason: str = "") -> ProbeResult:
    return ProbeResult(name, ok, reason or "640x360 yuv420p10le test encode decoded back as yuv420p10le", 50.0, "cpu",
                       hw=HwArgs((), "format=p010le,hwupload") if name.endswith("qsv") else HwArgs())


def test_plan_depths_refuses_an_encoder_without_10_bit_before_any_encode() -> None:
    clips = [clip("ten", "yuv420p10le"), clip("deep", "yuv422p10le"), clip("eight", "yuv420p")]
    probes = {"libx265": _probe("libx265", True),
              "libx264": _probe("libx264", False, "this ffmpeg's libx264 takes no 10-bit input")}
    with pytest.raises(InputError) as err:
        plan_depths(clips, ["libx265", "libx264"], "source", probes)
    assert err.value.exit_code == EXIT_BAD_INPUT
    assert err.value.message == (
        "--encode-depth source: encoder libx264 cannot encode 10-bit here: this ffmpeg's libx264 takes no 10-bit "
        "input; 2 reference(s) are deeper than 8 bit (yuv420p10le, yuv422p10le, e.g. deep)")
    assert err.value.hint == ("pass --encoders libx265 (those keep 10 bit here), or use --encode-depth 8bit to "
                              "encode every reference at 8 bit")
    # an encoder step 01 never probed for 10 bit is refused too, never encoded at 8 bit behind the user's back
    with pytest.raises(InputError, match="encoder hevc_qsv cannot encode 10-bit here: not probed for 10 bit") as err:
        plan_depths(clips, ["hevc_qsv"], "source", {})
    assert err.value.hint.startswith("pass encoders that keep 10 bit, e.g. --encoders libx265")


def test_plan_depths_keeps_8_bit_references_and_the_default_at_8_bit() -> None:
    ten, eight = clip("ten", "yuv420p10le"), clip("eight", "yuv420p")
    no_10bit = {"libx264": _probe("libx264", False, "no")}
    assert plan_depths([eight], ["libx264"], "source", no_10bit).bits_of(eight) == 8  # nothing deeper: no refusal
    assert plan_depths([ten, eight], ["libx264"], "8bit", {}).bits_of(ten) == 8
    plan = plan_depths([ten, eight], ["hevc_qsv"], "source", {"hevc_qsv": _probe("hevc_qsv", True)})
    assert (plan.bits_of(ten), plan.bits_of(eight)) == (10, 8)
    assert plan.hw_10bit["hevc_qsv"].filter == "format=p010le,hwupload"


def test_prereqs_must_have_probed_for_the_same_depth() -> None:
    def again(*flags: str) -> str:  # as the corpus step passes it: the run's settings, then these flags
        return kit_command("step", "prereqs", "--settings", "/o d/run.json", "--out-dir", "/o d", *flags)

    check_prereqs_depth("8bit", "8bit", "01_prereqs", again, ["libx265"])
    with pytest.raises(InputError, match="01_prereqs was run for --encode-depth 8bit, not source") as err:
        check_prereqs_depth("8bit", "source", "01_prereqs", again, ["libx265", "libx264"])
    # the hint is a whole command for this out-dir, runnable as printed: the run's settings, this depth
    assert err.value.hint.split(": ", 1)[1].startswith(
        again("--encoders", "libx265,libx264", "--encode-depth", "source"))


def test_a_10_bit_job_is_another_job_with_its_own_format() -> None:
    prov = Provenance("box", "linux-x86_64", "cpu", "ffmpeg", "9", "9+abc", "3.0")
    eight, ten = Job(clip("ten", "yuv420p10le"), "libx265", 25), Job(clip("ten", "yuv420p10le"), "libx265", 25, 10)
    assert (eight.enc_pix_fmt, ten.enc_pix_fmt) == ("yuv420p", "yuv420p10le")
    assert (eight.spec.pix_fmt, ten.spec.pix_fmt) == ("yuv420p", "yuv420p10le")
    assert eight.fingerprint(prov) != ten.fingerprint(prov)  # switching the depth redoes the job


# -- the corpus identity ------------------------------------------------------------------------

def corpus_table(n: int = 6, vmaf_bump: float = 0.0, enc_time: float = 10.0, enc_pix_fmt: str = "yuv420p") -> pa.Table:
    rows = [{"src": "a", "src_sha256": "a" * 64, "encoder": "libx264", "preset": "medium", "quality_args": "-crf 25",
             "cq": 25, "frame_index": i, **{f: 0.5 + i / 100 for f in FEATURES}, "vmaf": 80.0 + i + vmaf_bump,
             "enc_bytes": 900, "enc_time_ms": enc_time + i, "bitrate_kbps": 12.5, "width": 64, "height": 64,
             "fps": 25.0, "pix_fmt": "yuv420p10le", "enc_pix_fmt": enc_pix_fmt, "box_id": "b", "platform": "linux",
             "device": "cpu", "ffmpeg_version": "9", "teacher_model": "vmaf_v0.6.1"} for i in range(n)]
    return with_content(pa.Table.from_pylist(rows, schema=JOB_SCHEMA))


def test_corpus_sha256_hashes_content_not_enc_time_ms_or_file_bytes(tmp_path: Path) -> None:
    assert MEASURED_COLUMNS == ("enc_time_ms",)
    paths = {}
    base = corpus_table()
    # the second half from another box: row groups then carry other string dictionaries
    mixed = base.set_column(base.schema.get_field_index("box_id"), "box_id", pa.array(["b"] * 3 + ["c"] * 3))
    for name, table, compression, group in (
            ("base", base, "zstd", None), ("retimed", corpus_table(enc_time=97.5), "zstd", None),
            ("snappy", base, "snappy", None), ("groups", base, "zstd", 2),
            ("vmaf", corpus_table(vmaf_bump=0.01), "zstd", None),
            ("tenbit", corpus_table(enc_pix_fmt="yuv420p10le"), "zstd", None),
            ("reordered", base.take([1, 0, 2, 3, 4, 5]), "zstd", None),
            ("mixed", mixed, "zstd", None), ("mixed_groups", mixed, "snappy", 4)):
        paths[name] = tmp_path / f"{name}.parquet"
        pq.write_table(table, paths[name], compression=compression, row_group_size=group)
    digest = {name: corpus_sha256(p) for name, p in paths.items()}
    assert len({paths[n].read_bytes() for n in ("base", "retimed", "snappy", "groups")}) == 4
    assert digest["retimed"] == digest["base"] == digest["snappy"] == digest["groups"]
    assert digest["mixed"] == digest["mixed_groups"]
    assert len({digest["base"], digest["vmaf"], digest["tenbit"], digest["reordered"], digest["mixed"]}) == 5


def test_corpus_sha256_asks_the_columns_once_and_its_digest_is_the_code_befores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The identity read the file's footer once per content column it looked for (42 reads, 0.13 s of a LOSO's CPU on
    the demo corpus); the columns are asked once now (the count fails on the code before), and the digest is the one
    the code before computed for these rows (pinned: it passes there too)."""
    opened: list[Path] = []
    real = schema.parquet_columns

    def counted(path: Path, label: str | None = None) -> list[str]:
        opened.append(path)
        return real(path, label)

    monkeypatch.setattr(schema, "parquet_columns", counted)
    path = tmp_path / "c.parquet"
    pq.write_table(corpus_table(), path)
    assert corpus_sha256(path) == "b3f4994b4da6c9fd8df1d62acd785bb046127fe6ca7fea74462b9fb04bf61abc"
    assert opened == [path]


def test_corpus_sha256_of_an_unreadable_file_is_a_clean_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match=r"bad\.parquet: not a readable parquet file"):
        corpus_sha256(bad)


# -- merging schema-1 and schema-2 shards ---------------------------------------------------------

def test_a_schema_1_shard_merges_with_enc_pix_fmt_filled_and_says_so(tmp_path: Path) -> None:
    old = corpus_table().drop_columns(["enc_pix_fmt", *RUNG_COLUMNS])
    # one bash-kit row merged into that schema-1 corpus: no reference format, so no encoded one either
    old = pa.concat_tables([old, corpus_table(1).drop_columns(["enc_pix_fmt", *RUNG_COLUMNS]).set_column(
        old.schema.get_field_index("pix_fmt"), "pix_fmt", pa.array([None], pa.string())).set_column(
        old.schema.get_field_index("src_sha256"), "src_sha256", pa.array(["b" * 64]))])
    pq.write_table(old, tmp_path / "old.parquet")
    new = corpus_table(enc_pix_fmt="yuv420p10le")  # the same frames, encoded at 10 bit: other rows, no conflict
    pq.write_table(new, tmp_path / "new.parquet")
    manifest = merge_files([tmp_path / "old.parquet", tmp_path / "new.parquet"], tmp_path / "m.parquet")
    merged = pq.read_table(tmp_path / "m.parquet")
    assert merged.column_names == list(COLUMNS) and merged.num_rows == 13 and manifest.conflicts.keys == 0
    counts = {k: v for k, v in zip(*pc.value_counts(merged["enc_pix_fmt"]).flatten(), strict=True)}
    assert {k.as_py(): v.as_py() for k, v in counts.items()} == {"yuv420p": 6, "yuv420p10le": 6, "": 1}
    entry = {i.name: i for i in manifest.inputs}
    assert entry["old.parquet"].upgraded == (
        "schema 1 (no enc_pix_fmt column): enc_pix_fmt filled with yuv420p on 6 row(s), since every schema-1 encode "
        "was 8-bit 4:2:0; left \"\" (not recorded) on 1 row(s) without a reference pix_fmt; schema 3 or older (no "
        "enc_width, enc_height, scaler_down, scaler_up): every row read as encoded at its reference's own size, with "
        "no scaler")
    assert entry["new.parquet"].upgraded is None
    written = json.loads((tmp_path / "m.manifest.json").read_text())
    assert written["schema_version"] == SCHEMA_VERSION and written["enc_pix_fmts"] == ["", "yuv420p", "yuv420p10le"]
    by_name = {i["name"]: i for i in written["inputs"]}
    assert by_name["old.parquet"]["upgraded"].startswith("schema 1") and "upgraded" not in by_name["new.parquet"]
    assert written["key"][3] == "enc_pix_fmt"


def test_a_schema_3_shard_merges_with_a_ladder_as_its_native_rung(tmp_path: Path) -> None:
    """A shard of schema 3 (no rung columns) reads as encoded at its references' own size, a VideoToolbox row's cq
    as the -q:v it was encoded with; merged with a schema-4 shard of the same frames at native and half height, its
    rows are the native ones (duplicates), the half-height rows others, and the manifest says how it was read."""
    old = corpus_table().drop_columns(list(RUNG_COLUMNS))
    vt = corpus_table(1).drop_columns(list(RUNG_COLUMNS))
    vt = vt.set_column(vt.schema.get_field_index("encoder"), "encoder", pa.array(["h264_videotoolbox"]))
    vt = vt.set_column(vt.schema.get_field_index("quality_args"), "quality_args", pa.array(["-q:v 50 -realtime 0"]))
    pq.write_table(pa.concat_tables([old, vt]), tmp_path / "old.parquet")
    native = corpus_table()
    rung = {"enc_width": 32, "enc_height": 32, "scaler_down": "lanczos", "scaler_up": "bicubic"}
    half = corpus_table(vmaf_bump=-20)
    for name, value in (("enc_width", 64), ("enc_height", 64), ("scaler_down", ""), ("scaler_up", "")):
        native = native.set_column(native.schema.get_field_index(name), name,
                                   pa.array([value] * native.num_rows, native.schema.field(name).type))
    for name, value in rung.items():
        half = half.set_column(half.schema.get_field_index(name), name,
                               pa.array([value] * half.num_rows, half.schema.field(name).type))
    pq.write_table(pa.concat_tables([native, half]), tmp_path / "new.parquet")
    manifest = merge_files([tmp_path / "old.parquet", tmp_path / "new.parquet"], tmp_path / "m.parquet")
    merged = pq.read_table(tmp_path / "m.parquet").to_pandas()
    assert len(merged) == 13 and manifest.conflicts.keys == 0 and manifest.duplicates_dropped == 6
    assert sorted(merged.groupby(["enc_width", "enc_height", "scaler_down", "scaler_up"]).size().items()) == [
        ((32, 32, "lanczos", "bicubic"), 6), ((64, 64, "", ""), 7)]
    assert merged.loc[merged["encoder"] == "h264_videotoolbox", "cq"].tolist() == [50]
    assert manifest.rungs == ["native", "0.50x"] and manifest.grids == {"h264_videotoolbox": [50], "libx264": [25]}
    entry = {i.name: i for i in manifest.inputs}
    assert entry["old.parquet"].upgraded == (
        "schema 3 or older (no enc_width, enc_height, scaler_down, scaler_up): every row read as encoded at its "
        "reference's own size, with no scaler; cq of 1 VideoToolbox row(s) set to the -q:v they were encoded with")
    assert manifest.key[4:8] == list(RUNG_COLUMNS)
    # trained on as it is (run --corpus): the same reading of the VideoToolbox row
    trained = training_corpus(tmp_path / "old.parquet")[0]
    assert trained.loc[trained["encoder"] == "h264_videotoolbox", "cq"].tolist() == [50]


def test_a_file_missing_more_than_the_new_column_is_still_refused(tmp_path: Path) -> None:
    pq.write_table(corpus_table().drop_columns(["enc_pix_fmt", "device", *RUNG_COLUMNS]), tmp_path / "x.parquet")
    with pytest.raises(InputError, match="column 'device' is missing"):
        merge_files([tmp_path / "x.parquet"], tmp_path / "m.parquet")
