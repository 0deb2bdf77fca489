"""Pretraining corpora: what a corpus is (``spec``), how one is named on the command line or in a
YAML file (``naming``, with the ``presets``), which records it keeps after source filters,
leakage exclusion, duplicates and caps (``select``), its records as one sequence over its
datasets (``records``) and the whole resolved against loaded datasets (``resolve``)."""
