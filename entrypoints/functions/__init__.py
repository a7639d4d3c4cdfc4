"""Entrypoints layer: one module per Lambda function, each exposing a module-level `handler`."""
