#!/usr/bin/env bash
# The GPU check in one command, on a machine with Python 3.12, JAX, PyTorch and CUDA but no
# TensorFlow and no package registry: installs the wheels carried in .whl/ (bench/gpu_wheels.sh)
# into /tmp/site, then trains on JAX and PyTorch on the GPU and on JAX on the CPU (3 epochs)
# and prints the table (bench/gpu_check.py). Arguments go to bench/gpu_check.py.
# Usage: bash bench/gpu_check.sh [--table results.md] [--nondeterministic] ...
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
KERAS_BACKEND=jax python3 -c "import jax, torch, keras; print('jax', jax.__version__, jax.devices(), '| torch', torch.__version__, torch.cuda.is_available(), '| keras', keras.__version__)" || true
python3 bench/gpu_check.py --backends jax torch --cpu-backends jax "$@"
