"""macOS `powermetrics` (needs root), Apple silicon's cpu_power sampler.

    powermetrics --samplers cpu_power -i 100
prints a block per sample interval:
    *** Sampled system activity (Wed Jun  8 14:31:39 2022 -0700) (102.89ms elapsed) ***
    ...
    CPU Power: 432 mW
    GPU Power: 14 mW
    ANE Power: 0 mW
    Combined Power (CPU + GPU + ANE): 446 mW
Each block's power is the average over its elapsed time, from the SoC's energy counters. The
measurement keeps powermetrics running over the region, then the energy is the time-weighted
mean power of the blocks times the region's wall time. Combined Power (the whole SoC, DRAM
excluded) is used when present, else CPU Power. Intel Macs print only "Intel energy model
derived package power": a model's estimate, so it is refused.
"""
from __future__ import annotations

import re
import time
from typing import List, Optional, Tuple

from .base import Clock, Meter, Reading, Source, Unavailable
from .commands import SIGINT, CommandRunner

INTERVAL_MS = 100
_BLOCK = re.compile(r"^\*\*\* Sampled system activity .*\(([0-9.]+)ms elapsed\) \*\*\*")
_POWER = re.compile(r"^(Combined Power \(CPU \+ GPU \+ ANE\)|CPU Power):\s*([0-9.]+)\s*mW")


def parse_powermetrics(text: str) -> List[Tuple[float, float]]:
    """(elapsed seconds, watts) per complete sample block."""
    samples = []
    elapsed: Optional[float] = None
    watts: dict = {}

    def flush():
        if elapsed is not None and watts:
            w = watts.get("Combined Power (CPU + GPU + ANE)", watts.get("CPU Power"))
            samples.append((elapsed, w))
    for line in text.splitlines():
        m = _BLOCK.match(line.strip())
        if m:
            flush()
            elapsed, watts = float(m.group(1)) / 1000, {}
            continue
        p = _POWER.match(line.strip())
        if p and elapsed is not None:
            watts[p.group(1)] = float(p.group(2)) / 1000
    flush()
    return samples


def _check_output(rc: int, out: str, err: str) -> List[Tuple[float, float]]:
    samples = parse_powermetrics(out)
    if samples:
        return samples
    said = [ln.strip() for ln in (err + "\n" + out).splitlines() if ln.strip()]
    if "Intel energy model derived" in out:
        raise Unavailable("this Mac reports only a model-derived estimate (Intel), not a "
                          "measurement")
    if any("superuser" in ln for ln in said):
        raise Unavailable("needs root (run with sudo)")
    raise Unavailable(f"no CPU Power samples (exit {rc})" + (f": {said[0][:100]}" if said else ""))


class PowermetricsMeter(Meter):
    def __init__(self, runner: CommandRunner, clock: Clock = time.monotonic):
        self.clock = clock
        self.proc = runner.spawn(["powermetrics", "--samplers", "cpu_power",
                                  "-i", str(INTERVAL_MS)])
        if self.proc.wait_line(timeout=10.0) is None:  # its header: sampling has begun
            _check_output(*self.proc.finish(SIGINT, timeout=5.0))  # raises with the reason
            raise Unavailable("powermetrics ended before the measurement began")
        self.t0 = clock()

    def stop(self) -> Reading:
        seconds = self.clock() - self.t0
        rc, out, err = self.proc.finish(SIGINT, timeout=10.0)
        samples = parse_powermetrics(out)
        if not samples:
            if seconds * 1000 < INTERVAL_MS:
                raise Unavailable(f"the region ({seconds * 1000:.0f} ms) was shorter than one "
                                  f"powermetrics sample ({INTERVAL_MS} ms)")
            _check_output(rc, out, err)
        total_s = sum(s for s, _ in samples)
        mean_w = sum(s * w for s, w in samples) / total_s if total_s > 0 else 0.0
        return Reading(mean_w * seconds, seconds)


class PowermetricsSource(Source):
    name = "powermetrics"

    def __init__(self, runner: Optional[CommandRunner] = None):
        super().__init__()
        self.runner = runner or CommandRunner()

    def open(self) -> None:
        if not self.runner.which("powermetrics"):
            raise Unavailable("not installed (macOS only)")
        rc, out, err = self.runner.run(["powermetrics", "--samplers", "cpu_power", "-n", "1",
                                        "-i", str(INTERVAL_MS)], timeout=10.0)
        _check_output(rc, out, err)
        self.detail = "Combined Power" if "Combined Power" in out else "CPU Power"

    def start(self, clock: Clock = time.monotonic) -> Meter:
        return PowermetricsMeter(self.runner, clock)
