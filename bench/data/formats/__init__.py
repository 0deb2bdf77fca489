"""How a dataset's samples are held: ``ragged`` (variable-length records in one flat array, in
memory or memory-mapped) and ``shards`` (int16 or float16 shards with recorded scales, read
through memory maps, and their codec and on-disk index). Imports nothing else of bench.data."""
