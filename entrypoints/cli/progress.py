"""Entrypoints layer: the CLI's progress bar on stderr for large transfers and hashing."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import TextIO

MiB = 1024**2
PROGRESS_MIN = 4 * MiB
"""Transfers at most this big show no progress bar."""


class Progress:
    """A one-line progress bar on a text stream, e.g. `upload [#####     ] 52% 10.4/20.0 MB`.

    Thread-safe; redraws at most ten times a second. A None stream makes it silent.
    """

    WIDTH = 30

    def __init__(self, total: int, *, label: str, stream: TextIO | None) -> None:
        self.total = max(total, 0)
        self.label = label
        self._stream = stream
        self._done = 0
        self._lock = threading.Lock()
        self._drawn_at = 0.0
        self._finished = False

    def add(self, count: int) -> None:
        """Count bytes moved (negative when a failed attempt is taken back)."""
        if self._stream is None:
            return
        with self._lock:
            self._done = max(0, self._done + count)
            now = time.monotonic()
            if now - self._drawn_at >= 0.1 or self._done >= self.total:
                self._drawn_at = now
                self._draw()

    def finish(self) -> None:
        """Draw the final state and end the line (once)."""
        if self._stream is None:
            return
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self) -> None:
        assert self._stream is not None
        fraction = min(1.0, self._done / self.total) if self.total else 1.0
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + " " * (self.WIDTH - filled)
        self._stream.write(
            f"\r{self.label} [{bar}] {int(fraction * 100):3d}% "
            f"{self._done / 1e6:.1f}/{self.total / 1e6:.1f} MB"
        )
        self._stream.flush()


SILENT = Progress(0, label="", stream=None)


def stderr_progress(total: int, *, label: str, enabled: bool) -> Progress:
    """A progress bar on stderr when `enabled`, else a silent one."""
    return Progress(total, label=label, stream=sys.stderr if enabled else None)


def show_progress(args: argparse.Namespace, size: int) -> bool:
    """Whether a transfer of `size` bytes shows a bar (`--progress`, else a terminal)."""
    if size <= PROGRESS_MIN or args.progress is False:
        return False
    return bool(args.progress) or sys.stderr.isatty()
