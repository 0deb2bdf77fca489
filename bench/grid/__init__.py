"""The grid stage: planning and running cells (method x task x protocol x fraction x seed).

Owns the run config and cell plan with its keys (``plan``; the method groups ``all`` and
``checkpoints`` in ``method_groups``), the hardware profiles and their built-in YAML files
(``profiles``), the per-process memo of datasets, encoders and embeddings (``workspace``), one
cell's execution (``cells``), the result files (``results``) and their provenance
(``provenance``), the grid manifest (``manifest``), the skip-and-record runner (``runner``)
and where cells run (``launchers``: in-process, a local worker pool, Ray). May import
evaluation, training, the plugin contracts, data, encoders and the ground floor; never
reporting, tracking, perf, tuning or commands.
"""
