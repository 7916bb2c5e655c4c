"""The teacher recipe's bases kept in the kit's cache (bases/): a seed's base is distilled from the teacher's samples
alone (kit.model.distil.train_bases), so the loso step's bases are the bundle's, and any later run's with the same
teacher, samples and recipe; each is trained once and read back after (docs/teachers.md, "A base is trained once").

A record is found by a key made of everything the base's bits depend on: the teacher's samples as the base reads
them (their z-scored rows and scores, hashed), the network's shape, the seed, the base's steps, batch, learning rate
and weight decay, the training kernels, the kit's code that trains it (the loso step's format versions, which a
release raises with any change of a trained model's bits: kit/steps/__init__.py), torch's version, a worker's
threads, the CPU and the vector unit torch uses on it (which can round a sum differently, as the variables that
choose it can), and BASES_VERSION. A record that is not as written here (damaged, another shape, a value not
finite, its bytes not its sha256) is trained again and written over; one that cannot be written is said in the log
and the run goes on: the cache saves time, it never decides a figure.

The kit also carries bases (SHIPPED, kit/model/shipped_bases/, written by tools/make_bases.py): the default seeds'
for the built-in teacher and the default recipe. One is found by a key of what a base is *for*: the teacher's samples
by what made them (the teacher's model and the prior's figures, kit.model.distil.Prior.identity, never their bits,
which numpy rounds by the CPU), the network, the seed, the recipe's base figures, the format versions through the
loso step's and SHIPPED_VERSION; nothing of the box. A box whose key matches starts its members from the carried
bits, whatever its CPU or torch, and trains no base (docs/teachers.md, "The bases the kit carries"). A carried base
is read before the cache; one not as written is said in the log and the base is trained here as before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kit.errors import InputError
from kit.infra.files import sha256_json
from kit.infra.host import cache_tree, platform_tag
from kit.infra.limits import MAX_JSON_BYTES
from kit.infra.numbers import SHOWN_CHARS
from kit.infra.outside import read_json
from kit.infra.tree import Tree
from kit.model.arch import Arch
from kit.model.kernels import Kernels, active
from kit.model.recipe import TrainConfig
from kit.model.stacked import Slot, StackedMLP
from kit.model.threads import INTRAOP_THREADS
from kit.platforms.signals import host_cpu

# raise it with any change of how a base's record is made or read; a change of how a base is trained changes LOSO's
# models, so it raises the loso step's format version, which is in the key (KeptBases' `formats`)
BASES_VERSION = "bases1"
FOLDER = "bases"
# the bases the kit carries, and the version of their records' key (raise it with any change of what is in it)
SHIPPED = Path(__file__).with_name("shipped_bases")
SHIPPED_VERSION = "shipped1"
# the variables that choose torch's and MKL's kernels on one CPU (another choice can round a sum differently)
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR")


@dataclass(frozen=True)
class TeacherRows:
    """The rows a base trains on: the teacher's samples, z-scored, with the codec block (zero), and their scores."""

    table: torch.Tensor  # (S, F + CODEC_DIM)
    target: torch.Tensor  # (S,)
    # what made them, whatever the box (kit.model.distil.Prior.identity: the teacher's model and the prior's figures);
    # "" where unknown: no carried base is looked for
    identity: str = ""

    def digest(self) -> str:
        h = hashlib.sha256()
        for t in (self.table, self.target):
            h.update(repr((tuple(t.shape), str(t.dtype))).encode())
            h.update(t.contiguous().numpy().tobytes())
        return h.hexdigest()


@dataclass(frozen=True)
class BaseFound:
    """A base read back: its stack of one and the losses its training ended on."""

    net: StackedMLP
    losses: list[float]
    shipped: bool = False  # carried by the kit (SHIPPED), else kept in the cache


def box(kernels: Kernels) -> list[object]:
    """What a base's bits depend on beyond what it is for: torch, a worker's threads, the box's CPU and vector unit
    (machine) and the training kernels; in the cache's key, left out of a carried base's (and recorded beside it)."""
    return [torch.__version__, INTRAOP_THREADS, *machine(), kernels.private]


