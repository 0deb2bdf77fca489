"""The reporting stage: leaderboards and figures, built from result files alone.

Owns the leaderboard tables with CIs and paired tests (``leaderboard``), their Markdown and
LaTeX renderings (``formats``) and the label-efficiency figures (``figures``). May import grid
(result files), evaluation (bootstrap, metrics) and everything below; never tracking, perf,
tuning or commands.
"""
