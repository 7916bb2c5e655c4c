"""Atomic file writes and hashing.

Every output is written under a temporary name in the same folder and renamed
into place, so a kill at any instant leaves the old complete file or the new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_MARK = ".tmp-"
# mkstemp creates 0600 files; outputs get the mode a plain open() would give them
_UMASK = os.umask(0)
os.umask(_UMASK)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_json(obj: Any) -> str:
    return sha256_bytes(canonical_json(obj).encode())


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it into place on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_MARK + path.name + ".", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_json_object(path: Path) -> tuple[dict[str, Any] | None, str]:
    """A JSON object the kit wrote itself, checked, not trusted: (the object, "") or (None, why not).

    Missing, unreadable, cut short, not UTF-8, or valid JSON of another shape ([] or a string): the
    caller treats it as absent and rebuilds it. `why` is "missing" for a file that is not there.
    """
    try:
        data = read_json(path)
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None, f"unreadable ({type(exc).__name__})"
    if not isinstance(data, dict):
        return None, f"damaged (a JSON {type(data).__name__}, not an object)"
    return data, ""


def remove_temp_files(folder: Path, recursive: bool = True) -> int:
    """Delete temporaries a killed run left behind (in sub-folders too unless not recursive); returns how many."""
    if not folder.is_dir():
        return 0
    count = 0
    for p in (folder.rglob if recursive else folder.glob)(TMP_MARK + "*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            count += 1
    return count
