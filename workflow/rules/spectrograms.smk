# Featurisation. `spectrograms` records the spectrogram settings every PNG is made with
# (`snakemake -R spectrograms` rebuilds every PNG); one `spectrograms_<block>` rule per block of
# tracks declares each of its PNGs, before and after any run, and its job rewrites only the PNGs
# that need it (see genreflow.blocks). The rules of the predict folder's blocks, and of the
# spectrogram sets of experiment variants with other settings, are made here too.


for rule_name, (settings_file, spectrogram, _) in SPECTROGRAM_SETS.items():

    rule:
        name:
            rule_name
        output:
            settings_file,
        log:
            f"results/logs/spectrograms/{rule_name}.log",
        conda:
            "../../envs/featurize.yaml"
        params:
            spectrogram=spectrogram,
        script:
            "../scripts/spectrogram_settings.py"


for rule_name, (block, settings_file, spectrogram) in FEATURIZE_BLOCKS.items():

    # The block's audio, as Snakemake sees it: the mtime, input and params triggers (the
    # params: a digest of every member's size, mtime and inode change time, so that a copy with
    # an old mtime counts too) rerun this small job, and its table, newer, reruns the block's
    # featurisation. The audio files are inputs here and not of the featurisation job, whose
    # outputs would otherwise each record the whole list in Snakemake's metadata (measured:
    # 24 kB per PNG, 5 s of bookkeeping per run of 1000 files).
    rule:
        name:
            f"{rule_name}_audio"
        input:
            # a name with "{...}" would be read as a wildcard: such files are only in params,
            # and the audio stamps make a changed file rerun the job all the same
            [m.audio for m in block.members if is_declarable(m.audio)],
        output:
            block.audio_table,
        log:
            f"results/logs/spectrograms/{rule_name}_audio.log",
        group:
            "featurize"
        conda:
            "../../envs/featurize.yaml"
        params:
            audio_stamps=block_stamps(block),
            members=block_members(block),
        script:
            "../scripts/audio_table.py"

    rule:
        name:
            rule_name
        input:
            settings=settings_file,
            audio=block.audio_table,
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
            spectrogram=spectrogram,
            members=block_members(block),
            left_out=block_left_out(block),
        script:
            "../scripts/spectrograms.py"
