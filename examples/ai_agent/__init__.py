"""An AI agent as a durable actor: one per conversation. See README.md."""
