# Quality-control tables: every audio file skipped (and why), and what was adapted per track.


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
