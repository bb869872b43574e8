"""Kuayue's runtime: settings, logging, the Temporal connection and the embedded dev server."""
