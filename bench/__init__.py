"""The timing scripts: ``make bench`` (synth and test suite) and ``make bench-services`` (the
reference services under load)."""
