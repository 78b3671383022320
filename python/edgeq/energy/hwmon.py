"""Linux hwmon sensors (/sys/class/hwmon/hwmon*), in sysfs-interface units:

    energyN_input  µJ, a running total (amd_energy, zenpower, some INA2xx)   -> counter
    powerN_input   µW, instantaneous (powerN_average when there is no _input) -> sampled
    inN_input mV x currN_input mA, per rail (ina3221: Jetson Orin / Xavier with L4T 35+, where
                   inN_label names the rail: VDD_IN, VDD_CPU_GPU_CV, VDD_SOC)  -> sampled

The first kind found wins (energy, then power, then rails). Within energy counters, a device
that has socket/package channels (amd_energy's Esocket0 next to Ecore000...) counts only those,
since the per-core channels are parts of them. Rails follow rails.select_rails (an input rail
alone, else the sum). V x I pairs are taken only where they are known to be one rail: ina3221
channels 1-3 (in4-in7 are shunt voltages and curr4 a sum, see the kernel's hwmon/ina3221
documentation), or inN / currN with the same label. GPU sensors (amdgpu, nouveau, i915, ...)
measure a card, not the CPU running the model, and batteries are read by the battery source:
both are skipped.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import List, Optional

from .base import ChoosingSource, CounterSource, PowerSource, Unavailable
from .rails import rails_detail, select_rails
from .sysfs import SysfsTree, read_number, read_optional

HWMON = "/sys/class/hwmon"
SKIP_NAMES = {"amdgpu", "radeon", "nouveau", "i915", "xe", "nvidia"}
_SOCKET = re.compile(r"socket|package|pkg", re.IGNORECASE)


@dataclass
class Channel:
    label: str  # "<device name>/<label or file>"
    path: str  # energyN_input / powerN_input / inN_input
    path2: Optional[str] = None  # currN_input for a rail


@dataclass
class Device:
    dir: str
    name: str

    def file(self, base: str) -> str:
        return os.path.join(self.dir, base)

    def indexed(self, prefix: str, suffix: str) -> List[int]:
        pat = re.compile(rf"^{prefix}(\d+)_{suffix}$")
        found = [int(m.group(1)) for f in os.listdir(self.dir) if (m := pat.match(f))]
        return sorted(found)

    def label(self, prefix: str, n: int) -> Optional[str]:
        return read_optional(self.file(f"{prefix}{n}_label"))


def scan(tree: SysfsTree) -> List[Device]:
    devices = []
    for d in tree.glob(HWMON + "/hwmon*"):
        name = read_optional(os.path.join(d, "name")) or os.path.basename(d)
        devices.append(Device(d, name))
    return devices


def _usable(dev: Device) -> bool:
    return dev.name not in SKIP_NAMES and not dev.name.upper().startswith(("BAT", "AC", "ADP"))


def energy_channels(devices: List[Device]) -> List[Channel]:
    out = []
    for dev in filter(_usable, devices):
        chans = [Channel(f"{dev.name}/{dev.label('energy', n) or f'energy{n}'}",
                         dev.file(f"energy{n}_input")) for n in dev.indexed("energy", "input")]
        socket = [c for c in chans if _SOCKET.search(c.label.split("/", 1)[1])]
        out += socket or chans
    return out


def power_channels(devices: List[Device]) -> List[Channel]:
    out = []
    for dev in filter(_usable, devices):
        ns = sorted(set(dev.indexed("power", "input")) | set(dev.indexed("power", "average")))
        for n in ns:
            f = dev.file(f"power{n}_input")
            if not os.path.exists(f):
                f = dev.file(f"power{n}_average")
            out.append(Channel(f"{dev.name}/{dev.label('power', n) or f'power{n}'}", f))
    return out


def rail_channels(devices: List[Device]) -> List[Channel]:
    out = []
    for dev in filter(_usable, devices):
        currents = set(dev.indexed("curr", "input"))
        for n in dev.indexed("in", "input"):
            if n not in currents:
                continue
            label = dev.label("in", n)
            same = label is not None and dev.label("curr", n) == label
            ina3221 = dev.name == "ina3221" and 1 <= n <= 3
            if not (same or ina3221):
                continue
            if read_optional(dev.file(f"in{n}_enable")) == "0":
                continue
            out.append(Channel(label or f"{dev.name}/in{n}", dev.file(f"in{n}_input"),
                               dev.file(f"curr{n}_input")))
    return out


class HwmonEnergy(CounterSource):
    name = "hwmon"

    def __init__(self, tree: SysfsTree, channels: List[Channel]):
        super().__init__()
        self.tree, self.channels = tree, channels
        self.detail = "energy: " + ", ".join(c.label for c in channels)

    def open(self) -> None:
        self.snapshot()

    def snapshot(self) -> List[float]:
        return [read_number(c.path, self.tree.shown(c.path)) for c in self.channels]

    def joules_between(self, before: List[float], after: List[float]) -> float:
        total = 0.0
        for c, a, b in zip(self.channels, before, after):
            if b < a:  # hwmon energy counters are 64-bit; going back means a driver reset
                raise Unavailable(f"{self.tree.shown(c.path)} went backwards ({a:g} -> {b:g})")
            total += b - a
        return total * 1e-6


class HwmonPower(PowerSource):
    name = "hwmon"

    def __init__(self, tree: SysfsTree, channels: List[Channel], rails: bool):
        super().__init__()
        self.tree, self.rails = tree, rails
        if rails:
            chosen = select_rails([(c.label, c) for c in channels])
            self.channels = [c for _, c in chosen]
            self.detail = "V x I: " + rails_detail(chosen)
        else:
            self.channels = channels
            self.detail = "power: " + ", ".join(c.label for c in channels)

    def open(self) -> None:
        self.watts()

    def watts(self) -> float:
        total = 0.0
        for c in self.channels:
            v = read_number(c.path, self.tree.shown(c.path))
            if self.rails:  # mV x mA
                total += v * read_number(c.path2, self.tree.shown(c.path2)) * 1e-6
            else:  # µW
                total += v * 1e-6
        return total


class HwmonSource(ChoosingSource):
    """Picks the best kind of hwmon sensor present and measures with it."""
    name = "hwmon"

    def __init__(self, root: str = "/"):
        super().__init__()
        self.tree = SysfsTree(root)

    def open(self) -> None:
        if not self.tree.exists(HWMON):
            raise Unavailable(f"{HWMON} not present")
        devices = scan(self.tree)
        if not devices:
            raise Unavailable(f"no devices in {HWMON}")
        candidates = [lambda: HwmonEnergy(self.tree, energy_channels(devices)),
                      lambda: HwmonPower(self.tree, power_channels(devices), rails=False),
                      lambda: HwmonPower(self.tree, rail_channels(devices), rails=True)]
        for make in candidates:
            src = make()
            if src.channels:
                self.use(src)
                return
        names = ", ".join(sorted({d.name for d in devices}))
        raise Unavailable(f"no energy, power or voltage x current sensors (devices: {names})")

