"""The data stream example: a producer streams file-like chunks to a consumer."""
