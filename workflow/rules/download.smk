# Fetching the dataset: while audio_dir holds no track and download.url is set, `download_archive`
# fetches the archive and checks its sha256, and `unpack_dataset` unpacks it into audio_dir,
# declaring the tracks it must hold (download.tracks_per_genre, download.extension), so that one
# run downloads, featurises and trains. No rule ever declares the audio folder itself: neither
# --delete-all-output nor `snakemake download -f` touches an existing audio_dir.


rule download:
    input:
        download_target,


if DOWNLOAD_PENDING:
    ARCHIVE = f"results/download/{archive_name(DOWNLOAD['url'])}"

    rule download_archive:
        output:
            ARCHIVE,
        log:
            "results/logs/download_archive.log",
        conda:
            "../../envs/featurize.yaml"
        params:
            url=DOWNLOAD["url"],
            sha256=DOWNLOAD["sha256"],
            timeout_s=DOWNLOAD["timeout_s"],
        script:
            "../scripts/download_archive.py"

    rule unpack_dataset:
        input:
            ARCHIVE,
        output:
            [t.audio for t in COLLECTION.items],
        log:
            "results/logs/unpack_dataset.log",
        conda:
            "../../envs/featurize.yaml"
        params:
            # the folder the outputs go into (a function: a plain string that prefixes the outputs
            # is flagged by Snakemake's linter)
            audio_dir=lambda wildcards, output: config["audio_dir"],
            max_unpacked_gb=DOWNLOAD["max_unpacked_gb"],
        script:
            "../scripts/unpack_dataset.py"
