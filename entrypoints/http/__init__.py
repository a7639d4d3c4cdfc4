"""Entrypoints layer: the HTTP API — API Gateway REST proxy events in, responses out."""
