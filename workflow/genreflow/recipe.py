"""Training settings, read from the ``train`` section of the config."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TrainSettings:
    recipe: str = "default"  # "default" (windowed log-mel CNN) or "blog" (the seed recipe)
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    window_s: float = 3.0
    eval_hop_s: float = 1.5
    windows_per_track: int = 4
    min_steps_per_epoch: int = 16  # small training sets draw more windows per track
    patience: int = 10
    filters: tuple[int, ...] = (16, 32, 64, 128)
    input_pool: tuple[int, ...] = (2, 2)  # (mel bands, frames) averaged before the first conv
    dropout: float = 0.3
    ema_momentum: float = (
        0.99  # > 0: evaluate and keep an exponential moving average of the weights
    )
    freq_masks: int = (
        0  # SpecAugment masks, off by default (chosen by cross-validation, see README)
    )
    freq_mask_max: int = 16
    time_masks: int = 0
    time_mask_max: int = 24
    mixup_alpha: float = 0.2
    image_size: int = 64  # blog recipe: side of the square RGB input
    backend: str = "auto"  # Keras backend: "tensorflow", "jax", "torch"; "auto": $KERAS_BACKEND, else tensorflow
    mixed_precision: str = "auto"  # "auto" (on with a GPU), "on" or "off"
    xla: str = "auto"
    deterministic: bool = True

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> TrainSettings:
        names = {f.name for f in fields(cls)}
        values = {
            k: (tuple(v) if isinstance(v, list) else v) for k, v in section.items() if k in names
        }
        return cls(**values)
