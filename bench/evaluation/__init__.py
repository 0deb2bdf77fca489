"""The evaluation stage: what turns an encoder into numbers.

Owns the linear probe (``probe``) and fine-tuning (``finetune``) protocols and their
configuration (``config``), sliding windows and record aggregation (``windows``), the frozen
embedding cache (``embeddings``), metrics (``metrics``), bootstrap CIs and paired tests
(``bootstrap``) and nested label fractions (``fractions``). May import ``bench.training``
(fine-tuning reuses its optimiser groups, schedule and device settings), the plugin contracts,
``bench.data``, ``bench.encoders`` and the ground floor; never grid or anything above.
"""
