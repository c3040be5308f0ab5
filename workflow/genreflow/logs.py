"""Logging for rule scripts: everything, including Keras' and TensorFlow's output, goes to the rule's log."""

from __future__ import annotations

import logging
import os
import sys


def to_file(path: str) -> None:
    stream = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (open for the job)
    # file descriptors too: TensorFlow's C++ start-up chatter would otherwise reach the terminal
    os.dup2(stream.fileno(), 1)
    os.dup2(stream.fileno(), 2)
    sys.stdout = sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
