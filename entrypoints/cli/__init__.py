"""Entrypoints layer: the `kumocms` command line — the local stack and an API client."""
