# Train/val/test by track: manifest.csv plus the <split>/<genre>/ link tree Keras reads. The
# featurisation blocks' index tables say which tracks have a spectrogram.


rule split:
    input:
        PLAN.indexes,
    output:
        manifest="results/split/manifest.csv",
        summary=report(
            "results/split/summary.tsv",
            category="4. Data",
            caption="../report/split.rst",
        ),
        train=directory("results/split/train"),
        val=directory("results/split/val"),
        test=directory("results/split/test"),
    log:
        "results/logs/split.log",
    conda:
        "../../envs/featurize.yaml"
    params:
        genres=config["genres"],
        split=config["split"],
        fixed=PLAN.fixed_split,  # a sample sheet's split column
    script:
        "../scripts/split.py"
