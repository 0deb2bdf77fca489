"""Published ECG foundation models as method plugins that do not pretrain.

``card``: what a published model is (architecture, official input, licence, where its weights
live, its pretraining corpus); ``weights``: finding the weights file and its SHA-256;
``state_dict``: reading an official file and checking its keys and shapes; ``hub``: the one
download path (Hugging Face); ``leakage``: which test sets a model saw in pretraining;
``method``: the plugin base class the adapters in ``methods/checkpoints`` build on.
"""
