"""Training settings, read from the ``train`` section of the config."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# --- the musicnn recipe's train.transfer section (issue 17) ---
TRANSFER_LAYERS = ("penultimate", "mean_pool", "max_pool", "pooled", "all")
TRANSFER_HEADS = ("linear", "mlp")


@dataclass(frozen=True)
class TransferSettings:
    """The pretrained recipe (``train.recipe: musicnn``): a new head on the frozen backbone's
    3-s patch features, then, with ``fine_tune_epochs`` > 0, the whole network at a lower rate.
    Defaults sized for 40-800 training tracks (400-8000 patches)."""

    layer: str = "all"  # one of TRANSFER_LAYERS (pooled: mean+max; all: the three)
    head: str = "mlp"  # "linear" or "mlp" (one hidden ReLU layer)
    head_units: int = 256  # mlp: hidden units
    head_dropout: float = 0.5  # dropout on the head's input (linear) or hidden layer (mlp)
    head_weight_decay: float = 1e-4  # AdamW's decoupled weight decay on the head
    head_epochs: int = 100  # early-stopped with train.patience on the validation loss
    head_batch_size: int = 256  # patches; lowered to give train.min_steps_per_epoch batches
    head_learning_rate: float = 1e-3
    fine_tune_epochs: int = 0  # 0: frozen backbone only
    fine_tune_learning_rate: float = 1e-5

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> TransferSettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (section or {}).items() if k in names})

    @property
    def frozen(self) -> bool:
        """The saved backbone is the pretrained one: stored embeddings stand for it."""
        return self.fine_tune_epochs == 0


# --- end of the musicnn recipe's section ---


@dataclass(frozen=True)
class TrainSettings:
    recipe: str = "musicnn"  # "musicnn" (pretrained network), "cnn" (windowed log-mel CNN), "blog"
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
    transfer: TransferSettings = field(default_factory=TransferSettings)  # recipe musicnn

    def __post_init__(self):
        if isinstance(self.transfer, dict):  # TrainSettings(**asdict(settings)) round-trips
            object.__setattr__(self, "transfer", TransferSettings(**self.transfer))

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> TrainSettings:
        names = {f.name for f in fields(cls)}
        values = {
            k: (tuple(v) if isinstance(v, list) else v) for k, v in section.items() if k in names
        }
        values["transfer"] = TransferSettings.from_config(section.get("transfer"))
        return cls(**values)
