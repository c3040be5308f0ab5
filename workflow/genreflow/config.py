"""The configuration before anything runs: values typed as the schema says, and settings that
pass the schema but cannot give a meaningful result refused, naming the key."""

from __future__ import annotations

import math
from typing import Any


class ConfigError(ValueError):
    """A configuration that cannot work; the message starts with the offending key."""


_BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


def typed_as_schema(config: dict, schema_path: str) -> dict:
    """``config`` with the types ``schema_path`` (a YAML JSON schema) asks for; see below."""
    import yaml

    with open(schema_path) as fh:
        return coerce_cli_strings(config, yaml.safe_load(fh))


def coerce_cli_strings(config: dict, schema: dict) -> dict:
    """Numbers and booleans given as strings become numbers and booleans where the schema wants
    them: Snakemake reads ``--config strict=true`` and the values inside
    ``--config spectrogram='{n_mels: 96}'`` with YAML's BaseLoader, which keeps every scalar a
    string (only a bare ``key=96`` or ``key=True`` arrives typed). Anything that does not parse
    is left as it is, for the schema to name."""
    return _coerce(config, schema, schema)


def _coerce(value: Any, schema: dict, root: dict) -> Any:
    if "$ref" in schema:  # local references only, as in config/schema.yaml
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _coerce(value, {**target, **{k: v for k, v in schema.items() if k != "$ref"}}, root)
    kind = schema.get("type")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: _coerce(v, props[k], root) if k in props else v for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(v, schema["items"], root) for v in value]
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = float(text)
            return (
                int(number)
                if number.is_integer() and "." not in text and "e" not in text.lower()
                else number
            )
    except ValueError:
        return value
    if kind == "boolean" and text.lower() in _BOOLEANS:
        return _BOOLEANS[text.lower()]
    return value


def check_settings(config: dict) -> None:
    """Combinations the schema cannot express: each one ran to the end before and gave black,
    white or one-column pictures, or a network that cannot be built."""
    spec, train = config["spectrogram"], config["train"]
    rate = spec["sample_rate"]
    if spec["fmin"] >= spec["fmax"]:
        raise ConfigError(
            f"spectrogram.fmin: {spec['fmin']:g} Hz must be below spectrogram.fmax ({spec['fmax']:g} Hz)"
        )
    if spec["fmax"] > rate / 2:
        raise ConfigError(
            f"spectrogram.fmax: {spec['fmax']:g} Hz is above half the sample rate ({rate / 2:g} Hz): the bands above it would be empty"
        )
    if spec["db_min"] >= spec["db_max"]:
        raise ConfigError(
            f"spectrogram.db_min: {spec['db_min']:g} dB must be below spectrogram.db_max ({spec['db_max']:g} dB)"
        )
    hop_s = spec["hop_length"] / rate
    if spec["duration_s"] < hop_s:
        raise ConfigError(
            f"spectrogram.duration_s: {spec['duration_s']:g} s is shorter than one hop ({hop_s:.4f} s): a one-column picture"
        )
    if spec["kind"] == "logmel":
        empty = empty_mel_bands(rate, spec["n_fft"], spec["n_mels"], spec["fmin"], spec["fmax"])
        if empty:
            raise ConfigError(
                f"spectrogram.n_fft: {spec['n_fft']} is too small for spectrogram.n_mels {spec['n_mels']} between "
                f"{spec['fmin']:g} and {spec['fmax']:g} Hz: {empty} mel band(s) fall between two FFT bins and stay black "
                "(raise n_fft, lower n_mels or raise fmin)"
            )
    elif spec["duration_s"] * rate < 2048:
        raise ConfigError(
            f"spectrogram.duration_s: {spec['duration_s']:g} s is shorter than the blog picture's 2048-sample FFT"
        )
    if train["recipe"] == "cnn":
        check_cnn_recipe(spec, train)
    # --- the musicnn recipe (issue 17) ---
    if train["recipe"] == "musicnn" and spec["kind"] != "musicnn":
        raise ConfigError(
            f"train.recipe: musicnn needs spectrogram.kind: musicnn (the pretrained network's own "
            f"input: 16 kHz, 96 mel bands), not spectrogram.kind: {spec['kind']}"
        )


def check_cnn_recipe(spec: dict, train: dict) -> None:
    if spec["duration_s"] < train["window_s"]:
        raise ConfigError(
            f"spectrogram.duration_s: {spec['duration_s']:g} s is shorter than train.window_s ({train['window_s']:g} s): "
            "every training window would be mostly padding"
        )
    # the network averages input_pool, then halves both axes once per entry of train.filters
    frames = max(1, round(train["window_s"] * spec["sample_rate"] / spec["hop_length"]))
    halvings = 2 ** len(train["filters"])
    bands, width = spec["n_mels"] // train["input_pool"][0], frames // train["input_pool"][1]
    if bands < halvings:
        raise ConfigError(
            f"train.filters: {len(train['filters'])} blocks halve the {bands} mel bands left after train.input_pool "
            f"{train['input_pool'][0]} to nothing (use fewer blocks, a smaller pool or more spectrogram.n_mels)"
        )
    if width < halvings:
        raise ConfigError(
            f"train.window_s: {train['window_s']:g} s ({frames} frames, {width} after train.input_pool) is too short "
            f"for {len(train['filters'])} blocks that halve it each (a longer window, fewer blocks or a smaller pool)"
        )


def empty_mel_bands(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> int:
    """How many of librosa's Slaney mel filters hold no FFT bin (librosa warns "Empty filters
    detected" and they stay zero: black rows).

    librosa's own mel scale, in 8 lines: importing librosa costs 1.3 s on every start and every
    cluster job's start, for a check that needs none of it (tests compare with librosa.filters.mel).
    """

    def mel(hz: float) -> float:
        return hz / (200 / 3) if hz < 1000 else 15 + math.log(hz / 1000) / (math.log(6.4) / 27)

    def hz(m: float) -> float:
        return m * (200 / 3) if m < 15 else 1000 * math.exp((m - 15) * math.log(6.4) / 27)

    edges = [hz(mel(fmin) + (mel(fmax) - mel(fmin)) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    bin_hz = sample_rate / n_fft
    return sum(
        1 for lo, hi in zip(edges, edges[2:]) if math.floor(hi / bin_hz - 1e-9) * bin_hz <= lo
    )
