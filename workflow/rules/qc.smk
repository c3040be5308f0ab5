# Quality-control tables: every audio file skipped (and why), what was adapted per track, and
# exact duplicates (the same decoded audio under two names, from the index's audio_sha256).


rule qc:
    input:
        set_index_path(SPECTROGRAM_ROOT),
    output:
        rejected=report(
            "results/qc/rejected.tsv",
            category="4. Data",
            caption="../report/rejected.rst",
        ),
        tracks="results/qc/tracks.tsv",
        ignored="results/qc/ignored.tsv",
        duplicates=report(
            "results/qc/duplicates.tsv",
            category="4. Data",
            caption="../report/duplicates.rst",
        ),
    log:
        "results/logs/qc.log",
    conda:
        "../../envs/featurize.yaml"
    params:
        # by name at start-up; the index adds what the featurisation jobs rejected
        left_out=[r.__dict__ for r in PLAN.left_out],
        # for the report's caption: the table once written (derived, so never a rerun trigger)
        rejected=lambda wildcards, output: (
            read_table(output.rejected).to_dict("records")
            if os.path.exists(output.rejected)
            else []
        ),
        ignored=[r.__dict__ for r in COLLECTION.ignored],
    script:
        "../scripts/qc.py"
