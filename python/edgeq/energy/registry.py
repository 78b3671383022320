"""Finding an energy source this machine really has, and trusting it only once it moves.

Candidates, best first: RAPL (sysfs), perf's RAPL events, hwmon, Jetson INA3221 (older L4T),
Raspberry Pi 5 PMIC (vcgencmd), macOS powermetrics, a discharging battery. Each is opened (the
sensors exist and can be read), then trusted: one measurement around a short busy loop must
report energy > 0 and a plausible power. A counter that does not move is rejected with that
reason. The first trusted source is used; with none, Probe.explanation() says why for each.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from .base import Reading, Source, Unavailable
from .battery import BatterySource
from .commands import CommandRunner
from .hwmon import HwmonSource
from .jetson import JetsonIna3221xSource
from .perf import PerfSource
from .powermetrics import PowermetricsSource
from .rapl import RaplSource
from .rpi import VcgencmdSource

LOAD_SECONDS = 0.3
MAX_PLAUSIBLE_WATTS = 5000.0  # above this a reading is a unit or parsing error, not a CPU


def candidates(root: str = "/", runner: Optional[CommandRunner] = None) -> List[Source]:
    runner = runner or CommandRunner()
    return [RaplSource(root), PerfSource(root, runner), HwmonSource(root),
            JetsonIna3221xSource(root), VcgencmdSource(runner), PowermetricsSource(runner),
            BatterySource(root)]


def busy_loop(seconds: float) -> None:
    """CPU load for the trust check: integer work on this thread for `seconds`."""
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(10000):
            x = (x * 31 + i) & 0xFFFFFFFF


def trust(source: Source, load: Callable[[float], None] = busy_loop,
          seconds: float = LOAD_SECONDS) -> Reading:
    """Measure `source` around `load(seconds)`; Unavailable unless it advanced plausibly."""
    meter = source.start()
    load(seconds)
    r = meter.stop()
    if not r.joules > 0:
        raise Unavailable(f"{source.describe()} did not advance during a {seconds:g} s busy "
                          f"loop (read {r.joules:g} J)")
    if r.watts is not None and r.watts > MAX_PLAUSIBLE_WATTS:
        raise Unavailable(f"{source.describe()} read an implausible {r.watts:.0f} W")
    return r


@dataclass
class SourceStatus:
    name: str
    ok: bool
    detail: str  # what is read (ok) or why not

    def as_dict(self) -> Dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Probe:
    source: Optional[Source]
    statuses: List[SourceStatus] = field(default_factory=list)
    check: Optional[Reading] = None  # the trust-check reading of the chosen source

    def explanation(self) -> str:
        """One line: what is used, or why nothing is."""
        if self.source is not None:
            return f"energy source: {self.source.describe()}"
        return "no readable energy source: " + "; ".join(
            f"{s.name}: {s.detail}" for s in self.statuses if not s.ok)


def find_source(root: str = "/", runner: Optional[CommandRunner] = None,
                load: Callable[[float], None] = busy_loop, seconds: float = LOAD_SECONDS,
                sources: Optional[List[Source]] = None, all_sources: bool = False) -> Probe:
    """The first source that opens and passes the trust check. all_sources: go on through every
    candidate (for `edgeq info`), still returning the first trusted one."""
    probe = Probe(None)
    for src in sources if sources is not None else candidates(root, runner):
        if probe.source is not None and not all_sources:
            break
        try:
            src.open()
            reading = trust(src, load, seconds)
        except Unavailable as e:
            probe.statuses.append(SourceStatus(src.name, False, str(e)))
            continue
        except OSError as e:  # a sensor vanished between listing and reading
            probe.statuses.append(SourceStatus(src.name, False, f"{e.strerror or e}"))
            continue
        probe.statuses.append(SourceStatus(src.name, True, src.describe()))
        if probe.source is None:
            probe.source, probe.check = src, reading
    return probe


def energy_sources(root: str = "/", runner: Optional[CommandRunner] = None) -> Dict[str, object]:
    """For `edgeq info`: every candidate's status and the one that would be used."""
    probe = find_source(root, runner, all_sources=True)
    return {"source": probe.source.describe() if probe.source else None,
            "summary": probe.explanation(),
            "sources": [s.as_dict() for s in probe.statuses]}
