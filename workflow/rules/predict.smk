# Classifying new audio: `snakemake predict --config 'predict={audio_dir: <folder>}'` writes
# results/predict/<predict.name>.csv (file, top genre, one probability per genre) with the
# trained model. Files get safe ids for internal paths (any user file name works); only missing
# or outdated spectrograms and probabilities are planned (see genreflow.predict), so files added
# to the folder later cost exactly their own work. The plan is made in common.smk.
from genreflow.predict import file_stamp, is_declarable


rule predict:
    input:
        predict_target,


for batch, batch_files in (PREDICT.featurize.items() if PREDICT else []):

    rule:
        name:
            f"predict_spectrograms_{batch}"
        input:
            # a name with "{...}" would be read as a wildcard: such files are only in params,
            # and their stamps (size, mtime) make a changed file rerun the job all the same
            [f.audio for f in batch_files if is_declarable(f.audio)],
        output:
            [PREDICT.png(f) for f in batch_files],
        log:
            f"{PREDICT_LOGS}/spectrograms_{batch}.log",
        group:
            "featurize"
        conda:
            "../../envs/featurize.yaml"
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            # functions, because strings in params are wildcard-expanded too
            audio=lambda wc, files=batch_files: [f.audio for f in files],
            stamps=lambda wc, files=batch_files: [file_stamp(f.audio) for f in files],
            failures=[PREDICT.failure(f) for f in batch_files],
            spectrogram=config["spectrogram"],
        script:
            "../scripts/predict_spectrograms.py"


for batch, batch_files in (PREDICT.classify.items() if PREDICT else []):

    rule:
        name:
            f"predict_classify_{batch}"
        input:
            pngs=[PREDICT.png(f) for f in batch_files],
            model=PREDICT_MODEL,
        output:
            [PREDICT.probabilities(f) for f in batch_files],
        log:
            f"{PREDICT_LOGS}/classify_{batch}.log",
        conda:
            "../../envs/train.yaml"
        threads: 2
        resources:
            mem_mb=4000,
        params:
            relpaths=lambda wc, files=batch_files: [f.relpath for f in files],
            genres=config["genres"],
            train=config["train"],
            spectrogram=config["spectrogram"],
        script:
            "../scripts/predict_classify.py"


if PREDICT:

    rule predict_csv:
        input:
            probabilities=[PREDICT.probabilities(f) for f in PREDICT.files],
            model=PREDICT_MODEL,
        output:
            csv=PREDICT_CSV,
            rejected=f"results/predict/{PREDICT_NAME}.rejected.tsv",
        log:
            f"{PREDICT_LOGS}/csv.log",
        conda:
            "../../envs/train.yaml"
        params:
            relpaths=lambda wc: [f.relpath for f in PREDICT.files],
            pngs=[PREDICT.png(f) for f in PREDICT.files],
            rejected=lambda wc: [[s.relpath, s.reason] for s in PREDICT.rejected],
            genres=config["genres"],
            train=config["train"],
            spectrogram=config["spectrogram"],
        script:
            "../scripts/predict_csv.py"
