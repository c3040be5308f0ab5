"""Start-up refusals: settings and sample sheets that the schema accepts but that would run into a
late crash, a silently wrong result or lost work. Each is refused (or, where it may still be
what the user wants, warned about) before any job runs, naming the key, file or variant and the
reason. Pure functions; the rules call each once at start-up, and the folds job repeats the
folds check on what featurisation actually accepted."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from .config import ConfigError
from .runtime import resolve_backend

SHOWN_ROWS = 8  # rows listed per problem; the rest are counted
SHOWN_PROBLEMS = 20
HEADER_READS = 5  # clips whose length the offset check reads (a header each)


def _listed(items: Sequence[str], limit: int = SHOWN_ROWS) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- sample sheets --------------------------------------------------------------------------


def check_sheet(table, sheet: str) -> None:
    """Refuse a sheet that lists one audio file more than once (however its path is spelt:
    relative or absolute, with ``./`` or ``..``, through a link) or genres that differ only in
    case ("Rock" and "rock" would become two classes). ``table`` is the validated sheet (columns
    path, genre); row numbers count the header as row 1, as a spreadsheet shows them."""
    base = os.path.dirname(os.path.abspath(sheet))
    by_file: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    spellings: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for number, (path, genre) in enumerate(zip(table["path"], table["genre"]), start=2):
        audio = path if os.path.isabs(path) else os.path.join(base, path)
        by_file[os.path.realpath(audio)].append((number, path, genre))
        spellings[genre.casefold()][genre].append(number)
    problems = []
    for rows in by_file.values():
        if len(rows) > 1:
            genres = sorted({genre for _, _, genre in rows})
            what = (
                f"one audio file under {len(genres)} genres ({', '.join(map(repr, genres))})"
                if len(genres) > 1
                else "one audio file listed more than once"
            )
            listed = _listed([f"row {n} '{path}' ({genre})" for n, path, genre in rows])
            problems.append(f"{what}: {listed}")
    for variants in spellings.values():
        if len(variants) > 1:
            listed = "; ".join(
                f"'{genre}' in rows {_listed([str(n) for n in numbers])}"
                for genre, numbers in variants.items()
            )
            problems.append(f"genres that differ only in case (one class or two?): {listed}")
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        lines = [f"  {p}" for p in problems[:SHOWN_PROBLEMS]] + (
            [f"  ... and {more} more"] if more > 0 else []
        )
        raise ConfigError(
            f"tracks: the sample sheet '{sheet}' is ambiguous (fix the rows, then run again):\n"
            + "\n".join(lines)
        )


# --- cross-validation folds -----------------------------------------------------------------


def listed_counts(items: Iterable, known_bad: Iterable[str]) -> Counter:
    """Tracks per genre that the collection lists, less ``known_bad_tracks``: what start-up
    knows before any audio is decoded (``items``: genreflow.blocks.Item)."""
    bad = set(known_bad)
    return Counter(item.label for item in items if item.key not in bad)


def check_folds(counts: Mapping[str, int], genres: Sequence[str], folds: int, whose: str) -> None:
    """split-folders' kfold deals each genre's tracks into the folds; a genre with fewer tracks
    than folds leaves folds without it, or, below the count of every genre, empty folds whose
    jobs crash after training ("need at least one array to stack"). ``whose`` says which
    tracks were counted."""
    short = {genre: counts.get(genre, 0) for genre in genres if counts.get(genre, 0) < folds}
    if not short:
        return
    smallest = min(short.values())
    advice = (
        f"set experiments.cv.folds to {smallest} or fewer, or add audio"
        if smallest >= 3
        else "add audio: cross-validation needs at least 3 tracks in every genre"
    )
    counted = ", ".join(f"'{genre}' has {n}" for genre, n in short.items())
    raise ConfigError(
        f"experiments.cv.folds: {folds} folds need at least {folds} tracks in every genre "
        f"(each fold holds some of each), but {counted} {whose} ({advice})"
    )


# --- Keras backends -------------------------------------------------------------------------

FRAMEWORKS = {  # backend -> (name, Python module, package names an environment file may use)
    "tensorflow": ("TensorFlow", "tensorflow", ("tensorflow", "tensorflow-cpu")),
    "jax": ("JAX", "jax", ("jax",)),
    "torch": ("PyTorch", "torch", ("torch", "pytorch")),
}


def env_packages(env_file: str | os.PathLike) -> set[str]:
    """The package names a conda environment file installs (its conda and pip lists)."""
    import yaml

    spec = yaml.safe_load(Path(env_file).read_text()) or {}
    names = set()
    for dep in spec.get("dependencies", []):
        for entry in dep.get("pip", []) if isinstance(dep, dict) else [dep]:
            name = re.split(r"[=<>!~\[ ;@]", str(entry).split("::")[-1].strip(), maxsplit=1)[0]
            names.add(name.lower().replace("_", "-"))
    return names


def uses_conda(workflow) -> bool:
    """Whether the jobs run in their rules' conda environments (``--sdm conda``), read from the
    deployment settings that Snakemake's executor-plugin interface publishes
    (``snakemake_interface_executor_plugins``: ``WorkflowExecutorInterface.deployment_settings``)."""
    from snakemake_interface_executor_plugins.settings import DeploymentMethod

    return DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method


def _pinned_in(envs_dir: str | os.PathLike, packages: Iterable[str]) -> list[str]:
    return sorted(
        f"envs/{f.name}" for f in Path(envs_dir).glob("*.yaml") if env_packages(f) & set(packages)
    )


def backend_problem(
    setting: str,
    key: str,
    conda_env: str | None,
    envs_dir: str | os.PathLike,
    jobs: str = "training, evaluation and prediction jobs",
    find_spec: Callable = importlib.util.find_spec,
) -> str | None:
    """Why the backend that ``setting`` (a train.backend value) means cannot run the jobs, or
    None. Without conda deployment (``conda_env`` None) the jobs run in this very environment:
    its framework module must be importable (looked up, not imported: importing TensorFlow
    costs seconds). With ``--sdm conda`` the jobs run in ``conda_env``, which must install it."""
    try:
        backend = resolve_backend(setting)
    except ValueError as err:
        return f"{key}: {err}"
    shown = f"'{backend}'" if setting != "auto" else f"'auto' (KERAS_BACKEND={backend})"
    name, module, packages = FRAMEWORKS[backend]
    if conda_env is None:
        if find_spec(module) is not None:
            return None
        pinned = _pinned_in(envs_dir, packages)
        conda = (
            f", or run with --sdm conda ({name} is pinned in {', '.join(pinned)})"
            if pinned
            else f" (no environment in envs/ pins {name}, so --sdm conda would not help)"
        )
        return (
            f"{key}: {shown} needs {name}, but the Python module '{module}' is not installed in "
            f"the environment the {jobs} run in ({sys.prefix}): install it there or choose "
            f"another backend{conda}"
        )
    if env_packages(conda_env) & set(packages):
        return None
    pinned = _pinned_in(envs_dir, packages)
    env = f"envs/{Path(conda_env).name}"
    fix = (
        f"{name} is pinned in {', '.join(pinned)}"
        if pinned
        else f"no environment in envs/ pins {name}: add it to {env}, or run without "
        "--sdm conda in an environment that has it"
    )
    return (
        f"{key}: {shown} needs {name}, which {env} does not install, the environment of the "
        f"{jobs} under --sdm conda; {fix}"
    )


def check_backends(
    run_backend: str,
    variant_backends: Mapping[str, str],
    conda_env: str | None,
    envs_dir: str | os.PathLike,
    find_spec: Callable = importlib.util.find_spec,
) -> None:
    """The run's train.backend and every variant's that differs from it (experiment jobs run in
    the run's environment, whatever their variant's backend)."""
    problems = [
        backend_problem(run_backend, "train.backend", conda_env, envs_dir, find_spec=find_spec)
    ]
    problems += [
        backend_problem(
            backend,
            f"experiments.variants.{name}: train.backend",
            conda_env,
            envs_dir,
            jobs="experiment jobs (the run's train.backend chooses it)",
            find_spec=find_spec,
        )
        for name, backend in variant_backends.items()
        if backend != run_backend
    ]
    problems = [p for p in problems if p]
    if problems:
        raise ConfigError("\n".join(problems))


# --- spectrogram offset ---------------------------------------------------------------------


def clip_seconds(path: str) -> float | None:
    """A clip's length from its header (libsndfile reads no audio data), None when unreadable."""
    import soundfile

    try:
        return soundfile.info(path).duration
    except Exception:  # libsndfile raises several types; featurisation names the file later
        return None


