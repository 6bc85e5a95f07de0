"""Progress within a pass: chunks done out of the total.

On a terminal one line is redrawn in place (at most ``REDRAW_SECONDS`` apart) with a
bar; in a log file (a batch job) each pass prints one plain line when it ends, so logs
stay readable.
"""

import sys
import time
from typing import TextIO

#: Shortest time between two redraws of the terminal line.
REDRAW_SECONDS = 0.1
BAR_WIDTH = 24


class PassProgress:
    """Called by the driver as chunks finish: ``start``, then ``advance`` per chunk, ``finish``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.number = 0
        self.total = 0
        self.started = 0.0
        self.drawn = 0.0

    @property
    def _out(self) -> TextIO:
        return self.stream or sys.stderr

    @property
    def interactive(self) -> bool:
        return bool(getattr(self._out, "isatty", lambda: False)())

    def start(self, total: int) -> None:
        self.number += 1
        self.total = total
        self.started = time.perf_counter()
        self.drawn = 0.0

    def advance(self, done: int) -> None:
        now = time.perf_counter()
        if self.interactive and (now - self.drawn >= REDRAW_SECONDS or done == self.total):
            filled = BAR_WIDTH * done // max(1, self.total)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self._out.write(
                f"\rpass {self.number:4d} [{bar}] {done}/{self.total} chunks "
                f"{now - self.started:6.1f} s"
            )
            self._out.flush()
            self.drawn = now

    def finish(self) -> None:
        seconds = time.perf_counter() - self.started
        if self.interactive:
            self._out.write("\n")
        else:
            self._out.write(f"pass {self.number:4d}: {self.total} chunks in {seconds:.2f} s\n")
        self._out.flush()
