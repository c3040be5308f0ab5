"""A GTZAN-sized run: N synthetic 30-s clips (default 1000) through the whole default workflow
(featurise, embed, split, train, evaluate) with snakemake --cores 2 from nothing, timed per stage
from the job logs; then (``--added``, default 10) the re-run after that many clips are added
into existing blocks: the last track number of as many genres is taken out (a run, not timed)
and put back (the timed re-run).

Usage: python bench/full_run.py [--files 1000] [--added 10] [--work /tmp/genreflow-full]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from datetime import datetime
from pathlib import Path

from common import machine, run_timed, synthetic_gtzan, table, workflow_command

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]")


def stage_times(log: Path) -> dict[str, float]:
    """Seconds from the first job start to the last finished job, per stage, from Snakemake's log."""
    spans: dict[str, list[datetime]] = {}
    stamp = None
    for line in log.read_text().splitlines():
        if m := STAMP.match(line):
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif stamp and (
            m := re.match(r"\s*(?:local)?rule (\w+):|Finished jobid: \d+ \(Rule: (\w+)\)", line)
        ):
            rule = m.group(1) or m.group(2)
            stage = "featurise" if rule.startswith("spectrograms_") else rule
            spans.setdefault(stage, []).append(stamp)
    return {stage: (max(t) - min(t)).total_seconds() for stage, t in spans.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/genreflow-full"))
    parser.add_argument("--added", type=int, default=10)
    args = parser.parse_args()
    audio = args.work / "audio"
    files = synthetic_gtzan(audio, args.files)
    workdir = args.work / "run"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "bench.yaml").write_text(f"audio_dir: {audio}\n")
    cmd = workflow_command(workdir, "--configfile", str(workdir / "bench.yaml"))
    wall, rss = run_timed(cmd, env={"OPENBLAS_NUM_THREADS": "1"})
    log = max((workdir / ".snakemake/log").glob("*.snakemake.log"))
    stages = stage_times(log)
    metrics = json.loads((workdir / "results/metrics/metrics.json").read_text())
    epochs = len((workdir / "results/model/history.csv").read_text().splitlines()) - 1
    print(
        f"Default recipe, {args.files} synthetic 30-s clips, snakemake --cores 2 on {machine()}\n"
    )
    rows = [[stage, f"{seconds:.0f}"] for stage, seconds in stages.items() if stage != "all"]
    rows.append(["**total (wall)**", f"**{wall:.0f}**"])
    print(table(["stage", "seconds"], rows))
    print(
        f"\npeak RSS {rss:.0f} MiB; {epochs} epochs; test track accuracy "
        f"{metrics['track_accuracy']:.3f}; target: total <= 900 s"
    )
    if args.added:
        readd(workdir, cmd, files[-args.added :])


def readd(workdir: Path, cmd: list[str], clips: list[Path]) -> None:
    """Take ``clips`` out, run (not timed), put them back with new files, run (timed)."""
    kept = {clip: clip.read_bytes() for clip in clips}
    for clip in clips:
        clip.unlink()
    run_timed(cmd, env={"OPENBLAS_NUM_THREADS": "1"})
    for clip, data in kept.items():
        clip.write_bytes(data)
    wall, _ = run_timed(cmd, env={"OPENBLAS_NUM_THREADS": "1"})
    log = max((workdir / ".snakemake/log").glob("*.snakemake.log"))
    ran = re.findall(r"^\s*(?:local)?rule (\w+):", log.read_text(), flags=re.M)
    print(
        f"\nAdding {len(clips)} clips into existing blocks ({', '.join(c.name for c in clips)}):\n"
    )
    rows = [[stage, f"{seconds:.0f}"] for stage, seconds in stage_times(log).items()]
    rows.append(["**total (wall)**", f"**{wall:.0f}**"])
    print(table(["stage", "seconds"], rows))
    print(f"\njobs: {', '.join(sorted(ran))}; target: <= 120 s")


if __name__ == "__main__":
    main()
