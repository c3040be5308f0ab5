# Train/val/test, one artist's tracks on one side (split.group_by): manifest.csv plus the
# <split>/<genre>/ link tree Keras reads. The spectrograms' index says which tracks have one (and
# the sha256 of their decoded audio: exact duplicates stay together); the split refuses, with the
# start-up's messages, what the featurisation jobs' decisions leave unusable (empty, too few
# tracks, strict). The artist tables are inputs, so a corrected table splits again.


rule split:
    input:
        index=set_index_path(SPECTROGRAM_ROOT),
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
        checks=SPLIT_CHECKS,
        rejected=[r.__dict__ for r in PLAN.left_out],  # by name, at start-up
        sheet_artists=ARTISTS.sheet,  # a sample sheet's artist column
    script:
        "../scripts/split.py"
