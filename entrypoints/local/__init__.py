"""Entrypoints layer: the local stack — moto server, an API Gateway front, queue pumps."""
