"""The size limits on what other people send, checked before anything is extracted or read, each far above what the
kit writes and far below what would hurt a box (docs/reference/files.md lists them).
"""

from __future__ import annotations

GIB = 1 << 30
MIB = 1 << 20

# results tarballs (kit.infra.archive): a real one holds a few dozen files of a few MB each
MAX_MEMBERS = 2_000  # files and folders in one tarball
MAX_MEMBER_BYTES = 2 * GIB  # one member's size as extracted (a sparse member's real size)
MAX_TOTAL_BYTES = 4 * GIB  # all members together, as extracted
MAX_HEADER_BYTES = 1 * MIB  # a member's extended header (a long name, PAX records): a few hundred bytes
MAX_RATIO = 100  # extracted bytes per byte of the tarball (parquet and ONNX barely compress)...
RATIO_FLOOR_BYTES = 64 * MIB  # ...checked once the members add up to more than this
MAX_TRAILER_BYTES = 16 * MIB  # zeros after the end block: tar pads its last record (10 KiB; 2 MiB at -b 4096)

# corpus files (kit.infra.parquet, kit.corpus.jsonl, kit.corpus.merge)
# rows in one corpus file, and in one merge: what a footer may declare, past the 45,000,000 rows of the 150,000
# contents upstream plans (x 300); whether a box can hold them is each command's own check (kit.steps.memory,
# kit.corpus.merge.check_memory)
MAX_CORPUS_ROWS = 60_000_000
MAX_PARQUET_BYTES = 4 * GIB  # the footer's uncompressed size of the columns read
MAX_JSONL_BYTES = 2 * GIB  # a bash-kit JSONL file

# JSON documents (kit.infra.outside): the kit's largest, a verdict of 1,000 sources, is a few MB and nests 6 deep
MAX_JSON_BYTES = 64 * MIB
MAX_JSON_DEPTH = 64  # arrays and objects within each other (json recurses once per level)
# the kit's own records whose per-fold and per-source lists grow with the union, read back (the verdict, LOSO's seed
# reports and its baselines; and as a tarball's members): 75, 8.4 and 34 MB at 10,000 contents, 375, 42 and 171 MB at
# 50,000 (bench/README.md#step-memory); a tarball's member is bounded alike (MAX_MEMBER_BYTES)
MAX_GROWING_JSON_BYTES = 2 * GIB
MAX_TEACHER_BYTES = 16 * MIB  # a --teacher model file (kit.media.teachers): Netflix's v1 models are about 15 KiB

# what the kit's own records hold, read back (kit.infra.rules' COUNT, SECONDS): far above any run, and within what a
# float holds exactly and a date can be added to
MAX_RECORD_COUNT = 10**15  # a count (rows, jobs, frames, bytes) or an index
MAX_RECORD_SECONDS = 1e9  # a duration in seconds (about 31 years)
MAX_RECORD_FIGURE = 1e12  # a figure with no bound of its own (a miss in VMAF points, a ratio): past any the kit makes

# a killed command's temporaries, whatever their process, once untouched this long (a pid may be recycled)
STALE_TEMP_S = 6 * 3600


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB': the unit a person reads a limit in."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
