"""Classifying a user's folder of audio with the trained model: the folder's files as a
collection of featurisation blocks (the same machinery as the training data, see
genreflow.blocks), one probability table per block, and the CSV.

User files may have any name (spaces, quotes, ``$(...)``, braces, non-ASCII), so every file gets a
safe id (slug + hash of its relative path) that names its spectrogram; only the CSV and the
rejection table show the original relative path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from .atomic import sha256_of
from .blocks import OK, Block, Item, block_name, display_path, make_blocks, read_records, safe_id
from .params import SpectrogramParams
from .recipe import TrainSettings
from .tables import read_table, write_table


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


def make_predict_plan(audio_dir: str, name: str, hash_blocks: int) -> PredictPlan:
    """The folder's files as featurisation blocks (hashed: file names carry no track number);
    which of them are audio is decided by their block's featurisation job."""
    root = predict_root(name)
    files, skipped = discover(audio_dir)
    items = [
        Item(f.safe_id, f.audio, f"{root}/spectrograms/{f.safe_id}.png", "", f.relpath)
        for f in files
    ]
    block_of = lambda key: block_name(key, 1, hash_blocks)  # noqa: E731
    return PredictPlan(root, files, make_blocks(items, f"{root}/spectrograms", block_of), skipped)


def classify_block(
    model_path: str,
    table: str,
    probabilities: str,
    genres: Sequence[str],
    settings: TrainSettings,
    spec: SpectrogramParams,
) -> int:
    """Write the probability table of a block's usable files; returns how many were classified."""
    model_sha256 = sha256_of(model_path)
    columns = [f"p_{g}" for g in genres]
    records = [r for r in read_records(table) if r["status"] == OK]
    rows = [
        {
            "key": r["key"],
            "file": r["name"],
            "png_sha256": r["png_sha256"],
            "model_sha256": model_sha256,
            "windows": len(w),
            **{c: f"{p:.6f}" for c, p in zip(columns, w.mean(axis=0))},
        }
        for r, w in zip(records, _window_probabilities(model_path, records, genres, settings, spec))
    ]
    write_table(
        probabilities,
        pd.DataFrame(
            rows, columns=["key", "file", "png_sha256", "model_sha256", "windows", *columns]
        ),
    )
    return len(rows)


def _window_probabilities(model_path, records, genres, settings, spec) -> list:
    if not records:
        return []  # nothing new: no Keras import, no model load
    from .inputs import predict_tracks
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


def prediction_notes(record: dict[str, str], window_s: float | None, offset_s: float) -> str:
    """What was adapted to classify a file, for its CSV row: the featurisation's notes (as in
    the QC tables: resampled, downmixed, padded ...), and, first, a file with less audio than one
    analysis window (``window_s``; None for the blog recipe's one picture a file), whose
    probabilities are then mostly those of the silence it was padded with."""
    notes = [record.get("notes", "")]
    try:
        audio_s = max(0.0, float(record["duration_s"]) - offset_s)
    except (KeyError, ValueError):
        audio_s = None
    if window_s and audio_s is not None and audio_s < window_s:
        notes.insert(
            0,
            f"only {audio_s:.2f} s of audio, shorter than one {window_s:g}-s analysis window: "
            "classified mostly on the silence it was padded with",
        )
    return "; ".join(n for n in notes if n)


def predictions_table(
    tables: Iterable[str],
    order: Sequence[str],
    genres: Sequence[str],
    notes: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """file, top_genre, p_<genre>..., notes for every classified file, in folder order;
    ``notes`` (key -> what was adapted, see prediction_notes) fills the last column."""
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
            "notes": [(notes or {}).get(key, "") for key in rows["key"]],
        }
    )


def write_predictions_csv(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Names with commas, quotes or newlines are quoted (pandas follows the csv module)."""
    write_table(path, table, sep=",")


def read_predictions_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    return read_table(path, sep=",").to_dict("records")
