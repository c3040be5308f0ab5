"""Snakemake entry: fetch the GTZAN archive into the rule's output folder.

Expects ``params.url``, ``params.sha256``, ``params.timeout_s`` (and
optionally ``params.allow_unverified``), ``output[0]`` (the audio folder)
and ``log[0]``. All logic lives in ``genreflow.download``.
"""

import logging
import sys
from pathlib import Path

# Snakemake runs a copy of this file from .snakemake/scripts/, so the
# package is found via scriptdir (the real scripts/ folder), not the copy.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from genreflow.download import DownloadError, fetch_dataset  # noqa: E402


def main(smk) -> None:
    """Configure logging to the rule's log file, then fetch the dataset."""
    logging.basicConfig(
        filename=smk.log[0],
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    log = logging.getLogger("download_dataset")
    params = smk.params
    try:
        dest = fetch_dataset(
            url=params.url,
            sha256=params.sha256,
            dest_dir=Path(smk.output[0]),
            timeout_s=float(params.timeout_s),
            allow_unverified=bool(getattr(params, "allow_unverified", False)),
        )
    except DownloadError as exc:
        # The log file is what users read after a failed job; the re-raise
        # is what makes Snakemake mark the job failed.
        log.error("%s", exc)
        raise
    log.info("dataset ready at %s", dest)


main(snakemake)  # noqa: F821
