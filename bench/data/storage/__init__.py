"""Prepared caches on disk: the generic cache (fingerprints, atomic builds, manifests and
``checksums``), the variable-length cache (``ragged_*``: its format, parallel builder, worker
side, summary and the ``RaggedSource`` base), the sharded cache (``shards_*``: its resumable
builder, shard writer, summary and the ``ShardedSource`` base) and the worker ``pool`` both
builders use."""