def offset_warnings(
    config: Mapping,
    variants: Mapping[str, Mapping],
    audio: Sequence[str],
    length_of: Callable[[str], float | None] = clip_seconds,
    sample: int = HEADER_READS,
) -> list[str]:
    """Warnings for the run's spectrogram.offset_s, and each variant's that differs, where it
    lies at or beyond the end of some of the first ``sample`` clips that exist (a header read
    each): featurisation would find no audio after the offset and reject them. A warning, not a
    refusal: the other clips may be longer."""
    offset = config["spectrogram"]["offset_s"]
    offsets = {"spectrogram.offset_s": offset} | {
        f"experiments.variants.{name}.spectrogram.offset_s": v["spectrogram"]["offset_s"]
        for name, v in variants.items()
        if v["spectrogram"]["offset_s"] != offset
    }
    wanted = {key: value for key, value in offsets.items() if value > 0}
    if not wanted:
        return []
    lengths = {}
    for path in audio:
        if len(lengths) == sample:
            break
        if os.path.isfile(path):
            seconds = length_of(path)
            if seconds is not None:
                lengths[path] = seconds
    warnings = []
    for key, offset in wanted.items():
        short = {p: s for p, s in lengths.items() if s <= offset}
        if short:
            clips = ", ".join(f"{os.path.basename(p)} ({s:.2f} s)" for p, s in short.items())
            warnings.append(
                f"genreflow: {key} is {offset:g} s, beyond the end of {len(short)} of the first "
                f"{len(lengths)} clips: {clips}. Such clips have no audio after the offset and "
                f"are rejected by featurisation (lower {key})."
            )
    return warnings