def machine() -> list[object]:
    """This box's part of a base's key: its CPU, the vector unit torch uses on it and the variables that choose."""
    return [host_cpu(platform_tag().partition("-")[0]), torch.backends.cpu.get_cpu_capability(),
            {name: os.environ.get(name) for name in KERNEL_VARIABLES}]


class KeptBases:
    """The bases of one training (its teacher rows, network, recipe, kernels and the code's `formats`) in the cache
    `tree` (None: a cache the kit may not use, kit.infra.host.cache_refused; nothing found, nothing kept); `log` says
    a record that could not be written and a cache refused (the training goes on); `shipped`: the bases the kit
    carries, read first (None: none are)."""

    def __init__(self, tree: Tree | None, rows: TeacherRows, arch: Arch, config: TrainConfig, kernels: Kernels,
                 log: Callable[[str], None], formats: Mapping[str, int], shipped: Path | None = SHIPPED) -> None:
        self.tree, self.arch, self.log, self.shipped = tree, arch, log, shipped
        self.seen: dict[int, BaseFound | None] = {}  # each seed's record as this object read or kept it
        recipe = [asdict(arch), config.teacher_steps()[0], config.base_batch, config.base_lr, config.weight_decay]
        self.common = [BASES_VERSION, dict(formats), *box(kernels), *recipe, rows.digest()]
        # what a carried base is for: the teacher's samples by what made them, not by their bits (numpy rounds their
        # log and exp by the CPU's vector unit), and nothing of the box; None: rows of unknown make, no carried base
        self.purpose = [SHIPPED_VERSION, dict(formats), *recipe, rows.identity] if rows.identity else None

    def key(self, seed: int) -> str:
        return sha256_json([*self.common, seed])

    def shipped_key(self, seed: int) -> str:
        assert self.purpose is not None
        return sha256_json([*self.purpose, seed])

    def shipped_record(self, seed: int) -> Path:
        assert self.shipped is not None
        return self.shipped / f"{self.shipped_key(seed)[:32]}.json"

    @classmethod
    def in_cache(cls, rows: TeacherRows, arch: Arch, config: TrainConfig, log: Callable[[str], None],
                 formats: Mapping[str, int]) -> KeptBases:
        """In the kit's cache (KIT_CACHE_DIR, else the user's), for the kernels this process trains with; a cache the
        kit may not use (cache_refused: writable by others) is said in the log and trains every base, as the
        kit's other caches are then passed by."""
        try:
            tree: Tree | None = cache_tree()
        except InputError as exc:
            log(f"the teacher recipe's bases are not kept: {exc.message}")
            tree = None
        return cls(tree, rows, arch, config, active(), log, formats)

    def record(self, tree: Tree, seed: int) -> Path:
        return tree.root / FOLDER / f"{self.key(seed)[:32]}.json"

    def found(self, seeds: Iterable[int]) -> dict[int, BaseFound]:
        """The seeds whose base the cache holds as written here, each read back (once by this object: a step's
        forecast and its training ask the same one)."""
        for seed in seeds:
            if seed not in self.seen:
                self.seen[seed] = self.read(seed)
        return {seed: base for seed in seeds if (base := self.seen[seed]) is not None}

    def read(self, seed: int) -> BaseFound | None:
        if (carried := self.read_shipped(seed)) is not None:
            return carried
        if self.tree is None:
            return None
        obj, _ = self.tree.read_json_object(self.record(self.tree, seed))
        if obj is None or obj.get("key") != self.key(seed):
            return None
        try:
            return _base_of(obj, self.arch)
        except (ValueError, TypeError, KeyError, ArithmeticError, binascii.Error):
            return None  # not as written here: trained again

    def read_shipped(self, seed: int) -> BaseFound | None:
        """Seed's base as the kit carries it, if it carries one for this key; one not as written is said (the kit's
        own file is damaged or of another release: the base is trained here)."""
        if self.shipped is None or self.purpose is None:
            return None
        path = self.shipped_record(seed)
        try:
            obj = read_json(path)  # bounded: its size, depth, UTF-8, a name given twice (JsonRefused)
            if not isinstance(obj, dict) or obj.get("key") != self.shipped_key(seed):
                raise ValueError("another key")
            found = _base_of(obj, self.arch)
        except FileNotFoundError:
            return None  # none carried for this key
        except (OSError, ValueError, TypeError, KeyError, ArithmeticError, binascii.Error) as exc:
            self.log(f"the base of seed {seed} the kit carries (kit/model/shipped_bases/{path.name}) is not as the "
                     f"kit writes it ({type(exc).__name__}: {str(exc)[:SHOWN_CHARS]}); it is trained here")
            return None
        return BaseFound(found.net, found.losses, shipped=True)

    def record_of(self, key: str, seed: int, net: StackedMLP, losses: list[float]) -> dict[str, Any]:
        """Seed's base (a stack of one) as a record of `key`, kept or carried alike."""
        slots = [{"layer": s.layer.name, "weight": _b64(s.weight), "bias": _b64(s.bias)} for s in net.slots]
        return {"key": key, "seed": seed, "losses": [float(x) for x in losses], "slots": slots,
                "sha256": sha256_json(slots)}

    def keep(self, seed: int, net: StackedMLP, losses: list[float]) -> None:
        """Seed's base (a stack of one) written to the cache; a failure to write is said, never raised."""
        if self.tree is None:
            return
        if 6 * sum(s.weight.numel() + s.bias.numel() for s in net.slots) > MAX_JSON_BYTES:  # base64 and the indent
            self.log(f"the teacher recipe's base of seed {seed} is not kept in the kit's cache: its record would be "
                     "larger than a JSON file the kit reads back")
            return
        self.seen[seed] = BaseFound(net, [float(x) for x in losses])
        record = self.record_of(self.key(seed), seed, net, losses)
        try:
            self.tree.write_json(self.record(self.tree, seed), record)
        except OSError as exc:
            self.log(f"the teacher recipe's base of seed {seed} was not kept in the kit's cache (bases/: "
                     f"{exc.strerror or type(exc).__name__}); it is trained again next time")


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.detach().contiguous().numpy().astype("<f4").tobytes()).decode("ascii")


