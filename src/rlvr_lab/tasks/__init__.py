"""Problems: the record, loaders for files and hub datasets, and the registry of known benchmarks."""

from rlvr_lab.tasks.problem import Problem

__all__ = ["Problem"]
