"""NVIDIA Jetson power monitors, older L4T layout (Nano, TX1/TX2, Xavier with L4T <= 32.5):
the ina3221x IIO driver.

    /sys/bus/i2c/drivers/ina3221x/<bus>-<addr>/iio:device<K>/rail_name_<N>      POM_5V_IN
    /sys/bus/i2c/drivers/ina3221x/<bus>-<addr>/iio:device<K>/in_power<N>_input  mW

(L4T 32.6+ and Orin use the hwmon ina3221 driver instead: see hwmon.py.) Rails follow
rails.select_rails: the board input rail alone when there is one, else the sum.
"""
from __future__ import annotations

import os
import re
from typing import List, Tuple

from .base import PowerSource, Unavailable
from .rails import rails_detail, select_rails
from .sysfs import SysfsTree, read_number, read_optional

DRIVER = "/sys/bus/i2c/drivers/ina3221x"


class JetsonIna3221xSource(PowerSource):
    name = "Jetson INA3221"

    def __init__(self, root: str = "/"):
        super().__init__()
        self.tree = SysfsTree(root)
        self.rails: List[Tuple[str, str]] = []  # (rail name, in_power path)

    def open(self) -> None:
        if not self.tree.exists(DRIVER):
            raise Unavailable(f"{DRIVER} not present (not an older-L4T Jetson)")
        rails = []
        for power in self.tree.glob(DRIVER + "/*/iio:device*/in_power*_input"):
            n = re.search(r"in_power(\d+)_input$", power).group(1)
            name = read_optional(os.path.join(os.path.dirname(power), f"rail_name_{n}"))
            if name and name.upper() != "NC":  # NC: channel not connected
                rails.append((name, power))
        if not rails:
            raise Unavailable(f"no in_power*_input with a rail_name_* under {DRIVER}")
        self.rails = select_rails(rails)
        self.detail = "ina3221x: " + rails_detail(self.rails)
        self.watts()

    def watts(self) -> float:
        return sum(read_number(p, self.tree.shown(p)) for _, p in self.rails) * 1e-3
