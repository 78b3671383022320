"""Raspberry Pi 5: the PMIC's rail monitor through `vcgencmd pmic_read_adc`.

Output (one line per reading; a rail's current and voltage have different ADC indices, so
they are paired by the rail name before the _A / _V suffix):
     VDD_CORE_A current(7)=0.75012000A
     VDD_CORE_V volt(15)=0.86173300V
     EXT5V_V volt(24)=5.09066000V        (voltage only: the USB-C input, no current reading)
Power = sum of V x A over the rails that have both. These are the PMIC's output rails: the
SoC, DRAM, I/O; not the PMIC's own conversion losses nor USB devices.
"""
from __future__ import annotations

import re
from typing import Dict, Optional

from .base import PowerSource, Unavailable
from .commands import CommandRunner

_LINE = re.compile(r"^\s*(\S+)_([AV])\s+(?:current|volt)\(\d+\)=([0-9.eE+-]+)([AV])\s*$")


def parse_pmic_read_adc(text: str) -> Dict[str, float]:
    """rail -> watts, for rails with both a current and a voltage line."""
    amps: Dict[str, float] = {}
    volts: Dict[str, float] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m or m.group(2) != m.group(4):
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        (amps if m.group(2) == "A" else volts)[m.group(1)] = value
    return {rail: amps[rail] * volts[rail] for rail in sorted(amps) if rail in volts}


class VcgencmdSource(PowerSource):
    name = "vcgencmd"
    interval = 0.1  # one process per sample

    def __init__(self, runner: Optional[CommandRunner] = None):
        super().__init__()
        self.runner = runner or CommandRunner()

    def _read(self) -> Dict[str, float]:
        try:
            rc, out, err = self.runner.run(["vcgencmd", "pmic_read_adc"], timeout=5.0)
        except FileNotFoundError:
            raise Unavailable("not installed (not a Raspberry Pi)") from None
        rails = parse_pmic_read_adc(out)
        if rc != 0 or not rails:
            said = (err or out).strip().splitlines()
            raise Unavailable("pmic_read_adc gave no rail readings (a Raspberry Pi 5 is needed)"
                              + (f": {said[0][:80]}" if said else ""))
        return rails

    def open(self) -> None:
        rails = self._read()
        self.detail = f"Pi 5 PMIC, {len(rails)} rails"

    def watts(self) -> float:
        return sum(self._read().values())
