"""`corpus export`: a corpus as the lead's other tools read it (READERS), one JSON object per line: `upstream-jsonl` per
frame, `vmaftune` per encode. A key the kit has no value for is filled and said (`Fill`) in the record beside the file;
a figure it does not have is null, never a 0. One corpus gives the same bytes every time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from kit import __version__
from kit.corpus.commit import Output, check_replaceable
from kit.corpus.dedup import KEY, SORT_ORDER
from kit.corpus.inputs import LoadedInput
from kit.corpus.manifests import MergeManifest, ShardManifest
from kit.corpus.names import source_names
from kit.corpus.provenance import check_one_teacher
from kit.infra.clock import normalise_utc
from kit.infra.interrupts import check
from kit.infra.records import Record, keep
from kit.infra.rules import KIT_VERSION
from kit.infra.tree import Tree
from kit.media.libvmaf import Teacher
from kit.media.teachers import verifier_note

FORMATS = ("upstream-jsonl", "vmaftune")
# the canonical six as both readers name and order them (CANONICAL_6, CANONICAL6_FEATURES): their contract, a
# contract copy spelled here (tests/unit/test_model_contract.py checks it against kit.media.libvmaf.TABLE)
EXPORT_FEATURES: tuple[str, ...] = ("adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2")
# the loader's required keys, then the teacher (vmaf-tune's rows name it `vmaf_model`; the loader reads no more)
UPSTREAM_KEYS = ("src", "encoder", "cq", "frame_index", "vmaf", *EXPORT_FEATURES, "vmaf_model")
UPSTREAM_VOCAB = ("libx264", "libx265", "libsvtav1", "libvvenc", "libvpx-vp9", "h264_nvenc", "hevc_nvenc",
                  "av1_nvenc", "h264_qsv", "hevc_qsv", "av1_qsv")  # its ENCODER_VOCAB v2 ("unknown" besides)
VMAFTUNE_SCHEMA = 3
ENC_INTERNAL = ("enc_internal_qp_mean", "enc_internal_qp_std", "enc_internal_bits_mean", "enc_internal_bits_std",
                "enc_internal_mv_mean", "enc_internal_mv_std", "enc_internal_itex_mean", "enc_internal_ptex_mean",
                "enc_internal_intra_ratio", "enc_internal_skip_ratio")
ENCODE_KEY = tuple(k for k in KEY if k != "frame_index")  # one encode: its frames' rows
MERGE_KEY = ("src_sha256", "encoder", "preset", "cq")  # merge_corpora.py's _dedup_key, its crf the kit's cq
READERS = {"upstream-jsonl": "ai/scripts/train_fr_regressor_v2_ensemble_loso.py: _load_corpus",
           "vmaftune": "tools/vmaf-tune/src/vmaftune/__init__.py: CORPUS_ROW_KEYS (schema 3); "
                       "ai/scripts/merge_corpora.py: _validate_row"}
EXPORTED = Output(".jsonl", "an export is a JSON Lines file", "export", "corpus.jsonl",
                  lambda out: out.with_name(f"{out.name.removesuffix('.jsonl')}.export.json"), "export", "record")


@dataclass(frozen=True)
class Fill(Record):
    """A key the kit has no value for: what the export writes there, and why."""

    key: str
    value: str  # as JSON
    why: str


@dataclass(frozen=True)
class ExportRecord(Record):
    kind: str  # "export"
    format: str
    file: str
    sha256: str
    rows: int
    reader: str
    keys: list[str]
    source: str  # the corpus exported, as given
    source_sha256: str  # of its bytes
    teacher_model: str
    teacher_sha256: str
    fills: tuple[Fill, ...]
    notes: list[str]
    kit_version: str = field(metadata=keep(KIT_VERSION))


def ordered(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending") for c in SORT_ORDER if c in table.column_names])


def upstream_lines(table: pa.Table) -> Iterator[str]:
    """One JSON object per corpus row, UPSTREAM_KEYS in order; `src` the name of the row's content group."""
    shown = source_names(zip(table["src_sha256"].to_pylist(), table["src"].to_pylist(), strict=True))
    cols = {"src": [shown.get(c, c[:12]) for c in table["content"].to_pylist()],
            "encoder": table["encoder"].to_pylist(), "cq": table["cq"].to_pylist(),
            "frame_index": table["frame_index"].to_pylist(),
            **{c: table[c].to_numpy().astype(float).tolist() for c in ("vmaf", *EXPORT_FEATURES)},
            "vmaf_model": table["teacher_model"].to_pylist()}  # one teacher (check_one_teacher): a file's by name
    for i in range(table.num_rows):
        yield json.dumps({k: cols[k][i] for k in UPSTREAM_KEYS})


