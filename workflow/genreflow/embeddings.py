"""The pretrained network's features of every clip, on disk: one file per featurisation block,
and the per-track table users can take away. numpy and pandas only (no Keras): the table's job and
the readers of the training jobs load it without a deep-learning framework.

A block file (``results/embeddings/<set>/<block>.npz``) holds, for every member of the block
that was featurised, the features of each 3-s patch of its clip at the three layers the recipe
may read (penultimate 200, mean_pool 753, max_pool 753, float32), with what they were made from:
the spectrogram's sha256 and the network's weights' sha256. A job that runs again keeps the clips
whose spectrogram and weights did not change and computes only the others, so audio added to a
block costs its own clips.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .atomic import atomic_path

STORED = ("penultimate", "mean_pool", "max_pool")
# train.transfer.layer -> the stored features it reads, concatenated in this order
LAYERS = {
    "penultimate": ("penultimate",),
    "mean_pool": ("mean_pool",),
    "max_pool": ("max_pool",),
    "pooled": ("mean_pool", "max_pool"),
    "all": STORED,
}
FORMAT_VERSION = 1  # bump when the stored features change for the same inputs


@dataclass(frozen=True)
class ClipEmbedding:
    key: str  # the track id, as in the block's index and the manifest
    png_sha256: str  # the spectrogram the features were computed from
    features: Mapping[str, np.ndarray]  # stored layer -> (patches, dim) float32


@dataclass(frozen=True)
class BlockEmbeddings:
    weights_sha256: str  # the network's weights file
    architecture: str  # MSD_musicnn, MTT_musicnn
    clips: dict[str, ClipEmbedding]


def select(features: Mapping[str, np.ndarray], layer: str) -> np.ndarray:
    """(patches, dim) features of ``layer``: one stored layer, or several side by side."""
    parts = [np.asarray(features[name], dtype=np.float32) for name in LAYERS[layer]]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


def write_block(path: str | os.PathLike, block: BlockEmbeddings) -> None:
    """One compressed npz, written whole or not at all: the clips' keys, sha256s and patch
    counts, and one (all patches, dim) array per stored layer."""
    clips = list(block.clips.values())
    arrays = {
        "format": np.array(FORMAT_VERSION),
        "weights_sha256": np.array(block.weights_sha256),
        "architecture": np.array(block.architecture),
        "keys": np.array([c.key for c in clips], dtype=str),
        "png_sha256": np.array([c.png_sha256 for c in clips], dtype=str),
        "patches": np.array([len(c.features[STORED[0]]) for c in clips], dtype=np.int64),
    }
    for name in STORED:
        arrays[name] = (
            np.concatenate([np.asarray(c.features[name], np.float32) for c in clips])
            if clips
            else np.zeros((0, 0), np.float32)
        )
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def read_block(path: str | os.PathLike) -> BlockEmbeddings:
    with np.load(path, allow_pickle=False) as npz:
        if int(npz["format"]) != FORMAT_VERSION:
            raise ValueError(
                f"{path} holds embeddings of format {int(npz['format'])}, not {FORMAT_VERSION}: "
                "run the embeddings rules again (snakemake -R embeddings)"
            )
        bounds = np.concatenate([[0], np.cumsum(npz["patches"])])
        stored = {name: npz[name] for name in STORED}
        clips = {
            str(key): ClipEmbedding(
                str(key), str(sha), {name: stored[name][a:b] for name in STORED}
            )
            for key, sha, a, b in zip(npz["keys"], npz["png_sha256"], bounds, bounds[1:])
        }
        return BlockEmbeddings(str(npz["weights_sha256"]), str(npz["architecture"]), clips)


def read_embeddings(paths: Iterable[str | os.PathLike]) -> dict[str, ClipEmbedding]:
    """key -> clip of every block file; all of them made with the same weights."""
    clips: dict[str, ClipEmbedding] = {}
    weights: dict[str, str] = {}
    for path in paths:
        block = read_block(path)
        if block.clips:
            weights.setdefault(block.weights_sha256, str(path))
        clips.update(block.clips)
    if len(weights) > 1:
        raise ValueError(
            "embeddings made with different weights: " + ", ".join(sorted(weights.values()))
        )
    return clips


def clip_of(
    embeddings: Mapping[str, ClipEmbedding], key: str, png_sha256: str | None = None
) -> ClipEmbedding:
    """The embeddings of one manifest row, checked against the spectrogram it names."""
    clip = embeddings.get(key)
    if clip is None:
        raise KeyError(f"no embeddings for track {key}: run the embeddings rule of its block")
    if png_sha256 and clip.png_sha256 != png_sha256:
        raise ValueError(
            f"the embeddings of track {key} were made from another spectrogram "
            f"(sha256 {clip.png_sha256[:12]}, the manifest's is {png_sha256[:12]}): "
            "run the embeddings rule of its block again"
        )
    return clip


def tracks_table(
    embeddings: Mapping[str, ClipEmbedding],
    records: Sequence[Mapping[str, str]],
    layer: str,
    splits: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per track: track, genre, split (when known), patches, then the clip's features of
    ``layer`` averaged over its patches, one column each (``penultimate_000`` ...).

    ``records`` are the block indexes' records (key, label) of the featurised tracks."""
    rows, means = [], []
    for record in records:
        clip = embeddings.get(record["key"])
        if clip is None:
            continue
        features = select(clip.features, layer)
        rows.append(
            {
                "track": record["key"],
                "genre": record["label"],
                **({"split": (splits or {}).get(record["key"], "")} if splits is not None else {}),
                "patches": len(features),
            }
        )
        means.append(features.mean(axis=0))
    columns = [
        f"{name}_{i:03d}"
        for name in LAYERS[layer]
        for i in range(next(iter(embeddings.values())).features[name].shape[1] if means else 0)
    ]
    values = pd.DataFrame(np.array(means).reshape(len(means), len(columns)), columns=columns)
    return pd.concat([pd.DataFrame(rows), values], axis=1)


