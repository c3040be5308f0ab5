import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.blocks import OK, read_records
from genreflow.embeddings import read_embeddings, tracks_table, write_tracks_table
from genreflow.tables import read_manifest

logs.to_file(snakemake.log[0])
records = read_records(snakemake.input.index)
table = tracks_table(
    read_embeddings(snakemake.input.embeddings),
    [r for r in records if r["status"] == OK],
    snakemake.params.layer,
    {r["track"]: r["split"] for r in read_manifest(snakemake.input.manifest)},
)
write_tracks_table(snakemake.output[0], table)
print(f"{len(table)} track(s), {table.shape[1]} columns, into {snakemake.output[0]}")
