"""The perf stage: ``bench perf``'s measurements of pretraining speed.

Owns the per-method measurement through the shared loop's own pieces (``measure``), the clocks
and memory gauges (``timing``), FLOP counts and MFU (``flops``), the printed table and CSV
(``report``) and their columns (``columns``, torch-free for the parser). May import grid
(profiles, result-file helpers), training and everything below; never reporting, tracking,
tuning or commands. Importable without wfdb, mlflow or optuna.
"""
