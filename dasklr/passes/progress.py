"""Progress within a pass: chunks done out of the total, the rate and the time left.

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

    def __init__(self, stream: TextIO | None = None, label: str | None = None) -> None:
        self.stream = stream
        #: what the line names ("predict", "metrics"); None: "pass N" of a fit
        self.label = label
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

    @property
    def _name(self) -> str:
        return self.label or f"pass {self.number:4d}"

    def advance(self, done: int) -> None:
        now = time.perf_counter()
        if self.interactive and (now - self.drawn >= REDRAW_SECONDS or done == self.total):
            filled = BAR_WIDTH * done // max(1, self.total)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            elapsed = now - self.started
            rate = done / elapsed if elapsed > 0 else 0.0
            left = f"ETA {(self.total - done) / rate:5.0f} s" if rate > 0 else "ETA     ? s"
            self._out.write(
                f"\r{self._name} [{bar}] {done}/{self.total} chunks {elapsed:6.1f} s, "
                f"{rate:6.1f} chunks/s, {left}"
            )
            self._out.flush()
            self.drawn = now

    def finish(self) -> None:
        seconds = time.perf_counter() - self.started
        if self.interactive:
            self._out.write("\n")
        else:
            self._out.write(f"{self._name}: {self.total} chunks in {seconds:.2f} s\n")
        self._out.flush()
