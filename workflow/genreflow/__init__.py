"""genreflow: pure library code behind the Snakemake workflow.

Modules are imported lazily by the rule scripts so that light jobs (featurisation)
never pay for TensorFlow or matplotlib start-up.
"""

__version__ = "0.1.0"
