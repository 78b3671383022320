"""Linux batteries (/sys/class/power_supply/<name> with type Battery), only while discharging:
then the energy the battery loses is the energy the whole machine uses (screen included).

    energy_now   µWh remaining                 -> counter (falls as the machine runs)
    charge_now   µAh remaining, x voltage_now  -> counter: joules = Δcharge x mean voltage
                 (not Δ(charge x voltage): voltage jitter times the whole charge would swamp it)
    power_now    µW (or current_now µA x voltage_now µV) -> sampled, when there is no counter
Battery gauges often update only every few seconds: the trust check rejects one that does not
move during its short load. Peripheral batteries (scope = Device: mice, keyboards) are skipped.
"""
from __future__ import annotations

import os
from typing import List, Tuple

from .base import ChoosingSource, CounterSource, PowerSource, Source, Unavailable
from .sysfs import SysfsTree, read_number, read_optional

SUPPLIES = "/sys/class/power_supply"


def _discharging(tree: SysfsTree, d: str) -> None:
    status = read_optional(os.path.join(d, "status")) or "Unknown"
    if status != "Discharging":
        why = "on AC power" if status in ("Charging", "Full", "Not charging") else "not discharging"
        raise Unavailable(f"{why} ({os.path.basename(d)} status: {status})")


class BatteryCounter(CounterSource):
    name = "battery"

    def __init__(self, tree: SysfsTree, dirs: List[str], kind: str):
        super().__init__()
        self.tree, self.dirs, self.kind = tree, dirs, kind  # kind: "energy" | "charge"
        names = ", ".join(os.path.basename(d) for d in dirs)
        self.detail = f"{names} energy_now" if kind == "energy" else \
            f"{names} charge_now x voltage_now"

    def open(self) -> None:
        self.snapshot()

    def _num(self, d: str, f: str) -> float:
        p = os.path.join(d, f)
        return read_number(p, self.tree.shown(p))

    def snapshot(self) -> List[Tuple[float, float]]:
        out = []
        for d in self.dirs:
            _discharging(self.tree, d)
            if self.kind == "energy":
                out.append((self._num(d, "energy_now"), 0.0))
            else:
                out.append((self._num(d, "charge_now"), self._num(d, "voltage_now")))
        return out

    def joules_between(self, before, after) -> float:
        total = 0.0
        for (a, va), (b, vb) in zip(before, after):
            if self.kind == "energy":
                total += (a - b) * 3.6e-3  # µWh -> J
            else:
                total += (a - b) * (va + vb) / 2 * 3.6e-9  # µAh x µV = 1e-12 Wh
        return total


class BatteryPower(PowerSource):
    name = "battery"
    interval = 0.1

    def __init__(self, tree: SysfsTree, dirs: List[str]):
        super().__init__()
        self.tree, self.dirs = tree, dirs
        self.detail = ", ".join(os.path.basename(d) for d in dirs) + " power_now"

    def open(self) -> None:
        self.watts()

    def watts(self) -> float:
        total = 0.0
        for d in self.dirs:
            _discharging(self.tree, d)
            p = os.path.join(d, "power_now")
            if os.path.exists(p):
                total += abs(read_number(p, self.tree.shown(p))) * 1e-6
            else:
                i, v = os.path.join(d, "current_now"), os.path.join(d, "voltage_now")
                total += abs(read_number(i, self.tree.shown(i)) *
                             read_number(v, self.tree.shown(v))) * 1e-12
        return total


class BatterySource(ChoosingSource):
    name = "battery"

    def __init__(self, root: str = "/"):
        super().__init__()
        self.tree = SysfsTree(root)

    def open(self) -> None:
        dirs = [d for d in self.tree.glob(SUPPLIES + "/*")
                if read_optional(os.path.join(d, "type")) == "Battery"
                and read_optional(os.path.join(d, "scope")) != "Device"]
        if not dirs:
            raise Unavailable(f"no battery in {SUPPLIES}")
        for d in dirs:
            _discharging(self.tree, d)

        def has(f):
            return all(os.path.exists(os.path.join(d, f)) for d in dirs)
        if has("energy_now"):
            src: Source = BatteryCounter(self.tree, dirs, "energy")
        elif has("charge_now") and has("voltage_now"):
            src = BatteryCounter(self.tree, dirs, "charge")
        elif has("power_now") or (has("current_now") and has("voltage_now")):
            src = BatteryPower(self.tree, dirs)
        else:
            raise Unavailable("the battery reports neither energy_now, charge_now x voltage_now "
                              "nor power_now")
        self.use(src)

