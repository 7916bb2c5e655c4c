"""How a reference clip's container is read: directly (DIRECT_EXTS keep every packet's timestamp as written), or
(INTERMEDIATE_EXTS) through a lossless copy its one strict decode makes in the kit's cache, checked frame for frame,
each frame at the time ffmpeg plays it at (COPY_VERSION).

Which way an extension is read was decided by measuring its timestamps through every path a clip takes
(tests/real/test_teacher_truth.py's matrix), said in a comment beside it. The copy gives each frame's colour tags back
as it is read, so an encode of it is a plain encode of the file, byte for byte (tests/real/test_containers.py)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path, PurePath
from typing import BinaryIO

from kit.errors import InputError, ToolError
from kit.infra.files import name_beside, sha256_bytes
from kit.infra.invocation import kit_command
from kit.infra.proc import ProcResult
from kit.infra.shown import Spelled, heard
from kit.infra.tree import Tree
from kit.infra.variables import CACHE_DIR
from kit.media.argv import INTERMEDIATE_OUTPUT, build_intermediate_argv, build_verify_argv
from kit.media.decode import HASH_LINE, LOOKS, MasterDecode, Opened, looks_again, read_master_decode
from kit.media.ffmpeg import disk_full, output_failure, parse_frame_count, parse_output_colour, telling_line
from kit.media.looks import LOOK_DOING, convert_command, look, run_look
from kit.media.streams import Film

# Read as they are: each frame's presentation time is written in the file. MP4 and its kin (.m4v, .3gp, .3g2, .mj2,
# .f4v: sample tables), Matroska (.mkv, .webm: blocks), MXF (index tables), Ogg (.ogv, .ogg: granule positions),
# FLV (composition times), ASF (.wmv, .asf: presentation times), NUT and IVF (a time per frame), DV (a fixed rate, each
# frame whole). Measured with B-frames where the codec has them and a variable rate where the container keeps one
# (tests/real/test_teacher_truth.py: the kit's rows, with and without the shared decode, equal libvmaf's by hand).
DIRECT_EXTS = (".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mxf", ".ogv", ".ogg", ".3gp", ".3g2", ".mj2", ".f4v",
               ".flv", ".wmv", ".asf", ".nut", ".ivf", ".dv")
# Read through the lossless copy: AVI holds no presentation timestamps (ffmpeg guesses them); program streams (.mpg,
# .mpeg, a DVD's .vob, an SD camcorder's .mod) and transport streams (.ts, .m2ts, .mts, HDV's .m2t, an HDD
# camcorder's .tod) have 33-bit timestamps that wrap and jump at splices, which fails the strict decode ("non
# monotonically increasing dts")
INTERMEDIATE_EXTS = (".avi", ".mpg", ".mpeg", ".vob", ".mod", ".ts", ".m2ts", ".mts", ".m2t", ".tod")
TRANSPORT_EXTS = (".ts", ".m2ts", ".mts", ".m2t", ".tod")
# a transport stream's packet size: where in it its sync byte is (plain; Blu-ray's time code in front; DVB's FEC behind)
TRANSPORT_PACKETS = {188: 0, 192: 4, 204: 0}
TS_SYNC = 0x47
HEAD_BYTES = 1024  # what check_container reads of a file: three packets of any size above
MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")  # what an MP4 file (.m4v) begins with
FOLDER = "intermediates"  # in the kit's cache
# what the lossless copy holds: 1 (kit 2.0 to 2.1) every frame renumbered at the clip's rate, in Matroska; 2 each frame
# at the time ffmpeg plays it at, in NUT, its colour tags given back when it is read. x264's rate control reads the
# frames' times: tree.avi's 68 frames over 29.6 s, renumbered into 4.5 s, were encoded at cq 34 on the 160x120 rung to
# 9,278 bytes where a plain encode of the file makes 31,238; a copy of version 2 makes the plain encode, byte for byte
# (tests/real/test_containers.py); 3 each frame's time kept where it steps back too (version 2 moved it one tick past
# the frame before: x264 read other durations there, kit.media.argv.KEEP_TIMES). A clip read through a copy of another
# version is another clip to the corpus: its jobs are done again (kit.corpus.jobs.Job.fingerprint), the others' kept.
COPY_VERSION = 3
Tags = tuple[tuple[str, str], ...]  # colour tags as input options, (option, name) (kit.media.ffmpeg.COLOUR_NAMES)


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
                         hint=Spelled("remove it from --ref-dir, or convert it losslessly with the kit's ffmpeg at "
                                      f"its true frame rate (e.g. 25 or 30000/1001) in place of {RATE}: ",
                                      rate_convert_command(path)))
    if ext in TRANSPORT_EXTS and (packet := transport_packet_size(head)) and size % packet:
        raise InputError(f"{path}: truncated transport stream: {size} bytes is not a whole number of {packet}-byte "
                         f"packets (it ends {size % packet} bytes into one)",
                         hint="the file was cut short; copy it again, or remove it from --ref-dir")


RATE = "RATE"  # in the conversion of a raw stream or an image sequence: the rate only its owner knows


def rate_convert_command(path: Path, first: int | None = None) -> str:
    """The command that converts a raw stream (no timestamps) into a lossless FFV1 .mkv beside it, its frames numbered
    one after another at the rate RATE stands for; with `first`, `path` is an image sequence's pattern (`shot_%04d.dpx`)
    whose first number it is. Measured on streams with B-frames (tests/real/test_containers.py): a remux (`-c copy` into
    an .mp4) of a raw H.264 or MPEG-4 stream decodes to other frames (27 of 30); converted without renumbering
    (setpts), a raw MPEG-4 stream's frames, decoded with one timestamp, are dropped (2 of 20 kept); as here, every frame
    is the plain decode's."""
    source = path.absolute()
    stem = source.stem if first is None else re.sub(r"[_\-. ]*%0\d+d$", "", source.stem).replace("%%", "%")
    start = () if first is None else ("-start_number", str(first))
    return kit_command("ffmpeg", "-framerate", RATE, *start, "-i", source, "-map", "0:v:0", "-an", "-vf",
                       "setpts=N/FR/TB", "-c:v", "ffv1", name_beside(source, stem or "sequence", ".mkv"))


