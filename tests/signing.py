"""Signed results tarballs made cheaply for the merge's tests (issue 96): a real run's corpus (its shard and manifest,
from its out-dir or its tarball), cut to some of its clips and given the box id and the stamps a test names, bundled
again by the kit's own writer and signed by the kit's own signer with the key in a cache of the test's: a box of its
own (a cache wiped is a new folder). What the lead then does with it is the real `verify` and `merge`."""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kit.bundle.tarball import write_results_tarball
from kit.corpus.manifests import corpus_sha256
from kit.infra.keys import sign_manifest
from kit.infra.tree import Tree
from kit.rundir import LAYOUT

SHARD, SHARD_MANIFEST = LAYOUT.shard.as_posix(), LAYOUT.shard_manifest.as_posix()


def stamp(days_back: float = 0.0) -> datetime:
    """Now, or `days_back` days before: a box's clock."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_back)


def corpus_of(source: Path, work: Path) -> Path:
    """The folder holding 02_corpus/shard.parquet and its manifest: an out-dir's own, or a tarball's, extracted."""
    if source.is_dir():
        return source
    with tarfile.open(source) as tar:
        tar.extractall(work, filter="data")
    (top,) = work.iterdir()
    return top


def corpus_tarball(source: Path, dest_dir: Path, box: Path, box_id: str, clips: Sequence[str] | None = None,
                   made: datetime | None = None, part: str = "") -> Path:
    """A corpus-only results tarball of box `box_id` in `dest_dir`, signed by the key in the cache folder `box` as its
    next run: `source`'s shard (an out-dir, or a results tarball) cut to the sources named `clips` (all by default),
    its rows and manifest of box `box_id`, made at `made` (the box's clock: now by default)."""
    when = made or stamp()
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        top = corpus_of(source, Path(tmp) / "in")
        table = pq.read_table(top / SHARD)
        if clips is not None:
            table = table.filter(pc.is_in(table["src"], value_set=pa.array(list(clips))))
        table = table.set_column(table.schema.get_field_index("box_id"), "box_id",
                                 pa.array([box_id] * table.num_rows, table.schema.field("box_id").type))
        parts = Path(tmp) / "out"
        (parts / SHARD).parent.mkdir(parents=True)
        pq.write_table(table, parts / SHARD)
        doc = json.loads((top / SHARD_MANIFEST).read_text())
        kept = set(pc.unique(table["src_sha256"]).to_pylist())
        doc.update(box_id=box_id, rows=table.num_rows, created_at_utc=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   sources=[s for s in doc["sources"] if s["src_sha256"] in kept],
                   left_out=[{**u, "box_id": box_id} for u in doc.get("left_out", [])],
                   corpus_sha256=corpus_sha256(parts / SHARD))
        with Tree.open(parts) as tree:
            doc["sha256"] = tree.sha256(parts / SHARD)
        (parts / SHARD_MANIFEST).write_text(json.dumps(doc, indent=2))
        utc = when.strftime("%Y%m%dT%H%M%SZ")
        stem = f"results-{box_id}-{utc}"
        dest = dest_dir / f"{stem}.tar.gz"
        n = 2
        while dest.exists():  # two runs in one second: told apart by name, as the bundle's folder would be
            dest, n = dest_dir / f"{stem}-{n}.tar.gz", n + 1
        meta: dict[str, object] = {"box_id": box_id, "contents": "corpus", "created_utc": utc,
                                   "corpus_sha256": doc["corpus_sha256"]}
        with Tree.open(dest_dir) as out, Tree.open(box) as cache:
            write_results_tarball(out, dest, stem, {SHARD: parts / SHARD, SHARD_MANIFEST: parts / SHARD_MANIFEST},
                                  meta, sign=lambda document: sign_manifest(document, box_id, part, cache))
    return dest


def members(tarball: Path, work: Path) -> Path:
    """The tarball's top folder, extracted into `work`."""
    with tarfile.open(tarball) as tar:
        tar.extractall(work, filter="data")
    (top,) = work.iterdir()
    return top


def tarred(top: Path, dest: Path) -> Path:
    """`top` (a results tarball's folder, as extracted) packed again as it is: no sum made again, no signature."""
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(top, arcname=top.name)
    return dest
