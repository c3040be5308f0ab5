import os
import sys
from pathlib import Path

# one BLAS thread per job (set before numpy loads): jobs already run in parallel, and BLAS
# threads on top halve featurisation throughput
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.featurize import featurize_block, members_of
from genreflow.params import SpectrogramParams
from genreflow.tables import read_table

logs.to_file(snakemake.log[0])
table = featurize_block(
    members_of(read_table(snakemake.input.audio), snakemake.output.pngs),
    SpectrogramParams.from_config(snakemake.params.spectrogram),
    snakemake.output.table,
)
counts = table["status"].value_counts()
print(f"{counts.get('ok', 0)} featurised, {counts.get('rejected', 0)} rejected")
