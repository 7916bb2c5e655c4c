"""The real encodes the kit carries (kit/model/data/realrows.csv; docs/teachers.md, "The public encodes the kit
carries"): whole public clips of Debian packages and PyPI wheels, each fetched by its sha256
(tests/data/publicclips.toml), encoded with libx264, libx265 and SVT-AV1 at vmaf-tune's CRFs and scored by libvmaf
with vmaf_v0.6.1 (`python bench/bench_unseen.py --public ... --write-rows`), one row per encode: its first 5 s's and
its whole mean canonical six, its mean teacher score and its frames' spread of unclipped scores. They teach the
student's spread (kit.model.spread) beside the box's own encodes, and are held out by content like them in the
floor's choice (kit.model.floor); no network trains on them. The file is in the kit (about 60 kB): a box with no
network has them. A teacher other than theirs, or a file that does not read, leaves the box's own encodes alone, the
reason said in the verdict's `correction.real`."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kit.infra.files import sha256_file
from kit.media.libvmaf import FEATURES

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

FILE = Path(__file__).resolve().parent / "data" / "realrows.csv"
TEACHER = "vmaf_v0.6.1"  # what scored them
# `source_sha256`: the clip's file's, as a corpus names its source (src_sha256): a box holding the same clip holds
# that content itself, and the floor leaves the public one out
KEYS = ("content", "package", "source_sha256", "encoder", "crf", "frames", "window_frames", "teacher", "spread")
WINDOW = tuple(f"w_{f}" for f in FEATURES)  # the first 5 s's mean features, as vmaf-tune samples
WHOLE = tuple(f"m_{f}" for f in FEATURES)  # the whole encode's
COLUMNS = (*KEYS, *WINDOW, *WHOLE)
READ, OTHER_TEACHER, MISSING, DAMAGED = "read", "other-teacher", "missing", "damaged"
STATUSES = (READ, OTHER_TEACHER, MISSING, DAMAGED)
# what each status says (the summary's and the report's words; the box's own encodes alone but where read)
SAID = {READ: "{encodes} public encodes of {contents} contents the kit carries, beside the box's own",
        OTHER_TEACHER: f"the kit's public encodes were scored by {TEACHER}, not this teacher: the box's own alone",
        MISSING: "the kit's public encodes (kit/model/data/realrows.csv) are not in this kit: the box's own alone",
        DAMAGED: "the kit's public encodes (kit/model/data/realrows.csv) do not read: the box's own alone"}
HEADER = ("# kit.model.realrows: whole public clips' encodes, one a row (docs/teachers.md, \"The public encodes the "
          f"kit carries\"); teacher {TEACHER}; spread: the standard deviation of the frames' unclipped scores\n")


@dataclass(frozen=True)
class RealRows:
    """The shipped encodes as the floor reads them."""

    frame: pd.DataFrame  # COLUMNS
    sha256: str  # of the file: in LOSO's fingerprint

    @property
    def contents(self) -> np.ndarray:
        return self.frame["content"].to_numpy(dtype=str)

    def without(self, sources: set[str]) -> tuple[RealRows, int]:
        """These rows less every content whose clip is one of `sources` (a box's src_sha256): the box holds it
        itself; and how many contents were left out."""
        mine = self.frame["source_sha256"].astype(str).isin(sources)
        return RealRows(self.frame[~mine].reset_index(drop=True), self.sha256), int(self.frame.loc[mine,
                                                                                                 "content"].nunique())

    def window(self) -> np.ndarray:
        return self.frame[list(WINDOW)].to_numpy(dtype=float)

    def whole(self) -> np.ndarray:
        return self.frame[list(WHOLE)].to_numpy(dtype=float)


PUBLIC = "public:"  # a public content as the floor's tables name it (kit.model.floor), apart from the box's own


def content_names() -> tuple[str, ...]:
    """The public contents the kit carries, as the floor's tables name them (`public:Megamind`): the kinds a sent
    table's `content` may hold beside the box's own (kit.bundle.catalogue); none where the file is not there."""
    if not FILE.is_file():
        return ()
    with FILE.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return tuple(sorted({PUBLIC + row["content"] for row in rows if row.get("content")}))


def file_sha256() -> str:
    """The shipped file's sha256, "" where it is not there (LOSO's fingerprint)."""
    return sha256_file(FILE) if FILE.is_file() else ""


def shipped(teacher: str) -> tuple[RealRows | None, str]:
    """The shipped encodes for a LOSO of `teacher`, or None; and their status (STATUSES)."""
    import pandas as pd

    if teacher != TEACHER:
        return None, OTHER_TEACHER
    if not FILE.is_file():
        return None, MISSING
    try:
        frame = pd.read_csv(FILE, comment="#")
    except (OSError, ValueError):
        return None, DAMAGED
    if tuple(frame.columns) != COLUMNS or frame[list(COLUMNS[4:])].isna().any().any() or not len(frame):
        return None, DAMAGED
    return RealRows(frame, file_sha256()), READ
