"""Adapters layer: implementations of the kumocms ports (AWS and in-memory)."""
