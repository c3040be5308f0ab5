# Featurisation. `spectrograms` records the spectrogram settings every PNG is made with
# (`snakemake -R spectrograms` rebuilds every PNG); one `spectrograms_<block>` rule per block of
# tracks declares each of its PNGs, before and after any run, and its job rewrites only the PNGs
# that need it (see genreflow.blocks). The rules of the predict folder's blocks are made here too.


rule spectrograms:
    output:
        SPECTROGRAM_SETTINGS,
    log:
        "results/logs/spectrograms/settings.log",
    conda:
        "../../envs/featurize.yaml"
    params:
        spectrogram=config["spectrogram"],
    script:
        "../scripts/spectrogram_settings.py"


for rule_name, block in FEATURIZE_BLOCKS.items():

    rule:
        name:
            rule_name
        input:
            settings=SPECTROGRAM_SETTINGS,
            # a name with "{...}" would be read as a wildcard: such files are only in params,
            # and the audio stamps make a changed file rerun the job all the same
            audio=[m.audio for m in block.members if is_declarable(m.audio)],
        output:
            index=block.index,
            pngs=[update(m.png) for m in block.members],
        log:
            f"results/logs/spectrograms/{rule_name}.log",
        group:
            "featurize"
        conda:
            "../../envs/featurize.yaml"
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            spectrogram=config["spectrogram"],
            audio_stamps=block_stamps(block),
            members=block_members(block),
            left_out=block_left_out(block),
        script:
            "../scripts/spectrograms.py"
