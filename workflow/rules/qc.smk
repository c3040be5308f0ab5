# Quality-control tables: every audio file skipped (and why), what was adapted per track, and
# exact duplicates (the same decoded audio under two names).
from genreflow.plan import rejection_summary
from snakemake.logging import logger

# Named at start-up too (dry runs included), so a skipped file is never a surprise.
if PLAN.rejected and workflow.is_main_process:
    logger.warning(rejection_summary(PLAN.rejected))


rule qc:
    input:
        PLAN.indexes,
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
        # decided at start-up; the indexes add what featurisation jobs could not read
        rejected=[r.__dict__ for r in PLAN.rejected],
        ignored=[r.__dict__ for r in PLAN.ignored],
    script:
        "../scripts/qc.py"
