"""The hash cache (`sha256.json` in the kit's cache): a clip's sha256, fingerprint, a master's geometry and lossless
copy, each once per file version (file_key; docs/design/identity.md)."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath
from typing import Any, BinaryIO, NamedTuple, TypeVar

from kit.errors import InputError, KitError, ToolError
from kit.infra.files import file_key, sha256_stream
from kit.infra.host import cache_tree
from kit.infra.outside import NotRegular, load_json, open_for_reading
from kit.infra.shown import Spelled, found, spelled_document, spelled_from
from kit.infra.tree import LockBusy, Tree
from kit.infra.variables import CACHE_DIR
from kit.media.containers import COPY_VERSION, Tags, intermediate_path, make_intermediate, needs_intermediate
from kit.media.decode import MasterDecode, decode_master, decode_pictures, open_clip_streams
from kit.media.ffmpeg import COLOUR_NAMES
from kit.media.fingerprint import VERSION, Fingerprint, FrameTimes, Repeats
from kit.media.looks import LOOK_START_S, Budget, LookCutShort
from kit.media.streams import Film

CACHE_LOCK_WAIT_S = 10.0  # another run writing a file of the kit's cache (sha256.json, a probe cache) holds it for ms
# a master's geometry, fingerprint and what the corpus does not keep of it; an entry of an older key is never read (11:
# its film chosen by its video streams' frames counted, kit.media.streams.Film, where 10 read a cover or a thumbnail
# track not flagged as an attached picture, in a codec of moving pictures (MJPEG), before the film as the film; 10:
# which of its video streams is read, a cover picture's passed over, and a size change to a turned clip's turned size
# refused, decode.refuse_size_change, where 9 read a still picture's stream first and kept the second as used; 9: a
# master whose pictures change size mid-stream is refused, decode.refuse_size_change, and a size of one digit read,
# where 8 kept the first as a clip of one size and the second as no video; 8: its frames' times,
# kit.media.fingerprint.FrameTimes; 7: its pictures' repeats, kit.media.fingerprint.Repeats; 6: the pixel format its
# decoder gives; 5 wrote 4:2:0 at 8 or 10 bits in place of a format outside decode.PIX_FMTS)
MASTER_ENTRY = 11
MASTER = f"master{MASTER_ENTRY}|"
# a .y4m/.yuv clip's fingerprint (print4: its frames' times; print3: its repeats), keyed also by how it is read (a .yuv)
PICTURES = "print4|"
# a master read through a lossless copy: a master's entry, the copy's file name, its sha256 and the colour tags its
# reader gives back; per COPY_VERSION (an entry of 2.1's renumbered copies, copy1|, is never read) and MASTER_ENTRY
COPY = f"copy{COPY_VERSION}.{MASTER_ENTRY}|"
# a master its looks refused for what its bytes decide (no video, damaged: kit.media.decode), [message, hint], per
# file version and ffmpeg (path, size, mtime): the same file and ffmpeg give the same refusal, so a rerun or `status`
# leaves it out at once. What the box or the moment did is never kept (kit.media.looks.LookCutShort: a look stopped at
# its limit, killed from outside, failed on what the box ran short of, cut short by KIT_TIMEOUT_S; the file changed
# while it was read): the next run looks again. Each text kept with its paths (kit.infra.shown.spelled_document, the
# clip's own path by name): the refusal read again is sent as it was made, its paths shown (refused1 kept plain text,
# whose fix named the box's folders; refused2 gave a clip of a one-digit size as no video; refused3 kept a look past
# its budget, a busy or suspended box's, as the clip's; refused4 judged a cover or thumbnail track read as the film,
# where MASTER_ENTRY 11 chooses the film by its frames)
REFUSED = "refused5|"
REFUSED_CLIP = "clip"  # the name the refused clip's path is kept by in its refusal's texts
# the key of an entry of a kind this kit does not read (another kit version's: 2.1's master5|, print2|, copy1|, or a
# later kit's master10|): never read here, never called damaged, and written back as it was while its file is the
# version it describes (_file_still_there: a file changed or gone lets it go), so that two versions of
# the kit sharing one cache (an upgrade, a lead who keeps the older kit, two copies on a box) do not each drop what
# the other computed and decode every clip again on every run. A clip hash's key is the file's absolute path
# (kit.infra.files.file_key), which never has this form
OTHER_KIND = re.compile(r"[a-z]+[0-9]+(?:\.[0-9]+)?\|")
T = TypeVar("T")

Stamp = tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns


def stamp_of(st: os.stat_result) -> Stamp:
    """What tells one version of a file from another: size, mtime, inode and ctime (set by the system only)."""
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


def open_clip(path: Path) -> BinaryIO:
    """Open a reference clip to read it, never blocking: anything but a regular file (or a link to one) is refused."""
    try:
        return open_for_reading(path)
    except NotRegular as exc:
        raise InputError(f"{path}: {exc.what} now, not a clip file (it was replaced while the kit read the folder)",
                         hint="put the clip back, or remove the entry from --ref-dir") from None


def _print_from(values: Sequence[object]) -> Fingerprint:
    """A fingerprint's entry: [pixels_sha256, signature, frames, its Repeats' list or null, its FrameTimes' JSON or
    null]."""
    sha, sig, frames, repeats, times = values
    if not (isinstance(sha, str) and isinstance(sig, str) and isinstance(frames, int) and not isinstance(frames, bool)
            and (repeats is None or isinstance(repeats, list)) and (times is None or isinstance(times, dict))):
        raise ValueError("not a fingerprint")
    if not sig.startswith(f"{VERSION}:"):  # the cache holds this kit's signatures only: never one made another way
        raise ValueError(f"a signature of another version than {VERSION}")
    timed = FrameTimes.from_json(times) if times is not None else None
    if timed is not None and (timed.frames != frames or len(timed.seconds()) != frames):
        raise ValueError("frame times of another count of frames")
    return Fingerprint(sha, sig, frames, Repeats.from_list(repeats) if repeats is not None else None, timed)


def _print_entry(identity: Fingerprint) -> list[object]:
    """_print_from's list."""
    repeats = identity.repeats.as_list() if identity.repeats is not None else None
    times = identity.times.to_json() if identity.times is not None else None
    return [identity.pixels_sha256, identity.signature, identity.frames, repeats, times]


