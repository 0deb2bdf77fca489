"""Allow ``python -m bench`` (and ``torchrun -m bench``)."""

from bench.cli import main

raise SystemExit(main())
