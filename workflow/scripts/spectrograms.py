import os
import sys
from pathlib import Path

# one BLAS thread per job (set before numpy loads): jobs already run in parallel, and BLAS
# threads on top halve featurisation throughput
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.blocks import Item, forced_for
from genreflow.featurize import featurize_block
from genreflow.params import SpectrogramParams

logs.to_file(snakemake.log[0])
failures = featurize_block(
    members=[Item(**m) for m in snakemake.params.members],
    left_out=[(Item(**item), reason) for item, reason in snakemake.params.left_out],
    params=SpectrogramParams.from_config(snakemake.params.spectrogram),
    forced=forced_for(snakemake.rule),
    index_path=snakemake.output.index,
)
if failures:
    # the index records them: the next run names them at start-up and goes on without them
    sys.exit(
        f"{len(failures)} audio file(s) could not be read (recorded in {snakemake.output.index}; "
        "run again to continue without them):\n" + "\n".join(f"  {f.reason}" for f in failures)
    )
