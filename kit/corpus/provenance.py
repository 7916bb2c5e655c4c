"""What a corpus was scored with: its teacher models and its ffmpeg/libvmaf builds, with their row counts.

A corpus trains one teacher: `merge` refuses inputs of different teachers unless `--mixed-teachers` is given
(then its manifest's warnings say so, and the verdict names every teacher). Builds may mix, with a warning:
`merge` and `corpus info` list them.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from kit.corpus.manifests import BuildRows, CorpusManifest, MergeManifest, ShardManifest
from kit.errors import InputError

MIXED_TEACHERS_FLAG = "--mixed-teachers"
NOT_RECORDED = "(not recorded)"


def _counts(table: pa.Table, columns: list[str]) -> list[tuple[tuple[str, ...], int]]:
    """(the values of `columns`, rows) for each combination present; a null reads as ""."""
    grouped = table.select(columns).group_by(columns).aggregate([([], "count_all")])
    values = [[v if v is not None else "" for v in grouped[c].to_pylist()] for c in columns]
    return [(tuple(str(col[i]) for col in values), int(n)) for i, n in enumerate(grouped["count_all"].to_pylist())]


def teacher_rows(table: pa.Table) -> dict[str, int]:
    """Each teacher model of the rows and its row count, by name."""
    return dict(sorted((key[0], n) for key, n in _counts(table, ["teacher_model"])))


def teachers_line(rows: dict[str, int]) -> str:
    return ", ".join(f"{t or NOT_RECORDED} ({n} rows)" for t, n in rows.items())


def check_teachers(names: Sequence[str], tables: Sequence[pa.Table], mixed: bool) -> list[str]:
    """Inputs (by name, with their rows) of more than one teacher: refused (exit 2, naming each teacher and the
    inputs that hold it) unless `mixed`; then one warning line. No warning for one teacher."""
    held: dict[str, list[str]] = {}
    total: dict[str, int] = {}
    for name, table in zip(names, tables, strict=True):
        for teacher, n in teacher_rows(table).items():
            held.setdefault(teacher, []).append(name)
            total[teacher] = total.get(teacher, 0) + n
    if len(held) < 2:
        return []
    which = "; ".join(f"{t or NOT_RECORDED} in {', '.join(held[t])}" for t in sorted(held))
    if not mixed:
        raise InputError(f"the inputs were scored by {len(held)} different teacher models: {which}; a corpus trains "
                         "one teacher, so nothing was written",
                         hint=f"merge the inputs of one teacher, or pass {MIXED_TEACHERS_FLAG} to merge them anyway "
                              "(the merge manifest and the verdict then name every teacher)")
    return [f"{MIXED_TEACHERS_FLAG}: rows of {len(held)} teacher models merged into one corpus: "
            f"{teachers_line(dict(sorted(total.items())))}; {which}"]


def _build_of(manifest: CorpusManifest | None, version: str) -> tuple[str, str]:
    """(ffmpeg build line, libvmaf version) of an input's rows of ffmpeg `version`, from its manifest."""
    if isinstance(manifest, ShardManifest):  # one box, one ffmpeg: every row of a shard is its build
        return manifest.ffmpeg.build, manifest.libvmaf_version
    if isinstance(manifest, MergeManifest):
        known = {(b.ffmpeg_build, b.libvmaf_version) for b in manifest.builds if b.ffmpeg_version == version}
        if len(known) == 1:
            return known.pop()
    return "", ""


def build_rows(table: pa.Table, manifests: Sequence[CorpusManifest | None]) -> tuple[BuildRows, ...]:
    """The builds of the rows with their counts. `manifests[i]` describes the input whose rows carry `_input` i
    (a table without `_input` is one input's)."""
    if "_input" not in table.column_names:
        table = table.append_column("_input", pa.array([0] * table.num_rows, pa.int32()))
    found: dict[tuple[str, str, str], int] = {}
    for (source, version), n in _counts(table, ["_input", "ffmpeg_version"]):
        build, libvmaf = _build_of(manifests[int(source)], version)
        found[(version, build, libvmaf)] = found.get((version, build, libvmaf), 0) + n
    return tuple(BuildRows(v, b, lv, n) for (v, b, lv), n in sorted(found.items()))


def build_warnings(builds: Sequence[BuildRows]) -> list[str]:
    """One line when a corpus mixes builds (their scores may differ slightly)."""
    if len(builds) < 2:
        return []
    return [f"the corpus mixes {len(builds)} ffmpeg/libvmaf builds: "
            + "; ".join(f"{b.label}: {b.rows} rows" for b in builds)
            + " (libvmaf's scores may differ slightly between builds)"]