def _count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _film_from(values: Any) -> Film:
    """A master's film as its entry holds it: [place, [frames, ...], [rival, ...]] (kit.media.streams.Film)."""
    if not (isinstance(values, list) and len(values) == 3 and _count(values[0])
            and all(isinstance(v, list) and all(map(_count, v)) for v in values[1:])):
        raise ValueError("not a master's film")
    place, frames, rivals = values
    if (frames or rivals) and not all(k < len(frames) for k in (place, *rivals)):
        raise ValueError("not a master's film")
    return Film(place, tuple(frames), tuple(rivals))


def _master_from(values: Sequence[Any]) -> MasterDecode:
    """A master's entry: [w, h, fps, pix_fmt, frames, pixels_sha256, signature, fingerprint frames, repeats, times,
    [dropped, ...], film] (_print_from's list inside it; `film`: which of its video streams was read, _film_from's)."""
    w, h, fps, pix, n, sha, sig, frames, repeats, times, dropped, film = values
    if not (all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h, n))
            and isinstance(fps, str) and isinstance(pix, str)
            and isinstance(dropped, list) and all(isinstance(d, str) for d in dropped)):
        raise ValueError("not a master's entry")
    return MasterDecode((w, h, fps, pix, n), _print_from((sha, sig, frames, repeats, times)), tuple(dropped),
                        _film_from(film))