def intermediate_path(cache_root: Path, path: Path, version: str) -> Path:
    """Where the lossless copy of `path` is kept: one per `version` (kit.media.cache's file_key), a name of its own
    for each COPY_VERSION (a .mkv of version 1 is never read as one of version 2)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-.")[:40] or "clip"
    return cache_root / FOLDER / f"{slug}-{sha256_bytes(os.fsencode(version))[:16]}.nut"


class _LookAgain(Exception):
    """A look at a clip being copied stopped where the next look reads on: its copy is dropped, the next writes it."""

    def __init__(self, res: ProcResult) -> None:
        super().__init__()
        self.res = res


def make_intermediate(tree: Tree, path: Path, dest: Path, ffmpeg: str, opened: Opened) -> tuple[MasterDecode, Tags]:
    """Decode `path` strictly once (or, where that stops, with the looks after it: kit.media.decode.LOOKS) into its
    geometry, fingerprint and checked lossless copy at `dest` (the caller holds its lock; `opened`: the file opened,
    with its looks' budget), and the colour tags its reader gives back; ToolError when the copy cannot be written."""
    tree.remove_stale(dest.parent, names=[dest.name])  # a killed copy's temporary
    earlier: list[ProcResult] = []
    for _, checks in LOOKS:
        try:
            return write_copy(tree, path, dest, ffmpeg, opened, checks, earlier)
        except _LookAgain as again:  # its temporary removed: the next look writes the copy again
            earlier.append(again.res)
    raise AssertionError("the last look is never followed")


def write_copy(tree: Tree, path: Path, dest: Path, ffmpeg: str, opened: Opened, checks: tuple[str, ...],
               earlier: list[ProcResult]) -> tuple[MasterDecode, Tags]:
    """One look at `path` read with `checks` (after the `earlier` ones) writing its lossless copy at `dest`, checked,
    and the copy's colour tags; _LookAgain where the next look reads on."""
    with tree.atomic_path(dest) as tmp:
        full_range = opened.pix_fmt.startswith("yuvj")
        res = look(path, build_intermediate_argv(ffmpeg, path, tmp, opened.fps, full_range, checks, opened.stream),
                   opened.budget, "copy", opened.film)
        if failed := output_failure(res.stderr):
            raise ToolError(Spelled("cannot write the lossless copy of ", PurePath(path), " into the kit's cache ",
                                    dest.parent, heard(failed, [PurePath(tmp)], lead=" (", trail=")")),
                            hint=("free space there" if disk_full(failed) else "check that folder")
                            + f", or set {CACHE_DIR.name} to a folder you can write on a disk with room",
                            stderr_tail=res.stderr_tail)
        if looks_again(res, earlier):
            raise _LookAgain(res)
        decoded = read_master_decode(path, res, earlier, opened.film)
        tags = copy_tags(path, res.stderr, opened.film)
        check_copy(path, tmp, decoded, opened, ffmpeg, tags)
    return decoded, tags


def copy_tags(path: Path, stderr: str, film: Film) -> Tags:
    """The colour tags the copy's output stream was written with (NUT keeps none: its reader gives them back, so its
    frames are the file's as ffmpeg plays it, tags and all); InputError when ffmpeg names one no option takes (its fix
    converts the `film`)."""
    tags = parse_output_colour(stderr, INTERMEDIATE_OUTPUT, codec="ffv1")
    if tags is None:
        raise InputError(f"{path}: its colour tags (as ffmpeg prints them) are not ones the kit can give back to its "
                         "lossless copy, so its encodes would not be those a plain encode of it makes",
                         hint="remove it from --ref-dir, or convert it yourself to an .mkv the kit reads as it is, "
                              f"its tags kept: {convert_command(path, film)}")
    return tags


def check_copy(path: Path, copy: Path, decoded: MasterDecode, opened: Opened, ffmpeg: str, tags: Tags) -> None:
    """Refuse a copy that does not hold exactly the frames the original decodes to, read as the corpus reads it (its
    colour `tags` given back): their number and their sha256."""
    res = run_look(path, build_verify_argv(ffmpeg, copy, opened.pix_fmt, tags), math.inf, LOOK_DOING["check"],
                   film=opened.film, rule=opened.budget.rule("check"), stall_s=opened.budget.stall_s("check"),
                   frames=True)
    hashes = HASH_LINE.findall(res.stderr)
    try:
        frames = parse_frame_count(res.stderr) if res.returncode == 0 else -1
    except ValueError:
        frames = -1
    n = decoded.geometry[4]
    if frames != n:
        got = Spelled(f"{frames} frames") if frames >= 0 else Spelled(
            "frames that do not decode", heard(telling_line(res.stderr), [PurePath(path)], lead=" (", trail=")"))
        raise InputError(Spelled(PurePath(path), ": its lossless copy holds ", got, f", the file decodes to {n}"),
                         hint=Spelled("report this with the file's first lines of ffmpeg -i; meanwhile remove it "
                                      "from --ref-dir, or convert it yourself to an .mkv the kit reads as it is: ",
                                      convert_command(path, opened.film)))
    if len(hashes) != 1:  # its own output not what it prints (garbled): no answer either way, the clip not used
        raise InputError(f"{path}: the check of its lossless copy printed {len(hashes)} pixel hashes, not one: "
                         "ffmpeg's output is not what the kit reads",
                         hint=Spelled("rerun; if it says so again, remove it from --ref-dir, or convert it yourself "
                                      "to an .mkv the kit reads as it is: ", convert_command(path, opened.film)))
    if hashes != [decoded.identity.pixels_sha256]:
        raise InputError(f"{path}: its lossless copy's pictures differ from the file's (pixel format "
                         f"{opened.pix_fmt}, which FFV1 does not keep as it is)",
                         hint=Spelled("remove it from --ref-dir, or convert it yourself to an .mkv the kit reads as "
                                      "it is, in a pixel format FFV1 keeps (a palette's colours as RGB): ",
                                      convert_command(path, opened.film)))
