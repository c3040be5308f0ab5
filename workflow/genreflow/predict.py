"""Classifying a user's folder of audio with the trained model: which files there are, which of
them still need a spectrogram or probabilities, and the final CSV.

User files may have any name (spaces, quotes, ``$(...)``, braces, non-ASCII), so every file gets a
safe id (slug + hash of its relative path) that names all internal files; only the CSV and the
rejection table show the original relative path.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .atomic import atomic_path
from .download import sha256_of
from .featurize import SpectrogramParams, batch_of, is_up_to_date, n_batches_for, read_failure_record
from .recipe import TrainSettings
from .tracks import sniff_audio

# Each classification job pays once for importing TensorFlow and loading the model, so it takes
# many more files than a featurisation job.
DEFAULT_CLASSIFY_BATCH_SIZE = 500
SLUG_MAX = 48
HASH_CHARS = 10
# Snakemake reads "{name}" in a path as a wildcard, with no way to escape it; such paths cannot
# be declared as rule inputs (broader than Snakemake's own pattern, on purpose).
_BRACED = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class PredictFile:
    relpath: str  # relative to the prediction folder, '/'-separated: what the CSV shows
    audio: str  # path the file is read from
    safe_id: str  # names the file's spectrogram, probabilities and failure record


@dataclass(frozen=True)
class Skipped:
    relpath: str
    reason: str


@dataclass
class PredictPlan:
    root: str  # results/predict/<name>
    files: list[PredictFile]  # classified, in CSV order
    rejected: list[Skipped] = field(default_factory=list)
    featurize: dict[str, list[PredictFile]] = field(default_factory=dict)  # batch -> files needing a PNG
    classify: dict[str, list[PredictFile]] = field(default_factory=dict)  # batch -> files needing probabilities

    def png(self, f: PredictFile) -> str:
        return f"{self.root}/spectrograms/{f.safe_id}.png"

    def probabilities(self, f: PredictFile) -> str:
        return f"{self.root}/probabilities/{f.safe_id}.json"

    def failure(self, f: PredictFile) -> str:
        return f"{self.root}/failed/{f.safe_id}.txt"


def predict_root(name: str) -> str:
    return f"results/predict/{name}"


def display_path(relpath: str) -> str:
    """A printable form of a file name that is not valid UTF-8 (undecodable bytes as \\xNN)."""
    return os.fsencode(relpath).decode("utf-8", "backslashreplace")


def slugify(relpath: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", display_path(relpath)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", ascii_name).strip("._-")
    return slug[:SLUG_MAX].rstrip("._-") or "file"


def safe_id(relpath: str) -> str:
    """Readable and unique: the slug alone can collide ('a b' vs 'a_b'), the hash cannot."""
    digest = hashlib.sha1(os.fsencode(relpath)).hexdigest()[:HASH_CHARS]
    return f"{slugify(relpath)}-{digest}"


def is_declarable(path: str) -> bool:
    """False for paths that Snakemake would misread as wildcard patterns."""
    return _BRACED.search(path) is None


def file_stamp(path: str) -> str:
    """Size and mtime: changes whenever the file is rewritten, cheap to take for every file."""
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}"


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
            skipped.append(Skipped(display_path(f"{prefix}{d}/"), "hidden folder, skipped with everything in it"))
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


def earlier_failure(record: str, audio: str) -> str | None:
    """A decode failure recorded by an earlier job, unless the audio changed since."""
    try:
        if os.stat(record).st_mtime < os.stat(audio).st_mtime:
            return None
    except FileNotFoundError:
        return None
    return read_failure_record(record)


def is_newer_or_equal(path: str, *others: str) -> bool:
    """``path`` exists and is at least as new as every existing one of ``others``."""
    try:
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        return False
    return all(mtime >= os.stat(o).st_mtime for o in others if os.path.exists(o))


def make_predict_plan(
    audio_dir: str, name: str, signature: str, model: str, featurize_batch: int, classify_batch: int = DEFAULT_CLASSIFY_BATCH_SIZE
) -> PredictPlan:
    """What a run has to do so that every audio file in ``audio_dir`` has up-to-date probabilities.

    Up-to-date outputs are never planned, so adding files costs exactly the new files' work.
    Batches are stable hash buckets of the safe ids, so a cluster job re-parsing the workflow
    finds the same batches.
    """
    plan = PredictPlan(predict_root(name), [])
    candidates, plan.rejected = discover(audio_dir)
    stale_png: list[PredictFile] = []
    stale_probs: list[PredictFile] = []
    for f in candidates:
        png_ok = is_up_to_date(plan.png(f), f.audio, signature)
        if not png_ok:
            reason = earlier_failure(plan.failure(f), f.audio) or sniff_audio(f.audio)
            if reason:
                plan.rejected.append(Skipped(f.relpath, reason))
                continue
            stale_png.append(f)
        plan.files.append(f)
        if not (png_ok and os.path.exists(model) and is_newer_or_equal(plan.probabilities(f), plan.png(f), model)):
            stale_probs.append(f)
    plan.rejected.sort(key=lambda s: s.relpath)
    plan.featurize = _batches(stale_png, n_batches_for(len(candidates), featurize_batch))
    plan.classify = _batches(stale_probs, n_batches_for(len(candidates), classify_batch))
    return plan


def _batches(files: list[PredictFile], n_batches: int) -> dict[str, list[PredictFile]]:
    batches: dict[str, list[PredictFile]] = {}
    for f in files:
        batches.setdefault(f"{batch_of(f.safe_id, n_batches):05d}", []).append(f)
    return dict(sorted(batches.items()))


def write_probabilities(path: str, relpath: str, genres: Sequence[str], probabilities: Sequence[float], model_sha256: str, n_windows: int) -> None:
    record = {
        "file": relpath,
        "model_sha256": model_sha256,
        "windows": n_windows,
        "probabilities": {g: float(p) for g, p in zip(genres, probabilities)},
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")


def read_probabilities(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def is_current(record: dict, genres: Sequence[str], model_sha256: str) -> bool:
    """Made by this very model for these genres: the model may have been retrained in this run,
    after the plan (which only sees mtimes at parse time) judged the record fresh."""
    return record.get("model_sha256") == model_sha256 and list(record.get("probabilities", {})) == list(genres)


def top_genre(probabilities: dict[str, float]) -> str:
    return max(probabilities, key=probabilities.__getitem__)


def write_predictions_csv(path: str, rows: Iterable[tuple[str, dict[str, float]]], genres: Sequence[str]) -> int:
    """file, top_genre, p_<genre>...; the csv module quotes names with commas, quotes or newlines."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "top_genre", *[f"p_{g}" for g in genres]])
        for relpath, probabilities in rows:
            writer.writerow([relpath, top_genre(probabilities), *[f"{probabilities[g]:.6f}" for g in genres]])
            count += 1
    return count


def read_predictions_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def classify_files(
    model_path: str, pngs: Sequence[str], relpaths: Sequence[str], outputs: Sequence[str], genres: Sequence[str],
    settings: TrainSettings, spec: SpectrogramParams,
) -> None:
    """Write each file's genre probabilities: the mean over its windows, as in evaluation."""
    import keras

    from .evaluation import predict_tracks

    model = keras.models.load_model(model_path)
    n_classes = model.output_shape[-1]
    if n_classes != len(genres):
        raise ValueError(f"{model_path} predicts {n_classes} classes but the config lists {len(genres)} genres")
    model_sha256 = sha256_of(Path(model_path))
    for relpath, windows, out in zip(relpaths, predict_tracks(model, list(pngs), settings, spec), outputs):
        write_probabilities(out, relpath, genres, windows.mean(axis=0), model_sha256, len(windows))
