"""Benchmarks: KumoCMS against plain boto3 doing the same AWS operations (`nox -s bench`).

Not shipped in the Lambda zip. Every figure compares the real handlers with a plain boto3 script
that makes exactly the same AWS requests (checked with the botocore hook that counts them), so a
ratio measures only this codebase's overhead. Everything talks to a moto server on 127.0.0.1.
"""
