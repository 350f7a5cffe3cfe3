"""The platform's capabilities, one folder per layer (docs/architecture.md, "Where the code lives")."""
