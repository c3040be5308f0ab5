# At the end of every run that did something: the headline, what was classified and what was
# rejected (see end_of_run_lines in common.smk).


onsuccess:
    for line in end_of_run_lines(RUN_STARTED):
        logger.info(line)