def _base_of(obj: dict[str, Any], arch: Arch) -> BaseFound:
    """A record's base, checked against the network's shape: every slot in its order, its bytes its sha256, finite."""
    slots, losses = obj["slots"], obj["losses"]
    if sha256_json(slots) != obj["sha256"] or not isinstance(losses, list) \
            or not all(isinstance(x, float | int) and not isinstance(x, bool) for x in losses):
        raise ValueError("not as written")
    layers = arch.layers()
    if not isinstance(slots, list) or len(slots) != len(layers):
        raise ValueError("another network")
    made = []
    for layer, slot in zip(layers, slots, strict=True):
        if slot["layer"] != layer.name:
            raise ValueError("another layer")
        weight = _tensor(slot["weight"], (1, layer.fan_in, layer.fan_out))
        bias = _tensor(slot["bias"], (1, 1, layer.fan_out))
        made.append(Slot(layer, weight, bias))
    return BaseFound(StackedMLP.of_slots(arch, made), [float(x) for x in losses])


def _tensor(text: object, shape: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(text, str):
        raise TypeError("not base64 text")
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) != 4 * int(np.prod(shape)):
        raise ValueError("another size")
    values = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
    if not np.isfinite(values).all():
        raise ValueError("a value not finite")
    return torch.from_numpy(values)  # astype made it a copy of its own, writable


# where a training's bases are kept: KeptBases.in_cache with the step's log, or None (trained every time)
BasesAt = Callable[[TeacherRows, Arch, TrainConfig], KeptBases]
