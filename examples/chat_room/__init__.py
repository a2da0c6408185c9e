"""A chat room as a durable actor: one per room. See README.md."""
