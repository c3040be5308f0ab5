"""Classifying a user's folder of audio with the trained model: the folder's files as a
collection of featurisation blocks (the same machinery as the training data, see
genreflow.blocks), per-block probability tables that are updated file by file, and the CSV.

User files may have any name (spaces, quotes, ``$(...)``, braces, non-ASCII), so every file gets a
safe id (slug + hash of its relative path) that names its spectrogram; only the CSV and the
rejection table show the original relative path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from .atomic import sha256_of
from .blocks import OK, Block, Item, block_name, display_path, plan_blocks, read_index, safe_id
from .params import SpectrogramParams
from .recipe import TrainSettings
from .tables import read_table, write_table
from .tracks import sniff_audio


@dataclass(frozen=True)
class PredictFile:
    relpath: str  # relative to the prediction folder, '/'-separated: what the CSV shows
    audio: str  # path the file is read from
    safe_id: str  # names the file's spectrogram


@dataclass(frozen=True)
class Skipped:
    relpath: str
    reason: str


@dataclass
class PredictPlan:
    root: str  # results/predict/<name>
    files: list[PredictFile]  # every candidate, in folder order (the CSV's order)
    blocks: dict[str, Block]
    skipped: list[Skipped] = field(
        default_factory=list
    )  # not even candidates (hidden, unreadable names)

    def probabilities(self, block: str) -> str:
        return f"{self.root}/probabilities/{block}.tsv"

    @property
    def rejected(self) -> list[Skipped]:
        """Everything not classified, and why: skipped files and audio left out at start-up."""
        left_out = [
            Skipped(item.name, reason) for b in self.blocks.values() for item, reason in b.left_out
        ]
        return sorted(self.skipped + left_out, key=lambda s: s.relpath)


def predict_root(name: str) -> str:
    return f"results/predict/{name}"


def discover(audio_dir: str) -> tuple[list[PredictFile], list[Skipped]]:
    """Every visible file under ``audio_dir`` in folder order (a folder's files sorted by name, then
    its subfolders), plus what was skipped.

    Hidden files and folders (``.DS_Store``, macOS ``._*`` files, ``.git``) and names that are not
    valid UTF-8 are skipped and reported; whether a file is audio is decided later, by content.
    """
    candidates: list[PredictFile] = []
    skipped: list[Skipped] = []

    def unreadable(err: OSError) -> None:
        rel = os.path.relpath(err.filename, audio_dir).replace(os.sep, "/")
        skipped.append(Skipped(display_path(f"{rel}/"), f"cannot read folder: {err.strerror}"))

    for dirpath, dirnames, filenames in os.walk(audio_dir, onerror=unreadable):
        rel_dir = os.path.relpath(dirpath, audio_dir).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else f"{rel_dir}/"
        for d in sorted(d for d in dirnames if d.startswith(".")):
            skipped.append(
                Skipped(
                    display_path(f"{prefix}{d}/"), "hidden folder, skipped with everything in it"
                )
            )
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            relpath, path = f"{prefix}{name}", os.path.join(dirpath, name)
            reason = _skip_reason(name, relpath, path)
            if reason:
                skipped.append(Skipped(display_path(relpath), reason))
            else:
                candidates.append(PredictFile(relpath, path, safe_id(relpath)))
    return candidates, skipped


def _skip_reason(name: str, relpath: str, path: str) -> str | None:
    if name.startswith("."):
        return "hidden file"
    if display_path(relpath) != relpath:
        return "file name is not valid UTF-8 (rename the file)"
    if not os.path.isfile(path):
        return "broken link" if os.path.islink(path) else "not a regular file"
    return None


def make_predict_plan(
    audio_dir: str,
    name: str,
    hash_blocks: int,
    decided: dict[str, str] | None = None,
    sniff: Callable[[str], str | None] = sniff_audio,
) -> PredictPlan:
    """The folder's files as featurisation blocks (hashed: file names carry no track number)."""
    root = predict_root(name)
    files, skipped = discover(audio_dir)
    items = [
        Item(f.safe_id, f.audio, f"{root}/spectrograms/{f.safe_id}.png", "", f.relpath)
        for f in files
    ]
    blocks = plan_blocks(
        items,
        block_of=lambda key: block_name(key, 1, hash_blocks),
        index_of=lambda block: f"{root}/index/{block}.tsv",
        known_bad=set(),
        sniff=sniff,
        decided=decided,
    )
    return PredictPlan(root, files, blocks, skipped)


def classify_block(
    model_path: str,
    index: str,
    table: str,
    genres: Sequence[str],
    settings: TrainSettings,
    spec: SpectrogramParams,
    forced: Callable[[str], bool],
) -> int:
    """Bring a block's probability table up to date; returns how many files were classified.

    A file is classified again only when it is new, its spectrogram changed, the model changed,
    or ``forced`` names the table: adding files to the folder costs exactly the new files.
    """
    model_sha256 = sha256_of(model_path)
    columns = [f"p_{g}" for g in genres]
    previous = {} if forced(table) else read_index(table)  # keyed like the index
    featurised = [r for r in read_index(index).values() if r["status"] == OK]
    kept, todo = [], []
    for record in featurised:
        row = previous.get(record["key"])
        if (
            row
            and row["png_sha256"] == record["png_sha256"]
            and row["model_sha256"] == model_sha256
            and all(c in row for c in columns)
        ):
            kept.append(row)
        else:
            todo.append(record)
    rows = kept + [
        {
            "key": r["key"],
            "file": r["name"],
            "png_sha256": r["png_sha256"],
            "model_sha256": model_sha256,
            "windows": len(w),
            **{c: f"{p:.6f}" for c, p in zip(columns, w.mean(axis=0))},
        }
        for r, w in zip(todo, _window_probabilities(model_path, todo, genres, settings, spec))
    ]
    write_table(
        table,
        pd.DataFrame(
            rows, columns=["key", "file", "png_sha256", "model_sha256", "windows", *columns]
        ),
    )
    return len(todo)


def _window_probabilities(model_path, records, genres, settings, spec) -> list:
    if not records:
        return []  # nothing new: no Keras import, no model load
    from .evaluation import predict_tracks
    from .transfer import load_classifier

    model = load_classifier(model_path)
    n_classes = model.output_shape[-1]
    if n_classes != len(genres):
        raise ValueError(
            f"{model_path} predicts {n_classes} classes but the config lists {len(genres)} genres"
        )
    return predict_tracks(
        model,
        [r["png"] for r in records],
        settings,
        spec,
        sha256s=[r["png_sha256"] for r in records],
    )


def predictions_table(
    tables: Iterable[str], order: Sequence[str], genres: Sequence[str]
) -> pd.DataFrame:
    """file, top_genre, p_<genre>... for every classified file, in folder order."""
    columns = [f"p_{g}" for g in genres]
    rows = pd.concat(
        [read_table(t) for t in tables] or [pd.DataFrame(columns=["key", "file", *columns])]
    )
    rank = {key: i for i, key in enumerate(order)}
    rows = rows.assign(rank=rows["key"].map(rank)).sort_values("rank")
    probabilities = rows[columns].astype(float)
    top = probabilities.to_numpy().argmax(axis=1) if len(rows) else []
    return pd.DataFrame(
        {
            "file": rows["file"],
            "top_genre": [genres[i] for i in top],
            **{c: rows[c] for c in columns},
        }
    )


def write_predictions_csv(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Names with commas, quotes or newlines are quoted (pandas follows the csv module)."""
    write_table(path, table, sep=",")


def read_predictions_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    return read_table(path, sep=",").to_dict("records")
