"""Temporal workflows: orchestration only; every business decision is a call into `domain`."""
