#!/usr/bin/env bash
# Downloads into .whl/ (ignored by git) the wheels that bench/gpu_check.sh installs on a GPU
# machine without a package registry whose Python 3.12 has JAX, PyTorch, numpy, h5py, pillow,
# ml-dtypes, absl-py, rich, packaging, scipy, scikit-learn, numba, joblib, msgpack and
# lazy-loader but neither Keras nor librosa: keras and its remaining dependencies (namex, optree),
# librosa (the spectrograms are its log-mel) with soxr, audioread, decorator, pooch and
# platformdirs, and soundfile with cffi and pycparser (genreflow.featurize imports it).
# Together about 6 MiB. Usage: bash bench/gpu_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" -d .whl \
  keras==3.15.1 namex==0.1.0 optree==0.20.0 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 \
  librosa==0.11.0 soxr==1.1.0 audioread==3.1.0 decorator==5.3.1 pooch==1.9.0 platformdirs==4.14.8
ls -l .whl
