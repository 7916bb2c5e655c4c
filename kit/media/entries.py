"""What an entry of --ref-dir is that is no clip, from its name and type alone (nothing is opened): a raw video stream,
a picture or a numbered sequence of them, a file of another kind (audio, a document, subtitles, ...), one of an
extension the kit does not know (ffmpeg is asked at discovery: `ffmpeg_kind`), or what is passed over without a word:
a hidden file, the kit's own output (an out-dir, a results tarball, a corpus and its manifest) and a `.yuv` clip's
sidecar, which the clip uses (docs/collaborator.md, "Your reference clips").

A picture under a video's extension is told by the demuxer ffmpeg reads it with (kit.media.streams.STILL_DEMUXERS) and
refused by the master's decode. Every entry ends used, named in skipped.json with its fix, or passed over
(tests/real/test_every_file.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from kit.infra.shown import Spelled
from kit.media.containers import RATE, rate_convert_command
from kit.media.streams import STILL_DEMUXERS, demuxer, input_streams, no_video, picture_words
from kit.rundir import RunDir, is_results_tarball, manifest_path

# elementary streams with no timestamps: their rate is a guess, so the fix names it (RATE, which only the owner knows)
RAW_STREAM_EXTS = (".264", ".h264", ".h26l", ".265", ".h265", ".hevc", ".266", ".h266", ".vvc", ".obu", ".m1v",
                   ".m2v", ".mpv", ".mjpg", ".mjpeg", ".vc1", ".cavs", ".h261", ".h263")
PICTURE_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".heif", ".avif", ".jxl",
                ".jp2", ".j2k", ".dpx", ".exr", ".tga", ".psd", ".pgm", ".ppm", ".pnm", ".pbm", ".pam", ".qoi", ".sgi",
                ".ico", ".svg", ".thm", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".raf", ".rw2")
# files of a kind no clip is, by extension; .txt and .bin among them also because ffmpeg would read them as a video
# of their text drawn as pictures (its tty and bintext demuxers)
OTHER_KINDS = {
    **dict.fromkeys((".wav", ".mp3", ".flac", ".aac", ".m4a", ".m4b", ".opus", ".oga", ".wma", ".aif", ".aiff", ".ac3",
                     ".eac3", ".dts", ".mka", ".amr", ".mid", ".midi", ".ape", ".wv", ".spx", ".caf", ".au", ".mp2"),
                    "an audio file"),
    **dict.fromkeys((".srt", ".vtt", ".ass", ".ssa", ".sub", ".idx", ".sup", ".scc", ".smi", ".ttml", ".lrc"),
                    "subtitles"),
    **dict.fromkeys((".txt", ".md", ".rst", ".pdf", ".doc", ".docx", ".odt", ".rtf", ".html", ".htm", ".csv", ".tsv",
                     ".xml", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".log", ".nfo", ".xmp",
                     ".aae", ".cue", ".edl", ".m3u", ".m3u8", ".pls", ".xls", ".xlsx", ".ods", ".ppt", ".pptx",
                     ".py", ".sh", ".bat"), "a document"),
    **dict.fromkeys((".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar"), "an archive"),
    **dict.fromkeys((".md5", ".sha1", ".sha256", ".sfv", ".par2"), "a checksum file"),
    **dict.fromkeys((".parquet", ".npy", ".onnx", ".pt", ".db", ".bin"), "a data file"),
}
# a picture's name ending in its frame number: `shot_0001.dpx`
NUMBERED = re.compile(r"^(.*?)(\d+)$", re.ASCII)
# ffmpeg's demuxers that read text drawn as pictures as a video stream (a picture's: streams.STILL_DEMUXERS)
TEXT_DEMUXERS = ("tty", "bin", "xbin", "adf", "idf")


def is_passed_over(entry: Path, folder: bool) -> bool:
    """A hidden entry (a dot file) or the kit's own output: an out-dir (it holds run.json), a folder of out-dirs (the
    default ./runs/), a results tarball, a corpus (.parquet) beside its manifest, a manifest beside its corpus."""
    name = entry.name
    if name.startswith("."):
        return True
    if folder:
        inside = _entries(entry)
        return is_out_dir(entry) or (bool(inside) and all(map(is_out_dir, inside)))
    if is_results_tarball(name):
        return True
    if name.endswith(".parquet"):
        return manifest_path(entry).is_file()
    corpus = entry.with_name(name.removesuffix(".manifest.json") + ".parquet")
    return name.endswith(".manifest.json") and manifest_path(corpus) == entry and corpus.is_file()


def is_out_dir(folder: Path) -> bool:
    return RunDir(folder).run_json.is_file()


def _entries(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError:
        return []


def is_sidecar(entry: Path) -> bool:
    """A `Name.json` beside a `Name.yuv`: the clip's geometry, used with it (kit.media.refs.yuv_geometry)."""
    return entry.suffix.lower() == ".json" and any(entry.with_suffix(ext).exists() for ext in (".yuv", ".YUV"))


