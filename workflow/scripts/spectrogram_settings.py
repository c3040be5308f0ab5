import json
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.atomic import atomic_path
from genreflow.params import SpectrogramParams

logs.to_file(snakemake.log[0])
params = SpectrogramParams.from_config(snakemake.params.spectrogram)
with atomic_path(snakemake.output[0]) as tmp:
    tmp.write_text(json.dumps({"signature": params.signature(), **asdict(params)}, indent=2) + "\n")
print(f"spectrogram settings {params.signature()}")
