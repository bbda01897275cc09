"""orc-rust-ator: a data-pipeline orchestrator."""

__version__ = "0.1.0"
