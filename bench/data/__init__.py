"""The data layer: what a dataset is once loaded, how it is read, stored, preprocessed and
pooled into pretraining corpora. Its rooms, bottom to top (each imports only the ones below it
and its own; tests/core/test_import_layers.py checks it):

- ground: ``layout`` (the contract between a dataset's files and the cache builders, and
  ``RecordError``), ``folds`` (deterministic folds for datasets without official ones),
  ``identity`` (global ids and signal fingerprints), ``formats/`` (how records' samples are
  held: ``Ragged``, memory-mapped ``ShardedRecords``);
- ``signals``: ``SignalSet``, the in-memory form every dataset reader produces, and the
  official split convention;
- ``preprocess`` (recorded preprocessing options), ``wfdb/`` (reading WFDB records, headers,
  annotations and lead names), ``synthetic/`` (the seeded synthetic ECG generator);
- ``loading``: the dataset registry (``DATASETS``) and the one way to load a dataset;
- ``storage/``: prepared caches (atomic builds, checksums, fingerprints), the variable-length
  and sharded cache builders and the source bases that use them;
- ``sources/`` (one plugin per dataset) and ``download`` (official archives where the internet
  is reachable);
- ``prepared``: a landed cache opened without its source;
- ``corpus/``: pretraining corpora over several datasets, with leakage exclusion.

``cinc_scoring/`` holds the PhysioNet/CinC scoring tables as package data. The layer may import
only the ground floor (config, registry, errors, paths, hashing, atomic); never encoders, the
plugin contracts or any stage above.
"""
