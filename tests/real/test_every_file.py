"""Every file in --ref-dir is accounted for, whatever it is and however it is named (issue 67, items 2 and 4).

A folder as a collaborator's may be: clips in containers made here with the kit's ffmpeg (a Theora .ogv, a phone's
.3gp, a .webm, an .avi read through the lossless copy), clips named with a byte that is not UTF-8, a line break,
quotes, a leading dash and 255 bytes, an audio-only .ogg, a note, a picture, an image sequence, a raw stream, a
RealMedia file, a file no tool reads, a folder, a hidden file, a .yuv and its sidecar, and the kit's own output (an
out-dir, a results tarball). Each is used, or named with what it is and its fix; only hidden files and the kit's own
output are passed over. The whole run on that folder, its out-dir named with a byte that is not
UTF-8 too, ends with a tarball the lead's `verify`, `merge` and `corpus export` take, every name in it UTF-8 text.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kit.infra.tree import Tree, read_out_dir
from kit.infra.visible import shell_quote, utf8_text, visible
from kit.media.cache import Sha256Cache
from kit.media.discovery import Unusable, discover
from kit.report.summary import skipped_rows
from kit.rundir import RunDir
from tests.conftest import FAST, LENIENT, render, run_kit
from tests.publicclips import fetched_or_skip, load_manifest

NOT_UTF8 = os.fsdecode(b"caf\xe9")  # Latin-1's é, as an older NAS or a camera card writes it
LONG = "q" * 251  # with .y4m, 255 bytes: the longest name a folder takes
NAMED = {f"{NOT_UTF8}.y4m": "alpha", f"{LONG}.y4m": "beta", "-dash 'quo\"te.y4m": "gamma", "new\nline.y4m": "delta"}
# the file each clip's file makes, and its source name as the corpus stores it: the bytes not UTF-8 as \xHH
USED = {**{name: utf8_text(Path(name).stem) for name in NAMED}, "film.ogv": "film", "phone.3gp": "phone",
        "web.webm": "web", os.fsdecode(b"cam\xe9ra.avi"): "cam\\xe9ra", "plain.yuv": "plain"}
NOTHING = "none needed, the kit reads only videos (move it out of --ref-dir to drop this line)"
# what each other entry is said to be (the start of its reason, after its path)
LEFT_OUT = {
    "song.ogg": "not a video: it has no video stream (only audio)",
    "notes.txt": "not a video: a document (.txt)",
    "photo.jpg": "not a video: a picture (.jpg)",
    "shot_%04d.png": "an image sequence of 3 pictures, shot_0001.png to shot_0003.png, not a video file",
    "drone.264": "a raw .264 video stream, which holds no timestamps",
    "old.rm": "a video in a container the kit does not take by its extension (.rm; ffmpeg reads it as rm, rv20)",
    "blob.xyz": "not a video: ffmpeg cannot read it",
    "more clips": "a folder, which the kit does not look into",
}
PASSED_OVER = (".hidden", ".DS_Store", "runs", "results-boxa-20260101T000000Z.tar.gz")  # hidden, the kit's own
SIDECAR = "plain.json"  # used with plain.yuv
SEQUENCE = ("shot_0001.png", "shot_0002.png", "shot_0003.png")  # named as their sequence, shot_%04d.png


def make_folder(ffmpeg: str, tiny_refs: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, clip in NAMED.items():
        shutil.copy(tiny_refs / f"{clip}.y4m", folder / name)
    render(ffmpeg, "mandelbrot=s=96x64:r=24", folder / "film.ogv", 10, fmt="ogg", extra=("-c:v", "libtheora"))
    render(ffmpeg, "testsrc2=s=96x64:r=30,hflip", folder / "phone.3gp", 10, fmt="3gp", extra=("-c:v", "libx264"))
    render(ffmpeg, "gradients=s=96x64:r=15:seed=5", folder / "web.webm", 10, fmt="webm",
           extra=("-c:v", "libvpx-vp9", "-deadline", "realtime"))
    render(ffmpeg, "life=s=96x64:r=25:seed=7:mold=10", folder / os.fsdecode(b"cam\xe9ra.avi"), 10, pix_fmt="yuvj422p",
           fmt="avi", extra=("-c:v", "mjpeg"))
    render(ffmpeg, "cellauto=s=64x48:r=25:rule=30", folder / "plain.yuv", 10, fmt="rawvideo")
    (folder / "plain.json").write_text('{"width": 64, "height": 48, "fps": 25}')
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "libvorbis",
                    str(folder / "song.ogg")], check=True)
    (folder / "notes.txt").write_text("the clips of the shoot\n")
    render(ffmpeg, "testsrc2=s=64x48", folder / "photo.jpg", 1, pix_fmt="yuvj420p", fmt="image2")
    render(ffmpeg, "testsrc2=s=64x48:r=24", folder / "shot_%04d.png", 3, pix_fmt="rgb24", fmt="image2",
           extra=("-start_number", "1"))
    render(ffmpeg, "testsrc2=s=64x48:r=25", folder / "drone.264", 10, fmt="h264", extra=("-c:v", "libx264"))
    render(ffmpeg, "testsrc2=s=64x48:r=25", folder / "old.rm", 10, fmt="rm", extra=("-c:v", "rv20"))
    (folder / "blob.xyz").write_bytes(bytes(range(256)) * 20)
    (folder / "more clips").mkdir()
    (folder / ".hidden").write_text("passed over")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "runs" / "boxa").mkdir(parents=True)  # an out-dir left there by `run --ref-dir .`
    (folder / "runs" / "boxa" / "run.json").write_text("{}")
    (folder / "results-boxa-20260101T000000Z.tar.gz").write_bytes(b"\x1f\x8b")
    return folder


@pytest.fixture(scope="module")
def refs(ffmpeg: str, tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(ffmpeg, tiny_refs, tmp_path_factory.mktemp("every") / os.fsdecode(b"r\xe9f 'x\""))


def test_every_entry_is_used_named_or_the_kits_own(ffmpeg: str, refs: Path, tmp_path: Path) -> None:
    heard: list[str] = []
    left: list[Unusable] = []
    cache = tmp_path / "cache"
    cache.mkdir()
    clips = discover(refs, ffmpeg, Sha256Cache(Tree.open(cache), cache / "sha256.json"), note=heard.append,
                     unusable=left)
    assert {Path(c.path).name: c.src for c in clips} == USED
    said = {Path(u.path).name: u for u in left}
    assert set(said) == set(LEFT_OUT)
    for name, why in LEFT_OUT.items():
        assert said[name].why.startswith(why), (name, said[name].why)
        assert said[name].fix, name
    assert said["notes.txt"].fix == said["photo.jpg"].fix == said["blob.xyz"].fix == NOTHING
    assert "ffmpeg -framerate RATE -start_number 1 -i" in said["shot_%04d.png"].fix
    assert said["old.rm"].fix.endswith(f"-c:v ffv1 {shell_quote(str(refs / 'old.mkv'))}")
    everything = {p.name for p in refs.iterdir()}  # the folder holds nothing else
    assert everything == {*USED, *(set(LEFT_OUT) - {"shot_%04d.png"}), *SEQUENCE, *PASSED_OVER, SIDECAR}
    for u in left:  # each named once, on a line of its own
        assert sum(line.startswith(f"skipped {u.path}: ") for line in heard) == 1, u.path
    assert not any(f"{refs / name}" in line for line in heard for name in (*PASSED_OVER, SIDECAR))


def test_a_name_is_stored_as_text_every_reader_takes(refs: Path) -> None:
    """skipped.json's and the manifests' names hold no lone surrogate: a byte that is not UTF-8 is written \\xHH."""
    from kit.corpus.manifests import LeftOut

    name = os.fsdecode(b"caf\xe9.y4m")
    left = Unusable(str(refs / name), f"{refs / name}: not a video", "fix it")
    text = json.dumps(left.to_json(), ensure_ascii=False)
    text.encode("utf-8")  # no surrogate left to refuse
    assert json.loads(text)["path"] == visible(str(refs / name)) == str(refs / name).replace("\udce9", "\\xe9")
    assert Unusable.from_json(json.loads(text)).why == "not a video"
    assert LeftOut(name, "why").to_json()["file"] == "caf\\xe9.y4m"


FILM = "Shepard_Calais_1906_FrenchGP.ogv.160p.ogv"  # python-nbsphinx-doc's, as tests/data/publicclips.toml names it


def real_ogv() -> Path:
    """The Theora film, fetched by the realfiles tier's fetcher (skipped, saying so, only without a network)."""
    manifest = load_manifest()
    (found,) = fetched_or_skip([manifest.clip(FILM)], manifest).values()
    return found


