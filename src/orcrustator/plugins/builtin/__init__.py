"""Built-in plugins; each module exposes a `spec` that an entry point in pyproject.toml names."""
