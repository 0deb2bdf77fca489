"""The evaluation stage: what turns an encoder into numbers.

Owns the linear probe (``probe``), fine-tuning (``finetune``, with ``layer_decay``), attentive
probe (``attentive`` over the token features of ``tokens`` / ``token_cache``) and k-NN
(``knn``) protocols and their configuration (``config``), sliding windows and record
aggregation (``windows``), the frozen embedding cache (``embeddings``), metrics (``metrics``),
bootstrap CIs and paired tests (``bootstrap``), nested label fractions (``fractions``) and
few-shot draws (``shots``). May import ``bench.training``
(fine-tuning reuses its optimiser groups, schedule and device settings), the plugin contracts,
``bench.data``, ``bench.encoders`` and the ground floor; never grid or anything above.
"""
