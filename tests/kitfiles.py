"""Corpus files and results tarballs made by the kit's own writers, without running the pipeline.

For tests that damage them (flip bytes in a page, edit a manifest, build a bomb around them):
the shard is a real schema-1 parquet written by the merge's writer, the tarball a real one
written by kit.bundle.tarball with its manifest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kit.bundle.tarball import write_results_tarball
from kit.corpus.commit import write_corpus
from kit.corpus.schema import EXTRA_FEATURES, JOB_SCHEMA, TEACHER_FEATURES, with_content
from kit.infra.tree import Tree
from kit.rundir import LAYOUT, RunDir
from kit.verdict.document import Verdict
from tests.conftest import synthetic_corpus


def shard_table(n_src: int = 3, rows_per_src: int = 40, box: str = "boxa", seed: int = 0) -> pa.Table:
    df = synthetic_corpus(n_src, rows_per_src, seed)
    n = len(df)
    df["src_sha256"] = [f"{int(s[1:]) + 1000 * seed:064x}" for s in df["src"]]
    df["src"] = [f"{s}-{box}" for s in df["src"]]
    extra = {"preset": "medium", "quality_args": "-crf", "enc_bytes": np.full(n, 1000), "enc_time_ms": np.full(n, 5.0),
             "bitrate_kbps": np.full(n, 800.0), "width": np.full(n, 176), "height": np.full(n, 144),
             "fps": np.full(n, 25.0), "pix_fmt": "yuv420p", "enc_pix_fmt": "yuv420p", "box_id": box,
             "platform": "linux", "device": "cpu", "ffmpeg_version": "7.0", "teacher_model": "vmaf_v0.6.1",
             "teacher_sha256": "", "enc_width": np.full(n, 176), "enc_height": np.full(n, 144), "scaler_down": "",
             "scaler_up": ""}
    for k, v in extra.items():
        df[k] = v
    for k in (*EXTRA_FEATURES, *TEACHER_FEATURES):  # not measured: null
        df[k] = None
    return with_content(pa.Table.from_pandas(df[JOB_SCHEMA.names], schema=JOB_SCHEMA, preserve_index=False))


def teacher_scored(table: pa.Table, ffmpeg: str) -> pa.Table:
    """The table with its vmaf column as a box's corpus holds it: libvmaf's vmaf_v0.6.1 of the rows' six features
    (the model read from the ffmpeg as the loso step reads it), so the teacher's function the loso step proves on
    every row before it distils is the one that scored them."""
    from kit.media.libvmaf import FEATURES
    from kit.media.svr import builtin_model_text, parse_model

    model = parse_model(builtin_model_text(Path(ffmpeg), "vmaf_v0.6.1"), "vmaf_v0.6.1")
    df = table.to_pandas()
    df["vmaf"] = model.predict(df[list(FEATURES)].to_numpy(dtype=np.float64))
    return pa.Table.from_pandas(df, schema=table.schema, preserve_index=False)


def write_shard(path: Path, table: pa.Table | None = None) -> Path:
    """A shard written as the kit writes corpora (zstd, page checksums)."""
    with Tree.open(path.parent) as tree, tree.atomic(path) as fh:
        write_corpus(shard_table() if table is None else table, fh)
    return path


def results_tarball(dest: Path, shard: Path | None = None, box: str = "boxa") -> Path:
    """A results tarball holding a shard and its manifest, as the bundle step packs one."""
    work = dest.parent / f"{dest.name}.parts"
    shard = shard or write_shard(work / "shard.parquet", shard_table(box=box))
    side = work / "shard.manifest.json"
    work.mkdir(parents=True, exist_ok=True)
    side.write_text(json.dumps({"kind": "shard", "file": "shard.parquet", "box_id": box}))
    with Tree.open(Path(os.path.commonpath([dest.parent, shard.parent]))) as tree:
        write_results_tarball(tree, dest, f"results-{box}-20261122T000000Z",
                              {LAYOUT.shard.as_posix(): shard, LAYOUT.shard_manifest.as_posix(): side},
                              {"box_id": box, "created_utc": "2026-11-22T00:00:00Z"})  # ships no verdict: claims none
    return dest


def flip_data_page(path: Path, column: str = "vmaf", count: int = 8) -> None:
    """Flip bytes inside a column chunk's pages, leaving the footer (and so the schema) intact."""
    meta = pq.ParquetFile(path).metadata
    names = pq.ParquetFile(path).schema_arrow.names
    chunk = meta.row_group(0).column(names.index(column))
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    data = bytearray(path.read_bytes())
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    span = [p for p in range(start + 24, min(start + chunk.total_compressed_size, footer)) if p % 7 == 0][:count]
    assert span, "no page bytes to damage"
    for p in span:
        data[p] ^= 0xFF
    path.write_bytes(bytes(data))


# A libvmaf model file as small as one can be (tests write it; the kit ships none): an SVR over adm2 and vif_scale0
# with two support vectors, libvmaf's JSON layout. It scores a clean copy near 100 and a crushed one near 0, and
# works at any size (v1's CAMBI and SpEED do not, below about 320x240).
TINY_MODEL = {
    "param_dict": {"norm_type": "clip_0to1", "score_clip": [0.0, 100.0], "C": 4.0, "nu": 0.9, "gamma": 4.0},
    "model_dict": {
        "model_type": "LIBSVMNUSVR", "norm_type": "linear_rescale", "score_clip": [0.0, 100.0],
        "feature_names": ["VMAF_integer_feature_adm2_score", "VMAF_integer_feature_vif_scale0_score"],
        "feature_dict": {"VMAF_integer_feature": ["adm2", "vif_scale0"]},
        "slopes": [0.01, 1.0, 1.0], "intercepts": [0.0, 0.0, 0.0],
        "model": "svm_type nu_svr\nkernel_type rbf\ngamma 4\nnr_class 2\ntotal_sv 2\nrho 0\nSV\n"
                 "0.9 1:1.0 2:1.0 \n-0.3 1:0.2 2:0.2 \n",
    },
}


def write_tiny_model(path: Path) -> Path:
    """TINY_MODEL as a --teacher model file at `path` (its folders made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(TINY_MODEL))
    return path


def verdict_of(out: Path) -> Verdict:
    """The verdict an out-dir holds (PROMOTE.json or HOLD.json), read as the kit reads it."""
    found = RunDir(out).verdict_on_disk(Tree.open(out, make=False))
    assert found is not None
    return Verdict.from_json(json.loads(found[1].read_text()), str(found[1]))
