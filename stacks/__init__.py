"""The platform's stacks; each composes the constructs of ``layers``."""