def test_a_real_theora_film_is_used(ffmpeg: str, tmp_path: Path) -> None:
    """python-nbsphinx-doc's Shepard_Calais_1906 (Theora, 214x160, 15 fps, 288 frames, a skeleton stream beside it):
    2.1.0 passed over it without a word; it is a clip, its frames those a plain decode gives."""
    refs = tmp_path / "refs"
    refs.mkdir()
    shutil.copy(real_ogv(), refs / FILM)
    (clip,) = discover(refs, ffmpeg, Sha256Cache(None))
    assert (clip.width, clip.height, clip.fps, clip.n_frames, clip.read_path) == (214, 160, "15/1", 288, "")
    plain = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-i", str(refs / FILM), "-map", "0:v:0",
                            "-f", "null", "-"], capture_output=True, text=True, check=True)
    assert "frame=  288" in plain.stderr


def sources(corpus: Path) -> set[str]:
    """The src column of a corpus (opened by Python: arrow takes a path only as UTF-8 text)."""
    with open(corpus, "rb") as fh:
        return set(pq.read_table(fh, columns=["src"]).column("src").to_pylist())


@pytest.mark.slow  # a whole run: about a minute on two cores
def test_a_whole_run_on_every_kind_of_file_ends_in_a_tarball_the_lead_takes(refs: Path, tmp_path: Path) -> None:
    out = tmp_path / os.fsdecode(b"out \xff 'x:y,[1]")
    res = run_kit("run", "--ref-dir", refs, "--out-dir", out, "--box-id", "every", "--encoders", "libx264", *FAST,
                  *LENIENT, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run = RunDir(out)
    skipped = json.loads(run.skipped_clips.read_text(encoding="utf-8"))["skipped"]
    assert {Path(u["path"]).name for u in skipped} == set(LEFT_OUT)
    assert all(u["path"].startswith(utf8_text(str(refs))) for u in skipped)
    with read_out_dir(out) as tree:  # the closing summary's row, as printed (wrapped) in res.stdout
        ((label, row),) = skipped_rows(tree, out)
    assert label == "SKIPPED clips" and row.startswith(f"{len(LEFT_OUT)} left out (--strict refuses instead): ")
    assert "SKIPPED clips" in res.stdout and f"{len(LEFT_OUT)} left out" in res.stdout
    manifest = json.loads(run.shard_manifest.read_text(encoding="utf-8"))
    assert {x["file"] for x in manifest["left_out"]} == set(LEFT_OUT)
    assert {s["file"]: s["src"] for s in manifest["sources"]} == {utf8_text(n): src for n, src in USED.items()}
    report = run.report.read_text(encoding="utf-8")
    assert all(name.replace("&", "&amp;") in report for name in LEFT_OUT)
    for path in (run.skipped_clips, run.shard_manifest):  # UTF-8 text throughout: no lone surrogate escaped
        assert "\\udc" not in path.read_text(encoding="utf-8"), path
    assert sources(run.shard) == set(USED.values())
    (tarball,) = run.step("bundle").glob("results-*.tar.gz")
    assert run_kit("verify", tarball).returncode == 0
    with tarfile.open(tarball) as tar:
        sent = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("02_corpus/skipped.json")))
        assert sent is not None
        said = json.load(sent)["skipped"]  # named under [ref-dir], the ref-dir's byte that is not UTF-8 too
        assert {u["path"] for u in said} == {f"[ref-dir]/{name}" for name in LEFT_OUT}
    merged = tmp_path / "union" / "union.parquet"
    merged.parent.mkdir()
    taken = run_kit("merge", tarball, "-o", merged)
    assert taken.returncode == 0, taken.stderr[-3000:]
    assert sources(merged) == set(USED.values())
    # the shard's left-out clips, each by its name and reason; a file of no video's extension ffmpeg cannot read
    # (blob.xyz) is no clip name the catalogue admits there (kit.bundle.values.CLIP_FILE): withheld, its reason sent
    left = [ln.strip().removeprefix("left out on box every: ") for ln in taken.stdout.splitlines()
            if ln.strip().startswith("left out on box every: ")]
    assert "song.ogg: not a video: it has no video stream (only audio)" in left, taken.stdout
    assert "[withheld: a text with no catalogued form]: not a video: ffmpeg cannot read it" in left, taken.stdout
    assert all(any(line == f"{name}: {why}" for name, why in LEFT_OUT.items()) or line.startswith("[withheld")
               for line in left), left
    exported = tmp_path / "union" / "rows.jsonl"
    assert run_kit("corpus", "export", merged, "--format", "upstream-jsonl", "-o", exported).returncode == 0
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    with open(merged, "rb") as fh:
        assert len(rows) == pq.read_metadata(fh).num_rows
    assert {row["src"] for row in rows} <= set(USED.values())  # a content group's rows under one of its names


def test_a_name_the_kit_makes_from_a_long_one_fits_in_255_bytes(tmp_path: Path) -> None:
    """A fix's `<name>_even.mkv` beside a clip whose name takes 255 bytes: cut a character at a time (never inside
    one: `é` is two bytes, a byte that is not UTF-8 one), so the folder takes it and the printed command runs."""
    from kit.infra.files import NAME_MAX, name_beside
    from kit.media.refs import crop_command

    for stem in ("q" * 251, "é" * 125 + "q", os.fsdecode(b"\xe9" * 251)):
        clip = tmp_path / f"{stem}.y4m"
        made = name_beside(clip, stem, "_even.mkv")
        assert len(os.fsencode(made.name)) <= NAME_MAX and made.name.endswith("_even.mkv")
        assert len(os.fsencode(made.name)) > NAME_MAX - 2 and stem.startswith(made.name.removesuffix("_even.mkv"))
        made.write_bytes(b"")  # the folder takes the name
    assert shell_quote(str(name_beside(tmp_path / "a.y4m", "a", "_even.mkv"))) in crop_command(tmp_path / "a.y4m", 65,
                                                                                                 48)
