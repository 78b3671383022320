"""What every energy source provides, and the two ways a measurement is taken.

A Source is opened (open() raises Unavailable with a one-line reason when it cannot be read),
then each measurement is start() ... stop() on a Meter, which returns a Reading (joules over
the wall-clock seconds between start and stop). Two kinds cover almost every source:

  CounterSource  the hardware keeps a running energy total (RAPL energy_uj, hwmon energy*_input,
                 a battery's remaining energy): joules = change between two snapshots. A poller
                 takes a snapshot every few seconds, so a counter that wraps (RAPL, at
                 max_energy_range_uj) is followed through any number of wraps.
  PowerSource    the hardware reports instantaneous power (hwmon power*_input, V x I rails, the
                 Raspberry Pi 5 PMIC): sampled on a thread every `interval` seconds and integrated
                 over time with the trapezoid rule (the first and last samples are taken in start()
                 and stop(), so the integral covers exactly the measured region).
Sources that are external commands counting on their own (perf, powermetrics) subclass Meter.
"""
from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

Clock = Callable[[], float]


class Unavailable(Exception):
    """A source cannot be used (or a measurement failed); str() is the one-line reason."""


@dataclass(frozen=True)
class Reading:
    joules: float
    seconds: float

    @property
    def watts(self) -> Optional[float]:
        return self.joules / self.seconds if self.seconds > 0 else None


class Meter(ABC):
    @abstractmethod
    def stop(self) -> Reading:
        """End the measurement. Raises Unavailable when it could not be completed."""


class Source(ABC):
    name = "?"  # short name used in reasons: "RAPL", "perf", ...

    def __init__(self):
        self.detail = ""  # after open(): what exactly is read, e.g. "package-0 + dram"

    @abstractmethod
    def open(self) -> None:
        """Find the sensors and read them once. Raises Unavailable(reason)."""

    @abstractmethod
    def start(self) -> Meter:
        """Begin a measurement (open() must have succeeded)."""

    def describe(self) -> str:
        return f"{self.name} ({self.detail})" if self.detail else self.name


class ChoosingSource(Source):
    """A source that picks one of several sensor kinds in open() (self.inner) and measures
    with it."""

    def __init__(self):
        super().__init__()
        self.inner: Optional[Source] = None

    def use(self, inner: Source) -> None:
        inner.open()
        self.inner, self.detail = inner, inner.detail

    def start(self, *args, **kwargs) -> Meter:
        if self.inner is None:
            raise Unavailable("not opened")
        return self.inner.start(*args, **kwargs)


class _Poller:
    """Calls fn() every `interval` seconds on a daemon thread until stopped; keeps the first
    exception it raises (the measurement then fails with it)."""

    def __init__(self, fn: Callable[[], None], interval: Optional[float]):
        self.fn = fn
        self.error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._thread = None
        if interval:
            self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True,
                                            name="edgeq-energy")
            self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.fn()
            except BaseException as e:  # noqa: BLE001 - reported by stop()
                self.error = e
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.error is not None:
            raise self.error if isinstance(self.error, Unavailable) else Unavailable(
                f"reading failed: {self.error}")


# ---- counters ------------------------------------------------------------------------------

class CounterSource(Source):
    poll_seconds = 5.0  # must be shorter than the time the counter takes to wrap

    @abstractmethod
    def snapshot(self) -> Any:
        """The counters now (opaque to the meter)."""

    @abstractmethod
    def joules_between(self, before: Any, after: Any) -> float:
        """Energy used between two snapshots (handling a wrap); Unavailable if impossible."""

    def start(self, clock: Clock = time.monotonic) -> Meter:
        return CounterMeter(self, clock)


class CounterMeter(Meter):
    def __init__(self, source: CounterSource, clock: Clock = time.monotonic):
        self.source, self.clock = source, clock
        self.joules = 0.0
        self._lock = threading.Lock()
        self._t0 = clock()
        self._last = source.snapshot()
        self._poller = _Poller(self.poll, source.poll_seconds)

    def poll(self) -> None:
        with self._lock:
            now = self.source.snapshot()
            self.joules += self.source.joules_between(self._last, now)
            self._last = now

    def stop(self) -> Reading:
        self._poller.stop()
        self.poll()
        return Reading(self.joules, self.clock() - self._t0)


# ---- instantaneous power -------------------------------------------------------------------

class PowerSource(Source):
    interval = 0.05  # seconds between samples

    @abstractmethod
    def watts(self) -> float:
        """The power now, in watts."""

    def start(self, clock: Clock = time.monotonic, interval: Optional[float] = -1.0) -> Meter:
        return SampledMeter(self.watts, self.interval if interval == -1.0 else interval, clock)


class SampledMeter(Meter):
    """Trapezoid integral of watts() over time. interval None: no thread (samples are taken
    only by start, stop and explicit sample() calls: for tests with a fake clock)."""

    def __init__(self, watts: Callable[[], float], interval: Optional[float],
                 clock: Clock = time.monotonic):
        self.watts, self.clock = watts, clock
        self.samples: List[Tuple[float, float]] = []
        self._lock = threading.Lock()
        self.sample()
        self._poller = _Poller(self.sample, interval)

    def sample(self) -> None:
        w = self.watts()
        t = self.clock()
        with self._lock:
            self.samples.append((t, w))

    def stop(self) -> Reading:
        self._poller.stop()
        self.sample()
        s = self.samples
        joules = sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in zip(s, s[1:]))
        return Reading(joules, s[-1][0] - s[0][0])
