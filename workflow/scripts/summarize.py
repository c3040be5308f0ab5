import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.summary import summarize

logs.to_file(snakemake.log[0])
headline = summarize(
    seed_metrics=list(snakemake.input.metrics),
    seed_predictions=list(snakemake.input.predictions),
    seeds=snakemake.params.seeds,
    splits=snakemake.params.splits,
    genres=snakemake.params.genres,
    recipe=snakemake.params.recipe,
    primary={k: snakemake.input[k] for k in ("model", "history", "curves")},
    outputs=dict(snakemake.output.items()),
    split_info=json.loads(Path(snakemake.input.split_info).read_text()),
)
print(headline)
