"""Fine-tuning support: ``ragls train-data`` (examples from a workspace, no model needed)."""
