"""Linux RAPL through the powercap sysfs interface.

    /sys/class/powercap/intel-rapl:0/        name = package-0, energy_uj, max_energy_range_uj
    /sys/class/powercap/intel-rapl:0:0/      a subzone: core, uncore or dram
    /sys/class/powercap/intel-rapl:1/        package-1, or psys (the whole platform)
AMD CPUs appear under the same intel-rapl names (the intel_rapl_msr driver reads AMD's RAPL
MSRs); zones named amd-rapl:* are read the same way. intel-rapl-mmio:* duplicates the package
zone through another interface and is skipped.

What is summed: every package zone plus every dram zone (core and uncore are parts of their
package; dram is not). A machine with only psys uses psys. energy_uj is a microjoule counter
that wraps at max_energy_range_uj; since Linux 5.10 it is readable only by root.
"""
from __future__ import annotations

import os
import re
from typing import Dict, List, Tuple

from .base import CounterSource, Unavailable
from .sysfs import SysfsTree, read_number, read_optional

POWERCAP = "/sys/class/powercap"
_ZONE = re.compile(r"^(intel|amd)-rapl:\d+(:\d+)?$")


class RaplSource(CounterSource):
    name = "RAPL"

    def __init__(self, root: str = "/"):
        super().__init__()
        self.tree = SysfsTree(root)
        self.zones: List[Tuple[str, str, float]] = []  # (zone name, energy_uj path, range µJ)

    def open(self) -> None:
        if not self.tree.exists(POWERCAP):
            raise Unavailable(f"{POWERCAP} not present")
        dirs = [d for d in self.tree.glob(POWERCAP + "/*") if _ZONE.match(os.path.basename(d))]
        if not dirs:
            raise Unavailable(f"no intel-rapl or amd-rapl zones in {POWERCAP}")
        named = [(d, read_optional(os.path.join(d, "name")) or "") for d in dirs]
        picked = [(d, n) for d, n in named
                  if (n.startswith("package") and os.path.basename(d).count(":") == 1)
                  or n == "dram"]
        if not picked:
            picked = [(d, n) for d, n in named if n == "psys"]
        if not picked:
            raise Unavailable("no package, dram or psys zone (zones: "
                              + ", ".join(n or os.path.basename(d) for d, n in named) + ")")
        zones = []
        for d, n in picked:
            energy = os.path.join(d, "energy_uj")
            self._read_energy(energy)  # readable at all?
            max_range = read_number(os.path.join(d, "max_energy_range_uj"),
                                    self.tree.shown(os.path.join(d, "max_energy_range_uj")))
            if max_range <= 0:
                raise Unavailable(f"{self.tree.shown(d)}: max_energy_range_uj is {max_range:g}")
            zones.append((n, energy, max_range))
        self.zones = zones
        self.detail = " + ".join(n for n, _, _ in zones)

    def _read_energy(self, path: str) -> float:
        try:
            return read_number(path, self.tree.shown(path))
        except Unavailable as e:
            if "permission denied" in str(e):
                raise Unavailable(f"{e} (root only since Linux 5.10: run as root, or "
                                  f"`sudo chmod a+r` the energy_uj files)") from None
            raise

    def snapshot(self) -> Dict[str, float]:
        return {path: self._read_energy(path) for _, path, _ in self.zones}

    def joules_between(self, before: Dict[str, float], after: Dict[str, float]) -> float:
        total_uj = 0.0
        for _, path, max_range in self.zones:
            delta = after[path] - before[path]
            if delta < 0:  # wrapped past max_energy_range_uj (the poller sees each wrap);
                delta += max_range  # the missing one counter unit (~61 µJ) is below noise
            total_uj += delta
        return total_uj * 1e-6
