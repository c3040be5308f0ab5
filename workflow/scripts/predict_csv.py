import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.featurize import SpectrogramParams
from genreflow.download import sha256_of
from genreflow.predict import classify_files, is_current, read_probabilities, top_genre, write_predictions_csv
from genreflow.qc import write_tsv_atomic
from genreflow.recipe import TrainSettings

logs.to_file(snakemake.log[0])
genres = snakemake.params.genres
relpaths = list(snakemake.params.relpaths)
json_paths = list(snakemake.input.probabilities)
model_sha256 = sha256_of(Path(snakemake.input.model))
outdated = [i for i, p in enumerate(json_paths) if not is_current(read_probabilities(p), genres, model_sha256)]
if outdated:
    # the model was retrained in this run, after the plan had judged these records fresh
    from genreflow.runtime import configure

    print(f"{len(outdated)} probability file(s) came from another model: classifying them again")
    settings = TrainSettings.from_config(snakemake.params.train)
    configure(0, 1, "off", "off", settings.deterministic)
    classify_files(
        snakemake.input.model,
        [snakemake.params.pngs[i] for i in outdated],
        [relpaths[i] for i in outdated],
        [json_paths[i] for i in outdated],
        genres,
        settings,
        SpectrogramParams.from_config(snakemake.params.spectrogram),
    )
probabilities = [read_probabilities(p)["probabilities"] for p in json_paths]
count = write_predictions_csv(snakemake.output.csv, zip(relpaths, probabilities), genres)
write_tsv_atomic(snakemake.output.rejected, ("file", "reason"), snakemake.params.rejected)
tally = Counter(top_genre(p) for p in probabilities)
print(f"{count} file(s) classified into {snakemake.output.csv}: " + ", ".join(f"{g} {n}" for g, n in tally.most_common()))
print(f"{len(snakemake.params.rejected)} file(s) skipped, listed in {snakemake.output.rejected}")
