# The headline at the end of every run that did something: accuracy of the current model (and
# where new predictions went), so nobody has to open results/metrics/metrics.json to know.
import json
import time
from pathlib import Path

from genreflow.predict import read_predictions_csv
from genreflow.summary import one_line_summary
from snakemake.logging import logger

RUN_STARTED = time.time()


def end_of_run_lines(started: float) -> list[str]:
    lines = []
    try:
        lines.append(
            one_line_summary(
                json.loads(Path("results/metrics/metrics.json").read_text())
            )
        )
    except FileNotFoundError:
        pass  # nothing trained yet (e.g. only the download ran)
    except (ValueError, KeyError, TypeError) as err:
        lines.append(f"genreflow: results/metrics/metrics.json is unreadable ({err!r})")
    csv = Path(f"results/predict/{config['predict']['name']}.csv")
    if csv.exists() and csv.stat().st_mtime >= started:
        lines.append(
            f"genreflow: {len(read_predictions_csv(csv))} file(s) classified into {csv}"
        )
    return lines


onsuccess:
    for line in end_of_run_lines(RUN_STARTED):
        logger.info(line)
