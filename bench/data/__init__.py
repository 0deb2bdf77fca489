"""The data layer: dataset sources, prepared caches and preprocessing.

Owns the dataset registry and loading (``loading``), the in-memory signal set (``signals``),
the prepared-cache format (``cache``; sharded compact caches for corpora beyond memory in
``shards*``), preprocessing (``preprocess``), WFDB reading
(``wfdb_records``, ``parallel_read``), downloads (``download``), the synthetic generator and
the dataset plugins (``sources/``). May import only the ground floor (config, registry,
errors, paths, hashing, atomic); never encoders, the plugin contracts or any stage above.
"""
