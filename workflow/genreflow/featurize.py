"""Audio file -> spectrogram PNG, and a block job that rewrites only the PNGs that need it."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from glob import escape as glob_escape
from pathlib import Path

from .audio import AudioError, decode, fit_length
from .blocks import OK, REJECTED, Item, audio_stamp, write_index
from .params import SpectrogramParams
from .pngio import png_text, write_png_atomic
from .spectrogram import blog_specgram_image, log_mel, to_grayscale
from .tracks import sniff_audio

SIGNATURE_KEY = "genreflow:params"
AUDIO_STAMP_KEY = "genreflow:audio_stamp"
# provenance written into each PNG and copied into the block's index table
SOURCE_FIELDS = ("source_rate", "channels", "format", "subtype", "duration_s", "notes")

log = logging.getLogger(__name__)


def render(samples, params: SpectrogramParams):
    if params.kind == "blog_specgram":
        return blog_specgram_image(samples, params.width_px, params.height_px)
    db = log_mel(
        samples,
        params.sample_rate,
        params.n_fft,
        params.hop_length,
        params.n_mels,
        params.fmin,
        params.fmax,
    )
    return to_grayscale(db, params.db_min, params.db_max)


def featurize_file(item: Item, params: SpectrogramParams) -> dict[str, str]:
    """Write the spectrogram PNG of one audio file; returns its index record."""
    try:
        stamp = audio_stamp(
            item.audio
        )  # before reading: a file replaced meanwhile is redone next time
    except OSError as err:
        raise AudioError(f"{item.audio}: cannot read file ({err.strerror})") from err
    not_audio = sniff_audio(
        item.audio
    )  # start-up's header check (sniff_content) and more: a reason for every unreadable file
    if not_audio:
        raise AudioError(f"{item.audio}: {not_audio}")
    samples, info = decode(item.audio, params.sample_rate, params.offset_s, params.duration_s)
    samples, pad_note = fit_length(samples, params.n_samples)
    notes = info.notes + ([pad_note] if pad_note else [])
    source = {
        "source_rate": str(info.source_rate),
        "channels": str(info.channels),
        "format": info.format,
        "subtype": info.subtype,
        "duration_s": f"{info.duration_s:.3f}",
        "notes": "; ".join(notes),
    }
    text = {
        SIGNATURE_KEY: params.signature(),
        AUDIO_STAMP_KEY: stamp,
        "genreflow:source": os.path.basename(item.audio),
    }
    text.update({f"genreflow:{k}": v for k, v in source.items()})
    write_png_atomic(item.png, render(samples, params), text)
    return record_of(item, Path(item.png).read_bytes(), stamp, source)


def record_of(
    item: Item, png_bytes: bytes, stamp: str, source: Mapping[str, str]
) -> dict[str, str]:
    return {
        "key": item.key,
        "label": item.label,
        "name": item.name,
        "audio": item.audio,
        "png": item.png,
        "status": OK,
        "reason": "",
        "audio_stamp": stamp,
        "png_bytes": str(len(png_bytes)),
        "png_sha256": hashlib.sha256(png_bytes).hexdigest(),
        **source,
    }


def rejected_record(item: Item, reason: str) -> dict[str, str]:
    try:
        stamp = audio_stamp(item.audio)
    except OSError:
        stamp = ""
    return {
        "key": item.key,
        "label": item.label,
        "name": item.name,
        "audio": item.audio,
        "png": "",
        "status": REJECTED,
        "reason": reason,
        "audio_stamp": stamp,
    }


def current_record(item: Item, params: SpectrogramParams) -> tuple[dict[str, str] | None, str]:
    """The index record of a PNG that is complete and was made from this very audio file with
    these settings, or None and why it must be made again."""
    try:
        stamp = audio_stamp(item.audio)
        data = Path(item.png).read_bytes()
    except FileNotFoundError:
        return None, "missing"
    text = png_text(data, verify=True)
    if text is None:
        return None, "damaged (not a complete PNG)"
    if text.get(SIGNATURE_KEY) != params.signature():
        return None, "made with other spectrogram settings"
    if text.get(AUDIO_STAMP_KEY) != stamp:
        return None, "made from another version of the audio file"
    return record_of(
        item, data, stamp, {k: text.get(f"genreflow:{k}", "") for k in SOURCE_FIELDS}
    ), ""


def remove_leftovers(png_path: str) -> None:
    """Delete temporary files a killed job left for this PNG (see ``atomic_path``); only the
    job that owns the PNG calls this, so no other job's temporary file is touched."""
    target = Path(png_path)
    for leftover in target.parent.glob(f".{glob_escape(target.name)}.*.tmp*"):
        leftover.unlink(missing_ok=True)


@dataclass(frozen=True)
class FeaturizeFailure:
    audio: str
    png: str
    reason: str


def featurize_block(
    members: list[Item],
    left_out: list[tuple[Item, str]],
    params: SpectrogramParams,
    forced: Callable[[str], bool],
    index_path: str,
) -> list[FeaturizeFailure]:
    """Bring every member's PNG up to date and write the block's index table.

    A PNG is rewritten when it is missing, damaged, made with other settings or from another
    version of its audio file, or when ``forced`` says so; every other PNG is left as it is
    (same inode, same bytes). A file that cannot be decoded is recorded as rejected and never
    stops the others. ``left_out`` ((item, reason) pairs) carries the start-up's decisions into
    the index, so that the next start-up finds them there.
    """
    records, failures = [], []
    for item in members:
        record, why = current_record(item, params)
        if record is not None and forced(item.png):
            record, why = None, "forced"
        if record is None:
            remove_leftovers(item.png)
            try:
                record = featurize_file(item, params)
            except AudioError as err:
                log.error("REJECTED %s", err)
                failures.append(FeaturizeFailure(item.audio, item.png, str(err)))
                records.append(rejected_record(item, str(err).removeprefix(f"{item.audio}: ")))
                continue
            log.info(
                "featurised %s -> %s (%s)%s",
                item.audio,
                item.png,
                why,
                f": {record['notes']}" if record["notes"] else "",
            )
        records.append(record)
    records += [rejected_record(item, reason) for item, reason in left_out]
    write_index(index_path, records)
    return failures
