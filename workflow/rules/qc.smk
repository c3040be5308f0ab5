# Quality-control tables: every audio file skipped (and why), and what was adapted per track.


rule qc:
    input:
        spectrograms(),
    output:
        rejected=report("results/qc/rejected.tsv", category="4. Data", caption="../report/rejected.rst"),
        tracks="results/qc/tracks.tsv",
        ignored="results/qc/ignored.tsv",
    params:
        rejected=[r.__dict__ for r in PLAN.rejected] if PLAN else [],
        ignored=[r.__dict__ for r in PLAN.ignored] if PLAN else [],
        tracks=[t.__dict__ for t in PLAN.tracks] if PLAN else [],
    log:
        "results/logs/qc.log",
    conda:
        "../../envs/featurize.yaml"
    script:
        "../scripts/qc.py"
