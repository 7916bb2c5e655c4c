#!/usr/bin/env python3
"""Identity by decoded pictures (kit.media.identity): what it costs and how well it tells contents apart.

  * cost: the fingerprint's ffmpeg run beside what the kit already does, and beside the corpus step's
    own commands (every encode + libvmaf score of the clip at the default cqs, single-threaded encodes
    as the kit runs them), CPU (user + sys, from wait4) and wall, each measured twice; on the 9 demo
    clips (640x360, 3 s, y4m) and on a 1080p 5 s clip as x264 .mp4 (a master: the fingerprint rides on
    the strict decode discovery already makes) and as .y4m (one extra ffmpeg pass);
  * detection: every pair of a set of clips, each clip in a family (itself, its twins in other
    containers, a copy trimmed by a frame, rescaled by 2 px, lossy, letterboxed and pillarboxed: black bars
    of 12.5 % a side added); pairs within a family should be identical or match, pairs across families
    different. On the demo clips, on generated look-alikes (title cards, gradients, flat fields; two flat
    title cards are undecided) and on real clips given with --real (a folder; the bench makes the variants
    of each clip, and cuts a long clip into 5 s segments, which are different contents);
  * similar_pairs on 1,000 signatures.

    python bench/bench_identity.py --work /tmp/idbench [--real /tmp/realclips] [--skip-cost]
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import time
from collections import Counter
from pathlib import Path

import numpy as np
from common import load_average, measure

from kit.media.argv import STRICT_DECODE, build_encode_argv, build_fingerprint_argv, build_score_argv
from kit.media.cache import Sha256Cache
from kit.media.demo import DEMO_CLIPS, ensure_demo_set
from kit.media.discovery import probe_clip
from kit.media.ffmpeg import imageio_binary
from kit.media.fingerprint import GRID, THUMB
from kit.media.identity import DIFFERENT_ABOVE, MATCH_AT, Fingerprint, compare, fingerprint, similar_pairs
from kit.media.refs import Clip
from kit.media.signature import build_signature
from kit.platforms.encoders import get_spec

CQS = (19, 25, 31, 37)  # the default grid (steps/settings.RunSettings.cqs)


def ff(ffmpeg: str, *args: str) -> None:
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def probe(path: Path, ffmpeg: str) -> Clip:
    return probe_clip(path, ffmpeg, Sha256Cache(None))


# --- cost -----------------------------------------------------------------------------------------


def corpus_cost(clip: Clip, ffmpeg: str, work: Path, cqs: tuple[int, ...]) -> tuple[float, float]:
    """(CPU s, wall s) of the corpus step's commands for one clip: an encode and a libvmaf score per cq."""
    cpu = wall = 0.0
    spec = get_spec("libx264")
    for cq in cqs:
        enc = work / f"enc_{cq}.h264"
        m = measure(build_encode_argv(ffmpeg, clip.input_args(), spec, cq, enc, threads=1))
        s = measure(build_score_argv(ffmpeg, enc, clip.input_args(), clip.width, clip.height, clip.pix_fmt,
                                     work / "vmaf.json", 1, fps=clip.fps))
        assert m.rc == 0 and s.rc == 0, (m.output, s.output)
        cpu, wall = cpu + m.cpu + s.cpu, wall + m.wall + s.wall
    return cpu, wall


