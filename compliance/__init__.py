"""Checks of the synthesized platform that run in tests and at synth."""
