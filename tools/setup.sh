#!/usr/bin/env bash
# Sets up everything genreflow needs on a fresh Debian/Ubuntu machine with Python 3.11:
# a virtual environment in .venv with the pinned packages, and (as root, for the tests)
# Chromium for the report test and the SLURM packages for the cluster test.
# Usage: bash tools/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=requirements.txt
[[ "${1:-}" == "--dev" ]] && requirements=requirements-dev.txt

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet pip==25.3   # the pip of envs/*.yaml (tests/test_envs.py compares)
.venv/bin/python -m pip install --quiet -r "$requirements"
# the pretrained musicnn checkpoints (docs/pretrained.md); --no-deps: the wheel's metadata pins
# numpy<1.17 and an old TensorFlow, which requirements.txt replaces (envs/train.post-deploy.sh
# does the same for --sdm conda)
.venv/bin/python -m pip install --quiet --no-deps musicnn==0.1.0

if [[ "${1:-}" == "--dev" && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v slurmctld >/dev/null || missing+=(slurmctld slurmd slurm-client munge)
  if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
echo "genreflow: environment ready in .venv ($requirements)"
