"""Shared pytest configuration. Reusable launchers live in tests/support/."""