def identity_cost(clip: Clip, ffmpeg: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """((CPU, wall) of the decode discovery already made, (CPU, wall) with the fingerprint): a master's one
    strict decode without and with the two extra outputs; a .y4m's nothing vs its fingerprint pass."""
    if clip.kind == "master":
        # the strict decode discovery made before the fingerprint
        before = measure([ffmpeg, "-hide_banner", "-nostdin", "-nostats", *STRICT_DECODE, "-i", str(clip.path),
                          "-map", "0:v:0", "-f", "null", "-"])
        after = measure(build_fingerprint_argv(ffmpeg, clip.input_args(), checks=STRICT_DECODE, count=True))
        assert before.rc == 0 and after.rc == 0
        return (before.cpu, before.wall), (after.cpu, after.wall)
    after = measure(build_fingerprint_argv(ffmpeg, clip.input_args()))
    assert after.rc == 0
    return (0.0, 0.0), (after.cpu, after.wall)


def cost(ffmpeg: str, work: Path) -> None:
    demo = ensure_demo_set(work / "cache", ffmpeg)
    big = work / "big"
    big.mkdir(exist_ok=True)
    src = "testsrc2=s=1920x1080:r=25"
    if not (big / "big1080.y4m").is_file():
        ff(ffmpeg, "-f", "lavfi", "-i", src, "-t", "5", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe",
           str(big / "big1080.y4m"))
        ff(ffmpeg, "-i", str(big / "big1080.y4m"), "-c:v", "libx264", "-crf", "18", "-preset", "fast",
           str(big / "big1080.mp4"))
    print(f"load average before: {load_average()}")
    for run in (1, 2):
        totals = np.zeros(6)
        for d in DEMO_CLIPS:
            clip = probe(demo / f"{d.name}.y4m", ffmpeg)
            (b_cpu, b_wall), (a_cpu, a_wall) = identity_cost(clip, ffmpeg)
            c_cpu, c_wall = corpus_cost(clip, ffmpeg, work, CQS)
            totals += (a_cpu - b_cpu, a_wall - b_wall, c_cpu, c_wall, a_cpu, a_wall)
        print(f"run {run} demo (9 y4m clips): fingerprint CPU {totals[0]:.2f} s wall {totals[1]:.2f} s | "
              f"corpus commands ({len(CQS)} cqs) CPU {totals[2]:.1f} s wall {totals[3]:.1f} s | "
              f"ratio CPU {totals[0] / totals[2]:.4f}")
        for name in ("big1080.mp4", "big1080.y4m"):
            clip = probe(big / name, ffmpeg)
            (b_cpu, b_wall), (a_cpu, a_wall) = identity_cost(clip, ffmpeg)
            c_cpu, c_wall = corpus_cost(clip, ffmpeg, work, (25,))
            print(f"run {run} {name}: discovery decode CPU {b_cpu:.2f} s wall {b_wall:.2f} s -> with fingerprint "
                  f"CPU {a_cpu:.2f} s wall {a_wall:.2f} s (extra CPU {a_cpu - b_cpu:.2f} s, wall "
                  f"{a_wall - b_wall:.2f} s) | corpus commands, one cq: CPU {c_cpu:.1f} s wall {c_wall:.1f} s, "
                  f"x{len(CQS)} cqs: CPU {c_cpu * len(CQS):.1f} s | extra / corpus CPU "
                  f"{(a_cpu - b_cpu) / (c_cpu * len(CQS)):.4f}")
    print(f"load average after: {load_average()}")


# --- detection ------------------------------------------------------------------------------------


def variants(ffmpeg: str, src: Path, out: Path, stem: str, width: int, height: int,
             twins: bool = True) -> list[Path]:
    """The family of `src`: twins in other containers (lossless), a copy trimmed by a frame at the start
    and one at the end, rescaled by +2 px, lossy copies (x264 crf 35, and 100 kb/s), and copies inside black
    bars (letterbox, pillarbox: the picture scaled to 3/4 of a side, 1/8 of it black at each edge)."""
    made = []

    def make(name: str, *args: str) -> None:
        dest = out / name
        if not dest.is_file():
            ff(ffmpeg, "-i", str(src), *args, str(dest))
        made.append(dest)

    if twins:
        make(f"{stem}__twin.mkv", "-c:v", "ffv1")
        make(f"{stem}__twin.mp4", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p")
        make(f"{stem}__twin_{width}x{height}_25fps.yuv", "-f", "rawvideo", "-pix_fmt", "yuv420p")
    make(f"{stem}__trim_head.mkv", "-vf", "trim=start_frame=1,setpts=PTS-STARTPTS", "-c:v", "ffv1")
    frames = probe(src, ffmpeg).n_frames
    make(f"{stem}__trim_tail.mkv", "-frames:v", str(frames - 1), "-c:v", "ffv1")
    make(f"{stem}__wider.mkv", "-vf", f"scale={width + 2}:{height}", "-c:v", "ffv1")
    make(f"{stem}__crf35.mp4", "-c:v", "libx264", "-crf", "35", "-preset", "veryfast")
    make(f"{stem}__100k.mp4", "-c:v", "libx264", "-b:v", "100k", "-preset", "veryfast")
    inner_h, inner_w = 2 * round(height * 3 / 8), 2 * round(width * 3 / 8)
    make(f"{stem}__letterbox.mkv", "-vf", f"scale={width}:{inner_h},pad={width}:{height}:0:(oh-ih)/2:black",
         "-c:v", "ffv1")
    make(f"{stem}__pillarbox.mkv", "-vf", f"scale={inner_w}:{height},pad={width}:{height}:(ow-iw)/2:0:black",
         "-c:v", "ffv1")
    return made


def lookalikes(ffmpeg: str, out: Path) -> list[tuple[str, Path]]:
    card = "color=c=0x203060:s=640x360:r=25,drawbox=x={}:y={}:w={}:h={}:color=white:t=fill"
    letter = "drawbox=x={}:y=160:w={}:h=40:color=white:t=fill"  # a title card's text, as boxes the size of letters
    title = "color=c=black:s=640x360:r=25," + ",".join(letter.format(120 + 32 * k + (k * k) % 7, 14 + (3 * k) % 9)
                                                     for k in range(12))
    title_b = "color=c=black:s=640x360:r=25," + ",".join(letter.format(110 + 30 * k + (k * 5) % 11, 12 + (7 * k) % 11)
                                                       for k in range(13))
    grad = "gradients=s=640x360:r=25:speed=0.00001:n=2:c0={}:c1={}:x0={}:y0={}:x1={}:y1={}"
    sources = {
        "card_top": card.format(40, 60, 560, 50), "card_low": card.format(40, 250, 560, 50),
        "card_small": card.format(200, 150, 240, 40), "card_two": card.format(40, 60, 250, 240),
        "ramp_across": grad.format("black", "white", 0, 0, 639, 0),
        "ramp_down": grad.format("black", "white", 0, 0, 0, 359),
        "ramp_diag": grad.format("black", "white", 0, 0, 639, 359),
        "ramp_red_blue": grad.format("red", "blue", 0, 0, 639, 0),
        "flat_100": "color=c=0x646464:s=640x360:r=25", "flat_120": "color=c=0x787878:s=640x360:r=25",
        "flat_red": "color=c=0xb03030:s=640x360:r=25", "flat_blue": "color=c=0x3030b0:s=640x360:r=25",
        "title_a": title, "title_b": title_b,
    }
    made = []
    for name, lavfi in sources.items():
        dest = out / f"{name}.y4m"
        if not dest.is_file():
            ff(ffmpeg, "-f", "lavfi", "-i", lavfi, "-frames:v", "50", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe",
               str(dest))
        made.append((name, dest))
    return made


def real_set(ffmpeg: str, real: Path, out: Path) -> list[tuple[str, Path]]:
    """Real clips: a clip of at most 5 s is a family with its variants; a longer one is cut into 5 s
    segments (different contents: other shots of one film), the first segment with its variants."""
    items: list[tuple[str, Path]] = []
    for src in sorted(real.iterdir()):
        clip = probe(src, ffmpeg)
        stem = src.stem
        seconds = clip.n_frames / clip.fps_float
        if seconds <= 5.5:
            items.append((stem.split("_")[0], src))
            continue
        for k in range(int(seconds // 5)):
            seg = out / f"{stem}_seg{k}.mkv"
            if not seg.is_file():
                ff(ffmpeg, "-ss", str(5 * k), "-i", str(src), "-t", "5", "-an", "-c:v", "ffv1", str(seg))
            items.append((f"{stem}_seg{k}", seg))
    return items


def families(ffmpeg: str, work: Path, real: Path | None) -> dict[str, list[tuple[str, Path]]]:
    """Sets of (family, file)."""
    out = work / "variants"
    out.mkdir(exist_ok=True)
    demo = ensure_demo_set(work / "cache", ffmpeg)
    demo_items = []
    for d in DEMO_CLIPS:
        src = demo / f"{d.name}.y4m"
        demo_items += [(d.name, src)] + [(d.name, p) for p in variants(ffmpeg, src, out, d.name, 640, 360)]
    sets = {"demo": demo_items, "look-alikes": lookalikes(ffmpeg, out)}
    if real is not None:
        items = real_set(ffmpeg, real, out)
        firsts: dict[str, Path] = {}
        for fam, p in items:
            firsts.setdefault(fam, p)
        for fam, p in list(firsts.items()):
            c = probe(p, ffmpeg)
            items += [(fam, v) for v in variants(ffmpeg, p, out, p.stem, c.width, c.height, twins=False)]
        sets["real"] = items
    return sets


def rates(name: str, items: list[tuple[str, Path]], prints: dict[Path, Fingerprint]) -> None:
    pos: Counter[str] = Counter()
    neg: Counter[str] = Counter()
    worst_pos, best_neg = (0.0, ""), (9.9, "")
    for (fa, a), (fb, b) in itertools.combinations(items, 2):
        like = compare(prints[a], prints[b])
        pair = f"{a.name} ~ {b.name}"
        if fa == fb:
            pos[like.outcome] += 1
            if like.outcome != "identical" and like.distance > worst_pos[0]:
                worst_pos = (like.distance, pair)
            if like.outcome in ("undecided", "different"):
                print(f"    missed: {pair}: {like.detail}")
        else:
            neg[like.outcome] += 1
            if like.distance < best_neg[0]:
                best_neg = (like.distance, pair)
            if like.outcome != "different":
                print(f"    false alarm: {pair}: {like.detail}")
    n_pos, n_neg = sum(pos.values()), sum(neg.values())
    print(f"  {name}: {len(items)} files, {len({f for f, _ in items})} contents")
    if n_pos:
        fn = pos["different"] / n_pos
        print(f"    same content ({n_pos} pairs): {dict(pos)}; false negatives (different) {fn:.4f}, "
              f"undecided {pos['undecided'] / n_pos:.4f}; largest distance {worst_pos[0]:.4f} ({worst_pos[1]})")
    if n_neg:
        fp = neg["match"] / n_neg
        print(f"    different contents ({n_neg} pairs): {dict(neg)}; false positives (match) {fp:.4f}, "
              f"undecided {neg['undecided'] / n_neg:.4f}; smallest distance {best_neg[0]:.4f} ({best_neg[1]})")


def detection(ffmpeg: str, work: Path, real: Path | None) -> list[Fingerprint]:
    sets = families(ffmpeg, work, real)
    every: list[Fingerprint] = []
    print(f"thresholds: match <= {MATCH_AT}, different > {DIFFERENT_ABOVE}")
    for name, items in sets.items():
        prints = {p: fingerprint(probe(p, ffmpeg), ffmpeg, Sha256Cache(None)) for _, p in items}
        sizes = [len(f.signature) for f in prints.values()]
        print(f"  signature sizes: median {int(np.median(sizes))} B, largest {max(sizes)} B")
        rates(name, items, prints)
        every += prints.values()
    return every


def pairs_speed(real_prints: list[Fingerprint]) -> None:
    """similar_pairs on 1,000 signatures: the measured ones, the rest synthetic moving clips."""
    rng = np.random.default_rng(0)
    prints = list(real_prints)
    k = GRID // THUMB
    while len(prints) < 1000:  # each an 8x8 picture drifting, written as the decode's GRID x GRID thumbnails
        base = rng.uniform(20, 235, (THUMB, THUMB))
        drift = rng.normal(0, rng.uniform(0, 4), (THUMB, THUMB))
        frames = np.clip(np.stack([base + drift * t for t in range(int(rng.integers(30, 300)))]), 0, 255)
        luma = frames.astype(np.uint8).repeat(k, axis=1).repeat(k, axis=2).reshape(len(frames), -1)
        chroma = np.full((len(frames), GRID * GRID // 2), 128, np.uint8)
        data = np.concatenate([luma, chroma], axis=1).tobytes()
        prints.append(Fingerprint(f"{len(prints):064x}", build_signature(data), len(frames)))
    best = 1e9
    for _ in range(3):
        start = time.perf_counter()
        found = similar_pairs(prints)
        best = min(best, time.perf_counter() - start)
    print(f"similar_pairs on {len(prints)} signatures ({len(real_prints)} measured): best of 3 {best:.2f} s, "
          f"{len(found)} pairs not different")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/kit-bench-identity"))
    parser.add_argument("--real", type=Path, default=None)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--skip-detection", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    ffmpeg = str(imageio_binary())
    if not args.skip_cost:
        cost(ffmpeg, args.work)
    prints = [] if args.skip_detection else detection(ffmpeg, args.work, args.real)
    pairs_speed(prints)


if __name__ == "__main__":
    main()