def upstream_notes(table: pa.Table) -> list[str]:
    unknown = sorted(set(pc.unique(table["encoder"]).to_pylist()) - set(UPSTREAM_VOCAB))
    notes = ["src is each row's content group (its folds are one per src): a content held by several sources, or "
             "two contents of one name, fold as the kit folds them",
             "upstream normalises cq to [0, 1] over the whole file (crf_norm), across encoder families whose scales "
             "differ; the kit normalises within each family"]
    if unknown:
        notes.append(f"{', '.join(unknown)}: not in upstream's encoder vocabulary (v2): its loader puts these rows "
                     "in the 'unknown' slot")
    if (rungs := len(pc.unique(table["enc_height"]))) > 1:
        notes.append(f"the rows hold {rungs} encode sizes (the resolution ladder): frames of one source, encoder and "
                     "cq at several rungs share src, encoder, cq and frame_index, and the loader keys nothing on "
                     "them, so it trains on every rung, as the kit does (the size is in the kit's corpus, not here)")
    return notes


UPSTREAM_FILLS: tuple[Fill, ...] = ()  # every key the loader needs is a corpus column


def manifest_time(loaded: LoadedInput) -> str:
    """When the rows were made, as vmaf-tune writes a timestamp (`...+00:00`); "" when nothing recorded it."""
    stamp = normalise_utc(loaded.recorded_utc)
    return stamp.removesuffix("Z") + "+00:00" if stamp else ""


def libvmaf_version(loaded: LoadedInput) -> str:
    """The libvmaf every row was scored with, when the corpus's manifest says one; else ""."""
    m = loaded.manifest
    if isinstance(m, ShardManifest):
        return m.libvmaf_version
    if isinstance(m, MergeManifest) and len({b.libvmaf_version for b in m.builds}) == 1:
        return m.builds[0].libvmaf_version
    return ""


def export_sha(source_sha256: str) -> str:
    """vmaf-tune's run_id (a uuid4's 32 hex digits there): one id per export, the same for the same corpus."""
    return hashlib.sha256(f"ensemble-kit export:{source_sha256}".encode()).hexdigest()[:32]


VMAFTUNE_FILLS = (
    ("encoder_version", "", "the kit does not record the encoder library's version; ffmpeg_version names the build"),
    ("extra_params", [], "the kit passes an encoder nothing beyond its preset and its quality mapping"),
    ("encode_path", "", "the kit does not keep its encodes (vmaf-tune writes \"\" too when it keeps none)"),
    ("score_time_ms", None, "the corpus rows do not keep the scoring time (each job's ledger does): unknown, null"),
    ("exit_status", 0, "every row of a kit corpus is of an encode and a scoring that succeeded"),
    ("clip_mode", "full", "the kit scores every frame of the whole clip"),
    ("hdr_transfer", "", "the kit scores the pictures as given and records no transfer: vmaf-tune's SDR value"),
    ("hdr_primaries", "", "as hdr_transfer"),
    ("hdr_forced", False, "as hdr_transfer"),
    ("shot_count", 0, "the kit detects no shots: vmaf-tune's value for 'shot detection unavailable'"),
    ("shot_avg_duration_sec", 0.0, "as shot_count"),
    ("shot_duration_std_sec", 0.0, "as shot_count"),
    *((k, 0.0, "the kit captures no encoder-internal statistics: vmaf-tune's value for an encoder that gives none "
                "(its hardware encoders)") for k in ENC_INTERNAL),
)


def vmaftune_fills(loaded: LoadedInput, encodes: pa.Table) -> tuple[Fill, ...]:
    """Every key of a vmaf-tune row the kit has no value for, with what it writes and why."""
    stamp, libvmaf = manifest_time(loaded), libvmaf_version(loaded)
    fills = [Fill("run_id", json.dumps(export_sha(loaded.sha256)),
                  "the kit has no run id: one per export, from the corpus file's sha256 (vmaf-tune: a uuid4)"),
             Fill("timestamp", json.dumps(stamp), "when the corpus's manifest says its rows were made" if stamp else
                  "no manifest beside the corpus says when its rows were made"),
             Fill("src", '"<the source\'s name>"', "vmaf-tune writes the reference's path; the kit's rows keep the "
                                                    "source's name (told apart from another of the same name)"),
             Fill("vmaf_binary_version", json.dumps(libvmaf), "the libvmaf version the corpus's manifest names" if
                  libvmaf else "the corpus's manifest names no single libvmaf version (or there is none)")]
    fills += [Fill(k, json.dumps(v), why) for k, v, why in VMAFTUNE_FILLS]
    fills += unknown_fills(encodes)
    if pc.any(pc.not_equal(encodes["teacher_sha256"], "")).as_py():
        fills.append(Fill("vmaf_model", json.dumps(str(encodes["teacher_model"][0])),
                          "a --teacher model file, by its name (vmaf-tune writes path=<file>); its sha256 is this "
                          "record's teacher_sha256"))
    return tuple(fills)


