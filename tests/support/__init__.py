"""Helpers shared by tests: launchers for real servers and processes."""
