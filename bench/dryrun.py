"""Dry-run cost of planning the workflow for many audio files (snakemake -n from nothing), and
what the design costs in Snakemake's metadata (.snakemake/metadata).

Placeholders are hard links to one tiny valid WAV, so the start-up check (the first bytes of
every file) really runs on every file. Prints a markdown table of wall time and peak memory.
Then one real run featurises ``--metadata-files`` placeholders up to the spectrograms' index
and reads Snakemake's records: the bytes per PNG (its job's inputs, params, code...) and those
of the index, whose job takes every PNG as input (a path and a checksum per PNG), scaled to
each size.

Usage: python bench/dryrun.py [--sizes 1000 10000 100000] [--metadata-files 1000]
       [--work /tmp/genreflow-dryrun]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

import numpy as np
from common import GENRES, machine, run_timed, table, workflow_command


def placeholders(root: Path, n_files: int) -> None:
    """Hard links to one tiny WAV per genre (a file system allows ~65k links per inode)."""
    import soundfile

    shutil.rmtree(root, ignore_errors=True)
    for genre in GENRES:
        (root / genre).mkdir(parents=True)
        soundfile.write(
            root / genre / ".template.wav", np.zeros(64, dtype=np.float32), 22050, subtype="PCM_16"
        )
    for i in range(n_files):
        genre = GENRES[i % len(GENRES)]
        os.link(
            root / genre / ".template.wav", root / genre / f"{genre}.{i // len(GENRES):05d}.wav"
        )
    for genre in GENRES:
        (root / genre / ".template.wav").unlink()


def dry_run(audio: Path, workdir: Path) -> tuple[float, float]:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    overrides = workdir / "bench.yaml"
    overrides.write_text(f"audio_dir: {audio}\n")
    cmd = workflow_command(workdir, "-n", "--quiet", "rules", "--configfile", str(overrides))
    return run_timed(cmd)


# The same DAG shape with nothing of genreflow in it: per block, one rule with the block's audio
# as inputs and one with its table and PNGs as outputs, and one rule with every PNG as input.
# What Snakemake alone needs to plan so many declared files; the difference to the workflow's row
# is genreflow's own start-up and the rest of its DAG.
BARE_SNAKEFILE = """
import os
AUDIO, BLOCK = config["audio"], 50
tracks = sorted((g, e.name[:-4], e.path) for g in os.listdir(AUDIO) for e in os.scandir(os.path.join(AUDIO, g)))
blocks = {}
for g, t, p in tracks:
    blocks.setdefault(int(t.rsplit(".", 1)[1]) // BLOCK, []).append((g, t, p))
for b, members in blocks.items():
    rule:
        name: f"audio_{b}"
        input: [p for g, t, p in members]
        output: f"results/audio/{b}.tsv"
        shell: "touch {output}"
    rule:
        name: f"spectrograms_{b}"
        input: f"results/audio/{b}.tsv"
        output: index=f"results/index/{b}.tsv", pngs=[f"results/spectrograms/{g}/{t}.png" for g, t, p in members]
        shell: "touch {output}"
rule index:
    input: [f"results/index/{b}.tsv" for b in blocks], [f"results/spectrograms/{g}/{t}.png" for m in blocks.values() for g, t, p in m]
    output: "results/index.tsv"
    shell: "touch {output}"
rule all:
    default_target: True
    input: "results/index.tsv"
"""


def bare_dry_run(audio: Path, workdir: Path) -> tuple[float, float]:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "Snakefile").write_text(BARE_SNAKEFILE)
    cmd = workflow_command(
        workdir,
        *("-n", "--quiet", "rules", "--config", f"audio={audio}"),
        snakefile=workdir / "Snakefile",
    )
    return run_timed(cmd)


def metadata_bytes(audio: Path, workdir: Path) -> tuple[float, int, int]:
    """A real run up to the spectrograms' index; returns (mean bytes of a PNG's record, bytes of
    the index's record, the PNGs it lists)."""
    import json

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "bench.yaml").write_text(f"audio_dir: {audio}\n")
    cmd = workflow_command(workdir, "--quiet", "all", "--configfile", str(workdir / "bench.yaml"))
    run_timed([*cmd, "--", "results/spectrograms/index.tsv"])
    records: dict[str, list[int]] = {}
    for f in (workdir / ".snakemake/metadata").iterdir():
        record = f.read_bytes()
        records.setdefault(json.loads(record)["rule"], []).append(len(record))
    png = [
        size
        for rule, sizes in records.items()
        if re.fullmatch(r"spectrograms_\d{5}", rule)
        for size in sizes
    ]
    (index,) = records["spectrograms_index"]
    n_pngs = len(list((workdir / "results/spectrograms").glob("*/*.png")))
    return sum(png) / len(png), index, n_pngs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--metadata-files", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/genreflow-dryrun"))
    args = parser.parse_args()
    audio = args.work / "audio_metadata"
    placeholders(audio, args.metadata_files)
    per_png, index, n_pngs = metadata_bytes(audio, args.work / "wd_metadata")
    per_input = index / n_pngs
    shutil.rmtree(audio, ignore_errors=True)
    rows = []
    for n in args.sizes:
        audio = args.work / f"audio_{n}"
        placeholders(audio, n)
        wall, rss = dry_run(audio, args.work / f"wd_{n}")
        bare, _ = bare_dry_run(audio, args.work / f"bare_{n}")
        rows.append(
            [
                f"{n:,}",
                f"{wall:.1f}",
                f"{rss:.0f}",
                "yes" if wall < 15 and rss < 2048 else "NO",
                f"{bare:.1f}",
                f"{per_png:.0f}",
                f"{per_input * n / 2**20:.1f}",
            ]
        )
        shutil.rmtree(audio, ignore_errors=True)
    print(f"snakemake -n on {machine()}\n")
    print(
        table(
            [
                "audio files",
                "wall s",
                "peak RSS MiB",
                "< 15 s and < 2 GiB",
                "same DAG, bare Snakefile: wall s",
                "metadata per PNG, bytes",
                "metadata of the index (every PNG as input), MiB",
            ],
            rows,
        )
    )
    print(
        f"\nMetadata measured on a real run of {n_pngs} files: {per_png:.0f} bytes per PNG, "
        f"{index:,} bytes for the index's one output ({per_input:.0f} bytes per PNG it takes "
        "as input: path and sha256), scaled linearly to each size. The split, QC and folds "
        "take the index (one input) instead of every PNG."
    )


if __name__ == "__main__":
    main()
