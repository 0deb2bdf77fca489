"""The pretraining stage: the one loop every method shares and its parts.

Owns the loop (``loop``), its configuration and device/precision choice (``config``; the
choice-valued options, torch-free, in ``choices``), batches and device-side crops
(``batches``), what survives a stop (``state``), pre-flight checks (``checks``), AdamW groups
and the warm-up + cosine schedule (``optim``), the checkpoint format and ``load_encoder``
(``checkpoint``; the run folder's file names in ``run_files``), DDP (``distributed``),
torch.compile and its time (``compile``), and what identifies and plans one pretraining
(``spec``: setup, spec and key; ``planning``: run folder, run once) and what it produced
(``result``).
May import the plugin contracts (``bench.method``, ``bench.task``), ``bench.data``,
``bench.encoders`` and the ground floor (config, registry, errors, paths, hashing, atomic);
never evaluation, grid or anything above.
"""
