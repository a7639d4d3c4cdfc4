"""Simulation: the transfer worker moves 50 GB and 5 TiB within AWS's request and Lambda limits.

No machine here can copy 5 TiB, so `bench.transfer` runs the real use cases on a blob store
whose UploadPartCopy costs simulated time in proportion to its part size (50 MiB/s assumed,
100 ms per request) and a simulated Lambda clock (900 s). The same runs are `nox -s bench`'s
transfer figures.
"""

from __future__ import annotations

import pytest

from bench.transfer import GB, TiB, simulate_archive
from kumocms.settings import MiB


@pytest.mark.parametrize("size", [50 * GB, 5 * TiB], ids=["50GB", "5TiB"])
def test_a_large_archive_holds_every_limit_and_completes(size: int) -> None:
    run = simulate_archive(size)
    assert run.holds_aws_limits(), run
    assert run.request_seconds < 1  # the request only opens the copy and queues it
    assert run.parts <= 10_000
    assert run.largest_request_bytes <= 5 * 1024**3


def test_five_tib_needs_hand_overs_and_each_invocation_ends_in_time() -> None:
    run = simulate_archive(5 * TiB)
    assert run.invocations > 10
    assert run.longest_invocation_seconds <= 900


def test_a_slower_s3_only_means_more_hand_overs() -> None:
    run = simulate_archive(5 * TiB, throughput=10 * MiB)
    assert run.holds_aws_limits(), run
    assert run.invocations > simulate_archive(5 * TiB).invocations


def test_the_largest_copy_in_a_request_fits_api_gateway() -> None:
    run = simulate_archive(256 * MiB)
    assert run.invocations == 0
    assert run.request_seconds <= 29
