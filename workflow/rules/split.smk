# Train/val/test, one artist's tracks on one side (split.group_by): manifest.csv plus the
# <split>/<genre>/ link tree Keras reads. The featurisation blocks' index tables say which tracks
# have a spectrogram (and, where recorded, the sha256 of their decoded audio); the artist tables
# are inputs, so a corrected table splits again.


rule split:
    input:
        indexes=PLAN.indexes,
        artists=ARTISTS.tables,
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
        info="results/split/split.json",
    log:
        "results/logs/split.log",
    conda:
        "../../envs/featurize.yaml"
    params:
        genres=config["genres"],
        split=config["split"],
        fixed=PLAN.fixed_split,  # a sample sheet's split column
        sheet_artists=ARTISTS.sheet,  # a sample sheet's artist column
    script:
        "../scripts/split.py"
