"""The tuning stage: ``bench tune``'s Optuna studies, scored on the validation fold only.

Owns the tuner (``tuner``), the search spaces (``space``), the study storage and best-config
export (``study``) and the MLflow view of a study (``tracking``). May import tracking (trials
are nested MLflow runs), grid and everything below; never reporting, perf or commands.
"""
