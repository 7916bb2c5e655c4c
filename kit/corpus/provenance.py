"""What a corpus was scored with: its teachers (one per corpus: `merge` and training refuse several) and its
ffmpeg/libvmaf builds (which may mix, with a warning), with their row counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from kit.corpus.manifests import BuildRows, CorpusManifest, MergeManifest, ShardManifest
from kit.errors import InputError
from kit.media.libvmaf import Teacher

NOT_RECORDED = "(not recorded)"
ONE_TEACHER_HINT = ("merge the inputs of each teacher into a corpus of its own (corpus info names an input's teacher); "
                    "to train on another teacher, score the clips again with it (`run --teacher`)")


def _counts(table: pa.Table, columns: list[str]) -> list[tuple[tuple[str, ...], int]]:
    """(the values of `columns`, rows) for each combination present; a null reads as ""."""
    grouped = table.select(columns).group_by(columns).aggregate([([], "count_all")])
    values = [[v if v is not None else "" for v in grouped[c].to_pylist()] for c in columns]
    return [(tuple(str(col[i]) for col in values), int(n)) for i, n in enumerate(grouped["count_all"].to_pylist())]


def teacher_rows(table: pa.Table) -> dict[str, int]:
    """Each teacher of the rows (Teacher.label) and its row count."""
    columns = ["teacher_model", *(["teacher_sha256"] if "teacher_sha256" in table.column_names else [])]
    found: dict[str, int] = {}
    for key, n in _counts(table, columns):
        label = Teacher(key[0], "", key[1] if len(key) > 1 else "").label if key[0] else ""
        found[label] = found.get(label, 0) + n
    return dict(sorted(found.items()))


def teachers_line(rows: dict[str, int]) -> str:
    return ", ".join(f"{t or NOT_RECORDED} ({n} rows)" for t, n in rows.items())


def check_teachers(names: Sequence[str], tables: Sequence[pa.Table]) -> None:
    """Inputs of more than one teacher: refused (exit 2), naming each teacher and its inputs."""
    held: dict[str, list[str]] = {}
    for name, table in zip(names, tables, strict=True):
        for teacher in teacher_rows(table):
            held.setdefault(teacher, []).append(name)
    if len(held) > 1:
        which = " and ".join(f"{t or NOT_RECORDED} (in {', '.join(held[t])})" for t in sorted(held))
        raise InputError(f"the inputs were scored by {len(held)} different teachers: {which}; a corpus trains one "
                         "teacher, so nothing was written", hint=ONE_TEACHER_HINT)


def check_one_teacher(table: pa.Table, label: str) -> None:
    """A corpus to train on of several teachers is refused, naming each (exit 2)."""
    rows = teacher_rows(table)
    if len(rows) > 1:
        raise InputError(f"{label}: its rows were scored by {len(rows)} different teachers: {teachers_line(rows)}; a "
                         "proxy learns one teacher", hint=ONE_TEACHER_HINT)


def _build_of(manifest: CorpusManifest | None, version: str) -> tuple[str, str]:
    """(ffmpeg build line, libvmaf version) of an input's rows of ffmpeg `version`, from its manifest."""
    if isinstance(manifest, ShardManifest):
        return manifest.ffmpeg.build, manifest.libvmaf_version
    if isinstance(manifest, MergeManifest):
        known = {(b.ffmpeg_build, b.libvmaf_version) for b in manifest.builds if b.ffmpeg_version == version}
        if len(known) == 1:
            return known.pop()
    return "", ""


def build_rows(table: pa.Table, manifests: Sequence[CorpusManifest | None]) -> tuple[BuildRows, ...]:
    """The builds of the rows with their counts; `manifests[i]` describes the rows of `_input` i."""
    if "_input" not in table.column_names:
        table = table.append_column("_input", pa.array([0] * table.num_rows, pa.int32()))
    found: dict[tuple[str, str, str], int] = {}
    for (source, version), n in _counts(table, ["_input", "ffmpeg_version"]):
        build, libvmaf = _build_of(manifests[int(source)], version)
        found[(version, build, libvmaf)] = found.get((version, build, libvmaf), 0) + n
    return tuple(BuildRows(v, b, lv, n) for (v, b, lv), n in sorted(found.items()))


def build_warnings(builds: Sequence[BuildRows]) -> list[str]:
    return [f"the corpus mixes {len(builds)} ffmpeg/libvmaf builds: "
            + "; ".join(f"{b.label}: {b.rows} rows" for b in builds)
            + " (libvmaf's scores may differ slightly between builds)"] if len(builds) > 1 else []
