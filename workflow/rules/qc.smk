# Quality-control tables: every audio file skipped (and why), and what was adapted per track.
from genreflow.plan import rejection_summary
from snakemake.logging import logger

# Named at start-up too (dry runs included), so a skipped file is never a surprise.
if PLAN and PLAN.rejected and workflow.is_main_process:
    logger.warning(rejection_summary(PLAN))


rule qc:
    input:
        # the manifest changes whenever a spectrogram does; listing the PNGs again would double
        # the DAG's file lookups, which dominate planning time for 100k files
        "results/split/manifest.csv",
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
        rejected=[r.__dict__ for r in PLAN.rejected] if PLAN else [],
        ignored=[r.__dict__ for r in PLAN.ignored] if PLAN else [],
        tracks=[t.__dict__ for t in PLAN.tracks] if PLAN else [],
    script:
        "../scripts/qc.py"
