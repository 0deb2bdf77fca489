"""The tracking stage: the MLflow mirror of results and pretrainings.

Owns the store and its client wrapper (``store``; which store, MLflow-free, in ``uri``), what
runs hold (``records``: tags, params, metrics read from results), the idempotent sync of a
results folder (``sync``) and the runner's view of it (``mirror``). May import grid,
evaluation, training and everything below; never reporting, perf, tuning or commands.
"""
