"""`perf stat` with the kernel's RAPL perf events (the `power` PMU:
/sys/bus/event_source/devices/power/events/energy-pkg, energy-ram, energy-psys, ...).

The measurement runs, system-wide,
    perf stat -a -x, -e power/energy-pkg/,power/energy-ram/ -- sh -c 'echo ready; read _'
perf enables its counters when it starts the workload, so once the workload's "ready" line
arrives the counters are live; closing its stdin ends the workload and perf prints one CSV line
per event on stderr (LC_ALL=C keeps the decimal point a point):
    8.53,Joules,power/energy-pkg/,1001234567,100.00,,
    (value, unit, event, run time ns, % of time counted, metric, metric unit)
A counter that could not be read shows <not supported> or <not counted> in the value field.
Summed: energy-pkg + energy-ram (as for RAPL through sysfs); energy-psys alone when it is the
only one.
"""
from __future__ import annotations

import os
import time
from typing import List, Optional

from .base import Clock, Meter, Reading, Source, Unavailable
from .commands import CommandRunner
from .sysfs import SysfsTree

EVENTS_DIR = "/sys/bus/event_source/devices/power/events"
WORKLOAD = ["sh", "-c", "echo ready; read _"]


def parse_perf_csv(text: str, events: List[str]) -> float:
    """Joules summed over `events` from perf stat -x, output; Unavailable if any is missing."""
    found = {}
    for line in text.splitlines():
        fields = line.strip().split(",")
        if len(fields) < 3 or fields[2] not in events:
            continue
        value, unit = fields[0], fields[1]
        if value.startswith("<"):
            raise Unavailable(f"perf could not count {fields[2]}: {value}")
        if unit != "Joules":
            raise Unavailable(f"perf reported {fields[2]} in {unit!r}, not Joules")
        found[fields[2]] = float(value)
    missing = [e for e in events if e not in found]
    if missing:
        last = [ln for ln in text.strip().splitlines() if ln.strip()]
        raise Unavailable(f"perf printed no count for {', '.join(missing)}"
                          + (f": {last[-1].strip()[:100]}" if last else ""))
    return sum(found.values())


class PerfMeter(Meter):
    def __init__(self, runner: CommandRunner, events: List[str], clock: Clock = time.monotonic):
        self.events, self.clock = events, clock
        argv = ["perf", "stat", "-a", "-x", ",", "-e", ",".join(events), "--", *WORKLOAD]
        self.proc = runner.spawn(argv, env={"LC_ALL": "C"})
        line = self.proc.wait_line(timeout=10.0)
        if line is None or line.strip() != "ready":
            rc, _, err = self.proc.finish(timeout=5.0)
            said = [ln for ln in err.strip().splitlines() if ln.strip()]
            raise Unavailable(f"perf stat failed (exit {rc})" +
                              (f": {said[0].strip()[:120]}" if said else ""))
        self.t0 = clock()

    def stop(self) -> Reading:
        seconds = self.clock() - self.t0
        rc, _, err = self.proc.finish(timeout=10.0)
        joules = parse_perf_csv(err, self.events)
        return Reading(joules, seconds)


class PerfSource(Source):
    name = "perf"

    def __init__(self, root: str = "/", runner: Optional[CommandRunner] = None):
        super().__init__()
        self.tree = SysfsTree(root)
        self.runner = runner or CommandRunner()
        self.events: List[str] = []

    def open(self) -> None:
        if not self.runner.which("perf"):
            raise Unavailable("not installed")
        if not self.tree.exists(EVENTS_DIR):
            raise Unavailable(f"no RAPL perf events ({EVENTS_DIR} not present)")
        have = set(os.listdir(self.tree.path(EVENTS_DIR)))
        names = [e for e in ("energy-pkg", "energy-ram") if e in have] or \
            [e for e in ("energy-psys",) if e in have]
        if not names:
            raise Unavailable(f"no energy-pkg, energy-ram or energy-psys in {EVENTS_DIR}")
        self.events = [f"power/{e}/" for e in names]
        self.detail = " + ".join(names)

    def start(self, clock: Clock = time.monotonic) -> Meter:
        return PerfMeter(self.runner, self.events, clock)
