# Fetches the dataset archive, checks its sha256 and unpacks it into audio_dir (only when absent).


rule download:
    output:
        directory(config["audio_dir"]),
    log:
        "results/logs/download.log",
    conda:
        "../../envs/featurize.yaml"
    params:
        url=config["download"]["url"],
        sha256=config["download"]["sha256"],
        timeout_s=config["download"]["timeout_s"],
    script:
        "../scripts/download_dataset.py"