# the figures of a vmaf-tune row that come from a corpus column some rows lack (bash-kit JSONL records no size, rate,
# pixel format or bitrate): key -> (the column, what it is)
FROM_COLUMNS = {"width": ("width", "reference width"), "height": ("height", "reference height"),
                "framerate": ("fps", "reference frame rate"), "pix_fmt": ("pix_fmt", "reference pixel format"),
                "bitrate_kbps": ("bitrate_kbps", "bitrate")}


def unknown(value: object) -> bool:
    """A figure the corpus does not have: null, or the 0 (or "") an older reader filled in for one."""
    return value is None or value == 0 or value == ""


def unknown_fills(encodes: pa.Table) -> list[Fill]:
    """The keys written as null where the corpus lacks the figure, and duration_s, which no column holds."""
    total = encodes.num_rows
    fills = [Fill(key, "null", f"{n} of {total} encode(s) have no {what} in the corpus (bash-kit JSONL records none): "
                  f"unknown, so null; the others: the corpus's {column}")
             for key, (column, what) in FROM_COLUMNS.items() if (n := sum(map(unknown, encodes[column].to_pylist())))]
    n = sum(map(unknown, encodes["fps"].to_pylist()))
    fills.append(Fill("duration_s", '"<frames / framerate>"', "the corpus keeps no duration: the encode's frame count "
                      "over the reference's frame rate" + (f"; null for the {n} of {total} encode(s) with no frame "
                                                           "rate" if n else "")))
    return fills


def encode_table(table: pa.Table) -> pa.Table:
    """One row per encode (ENCODE_KEY): its first frame's columns, the frame count, the means and (ddof 0) stds."""
    stats = [(c, "mean") for c in ("vmaf", *EXPORT_FEATURES)] + [(c, "stddev") for c in EXPORT_FEATURES]
    firsts = ["src", "width", "height", "pix_fmt", "fps", "enc_bytes", "bitrate_kbps", "enc_time_ms",
              "ffmpeg_version", "teacher_model", "teacher_sha256", "content"]
    grouped = table.group_by(list(ENCODE_KEY), use_threads=False).aggregate(
        [*stats, ("frame_index", "count"), *((c, "first") for c in firsts)])
    return ordered(grouped.rename_columns([n.removesuffix("_first") for n in grouped.column_names]))


def vmaftune_rows(encodes: pa.Table, loaded: LoadedInput) -> Iterator[dict[str, object]]:
    fills = {"run_id": export_sha(loaded.sha256), "timestamp": manifest_time(loaded),  # as vmaftune_fills says
             "vmaf_binary_version": libvmaf_version(loaded), **{k: v for k, v, _ in VMAFTUNE_FILLS}}
    names = source_names(zip(encodes["src_sha256"].to_pylist(), encodes["src"].to_pylist(), strict=True))
    cols = {c: encodes[c].to_pylist() for c in encodes.column_names}
    def known(column: str, i: int, kind: type[int] | type[float] | type[str]) -> object:
        value = cols[column][i]
        return None if unknown(value) else kind(value)  # never a 0 for a figure the corpus does not have

    for i in range(encodes.num_rows):
        fps = known("fps", i, float)
        frames = int(cols["frame_index_count"][i])
        yield {**fills, "schema_version": VMAFTUNE_SCHEMA, "src": names[cols["src_sha256"][i]],
               "src_sha256": cols["src_sha256"][i], "width": known("width", i, int),
               "height": known("height", i, int), "pix_fmt": known("pix_fmt", i, str), "framerate": fps,
               "duration_s": frames / fps if isinstance(fps, float) else None, "encoder": cols["encoder"][i],
               "preset": cols["preset"][i] or "", "crf": int(cols["cq"][i]),
               "encode_size_bytes": int(cols["enc_bytes"][i]), "bitrate_kbps": known("bitrate_kbps", i, float),
               "encode_time_ms": float(cols["enc_time_ms"][i]), "vmaf_score": float(cols["vmaf_mean"][i]),
               "vmaf_model": cols["teacher_model"][i], "ffmpeg_version": cols["ffmpeg_version"][i] or "",
               **{f"{c}_mean": float(cols[f"{c}_mean"][i]) for c in EXPORT_FEATURES},
               **{f"{c}_std": float(cols[f"{c}_stddev"][i]) for c in EXPORT_FEATURES}}


