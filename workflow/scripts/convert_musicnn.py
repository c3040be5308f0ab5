import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.runtime import select_backend

logs.to_file(snakemake.log[0])
select_backend("tensorflow")  # reading a TF1 checkpoint needs TensorFlow anyway

from genreflow.musicnn import checkpoint_dir, convert_checkpoint

architecture = snakemake.wildcards.architecture
source = checkpoint_dir(architecture)
print(f"musicnn checkpoint {source} ({snakemake.params.musicnn})")
convert_checkpoint(source, architecture, snakemake.output[0])
print(f"wrote {snakemake.output[0]}")
