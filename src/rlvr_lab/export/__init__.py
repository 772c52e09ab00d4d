"""Exports of a study to other training engines: the data, reward and command they need, in their own formats.

- :mod:`rlvr_lab.export.verl`: verl's parquet schema, a reward module and a runnable ``main_ppo`` command.
"""
