import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.featurize import SpectrogramParams, featurize_many

logs.to_file(snakemake.log[0])
params = SpectrogramParams.from_config(snakemake.params.spectrogram)
# same parameters as the training spectrograms, so the model sees what it was trained on
failures = featurize_many(zip(snakemake.params.audio, snakemake.output), params)
record_of = dict(zip(snakemake.output, snakemake.params.failures))
for failure in failures:
    # remembered so that the next run reports the file as rejected instead of failing again
    record = Path(record_of[failure.png])
    record.parent.mkdir(parents=True, exist_ok=True)
    # the rejection table has a file column already
    record.write_text(failure.reason.removeprefix(f"{failure.audio}: ") + "\n")
if failures:
    sys.exit(
        f"{len(failures)} file(s) could not be decoded (run again to classify the others without them):\n"
        + "\n".join(f"  {f.reason}" for f in failures)
    )
