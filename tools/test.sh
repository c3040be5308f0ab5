#!/usr/bin/env bash
# Runs the whole test suite. As root with the SLURM packages installed (tools/setup.sh --dev),
# it starts a one-node SLURM cluster on loopback for the cluster tests and stops it afterwards.
# Usage: bash tools/test.sh [pytest args]
set -uo pipefail
cd "$(dirname "$0")/.."

cluster_started=0
if [[ $(id -u) -eq 0 ]] && command -v slurmctld >/dev/null; then
  if bash cluster/start_slurm.sh; then
    cluster_started=1
  else
    echo "tools/test.sh: could not start the local SLURM cluster; the SLURM tests will be skipped" >&2
  fi
fi

export OPENBLAS_NUM_THREADS=1 TF_CPP_MIN_LOG_LEVEL=2
# Two workers (pytest-xdist), each test file on one worker so that its module fixtures (a workflow
# run shared by its tests) are made once; GENREFLOW_TEST_WORKERS=0 runs in one process.
workers=${GENREFLOW_TEST_WORKERS:-2}
.venv/bin/python -m pytest -n "$workers" --dist loadfile -ra --durations=25 tests "$@"
status=$?

if ((cluster_started)); then
  bash cluster/stop_slurm.sh || true
fi
exit $status
