import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.download import unpack_into

logs.to_file(snakemake.log[0])
moved = unpack_into(
    Path(snakemake.input[0]),
    Path(snakemake.params.audio_dir),
    int(snakemake.params.max_unpacked_gb * 2**30),
)
missing = [f for f in snakemake.output if not Path(f).exists()]
if missing:
    sys.exit(
        f"the archive lacks {len(missing)} expected track(s), e.g. {missing[:3]} (set download.tracks_per_genre "
        "and download.extension to what the archive holds)"
    )
print(f"unpacked {', '.join(moved)} into {snakemake.params.audio_dir}")
