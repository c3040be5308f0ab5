# Classifying new audio: `snakemake predict --config 'predict={audio_dir: <folder>}'` writes
# results/predict/<predict.name>.csv (file, top genre, one probability per genre) with the
# trained model. The folder's files are featurised by `predict_spectrograms_<block>` rules (made
# with the training data's in spectrograms.smk), and `predict_classify_<block>` writes each
# block's probability table: files added later cost their own block's work.


rule predict:
    input:
        predict_target,


for block in PREDICT.blocks.values() if PREDICT else []:

    rule:
        name:
            f"predict_classify_{block.name}"
        input:
            table=block.table,
            model=PREDICT_MODEL,
            pngs=block.pngs,  # so that a missing one is made again first
        output:
            PREDICT.probabilities(block.name),
        log:
            f"{PREDICT_LOGS}/classify_{block.name}.log",
        conda:
            TRAIN_ENV
        threads: 2
        resources:
            mem_mb=4000,
        params:
            genres=config["genres"],
            train=config["train"],
            spectrogram=config["spectrogram"],
        script:
            "../scripts/predict_classify.py"


if PREDICT:

    rule predict_csv:
        input:
            probabilities=[PREDICT.probabilities(b) for b in PREDICT.blocks],
            tables=[b.table for b in PREDICT.blocks.values()],
        output:
            csv=PREDICT_CSV,
            rejected=f"results/predict/{PREDICT_NAME}.rejected.tsv",
        log:
            f"{PREDICT_LOGS}/csv.log",
        conda:
            TRAIN_ENV
        params:
            order=lambda wildcards, input: [f.safe_id for f in PREDICT.files],
            rejected=lambda wildcards, input: [
                [s.relpath, s.reason] for s in PREDICT.skipped
            ],
            genres=config["genres"],
            # a file with less audio than one analysis window gets a note in its row
            window_s=(
                config["train"]["window_s"]
                if config["train"]["recipe"] != "blog"
                else None
            ),
            offset_s=config["spectrogram"]["offset_s"],
        script:
            "../scripts/predict_csv.py"
