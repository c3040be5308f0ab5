# Scores each seed's model on val/test, then combines seeds (mean +- std, ensemble predictions).


rule evaluate:
    input:
        manifest="results/split/manifest.csv",
        model="results/model/seed_{seed}/model.keras",
        # the musicnn recipe's stored features (embeddings.smk); empty for the other recipes
        embeddings=embeddings_input(config, PLAN.blocks),
    output:
        metrics="results/metrics/seed_{seed}/metrics.json",
        predictions=expand(
            "results/predictions/seed_{{seed}}/{split}.csv", split=SPLITS_USED
        ),
    log:
        "results/logs/evaluate/seed_{seed}.log",
    conda:
        TRAIN_ENV
    threads: 2
    resources:
        mem_mb=4000,
    params:
        genres=config["genres"],
        train=config["train"],
        spectrogram=config["spectrogram"],
        splits=SPLITS_USED,
    script:
        "../scripts/evaluate.py"


rule summarize:
    input:
        metrics=expand("results/metrics/seed_{seed}/metrics.json", seed=SEEDS),
        predictions=expand(
            "results/predictions/seed_{seed}/{split}.csv",
            seed=SEEDS,
            split=SPLITS_USED,
        ),
        model=f"results/model/seed_{SEEDS[0]}/model.keras",
        history=f"results/model/seed_{SEEDS[0]}/history.csv",
        curves=f"results/model/seed_{SEEDS[0]}/training_curves.png",
        split_info="results/split/split.json",
    output:
        metrics=report(
            "results/metrics/metrics.json",
            category="2. Metrics",
            caption="../report/metrics.rst",
        ),
        confusion=report(
            "results/metrics/confusion_matrix.png",
            category="2. Metrics",
            caption="../report/confusion.rst",
        ),
        per_class=report(
            "results/metrics/per_class.tsv",
            category="2. Metrics",
            caption="../report/per_class.rst",
        ),
        predictions=expand("results/predictions/{split}.csv", split=SPLITS_USED),
        model="results/model/model.keras",
        history="results/model/history.csv",
        curves=report(
            "results/model/training_curves.png",
            category="3. Training",
            caption="../report/curves.rst",
        ),
    log:
        "results/logs/summarize.log",
    conda:
        "../../envs/featurize.yaml"
    params:
        genres=config["genres"],
        seeds=SEEDS,
        splits=SPLITS_USED,
        recipe=config["train"]["recipe"],
    script:
        "../scripts/summarize.py"
