"""The seeded, vectorised synthetic 12-lead ECG generator: what to generate (``config``), the
drawn parameters and targets (``generator``) and the signals they make (``beats``)."""
