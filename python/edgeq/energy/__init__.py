"""Measured energy: joules from the machine's own meters, never an estimate.

    probe = find_source()              # first source that exists and moves under load
    if probe.source is None:
        print(probe.explanation())     # why each source could not be used
    else:
        meter = probe.source.start(); ...work...; r = meter.stop()   # r.joules, r.seconds

Modules, one per source: rapl, perf, hwmon (energy / power / V x I rails incl. Jetson's
ina3221 hwmon driver), jetson (older ina3221x IIO layout), rpi (vcgencmd pmic_read_adc),
powermetrics (macOS), battery. base holds the counter / sampled-power meters, registry the
probing and the trust check, phases the per-phase split used by `edgeq run --energy`.
"""
from .base import Meter, Reading, Source, Unavailable
from .phases import PhaseEnergy, fmt
from .registry import Probe, busy_loop, candidates, energy_sources, find_source, trust

__all__ = ["Meter", "PhaseEnergy", "Probe", "Reading", "Source", "Unavailable", "busy_loop",
           "candidates", "energy_sources", "find_source", "fmt", "trust"]
