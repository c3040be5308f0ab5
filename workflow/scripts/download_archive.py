import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.download import fetch_archive

logs.to_file(snakemake.log[0])
fetch_archive(
    snakemake.params.url,
    snakemake.params.sha256,
    Path(snakemake.output[0]),
    float(snakemake.params.timeout_s),
)
print(f"archive ready at {snakemake.output[0]}")
