"""How a reference clip's container is read: directly (DIRECT_EXTS keep every packet's timestamp as written), or
(INTERMEDIATE_EXTS) through a lossless copy its one strict decode makes in the kit's cache, checked frame for frame."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, NamedTuple

from kit.errors import InputError, ToolError
from kit.infra.files import sha256_bytes
from kit.infra.invocation import kit_command
from kit.infra.proc import run_process
from kit.infra.shown import Spelled
from kit.infra.tree import Tree
from kit.media.argv import build_intermediate_argv, build_open_argv, build_verify_argv
from kit.media.decode import (
    DECODE_TIMEOUT_S,
    HASH_LINE,
    THUMBS_MAX_BYTES,
    MasterDecode,
    convert_command,
    parse_probe,
    read_master_decode,
    refuse_no_video,
)
from kit.media.ffmpeg import DISK_FULL, output_failure, parse_duration, parse_frame_count, telling_line

# MP4's sample tables, Matroska's blocks and MXF's index tables give each packet its timestamp (measured)
DIRECT_EXTS = (".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mxf")
# AVI holds no presentation timestamps (ffmpeg guesses them); program and transport streams' 33-bit timestamps wrap
# and jump at splices, which fails the strict decode ("non monotonically increasing dts")
INTERMEDIATE_EXTS = (".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts")
TRANSPORT_EXTS = (".ts", ".m2ts", ".mts")
# a transport stream's packet size: where in it its sync byte is (plain; Blu-ray's time code in front; DVB's FEC behind)
TRANSPORT_PACKETS = {188: 0, 192: 4, 204: 0}
TS_SYNC = 0x47
HEAD_BYTES = 1024  # what check_container reads of a file: three packets of any size above
MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")  # what an MP4 file (.m4v) begins with
FOLDER = "intermediates"  # in the kit's cache
COPY_PIXELS_PER_S = 4e6  # the slowest a copy (decode, FFV1 encode, check) may go before it times out: 1080p at 2 fps
COPY_MAX_TIMEOUT_S = 24 * 3600.0


def needs_intermediate(path: Path) -> bool:
    """Whether the kit reads `path` through a lossless copy (by its container, from its extension)."""
    return path.suffix.lower() in INTERMEDIATE_EXTS


def transport_packet_size(head: bytes) -> int | None:
    """The packet size of a transport stream whose first three packets in `head` start with the sync byte, or None."""
    for size, at in TRANSPORT_PACKETS.items():
        if all(len(head) > at + k * size and head[at + k * size] == TS_SYNC for k in range(3)):
            return size
    return None


def riff_end(fh: BinaryIO, size: int) -> int:
    """The end of a RIFF file's (an AVI's) last top-level RIFF chunk; 0 when it starts with none or left it unset."""
    at = 0
    while at + 12 <= size:
        fh.seek(at)
        chunk = fh.read(12)
        if chunk[:4] != b"RIFF" or not (length := int.from_bytes(chunk[4:8], "little")):
            break
        at += 8 + length + length % 2  # a chunk's data is padded to an even length
    return at


def check_container(path: Path, fh: BinaryIO, size: int) -> None:
    """Refuse what the container's structure shows and a decode would read without an error (`fh`: the file, open):
    an .m4v that is a raw MPEG-4 stream, a transport stream cut inside a packet, an AVI shorter than its chunks say."""
    ext = path.suffix.lower()
    fh.seek(0)
    head = fh.read(HEAD_BYTES)
    if not head:
        return  # an empty file: the caller says so
    if ext == ".avi" and (end := riff_end(fh, size)) > size:
        raise InputError(f"{path}: truncated AVI: its chunks say it is {end} bytes long, the file holds {size}",
                         hint="the file was cut short; copy it again, or remove it from --ref-dir")
    if ext == ".m4v" and head[4:8] not in MP4_BOXES:
        raise InputError(f"{path}: a raw MPEG-4 video stream, not an MP4 file: it holds no timestamps and its frame "
                         "rate would be a guess",
                         hint="remove it from --ref-dir, or remux it into an .mp4 at its true frame rate with the "
                              f"kit's ffmpeg, that rate (e.g. 25 or 30000/1001) in place of {RATE}: "
                              f"{remux_command(path)}")
    if ext in TRANSPORT_EXTS and (packet := transport_packet_size(head)) and size % packet:
        raise InputError(f"{path}: truncated transport stream: {size} bytes is not a whole number of {packet}-byte "
                         f"packets (it ends {size % packet} bytes into one)",
                         hint="the file was cut short; copy it again, or remove it from --ref-dir")


RATE = "RATE"  # in the remux command of a raw stream: the rate only its owner knows


def remux_command(path: Path) -> str:
    """The command that remuxes a raw MPEG-4 stream into an .mp4 beside it at the rate RATE stands for."""
    return kit_command("ffmpeg", "-framerate", RATE, "-i", path.absolute(), "-map", "0:v:0", "-c", "copy",
                       path.absolute().with_suffix(".mp4"))


def intermediate_path(cache_root: Path, path: Path, version: str) -> Path:
    """Where the lossless copy of `path` is kept: one per `version` (kit.media.cache's file_key)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-.")[:40] or "clip"
    return cache_root / FOLDER / f"{slug}-{sha256_bytes(version.encode())[:16]}.mkv"


class Opened(NamedTuple):
    """What opening a file tells before its decode: its rate, the decoder's pixel format, the copy's timeout."""

    fps: str
    pix_fmt: str
    timeout_s: float


def open_clip_streams(path: Path, ffmpeg: str) -> Opened:
    """Open `path` with ffmpeg, decoding nothing; InputError naming it when it holds no video or none ffmpeg reads."""
    res = run_process(build_open_argv(ffmpeg, path), timeout_s=DECODE_TIMEOUT_S)
    refuse_no_video(path, res.stderr)
    try:
        width, height, fps, pix_fmt = parse_probe(res.stderr)
    except ValueError:
        raise InputError(f"{path}: not a readable video ({telling_line(res.stderr)})",
                         hint="check the file plays, or remove it from --ref-dir") from None
    frames = parse_duration(res.stderr) * float(Fraction(fps))
    timeout_s = min(COPY_MAX_TIMEOUT_S, max(DECODE_TIMEOUT_S, frames * width * height / COPY_PIXELS_PER_S))
    return Opened(fps, pix_fmt, timeout_s)


def make_intermediate(tree: Tree, path: Path, dest: Path, ffmpeg: str) -> MasterDecode:
    """Decode `path` strictly once into its geometry, fingerprint and checked lossless copy at `dest` (the caller holds
    its lock); ToolError when the copy cannot be written."""
    opened = open_clip_streams(path, ffmpeg)
    tree.remove_stale(dest.parent, names=[dest.name])  # a killed copy's temporary
    with tree.atomic_path(dest) as tmp:
        res = run_process(build_intermediate_argv(ffmpeg, path, tmp, opened.fps, opened.pix_fmt.startswith("yuvj")),
                          timeout_s=opened.timeout_s, capture_stdout=True, stdout_max_bytes=THUMBS_MAX_BYTES)
        if failed := output_failure(res.stderr):
            raise ToolError(f"cannot write the lossless copy of {path} into the kit's cache {dest.parent} ({failed})",
                            hint=("free space there" if DISK_FULL.search(failed) else "check that folder")
                            + ", or set KIT_CACHE_DIR to a folder you can write on a disk with room",
                            stderr_tail=res.stderr_tail)
        decoded = read_master_decode(path, res)
        check_copy(path, tmp, decoded, opened, ffmpeg)
    return decoded


def check_copy(path: Path, copy: Path, decoded: MasterDecode, opened: Opened, ffmpeg: str) -> None:
    """Refuse a copy that does not hold exactly the frames the original decodes to: their number and their sha256."""
    res = run_process(build_verify_argv(ffmpeg, copy, opened.pix_fmt), timeout_s=opened.timeout_s)
    hashes = HASH_LINE.findall(res.stderr)
    try:
        frames = parse_frame_count(res.stderr) if res.returncode == 0 else -1
    except ValueError:
        frames = -1
    n = decoded.geometry[4]
    if frames != n:
        got = f"{frames} frames" if frames >= 0 else f"frames that do not decode ({telling_line(res.stderr)})"
        raise InputError(f"{path}: its lossless copy holds {got}, the file decodes to {n}",
                         hint=Spelled("report this with the file's first lines of ffmpeg -i; meanwhile remove it "
                                      "from --ref-dir, or convert it yourself to an .mkv the kit reads as it is: ",
                                      convert_command(path)))
    if hashes != [decoded.identity.pixels_sha256]:
        raise InputError(f"{path}: its lossless copy's pictures differ from the file's (pixel format "
                         f"{opened.pix_fmt}, which FFV1 does not keep as it is)",
                         hint=Spelled("remove it from --ref-dir, or convert it yourself to an .mkv the kit reads as "
                                      "it is, in a pixel format FFV1 keeps (a palette's colours as RGB): ",
                                      convert_command(path)))
