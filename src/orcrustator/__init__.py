"""orc-rust-ator: a data-pipeline orchestrator."""
