import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs, qc
from genreflow.plan import spectrogram_path
from genreflow.tracks import Track

logs.to_file(snakemake.log[0])
qc.write_rejections(snakemake.output.rejected, snakemake.params.rejected)
qc.write_rejections(snakemake.output.ignored, snakemake.params.ignored)
tracks = snakemake.params.tracks
pngs = [spectrogram_path(Track(t["genre"], t["track_id"], t["audio"])) for t in tracks]
qc.write_track_table(snakemake.output.tracks, tracks, pngs)
print(f"{len(snakemake.params.rejected)} rejected, {len(snakemake.params.ignored)} ignored, {len(snakemake.params.tracks)} used")
