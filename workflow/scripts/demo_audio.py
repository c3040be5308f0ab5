import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.demo import write_demo_dataset

logs.to_file(snakemake.log[0])
demo = snakemake.params.demo
out_dir = Path(snakemake.output[0]).parents[1]  # <out_dir>/<genre>/<file>
written = write_demo_dataset(
    out_dir,
    snakemake.params.genres,
    demo["tracks_per_genre"],
    demo["duration_s"],
    snakemake.params.sample_rate,
    demo["seed"],
)
print(f"wrote {len(written)} demo clips to {out_dir}")
