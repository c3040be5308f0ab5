# Featurisation, per spectrogram set (the run's in results/spectrograms, one per other setting an
# experiment variant asks for, and the predict folder's). `spectrograms` writes the settings file
# every block job takes as input (`snakemake -R spectrograms` rebuilds every PNG). Per block of
# tracks, `spectrograms_<block>_audio` has the block's audio as inputs and writes their stamps;
# `spectrograms_<block>` reads that table and makes every member's PNG (a tombstone PNG for a
# file it rejects) and the block's table. `spectrograms_index` joins a set's block tables and
# takes every PNG as input, so that any target reading spectrograms has a missing or forced PNG
# made again first. Snakemake alone decides which jobs run.

# rule name -> (block, folder of its stamps table); the variants' sets share the run's
AUDIO_JOBS = {
    f"spectrograms_{b.name}": (b, SPECTROGRAM_ROOT) for b in PLAN.blocks.values()
}
# rule name -> (block, folder of its stamps table, settings file, settings)
FEATURIZE_JOBS = {
    f"{prefix}_{b.name}": (b, SPECTROGRAM_ROOT, f"{root}/settings.json", settings)
    for prefix, (root, settings, blocks) in SPECTROGRAM_SETS.items()
    for b in blocks.values()
}
for block in PREDICT.blocks.values() if PREDICT else []:
    AUDIO_JOBS[f"predict_spectrograms_{block.name}"] = (block, block.root)
    FEATURIZE_JOBS[f"predict_spectrograms_{block.name}"] = (
        block,
        block.root,
        f"{SPECTROGRAM_ROOT}/settings.json",
        config["spectrogram"],
    )


for prefix, (root, settings, blocks) in SPECTROGRAM_SETS.items():

    rule:
        name:
            prefix
        output:
            f"{root}/settings.json",
        log:
            f"results/logs/spectrograms/{prefix}.log",
        conda:
            "../../envs/featurize.yaml"
        params:
            spectrogram=settings,
        script:
            "../scripts/spectrogram_settings.py"

    rule:
        name:
            f"{prefix}_index"
        input:
            tables=[b.table for b in blocks.values()],
            pngs=[png for b in blocks.values() for png in b.pngs],
        output:
            set_index_path(root),
        log:
            f"results/logs/spectrograms/{prefix}_index.log",
        conda:
            "../../envs/featurize.yaml"
        script:
            "../scripts/spectrogram_index.py"


for name, (block, stamps_root) in AUDIO_JOBS.items():

    # The block's audio, as Snakemake sees it: the mtime, input and params triggers (the params:
    # a digest of every member's size, mtime and inode change time, so that a copy with an old
    # mtime counts too) rerun this small job, and its table, changed, reruns the featurisation.
    # The audio files are inputs here and not of the featurisation job, whose outputs would
    # otherwise each record the block's whole audio list in Snakemake's metadata.
    rule:
        name:
            f"{name}_audio"
        input:
            # a name with "{...}" would be read as a wildcard: such files are only in params,
            # and the audio stamps make a changed file rerun the job all the same
            [m.audio for m in block.members if is_declarable(m.audio)],
        output:
            stamps_path(stamps_root, block.name),
        log:
            f"results/logs/spectrograms/{name}_audio.log",
        group:
            "featurize"
        conda:
            "../../envs/featurize.yaml"
        params:
            audio_stamps=block_stamps(block),
            members=block_members(block),
        script:
            "../scripts/audio_table.py"


for name, (block, stamps_root, settings_file, settings) in FEATURIZE_JOBS.items():

    rule:
        name:
            name
        input:
            settings=settings_file,
            audio=stamps_path(stamps_root, block.name),
        output:
            table=block.table,
            pngs=block.pngs,
        log:
            f"results/logs/spectrograms/{name}.log",
        group:
            "featurize"
        conda:
            "../../envs/featurize.yaml"
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            spectrogram=settings,
        script:
            "../scripts/spectrograms.py"
