#!/usr/bin/env python3
"""The bases the kit carries (kit/model/shipped_bases/): the teacher recipe's base of each default seed, for the
built-in teacher (vmaf_v0.6.1, read from the ffmpeg's libvmaf) and the default recipe, trained here as LOSO trains
them, and written with the key kit.model.bases.KeptBases.shipped_key gives (what a base is for, not the box; the box
that made it recorded beside it, `made`).

    .venv/bin/python tools/make_bases.py            # train them and write them (the folder's other records removed)
    .venv/bin/python tools/make_bases.py --check    # train them and compare; write nothing; exit 1 on a difference

Run it when a release changes what a base's key holds (a format version through the loso step's, the network, the
recipe's base figures, the teacher's samples' figures); tests/unit/test_shipped_bases.py fails until it is. --check
trains each base again: on a box like the one that made them (the record's `made`: torch, the threads, the CPU, its
vector unit and the kernels) every bit must be the same; on another, it says how far the outputs on the teacher's
samples are apart.
A seed trains in about 5 s of one core's CPU (4.7 s on the box that made the carried ones).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from kit.media.ffmpeg import imageio_binary  # noqa: E402
from kit.media.libvmaf import TEACHER_MODEL  # noqa: E402
from kit.media.svr import builtin_model_text, parse_model  # noqa: E402
from kit.model.arch import fr_regressor_v2  # noqa: E402
from kit.model.bases import SHIPPED, KeptBases, box  # noqa: E402
from kit.model.distil import Prior, train_bases  # noqa: E402
from kit.model.kernels import active  # noqa: E402
from kit.model.recipe import TEACHER, TrainConfig  # noqa: E402
from kit.model.workers import run_on_workers  # noqa: E402
from kit.steps import formats_through  # noqa: E402
from kit.steps.settings import RunSettings  # noqa: E402


def default_seeds() -> list[int]:
    """The seeds a run trains unless told otherwise (RunSettings' `seeds`): the ones whose bases the kit carries."""
    return list(next(f.default for f in fields(RunSettings) if f.name == "seeds"))


def made_here() -> list[object]:
    """What the bits of a base trained here depend on beyond its key (kit.model.bases.box): recorded beside it,
    compared by --check."""
    return box(active())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="train and compare with the records; write nothing")
    ap.add_argument("--ffmpeg", type=Path, default=None, help="the ffmpeg whose libvmaf holds the teacher "
                    "(imageio-ffmpeg's by default)")
    ap.add_argument("--folder", type=Path, default=SHIPPED, help=argparse.SUPPRESS)  # the tests' own folder
    args = ap.parse_args()
    config = TrainConfig()
    assert config.recipe == TEACHER, "the default recipe is the teacher's: its bases are the ones to carry"
    seeds = default_seeds()
    teacher = parse_model(builtin_model_text(args.ffmpeg or imageio_binary(), TEACHER_MODEL), TEACHER_MODEL)
    arch = fr_regressor_v2(config, TEACHER)
    rows, kernels, said = Prior.of(teacher, config).rows(), active(), []
    kept = KeptBases(None, rows, arch, config, kernels, said.append, formats_through("loso"), shipped=args.folder)
    # one task a seed, on one worker as LOSO's: a base's bits are its own whatever else trains beside it
    tasks = [lambda stop, s=seed: train_bases(rows, [s], arch, config, kernels, lambda *_: None, stop)
             for seed in seeds]
    trained = run_on_workers(tasks, 1, lambda: None)
    here = made_here()
    if args.check:
        differ = 0
        for seed, (net, _) in zip(seeds, trained, strict=True):
            carried = kept.read_shipped(seed)
            for line in said:
                print(line)
            said.clear()
            if carried is None:
                print(f"seed {seed}: the kit carries no base for this key ({kept.shipped_record(seed).name}); "
                      f"run tools/make_bases.py")
                differ += 1
                continue
            record = json.loads(kept.shipped_record(seed).read_text())
            same_box = record.get("made") == here
            same = all(torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
                       for a, b in zip(net.slots, carried.net.slots, strict=True))
            with torch.no_grad():
                inputs = rows.table.unsqueeze(0)
                apart = float((net.forward(inputs) - carried.net.forward(inputs)).abs().max())
            print(f"seed {seed}: {'the same bits' if same else 'other bits'}; outputs on the teacher's "
                  f"{len(rows.target)} samples at most {apart:.3g} apart; made on "
                  f"{'a box like this one' if same_box else record.get('made')}")
            differ += same_box and not same
        return 1 if differ else 0
    args.folder.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for seed, (net, losses) in zip(seeds, trained, strict=True):
        path = kept.shipped_record(seed)
        record = {**kept.record_of(kept.shipped_key(seed), seed, net, losses), "made": here}
        path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        wanted.add(path.name)
        print(f"seed {seed}: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} (loss {losses[0]:.4f})")
    for old in args.folder.glob("*.json"):
        if old.name not in wanted:
            old.unlink()
            print(f"removed {old.name}: a key this kit no longer gives")
    return 0


if __name__ == "__main__":
    sys.exit(main())