def _master_entry(decoded: MasterDecode) -> list[object]:
    """_master_from's list."""
    geometry, identity, dropped, film = decoded
    return [*geometry, *_print_entry(identity), list(dropped), [film.place, list(film.frames), list(film.rivals)]]


class Intermediate(NamedTuple):
    """A master read through its lossless copy: what its strict decode told, the copy ffmpeg reads, and the colour
    tags given back to it as it is read."""

    decoded: MasterDecode
    path: Path
    tags: Tags = ()


def _tags_from(values: Any) -> Tags:
    """A copy's colour tags as an entry holds them: [[option, name], ...], each a tag COLOUR_NAMES lists."""
    if not (isinstance(values, list) and all(isinstance(t, list) and len(t) == 2 and t[0] in COLOUR_NAMES
                                             and t[1] in COLOUR_NAMES[t[0]] for t in values)):
        raise ValueError("not a copy's colour tags")
    return tuple((option, name) for option, name in values)


def _copy_from(values: Sequence[Any]) -> tuple[MasterDecode, str, str, Tags]:
    """A copied master's entry: _master_from's list, then the copy's file name, its sha256 and its colour tags."""
    *master, name, sha, tags = values
    if not (isinstance(name, str) and name.endswith(".nut") and "/" not in name and isinstance(sha, str)
            and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise ValueError("not a copied master's entry")
    return _master_from(master), name, sha, _tags_from(tags)


def _refusal_from(values: Sequence[Any], clip: PurePath | None = None) -> InputError:
    """A refused master's entry: [message, hint], each a text kept with its paths, the clip's as `clip` (None: the
    entry only checked)."""
    named = {REFUSED_CLIP: clip if clip is not None else PurePath(REFUSED_CLIP)}
    message, hint = (spelled_from(text, named) for text in values)
    return InputError(message, hint=hint)


def _refusal_entry(exc: InputError, clip: Path) -> list[object]:
    """_refusal_from's list: the refusal's texts kept with their paths, a plain one read as heard (the clip's path
    found in it); ValueError when one holds what cannot be kept (kit.infra.shown.spelled_document)."""
    named = {REFUSED_CLIP: PurePath(clip)}
    return [spelled_document(text if isinstance(text, Spelled) else found(text, [PurePath(clip)]), named)
            for text in (exc.message, exc.hint)]


class ChangedWhileRead(LookCutShort):
    """A clip whose file changed while its looks read it (cut short, re-exported, replaced): what they found is not of
    one version of it, so nothing is kept, and the next run looks at it as it is then."""

    retry_helps = True
    moment = "changed"

    def __init__(self, p: Path) -> None:
        super().__init__(Spelled(PurePath(p), ": the file changed while the kit read it (its size, time or inode "
                                 "moved: cut short, re-exported or replaced as it was read), so what its looks found "
                                 "is not of one version of it; not kept as the clip's refusal: the next run looks at "
                                 "it again"),
                         hint="not the file's fault: the same command again, once the file is final, looks at it again")


def changed_while_read(p: Path, key: str) -> ChangedWhileRead | None:
    """ChangedWhileRead where the file at `p` is no longer the version `key` (a refusal's key: kit.infra.files.file_key
    at its end) names, or is gone; None while it is."""
    try:
        same = key.endswith(f"|{file_key(p)}")
    except OSError:
        same = False
    return None if same else ChangedWhileRead(p)


def refusal_key(p: Path, ffmpeg: str) -> str:
    """A refusal's key: the file's version and the ffmpeg that looked (its path, size and mtime)."""
    st = Path(ffmpeg).stat()
    return f"{REFUSED}{ffmpeg}|{st.st_size}|{st.st_mtime_ns}|{file_key(p)}"


def _ours(key: str) -> bool:
    """Whether this kit reads the entry: a clip hash's, or one of the kinds above; not another version's kind."""
    return key.startswith((MASTER, PICTURES, COPY, REFUSED)) or OTHER_KIND.match(key) is None


def _file_still_there(key: str) -> bool:
    """Whether the file version an entry's key ends with (kit.infra.files.file_key: path, size, mtime, device, inode,
    ctime; every kind's key ends with it) is still the file at that path: another version's entries of a file since
    changed or gone are let go, so they do not outlive the clips they describe."""
    try:
        return key.endswith(f"|{file_key(Path(key.rsplit('|', 5)[0].rsplit('|', 1)[-1]))}")
    except (OSError, ValueError):
        return False


def _valid_entry(key: str, value: str) -> bool:
    """Whether an entry reads as its key's kind: a sha256 as 64 hex digits, the others by their readers."""
    if not key.startswith((MASTER, PICTURES, COPY, REFUSED)):
        return re.fullmatch(r"[0-9a-f]{64}", value) is not None
    read: Callable[[Sequence[Any]], object] = (
        _print_from if key.startswith(PICTURES) else _copy_from if key.startswith(COPY)
        else _refusal_from if key.startswith(REFUSED) else _master_from)
    try:
        read(load_json(value))
    except (ValueError, TypeError):
        return False
    return True


class NotRead(KitError):
    """`status` asked of a clip this cache holds no look at (another copy of the kit, another user or a cleared cache
    made the run): it reads none (a whole decode, a hash of the file, a lossless copy: seconds to minutes a clip)."""

    def __init__(self, p: Path) -> None:
        super().__init__(f"not checked: {p.name} is not among the clips this kit's cache has read (another copy of the "
                         "kit, another user or a cleared cache made the run), and status reads no clip; the next run "
                         "reads them and reruns the step only if one changed")


class Sha256Cache:
    """The cache's entries by file version (file_key), each written under the file's lock into what others wrote.
    `reading` (`status`): what is not there yet is never computed (NotRead)."""

    def __init__(self, tree: Tree | None, path: Path | None = None, reading: bool = False) -> None:
        self.tree, self.path, self.reading = tree, path if tree is not None else None, reading
        self.damaged: Spelled | None = None  # what reading it found damaged (computed again), for its reader to say
        self._others: dict[str, str] = {}  # the entries of kinds another kit version reads (OTHER_KIND), kept as read
        self._live: dict[str, bool] = {}  # of those, whether their file is still the version they describe (once each)
        self._checked: dict[str, tuple[str, bool]] = {}  # entry: (its value, whole), as this cache found it
        self._unchecked: dict[str, str] = {}  # `reading`: the entries not asked yet, moved into _data once checked
        self._data = self._read()  # every entry in it whole

    def _held(self, key: str, p: Path) -> bool:
        """Whether the entry is there; NotRead where it is not and nothing may be computed."""
        if self._entry(key) is None:
            if self.reading:
                raise NotRead(p)
            return False
        return True

    def _entry(self, key: str) -> str | None:
        """The entry `key`, whole; None when it is missing. `reading` checks each entry as it is first asked (a
        damaged one is a miss, as in _read) and keeps it in _data once whole; a run's are checked as read."""
        if key in self._data:
            return self._data[key]
        value = self._unchecked.pop(key, None)
        if value is not None and self._is_whole(key, value):
            self._data[key] = value
            return value
        return None

    def _is_whole(self, key: str, value: str) -> bool:
        """_valid_entry, once per entry and value for this cache: a run writing M entries into a cache of N reads
        the file M times, and checks N + M entries, not N x M."""
        found = self._checked.get(key)
        if found is None or found[0] != value:
            found = self._checked[key] = (value, _valid_entry(key, value))
        return found[1]

    def _read(self) -> dict[str, str]:
        """The file's entries of the kinds this kit reads, checked, not trusted: a damaged entry is left out (and
        computed again), and said in `damaged`, as a damaged file is; another kit version's entries are set aside in
        `_others`, unread, to be written back. `reading` (`status`) sets this kit's entries aside in `_unchecked`,
        each checked as it is asked (_entry): its `damaged` says only a damaged file, or an entry that is no text."""
        if self.tree is None or self.path is None:
            return {}
        data, why = self.tree.read_json_object(self.path)
        texts = {k: v for k, v in (data or {}).items() if isinstance(v, str)}
        self._others = {k: v for k, v in texts.items() if not _ours(k)}
        ours = {k: v for k, v in texts.items() if _ours(k)}
        # `status` asks a few entries of a cache that grows with every clip the box has seen: it checks only those
        if self.reading:
            self._unchecked = ours
        kept = {} if self.reading else {k: v for k, v in ours.items() if self._is_whole(k, v)}
        if (damage := self._damage(self.path, data, why, len(ours if self.reading else kept))) is not None:
            self.damaged = damage
        return kept

    def _damage(self, path: Path, data: dict[str, Any] | None, why: str, held: int) -> Spelled | None:
        """What a read of the file at `path` found damaged, to be computed again: the file itself (`why`), or its
        entries that are neither held (`held` of them: not said damaged) nor another kit version's; None for a whole
        or missing file."""
        if data is None:
            return None if why == "missing" else Spelled("the kit's cache ", path, f" is {why}: what it held is "
                                                          "computed again")
        if n := len(data) - held - len(self._others):
            return Spelled("the kit's cache ", path, f" holds {n} damaged entr{'ies' if n > 1 else 'y'}: computed "
                           "again")
        return None

    def get(self, p: Path) -> str:
        key = file_key(p)
        if not self._held(key, p):
            with open_clip(p) as fh:
                self._add(key, sha256_stream(fh))
        return self._data[key]

    def master_decode(self, p: Path, ffmpeg: str) -> MasterDecode:
        """What a master's one whole strict decode tells, once per file version (of a copied one: the copy's decode)."""
        if needs_intermediate(p):
            return self.intermediate(p, ffmpeg).decoded
        key = MASTER + file_key(p)
        if self.reading and self._entry(key) is None:
            self._refused(p, ffmpeg)  # a look the run was refused: said as the run says it (left out), not NotRead
        if not self._held(key, p):
            decoded = self._looked(p, ffmpeg, lambda: decode_master(p, ffmpeg))  # what it holds: probe_clip's to refuse
            self._add(key, json.dumps(_master_entry(decoded)))
            return decoded
        return _master_from(load_json(self._data[key]))

    def _looked(self, p: Path, ffmpeg: str, looks: Callable[[], T]) -> T:
        """What `looks` (a master's looks) tell, or the refusal they gave this file version and ffmpeg before; a
        refusal of the moment's (LookCutShort, the file changed while it was read) is never kept."""
        self._refused(p, ffmpeg)
        key = refusal_key(p, ffmpeg)
        try:
            return looks()
        except LookCutShort:
            raise
        except InputError as exc:
            if (changed := changed_while_read(p, key)) is not None:
                raise changed from exc
            with contextlib.suppress(ValueError):  # a text the cache cannot keep with its paths: looked at again
                self._add(key, json.dumps(_refusal_entry(exc, p)))
            raise

    def _refused(self, p: Path, ffmpeg: str) -> None:
        """The refusal this file version's looks gave with this ffmpeg before, raised again; nothing if none."""
        if (refused := self._entry(refusal_key(p, ffmpeg))) is not None:
            raise _refusal_from(load_json(refused), p)

    def intermediate(self, p: Path, ffmpeg: str) -> Intermediate:
        """A master's lossless copy, made in the kit's cache once per file version, reused while its sha256 holds."""
        version = file_key(p)
        key = COPY + version
        tree = self.tree if self.tree is not None else cache_tree()
        dest = intermediate_path(tree.root, p, version)
        if (found := self._copy(key, dest)) is not None:
            return found
        if self.reading:  # the copy is not there: `status` makes none (a refusal the run was given is said as it was)
            self._refused(p, ffmpeg)
            raise NotRead(p)
        return self._looked(p, ffmpeg, lambda: self._make_copy(p, ffmpeg, tree, key, dest))

    def _make_copy(self, p: Path, ffmpeg: str, tree: Tree, key: str, dest: Path) -> Intermediate:
        """make_intermediate under the copy's lock, unless another run made it while this one waited."""
        opened = open_clip_streams(p, ffmpeg)
        wait_s = copy_wait_s(opened.budget)
        try:
            with tree.lock(dest.with_name(f".{dest.name}.lock"), wait_s=wait_s, tidy=True):
                self._data.update(self._read())  # a copy another run made while this one waited
                if (found := self._copy(key, dest)) is not None:
                    return found
                decoded, tags = make_intermediate(tree, p, dest, ffmpeg, opened)
                self._add(key, json.dumps([*_master_entry(decoded), dest.name, self.get(dest), [*map(list, tags)]]))
        except LockBusy as busy:
            raise ToolError(f"{p}: another run ({busy.holder}) has been making its lossless copy for over "
                            f"{wait_s:.0f} s, longer than its looks may take",
                            hint="wait for that run, or stop it, then run again") from None
        except OSError as exc:  # the cache's folder or disk, never the clip (ffmpeg alone reads it here)
            raise ToolError(f"cannot write the lossless copy of {p} into the kit's cache {dest.parent} "
                            f"({exc.strerror or exc})",
                            hint=f"set {CACHE_DIR.name} to a folder you can write on a disk with room") from exc
        return Intermediate(decoded, dest, tags)

    def _copy(self, key: str, dest: Path) -> Intermediate | None:
        """The copy the entry `key` records, when it is still there with its sha256; None otherwise."""
        if (entry := self._entry(key)) is None:
            return None
        decoded, name, sha, tags = _copy_from(load_json(entry))
        try:
            whole = name == dest.name and dest.is_file() and self.get(dest) == sha
        except (OSError, InputError):  # gone, or no longer a file: made again
            whole = False
        return Intermediate(decoded, dest, tags) if whole else None

    def pictures(self, p: Path, input_args: Sequence[str], ffmpeg: str, budget: Budget) -> Fingerprint:
        """A .y4m/.yuv clip's fingerprint, read by `input_args` (which end with `-i PATH`) within `budget`."""
        how = json.dumps(list(input_args[:-1]))  # a .yuv's size and format, from its name or sidecar
        key = f"{PICTURES}{how}|{file_key(p)}"
        if not self._held(key, p):
            try:
                identity = decode_pictures(p, input_args, ffmpeg, budget)
            except InputError as exc:  # cut short as it was read: the moment's, not the file's
                if not isinstance(exc, LookCutShort) and (changed := changed_while_read(p, key)) is not None:
                    raise changed from exc
                raise
            self._add(key, json.dumps(_print_entry(identity)))
        return _print_from(load_json(self._data[key]))

    def _add(self, key: str, value: str) -> None:
        """Keep the entry, and write it into the file: re-read under the lock, so what others wrote stays."""
        self._data[key] = value
        if self.tree is None or self.path is None:
            return
        with contextlib.suppress(OSError, LockBusy):  # a cache that cannot be written only costs time
            with self.tree.lock(self.path.with_name(f".{self.path.name}.lock"), wait_s=CACHE_LOCK_WAIT_S, tidy=True):
                merged = {**self._read(), key: value}
                others = {k: v for k, v in self._others.items()
                          if self._live.setdefault(k, _file_still_there(k))}
                self.tree.write_json(self.path, {**others, **merged})
            for k, v in merged.items():  # what the other runs found is known here too from now on
                self._data.setdefault(k, v)


def copy_wait_s(budget: Budget) -> float:
    """How long a run waits for another run's lossless copy of the same file: all the looks that run makes (the first
    look and the second, each writing the copy, and the copy's check) at their budgets, and a start."""
    return 2 * budget.seconds("copy") + budget.seconds("check") + LOOK_START_S
