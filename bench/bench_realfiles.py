#!/usr/bin/env python3
"""Issue 67's closing measure: a box of whole real files run as a collaborator runs it, what each file became, and
the same run after its out-dir was moved.

The files (tests/publicclips.py fetches them by sha256 and keeps them in $TESTS_MEDIA): opencv-doc's five clips,
box.mp4 among them (box, cup, Megamind, tree, vtest; Megamind_bugy is Megamind again), and four others: the 1906 film
in Theora that vanished from a run, a Canon camera's MJPEG, imageio's 4:4:4 cockatoo at 720p and pymecavideo's VP9 at
187 fps. `--clips` names others (any `name` of tests/data/publicclips.toml).

1. The run: `run --ref-dir REFS --out-dir OUT` with the kit's defaults (every flag after `--` added), an empty
   out-dir and an empty kit cache, as on a box nobody tested: its wall time and CPU time (user + system of the kit
   and every process it waited for, from wait4), its exit, each step's seconds (its status.json).
2. What each file became: used (the frames and size the corpus holds, against what a plain `ffmpeg -i FILE -f null -`
   gives), or left out (skipped.json's reason), or neither (a file the run lost).
3. The same run after the out-dir was moved (renamed to OUT-moved): the command again, as a collaborator reruns it,
   then `run --from bundle` there: for each, its time, the steps it ran, and whether its results tarball holds the
   corpus and passes `verify`.

    python bench/bench_realfiles.py [--work DIR] [--clips a.mp4,b.avi] [--timeout S] [-- RUN FLAGS]

One JSON document on stdout, a readable account on stderr. Not a test: the tier that checks these files is
tests/realfiles/ (noxfile.py).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tarfile
from pathlib import Path

from common import ROOT, load_average, measure

from tests.publicclips import characterise, fetch, load_manifest

BOX = ("box.mp4", "cup.mp4", "Megamind.avi", "tree.avi", "vtest.avi",  # opencv-doc's five
       "Shepard_Calais_1906_FrenchGP.ogv.160p.ogv", "movie.avi", "cockatoo.mp4", "balle1-vp9.avi")
STEP_LINE = re.compile(r"^\[(\d\d) (\w+)\] (runs|skipped|done)\b", re.MULTILINE)


def kit(*args: str | Path, log: Path, cache: Path, timeout: float) -> dict[str, object]:
    """One command of the kit, as a collaborator starts it: wall, CPU, exit, and the steps it ran."""
    m = measure([sys.executable, "-m", "kit", *args], cwd=ROOT, timeout=timeout, log=log,
                env={"KIT_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)})
    ran = [name for _, name in sorted({(n, name) for n, name, what in STEP_LINE.findall(m.output) if what == "done"})]
    return {"wall_s": round(m.wall, 1), "cpu_s": round(m.cpu, 1), "exit": None if m.timed_out else m.rc,
            "timed_out": m.timed_out, "steps_run": ran, "log": str(log), "last_lines": m.output.splitlines()[-6:]}


def step_seconds(out: Path) -> dict[str, float]:
    found = {}
    for status in sorted(out.glob("0*/status.json")):
        record = json.loads(status.read_text())
        found[record.get("step", status.parent.name)] = record.get("seconds")
    return found


def what_each_became(refs: Path, out: Path, ffmpeg: str) -> list[dict[str, object]]:
    """Each file of --ref-dir: used (the corpus's frames and size beside a plain decode's), left out, or lost."""
    manifest_path, skipped_path = out / "02_corpus" / "shard.manifest.json", out / "02_corpus" / "skipped.json"
    sources = json.loads(manifest_path.read_text())["sources"] if manifest_path.is_file() else []
    skipped = json.loads(skipped_path.read_text())["skipped"] if skipped_path.is_file() else []
    rows = []
    for path in sorted(p for p in refs.iterdir() if not p.name.startswith(".")):
        plain = characterise(ffmpeg, path)
        used = next((s for s in sources if s.get("file") == path.name), None)
        left = next((s for s in skipped if Path(s["path"]).name == path.name), None)
        row: dict[str, object] = {"file": path.name, "plain_frames": plain.frames, "plain_video": plain.video}
        if used:
            row.update(became="used", frames=used["frames"], size=f"{used['width']}x{used['height']}",
                       fps=used["fps"], decode=used.get("decode", ""))
        elif left:
            row.update(became="left out", why=left["reason"].removeprefix(left["path"] + ": "), fix=left["fix"])
        else:
            row.update(became="neither used nor named")
        rows.append(row)
    return rows


def tarball_of(out: Path, cache: Path) -> dict[str, object]:
    """The out-dir's newest results tarball: whether it holds the corpus, and what `verify` says of it."""
    tarballs = sorted((out / "05_bundle").glob("results-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not tarballs:
        return {"tarball": None}
    with tarfile.open(tarballs[-1]) as tar:
        names = tar.getnames()
    verified = kit("verify", tarballs[-1], log=out.parent / f"{out.name}-verify.log", cache=cache, timeout=300)
    return {"tarball": tarballs[-1].name, "holds_corpus": any(n.endswith("02_corpus/shard.parquet") for n in names),
            "members": len(names), "verify_exit": verified["exit"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "realfiles")
    ap.add_argument("--clips", default=",".join(BOX), help="file names of tests/data/publicclips.toml")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds before the run counts as hung and is killed")
    ap.add_argument("flags", nargs="*", help="run flags, after --")
    args = ap.parse_args()
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    manifest = load_manifest()
    clips = [manifest.clip(name) for name in args.clips.split(",")]
    paths = fetch(clips, manifest)
    shutil.rmtree(args.work, ignore_errors=True)
    refs, out, moved, cache = (args.work / name for name in ("refs", "out", "out-moved", "cache"))
    refs.mkdir(parents=True)
    for clip in clips:
        shutil.copyfile(paths[clip.name], refs / clip.name)
    command = ["run", "--ref-dir", refs, "--box-id", "realbox", *args.flags]
    print(f"{len(clips)} files in {refs}; load {load_average()}", file=sys.stderr)
    first = kit(*command, "--out-dir", out, log=args.work / "run.log", cache=cache, timeout=args.timeout)
    first.update(step_seconds=step_seconds(out), load_after=load_average())
    files = what_each_became(refs, out, ffmpeg)
    bundled = tarball_of(out, cache)
    out.rename(moved)
    again = kit(*command, "--out-dir", moved, log=args.work / "moved-run.log", cache=cache, timeout=args.timeout)
    again["tarball"] = tarball_of(moved, cache)
    rebundled = kit(*command, "--out-dir", moved, "--from", "bundle", log=args.work / "moved-bundle.log", cache=cache,
                    timeout=args.timeout)
    rebundled["tarball"] = tarball_of(moved, cache)
    report = {"files": files, "run": {**first, "tarball": bundled}, "moved_rerun": again,
              "moved_from_bundle": rebundled}
    print(json.dumps(report, indent=2, default=str))
    for name, r in (("run", report["run"]), ("moved, rerun", again), ("moved, --from bundle", rebundled)):
        print(f"{name:22s} wall {r['wall_s']:7.1f} s  CPU {r['cpu_s']:7.1f} s  exit {r['exit']}  steps run "
              f"{', '.join(r['steps_run']) or 'none'}; tarball {r['tarball']}", file=sys.stderr)
    for row in files:
        said = {"used": f"used: {row.get('frames')} frames ({row['plain_frames']} played) at {row.get('size')}",
                "left out": f"left out: {row.get('why')}"}.get(str(row["became"]), str(row["became"]))
        print(f"  {row['file']}: {said}", file=sys.stderr)


if __name__ == "__main__":
    main()
