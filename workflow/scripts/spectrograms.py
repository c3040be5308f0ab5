import os
import sys
from pathlib import Path

# one BLAS thread per job (set before numpy loads): jobs already run in parallel, and BLAS
# threads on top halve featurisation throughput
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.featurize import SpectrogramParams, featurize_many

logs.to_file(snakemake.log[0])
params = SpectrogramParams.from_config(snakemake.params.spectrogram)
failures = featurize_many(zip(snakemake.input, snakemake.output), params)
for failure in failures:
    # remembered so that the next run skips the file instead of failing again
    png = Path(failure.png)
    record = Path(snakemake.params.failure_dir) / png.parent.name / f"{png.stem}.txt"
    record.parent.mkdir(parents=True, exist_ok=True)
    # the QC table has a path column already
    record.write_text(failure.reason.removeprefix(f"{failure.audio}: ") + "\n")
if failures:
    sys.exit(
        f"{len(failures)} file(s) could not be decoded (recorded in {snakemake.params.failure_dir}; "
        "run again to continue without them):\n" + "\n".join(f"  {f.reason}" for f in failures)
    )
