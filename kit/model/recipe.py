"""The training recipe: plain data, importable without torch (the CLI and the
corpus step load it; --help stays instant)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

ARCH = "fr_regressor_v2"
MIN_SOURCES = 3  # leave-one-source-out needs at least this many distinct contents


@dataclass(frozen=True)
class TrainConfig:
    hidden: int = 64  # width of both hidden layers
    dropout: float = 0.1  # after each GELU
    lr: float = 5e-4  # Adam learning rate
    weight_decay: float = 1e-5  # Adam L2 penalty
    epochs: int = 60  # passes over each member's training rows ...
    batch_size: int = 64  # ... in batches of this many rows
    max_samples: int = 4_000_000  # ... but at most this many rows seen per member (large corpora)
    max_steps: int = 4_000  # ... in at most this many steps: the batch grows to fit
    max_batch: int = 1_024  # ... up to this size

    def to_json(self) -> dict[str, object]:
        return {"arch": ARCH, **asdict(self), "optimizer": "adam", "loss": "mse", "target": "vmaf"}
