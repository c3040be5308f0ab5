# Train/val/test by track: manifest.csv plus the <split>/<genre>/ link tree Keras reads. The
# spectrograms' index says which tracks have one; the split refuses, with the start-up's
# messages, what the featurisation jobs' decisions leave unusable (empty, too few tracks, strict).


rule split:
    input:
        set_index_path(SPECTROGRAM_ROOT),
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
        checks=SPLIT_CHECKS,
        rejected=[r.__dict__ for r in PLAN.left_out],  # by name, at start-up
    script:
        "../scripts/split.py"
