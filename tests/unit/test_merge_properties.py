"""Merge properties on small synthetic corpora: order independence, idempotence, one row per key."""

from __future__ import annotations

import hashlib
import json
import tempfile
from itertools import permutations
from pathlib import Path

import hypothesis
import pyarrow as pa
import pyarrow.parquet as pq

from kit.corpus.merge import KEY, merge_files
from kit.corpus.schema import JOB_SCHEMA, with_content
from kit.errors import InputError
from kit.infra import typed
from kit.media.libvmaf import FEATURES

st = hypothesis.strategies
given = hypothesis.given  # as many examples as the tier asks (tests/conftest.py)

SRCS = ("s0", "s1", "s2")
KEYS = [(s, e, cq, f, d) for s in SRCS for e in ("libx264", "libx265") for cq in (25, 37) for f in range(3)
        for d in ("cpu-a", "cpu-b")]
NAMES = ("a.parquet", "b.parquet", "c.jsonl")


def _sha(src: str) -> str:
    return hashlib.sha256(src.encode()).hexdigest()


def _stable(*parts: object) -> int:
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:8], 16)


def _row(key: tuple[str, str, int, int, str], bump: float, noise: float) -> dict[str, object]:
    src, enc, cq, frame, device = key
    feats = {f: (_stable(key, f) % 997) / 997 for f in FEATURES}
    return {"src": src, "src_sha256": _sha(src), "encoder": enc, "preset": "medium", "quality_args": f"-crf {cq}",
            "cq": cq, "frame_index": frame, **feats, "vmaf": (_stable(key) % 1000) / 20.0 + bump,
            "enc_bytes": 1000 + cq,
            "enc_time_ms": noise, "bitrate_kbps": 1.0, "width": 64, "height": 64, "fps": 25.0, "pix_fmt": "yuv420p",
            "enc_pix_fmt": "yuv420p", "box_id": f"box-{device}", "platform": "linux", "device": device,
            "ffmpeg_version": "9",
            "teacher_model": "vmaf_v0.6.1"}


def _write(folder: Path, name: str, rows: list[dict[str, object]], stamp: str) -> Path:
    path = folder / name
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path
    pq.write_table(with_content(pa.Table.from_pylist(rows, schema=JOB_SCHEMA)), path)
    manifest = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "created_at_utc": stamp}
    path.with_name(path.stem + ".manifest.json").write_text(json.dumps(manifest))
    return path


# each input: a subset of the keys, each row maybe with its scores bumped (a conflict), and a noise value
inputs_strategy = st.lists(
    st.tuples(st.lists(st.sampled_from(range(len(KEYS))), min_size=1, max_size=12, unique=True),
              st.lists(st.booleans(), min_size=12, max_size=12),
              st.floats(0, 100, allow_nan=False),
              st.sampled_from(["2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z", ""])),
    min_size=2, max_size=3)


def _make(folder: Path, spec: list[tuple[list[int], list[bool], float, str]], conflicts: bool) -> list[Path]:
    paths = []
    for n, (keys, bumps, noise, stamp) in enumerate(spec):
        rows = [_row(KEYS[k], 0.5 * (n + 1) if conflicts and bump else 0.0, noise)
                for k, bump in zip(keys, bumps, strict=False)]
        paths.append(_write(folder, NAMES[n], rows, stamp))
    return paths


@given(inputs_strategy)
def test_order_and_repetition_do_not_change_the_bytes(spec: list[tuple[list[int], list[bool], float, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = _make(folder, spec, conflicts=False)
        outs = set()
        for i, order in enumerate([*permutations(paths), [*paths, paths[0]]]):
            out = folder / f"out{i}.parquet"
            merge_files(list(order), out)
            outs.add(out.read_bytes())
        assert len(outs) == 1
        table = pq.read_table(folder / "out0.parquet")
        keys = list(zip(*(table[c].to_pylist() for c in KEY), strict=True))
        assert len(keys) == len(set(keys))  # one row per key
        # rows that record no rung (null): encoded at their reference's 64x64, no scaler (kit.corpus.rungs)
        # a device in its typed form (kit.infra.typed.device): two names stay two
        wanted = {(_sha(KEYS[k][0]), KEYS[k][1], "medium", "yuv420p", 64, 64, "", "", *KEYS[k][2:4],
                   typed.device(KEYS[k][4]))
                  for keys_, _, _, _ in spec for k in keys_}
        assert set(keys) == wanted  # ... and every key of every input
        again = folder / "again.parquet"
        merge_files([folder / "out0.parquet", *paths], again)
        assert again.read_bytes() in outs  # idempotent


@given(inputs_strategy, st.sampled_from(["first", "newest"]))
def test_conflicts_are_refused_or_resolved_order_independently(
        spec: list[tuple[list[int], list[bool], float, str]], prefer: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = _make(folder, spec, conflicts=True)
        try:
            merge_files(paths, folder / "strict.parquet")
            strict_ok = True
        except InputError:
            strict_ok = False
        outs = set()
        for i, order in enumerate(permutations(paths)):
            out = folder / f"out{i}.parquet"
            manifest = merge_files(list(order), out, prefer)
            outs.add(out.read_bytes())
            assert (manifest.conflicts.keys == 0) == strict_ok
        assert len(outs) == 1
