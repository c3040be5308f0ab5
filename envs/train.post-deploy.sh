#!/usr/bin/env bash
# Run by Snakemake (--sdm conda) inside envs/train.yaml once it is created: the musicnn wheel
# carries the pretrained checkpoints that rule pretrained converts. --no-deps: its metadata pins
# numpy<1.17 and an old TensorFlow, which this environment replaces (tests/test_envs.py checks
# that this pin is the one tools/setup.sh installs).
set -euo pipefail
python -m pip install --quiet --no-deps musicnn==0.1.0
