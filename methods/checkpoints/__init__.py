"""Published ECG foundation models (``bench.checkpoints.CheckpointMethod`` adapters): one
module per model family with its card, official input and key mapping, and one per
architecture (``*_net.py``), written here from the papers and the official code's behaviour."""
