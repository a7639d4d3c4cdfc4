"""Entrypoints layer: Lambda handlers, the composition root, the local stack and the CLI."""
