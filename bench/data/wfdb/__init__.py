"""Reading WFDB records: headers and checks (``records``), signals in ``.dat`` or Challenge
``.mat`` files (``signal_files``), lead names onto the canonical 12 (``leads``), header comments
(``header_comments``), annotation files (``annotations``), the shared layout of WFDB-header
datasets (``layout``) and many records read in parallel into one memory map (``parallel_read``).
The ``wfdb`` package itself is imported where a file is read."""
