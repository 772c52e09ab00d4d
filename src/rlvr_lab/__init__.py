"""rlvr-lab: study reinforcement learning with verifiable rewards on language models.

The package is a set of stages that communicate through files (problems -> samples -> grades -> metrics ->
report) plus a training loop that reuses them. See ``docs/architecture.md`` for the map.
"""

__version__ = "0.1.0"
