# Run hooks. At the start: tell the featurisation and classification jobs what Snakemake forces
# them to redo beyond what is stale (see genreflow.blocks.rebuild_requests). At the end: the
# headline of every run that did something (see end_of_run_lines in common.smk).


onstart:
    rules, files = forced_by_user()
    requests = rebuild_requests(
        planned_incremental_jobs(),
        {settings_file for settings_file, _, _ in SPECTROGRAM_SETS.values()},
        rules,
        files,
        workflow.dag_settings.forceall,
    )
    # inherited by local jobs and, through sbatch's exported environment, by cluster jobs
    os.environ[REBUILD_ENV] = json.dumps(requests)


onsuccess:
    for line in end_of_run_lines(RUN_STARTED):
        logger.info(line)