def write_tracks_table(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Tab-separated, the features with float32's 7 significant digits; read it back with
    ``pandas.read_csv(path, sep="\t")``."""
    with atomic_path(path) as tmp:
        table.to_csv(
            tmp,
            sep="\t",
            index=False,
            float_format="%.7g",
            lineterminator="\n",
            errors="surrogateescape",
        )


# --- where the workflow keeps them (workflow/rules/embeddings.smk) -------------------------------


def pretrained_of(config: Mapping) -> tuple[str, str]:
    """(architecture, weights file) of a configuration (see genreflow.musicnn.pretrained_weights)."""
    from .musicnn_input import pretrained_weights

    return config["pretrained"]["architecture"], pretrained_weights(config["pretrained"])


def embeddings_root(config: Mapping, spectrograms: str = "") -> str:
    """results/embeddings/<set>: one set per network (architecture, or a weights file of the
    user's) and per spectrogram set (``spectrograms``: "" for the run's own)."""
    architecture, weights = pretrained_of(config)
    name = architecture
    if config["pretrained"]["weights"]:
        name += "-" + hashlib.sha1(weights.encode()).hexdigest()[:8]
    return f"results/embeddings/{spectrograms + '-' if spectrograms else ''}{name}"


def uses_embeddings(config: Mapping) -> bool:
    return config["train"]["recipe"] == "musicnn"


def weights_input(config: Mapping) -> list[str]:
    """The pretrained weights as a rule input: none unless the recipe is musicnn."""
    return [pretrained_of(config)[1]] if uses_embeddings(config) else []


def embeddings_input(config: Mapping, blocks: Iterable[str], spectrograms: str = "") -> list[str]:
    """The block files of the embeddings set as a rule input: none unless the recipe is musicnn."""
    if not uses_embeddings(config):
        return []
    root = embeddings_root(config, spectrograms)
    return [f"{root}/{block}.npz" for block in blocks]
