"""What a corpus was scored with: its teachers and its ffmpeg/libvmaf builds, with their row counts.

A corpus trains one teacher: a model's name and, for a --teacher model file, the file's sha256. `merge` refuses inputs
of different teachers, naming each, and training refuses a corpus that holds several. Builds may mix, with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from kit.corpus.manifests import BuildRows, CorpusManifest, MergeManifest, ShardManifest
from kit.errors import InputError
from kit.media.libvmaf import Teacher

NOT_RECORDED = "(not recorded)"
ONE_TEACHER_HINT = ("merge the inputs of each teacher into a corpus of its own (corpus info names an input's teacher); "
                    "to train on another teacher, score the clips again with --teacher")


def _counts(table: pa.Table, columns: list[str]) -> list[tuple[tuple[str, ...], int]]:
    """(the values of `columns`, rows) for each combination present; a null reads as ""."""
    grouped = table.select(columns).group_by(columns).aggregate([([], "count_all")])
    values = [[v if v is not None else "" for v in grouped[c].to_pylist()] for c in columns]
    return [(tuple(str(col[i]) for col in values), int(n)) for i, n in enumerate(grouped["count_all"].to_pylist())]


def teacher_rows(table: pa.Table) -> dict[str, int]:
    """Each teacher of the rows (Teacher.label: a built-in's name; a model file's name and sha256) and its row
    count; a table without `teacher_sha256` (schema 3 and older) was scored by built-ins."""
    columns = ["teacher_model", *(["teacher_sha256"] if "teacher_sha256" in table.column_names else [])]
    found: dict[str, int] = {}
    for key, n in _counts(table, columns):
        label = Teacher(key[0], "", key[1] if len(key) > 1 else "").label if key[0] else ""
        found[label] = found.get(label, 0) + n
    return dict(sorted(found.items()))


def teachers_line(rows: dict[str, int]) -> str:
    return ", ".join(f"{t or NOT_RECORDED} ({n} rows)" for t, n in rows.items())


def check_teachers(names: Sequence[str], tables: Sequence[pa.Table]) -> None:
    """Inputs (by name, with their rows) of more than one teacher: refused (exit 2) with one sentence naming each
    teacher and the inputs that hold it."""
    held: dict[str, list[str]] = {}
    for name, table in zip(names, tables, strict=True):
        for teacher in teacher_rows(table):
            held.setdefault(teacher, []).append(name)
    if len(held) > 1:
        which = " and ".join(f"{t or NOT_RECORDED} (in {', '.join(held[t])})" for t in sorted(held))
        raise InputError(f"the inputs were scored by {len(held)} different teachers: {which}; a corpus trains one "
                         "teacher, so nothing was written", hint=ONE_TEACHER_HINT)


def check_one_teacher(table: pa.Table, label: str) -> None:
    """A corpus to train on holds the rows of one teacher; one of several is refused, naming each (exit 2)."""
    rows = teacher_rows(table)
    if len(rows) > 1:
        raise InputError(f"{label}: its rows were scored by {len(rows)} different teachers: {teachers_line(rows)}; a "
                         "proxy learns one teacher", hint=ONE_TEACHER_HINT)


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
