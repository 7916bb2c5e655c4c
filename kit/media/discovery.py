"""Which entries of --ref-dir are reference clips, each checked: one named like a clip is used when a regular file or
a link to one, else left out and said once (a folder, a pipe, a link to nothing or a loop of links, ...)."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from kit.errors import InputError, ToolError
from kit.infra.ended import MOMENTS
from kit.infra.perms import describe
from kit.infra.proc import run_process
from kit.infra.records import NAMES_FILE, Record, omit_none
from kit.infra.rules import OneOf
from kit.infra.shown import Places, Spelled, Withheld, found, without_prefix
from kit.infra.tree import Tree
from kit.infra.visible import reason_line, utf8_text
from kit.media.argv import build_count_argv, build_open_argv
from kit.media.cache import Sha256Cache, open_clip, stamp_of
from kit.media.containers import Tags, check_container, needs_intermediate
from kit.media.decode import convert_command, lossless_coding
from kit.media.entries import (
    PICTURE_EXTS,
    ffmpeg_kind,
    is_passed_over,
    is_sidecar,
    kind_of,
    sequence_kind,
    sequences,
)
from kit.media.ffmpeg import parse_frame_count
from kit.media.identity import Fingerprint, fingerprint
from kit.media.looks import LookCutShort
from kit.media.refs import (
    CLIP_EXTS,
    MIN_FRAMES_PER_SOURCE,
    Clip,
    YuvDefaults,
    check_even,
    check_geometry,
    film_fixes,
    frame_bytes,
    is_netflix_distorted,
    source_name,
    y4m_geometry,
    yuv_geometry,
)
from kit.media.streams import FIRST

Note = Callable[[str], None]
CACHE_FILE = "sha256.json"  # in the kit's cache folder: hashes, masters' probes, fingerprints
NO_DEFAULTS = YuvDefaults()  # no --width, --height or --fps given


def _ignore(_: str) -> None:
    pass


@dataclass(frozen=True)
class Skipped:
    """An entry of --ref-dir that is no clip file, and what it is instead (kit.media.entries: what each kind is)."""

    path: Path
    what: str  # "a named pipe (FIFO)", "a symbolic link to /dev/zero, a device", "not a video: a picture (.jpg)", ...
    tail: str = ", not a clip file"
    fix: str = "remove it from --ref-dir, or put the clip file in its place"
    ask_ffmpeg: bool = False  # an extension the kit does not know: what it is, ffmpeg says at discovery (identified)

    def line(self) -> str:
        return self.unusable().line()

    def unusable(self) -> Unusable:
        """As a clip left out (02_corpus/skipped.json, the summary's SKIPPED row), with its reason and fix (what it
        is, its path in front, built as a Spelled: a link's target is a path too)."""
        path = PurePath(self.path)
        what = self.what if isinstance(self.what, Spelled) else found(self.what, [path])
        return Unusable(str(self.path), Spelled(path, ": ", what, self.tail), self.fix)


def not_a_clip_file(path: Path) -> str | None:
    """What the entry `path` is when it cannot be a clip file; None for a regular file or a link to one."""
    link: str = ""
    try:
        own = os.lstat(path)
        # its target a path (shown as the box's folders are), where it lies from the link's own folder
        link = Spelled("a symbolic link to ", path.parent / os.readlink(path)) if stat.S_ISLNK(own.st_mode) else ""
        st = os.stat(path)
    except OSError as exc:
        if link and exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InputError(Spelled(PurePath(path), ": ", link, ", which does not exist"),
                             hint="mount or restore its target, or remove the link from --ref-dir") from None
        if link and exc.errno == errno.ELOOP:
            raise InputError(Spelled(PurePath(path), ": ", link, ", which leads back to itself (a loop of links)"),
                             hint="point the link at the clip, or remove it from --ref-dir") from None
        raise InputError(Spelled(PurePath(path), ": cannot look at it", Withheld(f" ({exc.strerror or exc})")),
                         hint="check the folder's permissions, or remove it from --ref-dir") from exc
    if stat.S_ISREG(st.st_mode):
        return None
    what = describe(st, path) or "not a regular file"
    return Spelled(link, f", {what}") if link else what


def other_entry(path: Path) -> Skipped | None:
    """What an entry named like no clip is when it is no regular file (or link to one), else None."""
    try:
        what = not_a_clip_file(path)
    except InputError as exc:  # a link to nothing, a loop: said, not refused, as it was not named like a clip
        return Skipped(path, without_prefix(exc.message, f"{path}: "), "", exc.hint)
    if what is None:
        return None
    if what.endswith("a folder"):
        return Skipped(path, what, ", which the kit does not look into (it reads the files directly in --ref-dir)",
                       "move the clips it holds into --ref-dir, or give it as --ref-dir")
    return Skipped(path, what, ", not a file the kit reads", "remove it from --ref-dir")


def list_clip_files(ref_dir: Path) -> tuple[list[Path], list[Skipped]]:
    """(the clip files of ref_dir, every other entry with what it is and its fix), sorted by name; a hidden entry, the
    kit's own output and a .yuv's sidecar passed over without a word (kit.media.entries.is_passed_over)."""
    if not ref_dir.exists():
        raise InputError(f"--ref-dir {ref_dir} does not exist", hint="pass a folder of reference clips")
    if not ref_dir.is_dir():
        raise InputError(f"--ref-dir {ref_dir} is not a folder", hint="pass a folder of reference clips")
    if not os.access(ref_dir, os.R_OK | os.X_OK):
        raise InputError(f"--ref-dir {ref_dir} is not readable", hint=f"chmod u+rx {ref_dir}")
    files, skipped, pictures = [], [], []
    for p in sorted(ref_dir.iterdir()):
        if p.name.startswith("."):
            continue
        if p.suffix.lower() in CLIP_EXTS:  # named like a clip: a clip file, or skipped (not_a_clip_file)
            try:
                what = not_a_clip_file(p)
            except InputError as exc:  # a link to nothing (a share not mounted), a loop: left out, looked at again
                skipped.append(Skipped(p, without_prefix(exc.message, f"{p}: "), "", exc.hint))
                continue
            if what is None:
                files.append(p)
            else:
                skipped.append(Skipped(p, what))
        elif (other := other_entry(p)) is not None:
            if not (other.what.endswith("a folder") and is_passed_over(p, folder=True)):
                skipped.append(other)
        elif p.suffix.lower() in PICTURE_EXTS:
            pictures.append(p)
        elif not (is_passed_over(p, folder=False) or is_sidecar(p)):
            kind = kind_of(p)
            skipped.append(Skipped(p, kind.what, "", kind.fix, kind.ask_ffmpeg))
    runs, single = sequences(pictures)
    skipped += [Skipped(pattern, kind.what, "", kind.fix) for pattern, kind in map(sequence_kind, runs)]
    skipped += [Skipped(p, kind.what, "", kind.fix) for p, kind in ((p, kind_of(p)) for p in single)]
    return files, sorted(skipped, key=lambda s: s.path)


def find_clip_files(ref_dir: Path, note: Note = _ignore, ffmpeg: str = "") -> tuple[list[Path], list[Skipped]]:
    """list_clip_files, each entry skipped said to `note` (with `ffmpeg`, one of an extension the kit does not know as
    what ffmpeg reads there); no clip file at all is an error."""
    files, skipped = list_clip_files(ref_dir)
    if not files:
        raise no_clips_error(ref_dir, skipped)
    if ffmpeg:
        skipped = [identified(s, ffmpeg) if s.ask_ffmpeg else s for s in skipped]
    for s in skipped:
        note(s.line())
    return files, skipped


PROBE_TIMEOUT_S = 60.0  # opening a file decodes nothing: ffmpeg reads its first few MB


def identified(entry: Skipped, ffmpeg: str) -> Skipped:
    """An entry of an extension the kit does not know, said as what ffmpeg finds opening it (kit.media.entries)."""
    try:
        res = run_process(build_open_argv(ffmpeg, entry.path), timeout_s=PROBE_TIMEOUT_S)
    except ToolError as exc:  # it did not open in time: the run goes on without it
        said = exc.message if isinstance(exc.message, Spelled) else reason_line(exc)  # a Spelled: its paths shown
        return replace(entry, what=Spelled("not a video ffmpeg opens (", said, ")") if isinstance(said, Spelled)
                       else f"not a video ffmpeg opens ({said})", ask_ffmpeg=False)
    what, video = ffmpeg_kind(res.stderr, entry.path.suffix.lower())
    fix = Spelled("convert it losslessly with the kit's ffmpeg: ", convert_command(entry.path)) if video else entry.fix
    return replace(entry, what=what, fix=fix, ask_ffmpeg=False)


def _listed(folder: Path, keep: Callable[[Path], bool]) -> list[Path]:
    """The entries of `folder` that `keep` takes, sorted; [] when it cannot be listed."""
    try:
        return sorted(p for p in folder.iterdir() if keep(p))
    except OSError:
        return []


def no_clips_error(ref_dir: Path, skipped: list[Skipped] | None = None) -> InputError:
    """No clip directly in ref_dir: name the subfolder that holds some (the Netflix dataset's ref/ and dis/)."""
    looked = f"looked for {' '.join(CLIP_EXTS)}"
    if skipped:
        more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
        looked += f"; skipped {skipped[0].path}, {skipped[0].what}{more}"
    found = [(sub, clips, all(map(is_netflix_distorted, clips))) for sub in _listed(ref_dir, Path.is_dir)
             if (clips := _listed(sub, lambda p: p.suffix.lower() in CLIP_EXTS and p.is_file()))]
    refs = [(sub, clips) for sub, clips, dis in found if not dis]
    distorted = [sub for sub, _, dis in found if dis]
    if refs:
        sub, clips = refs[0]
        also = f"; {', '.join(str(d) for d in distorted)} holds distorted encodes, not references" if distorted else ""
        others = f" ({len(refs) - 1} more subfolders hold clips too)" if len(refs) > 1 else ""
        return InputError(f"no clips directly in {ref_dir} ({looked}); {sub} holds {len(clips)} clip(s){others}{also}",
                          hint=f"use --ref-dir {sub}")
    if distorted:
        return InputError(f"no reference clips in {ref_dir}: {distorted[0]} holds only distorted encodes "
                          "(Netflix naming <name>_<quality>_<height>_<bitrate>.yuv)",
                          hint="point --ref-dir at the folder of the references (the dataset's ref/ folder)")
    return InputError(f"no reference clips in {ref_dir} ({looked})",
                      hint="put reference clips there (.y4m, .yuv, .mp4, .mkv, .mov, .avi, .ts, ...), or drop "
                           "--ref-dir for the demo set")


def probe_clip(path: Path, ffmpeg: str, cache: Sha256Cache, defaults: YuvDefaults = NO_DEFAULTS) -> Clip:
    """The clip at `path`, checked; its sha256 and a master's decode come from `cache`."""
    try:
        ext = path.suffix.lower()
        with open_clip(path) as fh:  # a regular file still, and its stamp before hashing: a change from here on
            st = os.fstat(fh.fileno())  # is caught after the jobs
            if ext not in (".y4m", ".yuv"):
                check_container(path, fh, st.st_size)
        stamp = stamp_of(st)
        if stamp[0] == 0:
            raise InputError(f"{path}: empty file (0 bytes)", hint="remove it from --ref-dir")
        dropped: tuple[str, ...] = ()  # a .y4m or .yuv holds one picture stream, no alpha, no tags
        read_path, read_tags, film = "", Tags(), FIRST  # and is read as it is
        if ext == ".y4m":
            w, h, fps, pix, n = y4m_geometry(path)
            kind = "y4m"
        elif ext == ".yuv":
            if is_netflix_distorted(path):
                raise InputError(f"{path}: a distorted encode, not a reference (Netflix naming "
                                 "<name>_<quality>_<height>_<bitrate>.yuv, as in the dataset's dis/ folder)",
                                 hint="point --ref-dir at the reference clips (the dataset's ref/ folder); the kit "
                                      "makes its own encodes")
            w, h, fps, pix = yuv_geometry(path, defaults)
            check_geometry(path, w, h, pix, ("-f", "rawvideo", "-pix_fmt", pix, "-s", f"{w}x{h}", "-framerate", fps))
            per_frame = frame_bytes(w, h, pix)
            if stamp[0] % per_frame:
                raise InputError(
                    f"{path}: {stamp[0]} bytes is not a whole number of {w}x{h} {pix} frames "
                    f"({per_frame} bytes each)",
                    hint="fix the geometry in the name or sidecar, or replace the truncated file")
            n, kind = stamp[0] // per_frame, "yuv"
            check_even(path, w, h, n, ("-f", "rawvideo", "-pix_fmt", pix, "-s", f"{w}x{h}", "-framerate", fps))
        else:  # a master: its lossless copy's decode where ffmpeg reads the copy (kit.media.containers)
            made = cache.intermediate(path, ffmpeg) if needs_intermediate(path) else None
            decoded = made.decoded if made else cache.master_decode(path, ffmpeg)
            w, h, fps, pix, n = decoded.geometry
            check_geometry(path, w, h, "")
            check_even(path, w, h, n, film=decoded.film)
            dropped, kind, film = decoded.dropped, "master", decoded.film
            read_path, read_tags = (str(made.path), made.tags) if made else ("", ())
        if n < 1:
            raise InputError(f"{path}: no frames", hint="remove it from --ref-dir")
        clip = Clip(str(path.resolve()), source_name(path), kind, w, h, fps, pix, n, cache.get(path), stamp, dropped,
                    read_path, read_tags, film)
        return replace(clip, lossless=lossless_coding(path, ffmpeg, film)) \
            if bits_per_pixel(clip) < LOW_BITS_PER_PIXEL else clip
    except OSError as exc:  # unreadable, vanished: the user's file, not a bug
        raise InputError(Spelled(PurePath(path), ": cannot read it", Withheld(f" ({exc.strerror or exc})")),
                         hint="check the file's permissions, or remove it from --ref-dir") from exc


@dataclass(frozen=True)
class Unusable(Record):
    """A clip file the kit cannot use, left out of the run (not --strict): why, and the fix."""

    path: str = field(metadata=NAMES_FILE)
    reason: str = field(metadata=NAMES_FILE)
    fix: str = field(metadata=NAMES_FILE)
    # left out for the box's or the moment's cause (a look or a job stopped, killed, short of memory; the clip changed
    # as it was read): the same command tries it again; absent for the clip's own
    again: bool | None = omit_none()
    # which moment, typed (kit.infra.ended.MOMENTS), where one is known: a cause repeating run after run is told by it
    moment: str | None = omit_none(OneOf(MOMENTS))

    @property
    def why(self) -> str:
        """The reason without the clip's path in front (the line names it already)."""
        return without_prefix(self.reason, self.path + ": ")  # a Spelled kept one

    def line(self) -> str:
        """The log's and the summary's line: the clip's path, why and the fix, each path in them kept a path."""
        path = PurePath(self.path)
        return Spelled("skipped ", path, ": ", found(self.why, [path]),
                       *(("; fix: ", self.fix if isinstance(self.fix, Spelled) else found(self.fix, [path]))
                         if self.fix else ()))

    def sent(self, places: Places) -> Unusable:
        """As the lead is sent it (02_corpus/sent-v4/skipped.json, the shard manifest): its path, reason and fix with
        the box's folders shown (kit.infra.shown: a reason or a fix made as a Spelled, or read as heard)."""
        return Unusable(places.show(self.path), places.said(self.reason, [self.path]),
                        places.said(self.fix, [self.path]), self.again, self.moment)


def refused_clip(path: str, exc: InputError) -> Unusable:
    """A clip a look refused: its reason and fix, and where the refusal is the moment's (kit.media.looks.LookCutShort
    that a rerun can end otherwise) `again` and its typed moment."""
    if isinstance(exc, LookCutShort) and exc.retry_helps:
        return Unusable(path, exc.message, exc.hint, True, exc.moment)
    return Unusable(path, exc.message, exc.hint)


@dataclass(frozen=True)
class SkippedClips(Record):
    """`02_corpus/skipped.json`: the clips of --ref-dir the corpus step left out, each with why and the fix."""

    skipped: tuple[Unusable, ...]


LOW_BITS_PER_PIXEL = 0.03  # a master's own bits per pixel below which it is heavily compressed (1080p30: 1.9 Mb/s)


def bits_per_pixel(clip: Clip) -> float:
    """A master's own bits per pixel (a .y4m or .yuv holds its pixels as they are: infinity)."""
    return clip.stamp[0] * 8 / (clip.n_frames * clip.width * clip.height) if clip.kind == "master" else math.inf


def low_bitrate_warning(clip: Clip) -> str:
    """A warning for a compressed master whose own bitrate per pixel is very low; "" for the others, and for one
    coded losslessly (a still or flat picture coded losslessly is small, not compressed: Clip.lossless)."""
    bpp = bits_per_pixel(clip)
    if bpp >= LOW_BITS_PER_PIXEL or clip.lossless:
        return ""
    kbps = clip.stamp[0] * 8 / (clip.n_frames / clip.fps_float) / 1000
    return (f"{clip.path}: its own bitrate is {kbps:.0f} kb/s ({bpp:.3f} bits per pixel, under "
            f"{LOW_BITS_PER_PIXEL}): a heavily compressed reference, whose own artefacts the encodes are scored "
            "against; use a higher-quality master of it if there is one")


# a fix that prints a command of the kit's ffmpeg (a lossless copy or conversion of the file, a crop): its output keeps
# the file's frames, so it is judged by the frames rule first (a crop's sizes by kit.media.refs.check_even)
PRINTED_FIX = "ffmpeg -"
COUNT_LIMIT_S = 30.0  # a count of the file's packets, a copy to nowhere: its few seconds, as a look's open


def fix_judged(refused: InputError, path: Path, ffmpeg: str) -> InputError:
    """`refused` as it is, unless its fix prints a command whose output would be left out for what the command keeps:
    fewer frames than a LOSO fold needs (MIN_FRAMES_PER_SOURCE, counted from the file's packets). Then the clip is
    said as too short, with no such fix (issue 98, item 5: 2.4 offered a crop of a 2-frame clip, whose output it then
    left out). A refusal of the moment's (a look cut short) is never judged: it is tried again as it is."""
    if isinstance(refused, LookCutShort) or PRINTED_FIX not in str(refused.hint):
        return refused
    with contextlib.suppress(ToolError, ValueError):
        res = run_process(build_count_argv(ffmpeg, path), timeout_s=COUNT_LIMIT_S)
        frames = parse_frame_count(res.stderr) if res.returncode == 0 else MIN_FRAMES_PER_SOURCE
        if frames < MIN_FRAMES_PER_SOURCE:
            return InputError(Spelled(PurePath(path), f": {frames} frame(s); a LOSO fold needs at least "
                                      f"{MIN_FRAMES_PER_SOURCE} frames per source"),
                              hint="use a longer cut of the clip, or remove it from --ref-dir")
    return refused


def discover(ref_dir: Path, ffmpeg: str, sha_cache: Sha256Cache, defaults: YuvDefaults = NO_DEFAULTS,
             note: Note = _ignore, unusable: list[Unusable] | None = None, doing: Note = _ignore) -> list[Clip]:
    """Every clip in ref_dir, checked (`doing` hears each; `note` what is skipped or not kept). One that cannot be used
    refuses the run (`unusable` None: --strict) or joins `unusable`; if none is left, the first refusal stands."""
    clips, refused = [], []
    files, skipped = find_clip_files(ref_dir, note, ffmpeg)
    for i, p in enumerate(files, 1):
        doing(f"reading clip {i} of {len(files)}: {p.name}")
        try:
            clips.append(probe_clip(p, ffmpeg, sha_cache, defaults))
        except InputError as caught:  # a ToolError stops the run: a clip left out for a passing cause changes it
            exc = fix_judged(caught, p, ffmpeg)
            if unusable is None:
                raise exc from None
            refused.append((exc, refused_clip(str(p), exc)))
    if refused and not clips:
        raise refused[0][0]
    for _, left_out in refused:
        note(left_out.line())
    if unusable is not None:  # what was skipped at the listing too: every video-named entry is accounted for
        unusable += sorted([*(left_out for _, left_out in refused), *(s.unusable() for s in skipped)],
                           key=lambda u: u.path)
    for clip in clips:
        for what in clip.dropped:
            note(Spelled(PurePath(clip.path), f": {what}"))
        for fix in film_fixes(clip):
            note(fix)
        if warning := low_bitrate_warning(clip):
            note(Spelled("warning: ", found(warning, [PurePath(clip.path)])))
    return clips


# the names a clip whose source name another clip carries too is given instead, tried in turn until no other clip of
# the set carries it: its file name without the extension, its tokens of size, rate and depth kept (`deep_10bit.y4m`
# and `deep_422_10bit.y4m` both reduce to `deep`); its whole file name (`intro.y4m`, `intro.mkv`); that name and the
# first hex digits of its sha256, as a merge tells two contents of one name apart (kit.corpus.names: files of one name
# in two folders)
CLASH_NAMES: tuple[Callable[[Clip], str], ...] = (
    lambda c: utf8_text(Path(c.path).stem),
    lambda c: utf8_text(Path(c.path).name),
    lambda c: f"{utf8_text(Path(c.path).name)}~{c.sha256[:6]}",
)


@dataclass(frozen=True)
class Renamed:
    """Clips of one set whose file names reduce to one source name, and the name each is given instead."""

    name: str  # the source name they would share
    files: tuple[tuple[str, str], ...]  # (the clip's path, the name it is given), in the order of the clips

    def line(self) -> str:
        """The line the corpus step says, each clip's path a part of it (kit.infra.shown: the results tarball's log
        shows it under the box's --ref-dir, never its folder)."""
        shown = Spelled(", ").join(Spelled(PurePath(path), f" as {src!r}") for path, src in self.files)
        return Spelled(f"{len(self.files)} clips give the source name {self.name!r} (a file's name without its "
                       "tokens of size, rate and depth): each is named by its file instead, ", shown)


def distinct_sources(clips: list[Clip]) -> tuple[list[Clip], list[Renamed]]:
    """The clips, each under a source name no other carries (every fold, figure and file is named by it), and the
    names given where several clips' names reduce to one (CLASH_NAMES): every clip is used, whatever its name. The
    same files give the same names on every run and box; twins (the same pictures) are left out before, as one."""
    names = {c.path: c.src for c in clips}
    for name_of in CLASH_NAMES:
        uses = Counter(names.values())
        clashing = [c for c in clips if uses[names[c.path]] > 1]
        for c in clashing:
            names[c.path] = name_of(c)
    given: dict[str, list[tuple[str, str]]] = {}
    for c in clips:
        given.setdefault(c.src, []).append((c.path, names[c.path]))
    return ([replace(c, src=names[c.path]) for c in clips],
            [Renamed(src, tuple(files)) for src, files in given.items() if len(files) > 1])


def reference_clips(ref_dir: Path | None, ffmpeg: str, cache_tree: Tree, defaults: YuvDefaults = NO_DEFAULTS,
                    demo_count: int | None = None, demo_seconds: float = 0.0, note: Note = _ignore,
                    unusable: list[Unusable] | None = None, doing: Note = _ignore, reading: bool = False,
                    ) -> tuple[list[Clip], dict[str, Fingerprint], bool]:
    """(the clips of --ref-dir or the demo set, each clip's fingerprint by its sha256, is it the demo set);
    `reading` (`status`): from what the cache holds alone, a clip it has not read refused (kit.media.cache.NotRead)."""
    from kit.media.demo import DEMO_CLIPS, SECONDS, demo_folder, ensure_demo_set

    cache = Sha256Cache(cache_tree, cache_tree.root / CACHE_FILE, reading)
    if cache.damaged is not None:  # a damaged entry is a cache miss, said
        note(cache.damaged)
    if ref_dir is not None:
        clips, demo = discover(ref_dir, ffmpeg, cache, defaults, note, unusable, doing), False
    else:
        seconds = demo_seconds or SECONDS
        # `reading` renders none (a clip not whole there is one `status` says stale before it plans: kit.steps.status)
        folder = demo_folder(cache_tree.root, seconds=seconds) if reading else \
            ensure_demo_set(cache_tree, ffmpeg, demo_count, seconds=seconds, note=note)
        names = {c.name for c in DEMO_CLIPS[:demo_count]}
        clips, demo = [c for c in discover(folder, ffmpeg, cache, note=note, doing=doing) if c.src in names], True
    kept, prints = fingerprints(clips, ffmpeg, cache, note, None if demo else unusable, doing)
    return kept, prints, demo


def fingerprints(clips: list[Clip], ffmpeg: str, cache: Sha256Cache, note: Note, unusable: list[Unusable] | None,
                 doing: Note) -> tuple[list[Clip], dict[str, Fingerprint]]:
    """(the clips whose pictures were read, each one's fingerprint by its sha256): a .y4m/.yuv clip's pictures read
    once more (a master's came with its decode); one they refuse joins `unusable`, as discover's (None: --strict)."""
    prints, kept, refused = {}, [], []
    for i, c in enumerate(clips, 1):
        doing(f"comparing the clips' pictures: clip {i} of {len(clips)}, {Path(c.path).name}")
        try:
            prints[c.sha256] = fingerprint(c, ffmpeg, cache)
        except InputError as exc:
            if unusable is None:
                raise
            refused.append((exc, refused_clip(c.path, exc)))
            continue
        kept.append(c)
    if refused and not kept:
        raise refused[0][0]
    for _, left_out in refused:
        note(left_out.line())
    if unusable is not None and refused:
        unusable[:] = sorted([*unusable, *(left_out for _, left_out in refused)], key=lambda u: u.path)
    return kept, prints