class Kind(NamedTuple):
    """What a file named like no clip is, and the fix."""

    what: str
    fix: str
    ask_ffmpeg: bool = False  # an extension the kit does not know: ffmpeg is asked what it reads there


NOTHING_TO_DO = "none needed, the kit reads only videos (move it out of --ref-dir to drop this line)"


def kind_of(path: Path) -> Kind:
    """What the regular file `path`, named like no clip, is (a picture's sequence: `sequences`)."""
    ext = path.suffix.lower()
    if ext in RAW_STREAM_EXTS:
        return Kind(f"a raw {ext} video stream, which holds no timestamps (its frame rate would be a guess)",
                    Spelled("convert it losslessly with the kit's ffmpeg at its true frame rate (e.g. 25 or "
                            f"30000/1001) in place of {RATE}: ", rate_convert_command(path)))
    if ext in PICTURE_EXTS:
        return Kind(f"not a video: a picture ({ext})", NOTHING_TO_DO)
    if ext in OTHER_KINDS:
        return Kind(f"not a video: {OTHER_KINDS[ext]} ({ext})", NOTHING_TO_DO)
    return Kind(f"a file of an extension the kit does not know ({ext or 'none'})", NOTHING_TO_DO, ask_ffmpeg=True)


def ffmpeg_kind(stderr: str, ext: str) -> tuple[str, bool]:
    """What ffmpeg found opening a file of an extension the kit does not know (`ext`): (the words, is it a video)."""
    name = demuxer(stderr)
    if name is None:
        return "not a video: ffmpeg cannot read it", False
    if (holds := no_video(stderr)) is not None:
        return f"not a video: ffmpeg reads it as {name}, holding {holds.removeprefix('only ')}", False
    if name in TEXT_DEMUXERS:
        return "not a video: a text file", False
    if STILL_DEMUXERS.match(name):
        return picture_words(name), False
    codec = next(s.detail.split(",")[0].split(" (")[0] for s in input_streams(stderr) if s.picture)
    return (f"a video in a container the kit does not take by its extension ({ext or 'none'}; ffmpeg reads it as "
            f"{name}, {codec})"), True


def sequences(pictures: list[Path]) -> tuple[list[list[Path]], list[Path]]:
    """(the numbered sequences among `pictures`: two or more of one name, width of number and extension, each in
    order; the pictures left)."""
    runs: dict[tuple[str, int, str], list[Path]] = {}
    for p in pictures:
        if m := NUMBERED.match(p.stem):
            runs.setdefault((m.group(1), len(m.group(2)), p.suffix), []).append(p)
    found = [sorted(run, key=frame_number) for run in runs.values() if len(run) > 1]
    taken = {p for run in found for p in run}
    return sorted(found), [p for p in pictures if p not in taken]


def frame_number(path: Path) -> int:
    m = NUMBERED.match(path.stem)
    return int(m.group(2)) if m else 0


def sequence_pattern(run: list[Path]) -> Path:
    """`shot_%04d.dpx`: ffmpeg's pattern for the numbered pictures of `run` (a `%` of the name written `%%`)."""
    first = run[0]
    m = NUMBERED.match(first.stem)
    assert m is not None  # sequences() took only numbered names
    width = len(m.group(2))
    return first.with_name(f"{m.group(1).replace('%', '%%')}%0{width}d{first.suffix}")


def sequence_kind(run: list[Path]) -> tuple[Path, Kind]:
    """(the pattern naming the sequence, what it is and its fix)."""
    pattern = sequence_pattern(run)
    first, last = frame_number(run[0]), frame_number(run[-1])
    gaps = last - first + 1 - len(run)
    plural = "s" if gaps > 1 else ""
    missing = f" with {gaps} number{plural} missing (a conversion stops at the first gap)" if gaps else ""
    return pattern, Kind(f"an image sequence of {len(run)} pictures, {run[0].name} to {run[-1].name}{missing}, not a "
                         "video file", Spelled("make it a clip with the kit's ffmpeg at its true frame rate (e.g. 24) "
                                               f"in place of {RATE}: ", rate_convert_command(pattern, first)))
