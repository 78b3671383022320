"""Energy per phase of a generation (prompt, then generated tokens), for `edgeq run --energy`.

    phases = PhaseEnergy(source)
    generate(..., on_phase=phases)      # calls phases("prompt"), ("generation"), ("done")
    stats_line += " | " + phases.summary(prompt_tokens, generated_tokens)
"""
from __future__ import annotations

from typing import Dict, Optional

from .base import Meter, Reading, Source, Unavailable


def fmt(x: float) -> str:
    """Three significant digits, plain notation down to 1e-4."""
    if x == 0 or 1e-4 <= abs(x) < 1e6:
        return f"{x:.{max(0, 2 - _exponent(x))}f}"
    return f"{x:.2e}"


def _exponent(x: float) -> int:
    import math
    return int(math.floor(math.log10(abs(x)))) if x else 0


class PhaseEnergy:
    def __init__(self, source: Source):
        self.source = source
        self.readings: Dict[str, Reading] = {}
        self.error: Optional[str] = None
        self._meter: Optional[Meter] = None
        self._phase: Optional[str] = None

    def __call__(self, phase: str) -> None:
        if self._meter is not None:
            try:
                self.readings[self._phase] = self._meter.stop()
            except Unavailable as e:
                self.error = self.error or f"{self._phase}: {e}"
            self._meter = None
        self._phase = phase
        if phase != "done" and self.error is None:
            try:
                self._meter = self.source.start()
            except Unavailable as e:
                self.error = f"{phase}: {e}"

    def summary(self, prompt_tokens: int, generated_tokens: int) -> str:
        """'energy: X J, Y J/prompt token, Z J/generated token, W W avg'."""
        if self.error:
            return f"energy: n/a ({self.error})"
        p, g = self.readings.get("prompt"), self.readings.get("generation")
        if p is None:
            return "energy: n/a (nothing was measured)"
        total = p.joules + (g.joules if g else 0.0)
        seconds = p.seconds + (g.seconds if g else 0.0)
        parts = [f"{fmt(total)} J"]
        parts.append(f"{fmt(p.joules / prompt_tokens)} J/prompt token" if prompt_tokens
                     else "- J/prompt token")
        parts.append(f"{fmt(g.joules / generated_tokens)} J/generated token"
                     if g and generated_tokens else "- J/generated token")
        parts.append(f"{fmt(total / seconds)} W avg" if seconds > 0 else "- W avg")
        return "energy: " + ", ".join(parts)
