"""Progress for long steps (pull, model loading, quantize, perplexity): a bar on a terminal,
nothing when stderr is not a terminal, or JSON lines for scripts.

    with Progress("extracting model.gguf", total=n_bytes) as p:
        for chunk in chunks:
            ...
            p.advance(len(chunk))

mode:  "bar"  one line redrawn in place:
              extracting model.gguf [########------------]  41%  110.2/268.9 MiB  52.1 MiB/s  ETA 0:03
       "json" one JSON object per line, at most every `min_interval` seconds and at the end:
              {"event": "progress", "label": ..., "done": 115540000, "total": 281950000,
               "unit": "B", "elapsed": 2.1}     ... then {"event": "done", ...}
       "off"  nothing
       None   "bar" if the stream is a terminal, else "off"
unit:  "B" shows sizes in MiB and a rate; anything else (e.g. "chunks") shows plain counts.
delay: nothing is shown until the step has run this long (a fast step leaves no trace).
total: None for an unknown total (no percentage, bar or ETA).
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from typing import Callable, Optional, TextIO

MODES = ("bar", "json", "off")


def resolve_mode(mode: Optional[str], stream: TextIO) -> str:
    if mode is None:
        try:
            return "bar" if stream.isatty() else "off"
        except (AttributeError, ValueError):  # a closed or unusual stream
            return "off"
    if mode not in MODES:
        raise ValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def _clock_text(seconds: float) -> str:
    s = int(round(seconds))
    h, m = divmod(s, 3600)
    m, s = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(self, label: str, total: Optional[int] = None, *, unit: str = "B",
                 mode: Optional[str] = None, stream: Optional[TextIO] = None, delay: float = 0.0,
                 min_interval: float = 0.1, clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.mode = resolve_mode(mode, self.stream)
        self.delay, self.min_interval, self.clock = delay, min_interval, clock
        self.done = 0
        self.t0 = clock()
        self._last_draw: Optional[float] = None
        self._closed = False

    # ---- feeding it ----------------------------------------------------------------------
    def update(self, done: int) -> None:
        """Set the amount done so far."""
        self.done = done
        if self.mode == "off":
            return
        now = self.clock()
        if now - self.t0 < self.delay:
            return
        if self._last_draw is not None and now - self._last_draw < self.min_interval:
            return
        self._emit(now, final=False)

    def advance(self, n: int) -> None:
        self.update(self.done + n)

    def close(self, ok: bool = True) -> None:
        """Final state: the bar's line is finished with a newline (only if it was shown)."""
        if self._closed:
            return
        self._closed = True
        if self.mode == "json":
            self._emit(self.clock(), final=True, ok=ok)
        elif self.mode == "bar" and self._last_draw is not None:
            if ok:
                self._emit(self.clock(), final=True)
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)

    # ---- drawing -------------------------------------------------------------------------
    def _emit(self, now: float, final: bool, ok: bool = True) -> None:
        self._last_draw = now
        elapsed = now - self.t0
        if self.mode == "json":
            event = {"event": ("done" if ok else "failed") if final else "progress",
                     "label": self.label, "done": self.done, "total": self.total,
                     "unit": self.unit, "elapsed": round(elapsed, 3)}
            self.stream.write(json.dumps(event) + "\n")
        else:
            self.stream.write("\r" + self.line(elapsed))
        self.stream.flush()

    def _amount(self, n: float) -> str:
        return f"{n / 2**20:.1f}" if self.unit == "B" else f"{int(n)}"

    def line(self, elapsed: float) -> str:
        """The bar's text, fitted to the terminal width."""
        width = shutil.get_terminal_size((80, 24)).columns - 1
        unit = "MiB" if self.unit == "B" else self.unit
        if self.total:
            frac = min(1.0, self.done / self.total)
            amounts = f"{self._amount(self.done)}/{self._amount(self.total)} {unit}".rstrip()
            tail = f" {frac * 100:3.0f}%  {amounts}"
        else:
            frac = None
            tail = f"  {self._amount(self.done)} {unit}".rstrip()
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self.unit == "B" and rate > 0:
            tail += f"  {rate / 2**20:.1f} MiB/s"
        if frac is not None and 0 < frac < 1 and rate > 0:
            tail += f"  ETA {_clock_text((self.total - self.done) / rate)}"
        bar = ""
        room = width - len(self.label) - len(tail) - 3
        if frac is not None and room >= 10:
            n = min(room, 30)
            filled = int(frac * n)
            bar = " [" + "#" * filled + "-" * (n - filled) + "]"
        text = self.label + bar + tail
        return text[:width].ljust(width)