# what vmaf-tune's readers do with these rows that a lead should know
VMAFTUNE_NOTES = (
    "vmaf_score is the mean of the encode's frame scores (libvmaf's pooled mean, as vmaf-tune reads it); "
    "<feature>_std is the population standard deviation over its frames (libvmaf's JSON gives none, so "
    "vmaf-tune's own rows carry NaN there)",
    "merge_corpora.py's key (src_sha256, encoder, preset, crf) holds no vmaf_model: merged with an export of "
    "the same encodes under another teacher, it keeps the rows of the input given first and drops the "
    "others as duplicates")


def kept_apart(encodes: pa.Table) -> tuple[pa.Table, list[str]]:
    """Of the encodes sharing a MERGE_KEY the tallest, then the first, each with its own width and height, and a
    note for each kind left out."""
    keys = list(zip(*(encodes[c].to_pylist() for c in MERGE_KEY), strict=True))
    heights = [h or 0 for h in encodes["enc_height"].to_pylist()]
    best: dict[tuple[object, ...], int] = {}
    for i, key in enumerate(keys):
        if key not in best or heights[i] > heights[best[key]]:
            best[key] = i
    rungs = sum(heights[i] != heights[best[key]] for i, key in enumerate(keys))
    twins = len(keys) - len(best) - rungs
    notes = [f"{rungs} encode(s) at a smaller ladder rung are left out: merge_corpora.py keys a row on (src_sha256, "
             "encoder, preset, crf), and a rung differs from its clip's own-size encode in none of them (one source, "
             "scored against the same full-size reference, at one encoder, preset and crf), so a merge would keep one "
             "of the two under the other's label; each row is the tallest encode of its key, with its own width and "
             "height (upstream-jsonl keeps every rung)"] if rungs else []
    if twins:
        notes.append(f"{twins} encode(s) that differ from another only in device or encode depth are left out, for "
                     "the same reason (merge_corpora.py's key holds neither): the first in the corpus's order is kept")
    table = encodes.take(sorted(best.values()))
    for size, own in (("width", "enc_width"), ("height", "enc_height")):  # an older corpus's 0: the reference's
        known = pc.greater(pc.fill_null(table[own], 0), 0)
        value = pc.cast(pc.if_else(known, table[own], table[size]), table.schema.field(size).type)
        table = table.set_column(table.column_names.index(size), size, value)
    return table, notes


def export_corpus(tree: Tree, loaded: LoadedInput, fmt: str, out: Path) -> ExportRecord:
    """Write `loaded` (one teacher: refused otherwise) as `fmt` to `out` and its record beside it."""
    check_one_teacher(loaded.table, loaded.path)
    table = ordered(loaded.table)
    if fmt == "upstream-jsonl":
        lines, fills, notes, keys = upstream_lines(table), UPSTREAM_FILLS, upstream_notes(table), list(UPSTREAM_KEYS)
        rows = table.num_rows
    else:
        encodes, left_out = kept_apart(encode_table(table))
        lines = (json.dumps(row, sort_keys=True) for row in vmaftune_rows(encodes, loaded))  # as its write_jsonl
        fills, notes = vmaftune_fills(loaded, encodes), [*VMAFTUNE_NOTES, *left_out]
        keys, rows = sorted(next(vmaftune_rows(encodes.slice(0, 1), loaded))), encodes.num_rows
    teacher = Teacher(table["teacher_model"][0].as_py(), "", table["teacher_sha256"][0].as_py() or "")
    notes += [n for n in [verifier_note(teacher)] if n]
    for target in (out, EXPORTED.beside(out)):  # a link planted at either is refused before any write
        tree.check_target(target)
    with tree.atomic(out) as fh:
        for line in lines:
            check()  # a row at a time, made in Python: a stop signal between two (kit/infra/interrupts.py)
            fh.write(line.encode() + b"\n")
        check_replaceable(out, EXPORTED)  # again, just before the rename: a file put at -o meanwhile is kept
    record = ExportRecord("export", fmt, out.name, tree.sha256(out), rows, READERS[fmt], keys, loaded.path,
                          loaded.sha256, teacher.name, teacher.sha256, fills, notes, __version__)
    tree.write_json(EXPORTED.beside(out), record.to_json())
    return record

