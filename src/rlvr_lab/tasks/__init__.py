"""Problems: the record, loaders for files and hub datasets, and the registry of known benchmarks."""

from rlvr_lab.runtime.data import DATA_DIR_ENV
from rlvr_lab.tasks.benchmarks import BENCHMARKS, load_problems
from rlvr_lab.tasks.loaders import FieldMap, ProblemDataError, ProblemSourceError
from rlvr_lab.tasks.problem import Problem
from rlvr_lab.tasks.sources import Benchmark

__all__ = [
    "BENCHMARKS",
    "DATA_DIR_ENV",
    "Benchmark",
    "FieldMap",
    "Problem",
    "ProblemDataError",
    "ProblemSourceError",
    "load_problems",
]
