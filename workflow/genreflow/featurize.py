"""Audio file -> spectrogram PNG, and a block job that featurises every member of its block."""

from __future__ import annotations

import hashlib
import logging
from glob import escape as glob_escape
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import AudioError, decode, fit_length
from .blocks import OK, REJECTED, Item
from .params import SpectrogramParams
from .pngio import DamagedSpectrogram, remake_command, write_png_atomic
from .spectrogram import (
    blog_specgram_image,
    log_mel,
    musicnn_representation,
    quantise16,
    to_grayscale,
)
from .tables import read_table, write_table
from .tracks import sniff_audio

SOURCE_FIELDS = ("source_rate", "channels", "format", "subtype", "duration_s", "notes")
TABLE_FIELDS = ("key", "label", "name", "audio", "png", "status", "reason", "png_bytes")
TABLE_FIELDS += ("png_sha256", "audio_sha256", *SOURCE_FIELDS)

log = logging.getLogger(__name__)


def render(samples: np.ndarray, params: SpectrogramParams) -> np.ndarray:
    if params.kind == "blog_specgram":
        return blog_specgram_image(samples, params.width_px, params.height_px)
    if params.kind == "musicnn":
        return quantise16(musicnn_representation(samples, params.sample_rate))
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
    """Write the spectrogram PNG of one audio file; returns its row of the block's table. A file
    that cannot be read (or is rejected by a setting, e.g. an offset beyond its end) still gets
    its PNG: a 1x1 tombstone whose text says why, so that the job's outputs are complete and the
    decision lives in them."""
    try:
        not_audio = sniff_audio(item.audio)  # cheaper and clearer than libsndfile's errors
        if not_audio:
            raise AudioError(f"{item.audio}: {not_audio}")
        samples, info = decode(item.audio, params.sample_rate, params.offset_s, params.duration_s)
    except AudioError as err:
        reason = str(err).removeprefix(f"{item.audio}: ")
        text = {"genreflow:status": REJECTED, "genreflow:reason": reason}
        write_png_atomic(item.png, np.zeros((1, 1), np.uint8), text)
        return {**row_of(item), "status": REJECTED, "reason": reason}
    samples, pad_note = fit_length(samples, params.n_samples)
    source = {
        "source_rate": str(info.source_rate),
        "channels": str(info.channels),
        "format": info.format,
        "subtype": info.subtype,
        "duration_s": f"{info.duration_s:.3f}",
        "notes": "; ".join(info.notes + ([pad_note] if pad_note else [])),
    }
    text = {"genreflow:params": params.signature(), "genreflow:source": Path(item.audio).name}
    write_png_atomic(
        item.png, render(samples, params), text | {f"genreflow:{k}": v for k, v in source.items()}
    )
    data = Path(item.png).read_bytes()
    png = {"png_bytes": str(len(data)), "png_sha256": hashlib.sha256(data).hexdigest()}
    return {**row_of(item), "status": OK, **png, "audio_sha256": info.sha256, **source}


def row_of(item: Item) -> dict[str, str]:
    return {
        "key": item.key,
        "label": item.label,
        "name": item.name,
        "audio": item.audio,
        "png": item.png,
    }


def featurize_block(members: list[Item], params: SpectrogramParams, table: str) -> pd.DataFrame:
    """Make every member's PNG and write the block's table (``ok``, or ``rejected`` with the
    reason). Snakemake has removed the job's old outputs: the whole block is made again."""
    rows = []
    for item in members:
        remove_leftovers(item.png)
        row = featurize_file(item, params)
        if row["status"] == OK:
            notes = f": {row['notes']}" if row["notes"] else ""
            log.info("featurised %s -> %s%s", item.audio, item.png, notes)
        else:
            log.warning("REJECTED %s: %s", item.audio, row["reason"])
        rows.append(row)
    frame = pd.DataFrame(
        [{f: r.get(f, "") for f in TABLE_FIELDS} for r in rows], columns=list(TABLE_FIELDS)
    )
    write_table(table, frame)
    return frame


def remove_leftovers(png: str) -> None:
    """Delete the temporary files a killed job left for this PNG (see ``atomic_path``); only the
    job that owns the PNG calls this, so no other job's temporary file is touched."""
    target = Path(png)
    for leftover in target.parent.glob(f".{glob_escape(target.name)}.*.tmp*"):
        leftover.unlink(missing_ok=True)


def members_of(stamps: pd.DataFrame, pngs: list[str]) -> list[Item]:
    """The members a block job featurises: its stamps table's rows, with the job's PNG outputs
    (declared in the same order)."""
    if len(stamps) != len(pngs):
        raise ValueError(f"{len(stamps)} audio files but {len(pngs)} PNG outputs")
    return [
        Item(r["key"], r["audio"], png, r["label"], r["name"])
        for r, png in zip(stamps.to_dict("records"), pngs)
    ]


def set_index(tables: list[str]) -> pd.DataFrame:
    """The block tables of a spectrogram set in one table; stops, naming the files and the
    command that remakes them, where a PNG is not the size its job wrote (overwritten since)."""
    frames = [read_table(t) for t in tables]
    index = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TABLE_FIELDS)
    ok = index[index["status"] == OK]
    damaged = [p for p, n in zip(ok["png"], ok["png_bytes"]) if Path(p).stat().st_size != int(n)]
    if damaged:
        raise DamagedSpectrogram(
            f"{len(damaged)} spectrogram(s) changed since their job wrote them (another size): "
            + ", ".join(damaged)
            + f"; make them again with: {remake_command(damaged)}"
        )
    return index
