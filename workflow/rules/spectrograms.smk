# One job per batch of audio files, one PNG per file. Only missing or outdated spectrograms are
# planned (see genreflow.plan), so new audio costs exactly its own featurisation.
for batch, batch_tracks in (PLAN.batches.items() if PLAN else []):

    rule:
        name:
            f"spectrograms_{batch}"
        input:
            [t.audio for t in batch_tracks],
        output:
            [spectrogram_path(t) for t in batch_tracks],
        log:
            f"results/logs/spectrograms/{batch}.log",
        group:
            "featurize"
        conda:
            "../../envs/featurize.yaml"
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            spectrogram=config["spectrogram"],
            failure_dir="results/qc/failed",
        script:
            "../scripts/spectrograms.py"
