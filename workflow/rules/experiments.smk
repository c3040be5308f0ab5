# Experiments: the variants of experiments.variants compared by cross-validation. One job per
# variant x fold x seed (a Paramspace), so they run side by side on a workstation and as separate
# cluster jobs; folds by scikit-learn's StratifiedGroupKFold (stratified by genre, one artist's
# tracks in one fold as split.group_by says), the same for every variant; fold i is tested, fold
# i+1 validates, the others train.

if EXPERIMENTS:

    rule folds:
        input:
            index=set_index_path(SPECTROGRAM_ROOT),
            artists=ARTISTS.tables,
        output:
            "results/experiments/folds.tsv",
        log:
            "results/logs/experiments/folds.log",
        conda:
            "../../envs/featurize.yaml"
        params:
            cv=EXPERIMENT_SETTINGS["cv"],
            group_by=config["split"]["group_by"],
            sheet_artists=ARTISTS.sheet,
        script:
            "../scripts/folds.py"

    rule experiment:
        input:
            folds="results/experiments/folds.tsv",
            index=lambda wc: VARIANT_INDEX[wc.variant],
            # the musicnn recipe's (embeddings.smk); empty for the other recipes
            weights=lambda wc: weights_input(VARIANTS[wc.variant]),
            embeddings=lambda wc: VARIANT_EMBEDDINGS.get(wc.variant, []),
        output:
            metrics=f"results/experiments/{EXPERIMENTS.wildcard_pattern}/metrics.json",
            predictions=f"results/experiments/{EXPERIMENTS.wildcard_pattern}/test.csv",
            model=f"results/experiments/{EXPERIMENTS.wildcard_pattern}/model.keras",
            history=f"results/experiments/{EXPERIMENTS.wildcard_pattern}/history.csv",
        log:
            f"results/logs/experiments/{EXPERIMENTS.wildcard_pattern}.log",
        conda:
            TRAIN_ENV
        threads: 1
        resources:
            gpu=EXPERIMENT_SETTINGS["gpus_per_job"],
            mem_mb=4000,
            runtime=120,
        params:
            genres=config["genres"],
            train=lambda wc: VARIANTS[wc.variant]["train"],
            spectrogram=lambda wc: VARIANTS[wc.variant]["spectrogram"],
            architecture=lambda wc: pretrained_of(VARIANTS[wc.variant])[0],
            folds=EXPERIMENT_SETTINGS["cv"]["folds"],
            backup_dir=f"results/experiments/.backup/{EXPERIMENTS.wildcard_pattern}",
        script:
            "../scripts/experiment.py"

    rule compare:
        input:
            metrics=expand(
                "results/experiments/{params}/metrics.json",
                params=EXPERIMENTS.instance_patterns,
            ),
            predictions=expand(
                "results/experiments/{params}/test.csv",
                params=EXPERIMENTS.instance_patterns,
            ),
        output:
            table=report(
                "results/experiments/comparison.tsv",
                category="1. Experiments",
                caption="../report/comparison.rst",
            ),
            plot=report(
                "results/experiments/comparison.png",
                category="1. Experiments",
                caption="../report/comparison_plot.rst",
            ),
        log:
            "results/logs/experiments/compare.log",
        conda:
            "../../envs/featurize.yaml"
        params:
            genres=config["genres"],
        script:
            "../scripts/compare.py"
