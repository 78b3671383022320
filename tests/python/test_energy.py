"""Measured energy: every reader against a fake sysfs tree or a recorded command output, the
meters' arithmetic (counter wrap, trapezoid integral), the trust check, the "none readable"
explanation, and `bench --energy` / `run --energy` end to end.

Fake trees follow the kernel's sysfs layouts and units (Documentation/power/powercap,
Documentation/hwmon/sysfs-interface and hwmon/ina3221, Documentation/ABI/testing/
sysfs-class-power). Recorded outputs follow each tool's format, cited where they are defined.
"""
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gguf import GGMLQuantizationType as T

from edgeq.energy import PhaseEnergy, Unavailable, find_source, fmt, trust
from edgeq.energy import sysfs as sysfs_mod
from edgeq.energy.base import PowerSource, SampledMeter
from edgeq.energy.battery import BatterySource
from edgeq.energy.hwmon import HwmonSource
from edgeq.energy.jetson import JetsonIna3221xSource
from edgeq.energy.perf import PerfSource, parse_perf_csv
from edgeq.energy.powermetrics import PowermetricsSource, parse_powermetrics
from edgeq.energy.rapl import RaplSource
from edgeq.energy.registry import candidates
from edgeq.energy.rpi import VcgencmdSource, parse_pmic_read_adc
from tiny_llama import write_tiny_llama


# ---- fakes ---------------------------------------------------------------------------------

def write_tree(root: Path, files: dict) -> Path:
    """files: {'/sys/class/...': value} -> files under root (values written as text)."""
    for rel, value in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"{value}\n")
    return root


def set_value(root: Path, rel: str, value) -> None:
    (root / rel.lstrip("/")).write_text(f"{value}\n")


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class FakeProcess:
    def __init__(self, first_line, result):
        self.first_line, self.result, self.finished_with = first_line, result, "running"

    def wait_line(self, timeout):
        return self.first_line

    def finish(self, sig=None, timeout=10.0):
        self.finished_with = sig
        return self.result


class FakeRunner:
    """programs: names that exist; runs: argv[0] -> (rc, stdout, stderr) for run();
    spawns: argv[0] -> (first stdout line, (rc, stdout, stderr)) for spawn()."""

    def __init__(self, programs=(), runs=None, spawns=None):
        self.programs, self.runs, self.spawns = set(programs), runs or {}, spawns or {}
        self.argvs = []

    def which(self, name):
        return f"/usr/bin/{name}" if name in self.programs else None

    def run(self, argv, timeout=10.0):
        self.argvs.append(list(argv))
        if argv[0] not in self.programs:
            raise FileNotFoundError(argv[0])
        return self.runs[argv[0]]

    def spawn(self, argv, env=None):
        self.argvs.append(list(argv))
        first, result = self.spawns[argv[0]]
        self.process = FakeProcess(first, result)
        return self.process


def no_load(seconds):
    pass


# ---- RAPL ----------------------------------------------------------------------------------

PC = "/sys/class/powercap"
RANGE = 262143328850  # a real max_energy_range_uj (2^32 - 1 units of 61.035 µJ)


def rapl_tree(root, pkg=1_000_000, dram=500_000, prefix="intel-rapl"):
    return write_tree(root, {
        f"{PC}/{prefix}:0/name": "package-0", f"{PC}/{prefix}:0/energy_uj": pkg,
        f"{PC}/{prefix}:0/max_energy_range_uj": RANGE,
        f"{PC}/{prefix}:0:0/name": "core", f"{PC}/{prefix}:0:0/energy_uj": 7,
        f"{PC}/{prefix}:0:0/max_energy_range_uj": RANGE,
        f"{PC}/{prefix}:0:1/name": "dram", f"{PC}/{prefix}:0:1/energy_uj": dram,
        f"{PC}/{prefix}:0:1/max_energy_range_uj": RANGE,
        f"{PC}/{prefix}:1/name": "psys", f"{PC}/{prefix}:1/energy_uj": 5,
        f"{PC}/{prefix}:1/max_energy_range_uj": RANGE,
        # the MMIO interface repeats package-0: counting it would double the package
        f"{PC}/intel-rapl-mmio:0/name": "package-0", f"{PC}/intel-rapl-mmio:0/energy_uj": 3,
        f"{PC}/intel-rapl-mmio:0/max_energy_range_uj": RANGE,
    })


def test_rapl_sums_packages_and_dram(tmp_path):
    rapl_tree(tmp_path)
    src = RaplSource(str(tmp_path))
    src.open()
    assert src.detail == "package-0 + dram"
    meter = src.start()
    set_value(tmp_path, f"{PC}/intel-rapl:0/energy_uj", 1_000_000 + 2_500_000)
    set_value(tmp_path, f"{PC}/intel-rapl:0:1/energy_uj", 500_000 + 400_000)
    set_value(tmp_path, f"{PC}/intel-rapl:0:0/energy_uj", 99_999_999)  # core: in the package
    set_value(tmp_path, f"{PC}/intel-rapl:1/energy_uj", 99_999_999)  # psys: not summed
    assert meter.stop().joules == pytest.approx(2.9)


def test_rapl_counter_wraps(tmp_path):
    rapl_tree(tmp_path, pkg=RANGE - 1_000_000)  # 1 J before the wrap
    src = RaplSource(str(tmp_path))
    src.open()
    meter = src.start()
    set_value(tmp_path, f"{PC}/intel-rapl:0/energy_uj", 2_000_000)  # ... and 2 J after it
    assert meter.stop().joules == pytest.approx(3.0)


def test_rapl_poller_follows_several_wraps(tmp_path):
    """Each poll takes up one wrap; a single before/after pair would see at most one."""
    rapl_tree(tmp_path, pkg=0)
    src = RaplSource(str(tmp_path))
    src.poll_seconds = None  # polls by hand below
    src.open()
    meter = src.start()
    pkg = f"{PC}/intel-rapl:0/energy_uj"
    for value in (RANGE // 2, 10, RANGE // 2, 20):  # two wraps
        set_value(tmp_path, pkg, value)
        meter.poll()
    expected_uj = 2 * RANGE + 20
    assert meter.stop().joules == pytest.approx(expected_uj * 1e-6)


def test_amd_rapl_names(tmp_path):
    rapl_tree(tmp_path, prefix="amd-rapl")
    src = RaplSource(str(tmp_path))
    src.open()
    assert src.detail == "package-0 + dram"


def test_rapl_reasons(tmp_path, monkeypatch):
    with pytest.raises(Unavailable, match=r"/sys/class/powercap not present"):
        RaplSource(str(tmp_path)).open()
    (tmp_path / "sys/class/powercap").mkdir(parents=True)
    with pytest.raises(Unavailable, match="no intel-rapl or amd-rapl zones"):
        RaplSource(str(tmp_path)).open()
    rapl_tree(tmp_path)
    real = sysfs_mod.read_text

    def denied(path):
        if path.endswith("energy_uj"):
            raise PermissionError(13, "Permission denied", path)
        return real(path)
    monkeypatch.setattr(sysfs_mod, "read_text", denied)
    with pytest.raises(Unavailable) as e:
        RaplSource(str(tmp_path)).open()
    assert "/sys/class/powercap/intel-rapl:0/energy_uj: permission denied" in str(e.value)
    assert "root" in str(e.value)


# ---- hwmon ---------------------------------------------------------------------------------

HW = "/sys/class/hwmon"


def test_hwmon_energy_counts_sockets_not_cores(tmp_path):
    write_tree(tmp_path, {
        f"{HW}/hwmon0/name": "k10temp", f"{HW}/hwmon0/temp1_input": 45000,
        f"{HW}/hwmon3/name": "amd_energy",
        f"{HW}/hwmon3/energy1_label": "Ecore000", f"{HW}/hwmon3/energy1_input": 10_000_000,
        f"{HW}/hwmon3/energy2_label": "Ecore001", f"{HW}/hwmon3/energy2_input": 20_000_000,
        f"{HW}/hwmon3/energy3_label": "Esocket0", f"{HW}/hwmon3/energy3_input": 90_000_000,
    })
    src = HwmonSource(str(tmp_path))
    src.open()
    assert src.detail == "energy: amd_energy/Esocket0"
    meter = src.start()
    set_value(tmp_path, f"{HW}/hwmon3/energy1_input", 15_000_000)
    set_value(tmp_path, f"{HW}/hwmon3/energy3_input", 97_500_000)
    assert meter.stop().joules == pytest.approx(7.5)


def test_hwmon_power_is_integrated_over_time(tmp_path):
    write_tree(tmp_path, {
        f"{HW}/hwmon1/name": "amdgpu", f"{HW}/hwmon1/power1_average": 40_000_000,  # a GPU: skipped
        f"{HW}/hwmon2/name": "ina226", f"{HW}/hwmon2/power1_input": 3_000_000,  # 3 W
    })
    src = HwmonSource(str(tmp_path))
    src.open()
    assert src.detail == "power: ina226/power1"
    clock = FakeClock()
    meter = src.start(clock=clock, interval=None)
    clock.t += 2.0
    set_value(tmp_path, f"{HW}/hwmon2/power1_input", 5_000_000)
    meter.sample()
    clock.t += 1.0
    r = meter.stop()
    # trapezoid: 2 s from 3 W to 5 W = 8 J, then 1 s at 5 W = 5 J
    assert r.joules == pytest.approx(13.0) and r.seconds == pytest.approx(3.0)
    assert r.watts == pytest.approx(13.0 / 3)


def _ina3221(root, hw, labels, mv_ma):
    files = {f"{HW}/{hw}/name": "ina3221"}
    for n, (label, (mv, ma)) in enumerate(zip(labels, mv_ma), start=1):
        files.update({f"{HW}/{hw}/in{n}_label": label, f"{HW}/{hw}/in{n}_input": mv,
                      f"{HW}/{hw}/curr{n}_input": ma, f"{HW}/{hw}/in{n}_enable": 1})
    # in4-in6: shunt voltages (µV) of channels 1-3; in7 / curr4: the summation channel.
    # curr4 must not be paired with in4.
    files.update({f"{HW}/{hw}/in4_input": 4160, f"{HW}/{hw}/in7_input": 9000,
                  f"{HW}/{hw}/in7_label": "sum of shunt voltages",
                  f"{HW}/{hw}/curr4_input": 1900})
    write_tree(root, files)


def test_jetson_orin_hwmon_uses_the_input_rail(tmp_path):
    # Jetson Orin Nano, L4T 35: /sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1 (also
    # listed in /sys/class/hwmon), in mV and mA
    _ina3221(tmp_path, "hwmon1", ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"],
             [(5008, 1240), (5008, 400), (5008, 560)])
    src = HwmonSource(str(tmp_path))
    src.open()
    assert src.detail == "V x I: VDD_IN"  # it includes the other two
    assert src.inner.watts() == pytest.approx(5.008 * 1.240)


def test_hwmon_rails_without_input_rail_are_summed(tmp_path):
    # AGX Xavier-like: two ina3221 monitors, six separate supplies, no board input rail
    _ina3221(tmp_path, "hwmon0", ["GPU", "CPU", "SOC"], [(1000, 1000), (1000, 2000), (1000, 500)])
    _ina3221(tmp_path, "hwmon1", ["CV", "VDDRQ", "SYS5V"], [(5000, 100), (5000, 200), (5000, 300)])
    set_value(tmp_path, f"{HW}/hwmon1/in2_enable", 0)  # a disabled channel is not read
    src = HwmonSource(str(tmp_path))
    src.open()
    assert src.detail == "V x I: GPU + CPU + SOC + CV + SYS5V"
    assert src.inner.watts() == pytest.approx(1.0 + 2.0 + 0.5 + 0.5 + 1.5)


def test_hwmon_generic_rail_needs_matching_labels(tmp_path):
    write_tree(tmp_path, {
        f"{HW}/hwmon0/name": "someboard",
        f"{HW}/hwmon0/in1_label": "VCC12", f"{HW}/hwmon0/in1_input": 12000,
        f"{HW}/hwmon0/curr1_label": "VCC12", f"{HW}/hwmon0/curr1_input": 250,
        f"{HW}/hwmon0/in2_label": "vin", f"{HW}/hwmon0/in2_input": 5000,  # a different rail's
        f"{HW}/hwmon0/curr2_label": "iout", f"{HW}/hwmon0/curr2_input": 9000,  # pair: not V x I
    })
    src = HwmonSource(str(tmp_path))
    src.open()
    assert src.detail == "V x I: VCC12"
    assert src.inner.watts() == pytest.approx(3.0)


def test_hwmon_without_power_sensors(tmp_path):
    write_tree(tmp_path, {f"{HW}/hwmon0/name": "coretemp", f"{HW}/hwmon0/temp1_input": 40000,
                          f"{HW}/hwmon1/name": "BAT0", f"{HW}/hwmon1/in0_input": 12000})
    with pytest.raises(Unavailable, match=r"no energy, power or voltage x current sensors "
                                          r"\(devices: BAT0, coretemp\)"):
        HwmonSource(str(tmp_path)).open()


# ---- Jetson, older layout ------------------------------------------------------------------

IIO = "/sys/bus/i2c/drivers/ina3221x"


def test_jetson_nano_ina3221x_uses_pom_5v_in(tmp_path):
    d = f"{IIO}/6-0040/iio:device0"
    write_tree(tmp_path, {f"{d}/rail_name_0": "POM_5V_IN", f"{d}/in_power0_input": 2488,
                          f"{d}/rail_name_1": "POM_5V_GPU", f"{d}/in_power1_input": 40,
                          f"{d}/rail_name_2": "POM_5V_CPU", f"{d}/in_power2_input": 829})
    src = JetsonIna3221xSource(str(tmp_path))
    src.open()
    assert src.detail == "ina3221x: POM_5V_IN"
    assert src.watts() == pytest.approx(2.488)


def test_jetson_xavier_ina3221x_sums_rails(tmp_path):
    a, b = f"{IIO}/1-0040/iio:device0", f"{IIO}/1-0041/iio:device1"
    write_tree(tmp_path, {f"{a}/rail_name_0": "GPU", f"{a}/in_power0_input": 100,
                          f"{a}/rail_name_1": "CPU", f"{a}/in_power1_input": 2000,
                          f"{a}/rail_name_2": "SOC", f"{a}/in_power2_input": 1500,
                          f"{b}/rail_name_0": "CV", f"{b}/in_power0_input": 0,
                          f"{b}/rail_name_1": "VDDRQ", f"{b}/in_power1_input": 600,
                          f"{b}/rail_name_2": "SYS5V", f"{b}/in_power2_input": 1800})
    src = JetsonIna3221xSource(str(tmp_path))
    src.open()
    assert src.watts() == pytest.approx(6.0)


# ---- batteries -----------------------------------------------------------------------------

PS = "/sys/class/power_supply"


def _battery(root, status="Discharging", **values):
    files = {f"{PS}/AC/type": "Mains", f"{PS}/AC/online": 0,
             f"{PS}/BAT0/type": "Battery", f"{PS}/BAT0/status": status,
             # a wireless mouse's battery: not the machine's
             f"{PS}/hidpp_battery_0/type": "Battery", f"{PS}/hidpp_battery_0/scope": "Device",
             f"{PS}/hidpp_battery_0/status": "Discharging"}
    files.update({f"{PS}/BAT0/{k}": v for k, v in values.items()})
    write_tree(root, files)


def test_battery_energy_now(tmp_path):
    _battery(tmp_path, energy_now=50_000_000, voltage_now=12_000_000)
    src = BatterySource(str(tmp_path))
    src.open()
    assert src.detail == "BAT0 energy_now"
    meter = src.start()
    set_value(tmp_path, f"{PS}/BAT0/energy_now", 49_999_000)  # 1000 µWh used
    assert meter.stop().joules == pytest.approx(3.6)


def test_battery_charge_times_voltage(tmp_path):
    _battery(tmp_path, charge_now=4_000_000, voltage_now=12_000_000)
    src = BatterySource(str(tmp_path))
    src.open()
    assert src.detail == "BAT0 charge_now x voltage_now"
    meter = src.start()
    set_value(tmp_path, f"{PS}/BAT0/charge_now", 3_999_000)  # 1 mAh
    set_value(tmp_path, f"{PS}/BAT0/voltage_now", 11_900_000)
    # 1 mAh at a mean 11.95 V = 11.95 mWh = 43.02 J (not Δ(charge x voltage), ~400 J here)
    assert meter.stop().joules == pytest.approx(43.02)


def test_battery_charging_is_rejected(tmp_path):
    _battery(tmp_path, status="Charging", energy_now=50_000_000)
    with pytest.raises(Unavailable, match=r"on AC power \(BAT0 status: Charging\)"):
        BatterySource(str(tmp_path)).open()


def test_battery_plugged_in_during_measurement_fails_it(tmp_path):
    _battery(tmp_path, energy_now=50_000_000)
    src = BatterySource(str(tmp_path))
    src.open()
    meter = src.start()
    set_value(tmp_path, f"{PS}/BAT0/status", "Charging")
    with pytest.raises(Unavailable, match="on AC power"):
        meter.stop()


def test_battery_power_now(tmp_path):
    _battery(tmp_path, power_now=8_500_000)
    src = BatterySource(str(tmp_path))
    src.open()
    assert src.detail == "BAT0 power_now" and src.inner.watts() == pytest.approx(8.5)


# ---- Raspberry Pi 5: vcgencmd pmic_read_adc ------------------------------------------------

# The format of `vcgencmd pmic_read_adc` on a Raspberry Pi 5 (firmware 2023-2024): one
# "<RAIL>_A current(<adc>)=<amps>A" line per current channel, then "<RAIL>_V volt(<adc>)=
# <volts>V" lines; the ADC indices of a rail's current and voltage differ; EXT5V and BATT have
# only a voltage. As printed in the Raspberry Pi forums' "Pi 5 power measurement" threads and
# Jeff Geerling's Pi 5 notes; these values are a busy Pi 5.
PMIC_READ_ADC = """\
 3V7_WL_SW_A current(0)=0.04152020A
   3V3_SYS_A current(1)=0.07812980A
   1V8_SYS_A current(2)=0.19545860A
  DDR_VDD2_A current(3)=0.21301400A
  DDR_VDDQ_A current(4)=0.05760000A
   1V1_SYS_A current(5)=0.18000000A
   0V8_SW_A current(6)=0.36000000A
  VDD_CORE_A current(7)=3.10000000A
   3V3_DAC_A current(17)=0.00012210A
   3V3_ADC_A current(18)=0.00042735A
   0V8_AON_A current(16)=0.00305250A
      HDMI_A current(22)=0.02320000A
 3V7_WL_SW_V volt(8)=3.71000000V
   3V3_SYS_V volt(9)=3.31000000V
   1V8_SYS_V volt(10)=1.80000000V
  DDR_VDD2_V volt(11)=1.10400000V
  DDR_VDDQ_V volt(12)=0.60000000V
   1V1_SYS_V volt(13)=1.11000000V
   0V8_SW_V volt(14)=0.80200000V
  VDD_CORE_V volt(15)=0.85000000V
   3V3_DAC_V volt(20)=3.31000000V
   3V3_ADC_V volt(21)=3.30700000V
   0V8_AON_V volt(19)=0.80000000V
      HDMI_V volt(23)=5.08000000V
     EXT5V_V volt(24)=5.09100000V
      BATT_V volt(25)=0.00000000V
"""


def _pmic_expected():
    amps, volts = {}, {}
    for line in PMIC_READ_ADC.splitlines():
        name, rest = line.split()
        value = float(rest.split("=")[1][:-1])
        (amps if name.endswith("_A") else volts)[name[:-2]] = value
    return sum(a * volts[r] for r, a in amps.items())


def test_vcgencmd_pmic_read_adc():
    rails = parse_pmic_read_adc(PMIC_READ_ADC)
    assert len(rails) == 12 and "EXT5V" not in rails and "BATT" not in rails
    assert rails["VDD_CORE"] == pytest.approx(3.1 * 0.85)
    runner = FakeRunner(["vcgencmd"], runs={"vcgencmd": (0, PMIC_READ_ADC, "")})
    src = VcgencmdSource(runner)
    src.open()
    assert src.detail == "Pi 5 PMIC, 12 rails"
    assert src.watts() == pytest.approx(_pmic_expected())
    assert src.watts() == pytest.approx(4.280, abs=0.001)  # summed by hand: VDD_CORE 2.635 W + ...
    assert runner.argvs[0] == ["vcgencmd", "pmic_read_adc"]


def test_vcgencmd_on_a_pi_4_or_elsewhere():
    pi4 = FakeRunner(["vcgencmd"], runs={"vcgencmd": (255, "", 'error=1 error_msg="Command '
                                                                   'not registered"\n')})
    with pytest.raises(Unavailable, match=r"Raspberry Pi 5 is needed.*Command not registered"):
        VcgencmdSource(pi4).open()
    with pytest.raises(Unavailable, match="not installed"):
        VcgencmdSource(FakeRunner()).open()


# ---- perf stat -----------------------------------------------------------------------------

# `perf stat -x,` CSV on stderr (tools/perf/Documentation/perf-stat.txt, "CSV FORMAT"):
# counter value, unit, event name, run time (ns), percentage of measurement time counted,
# optional metric value, optional metric unit. Values with LC_ALL=C (decimal point).
PERF_STDERR = """\
11.32,Joules,power/energy-pkg/,1503871234,100.00,,
1.27,Joules,power/energy-ram/,1503869012,100.00,,
"""
EVENTS = "/sys/bus/event_source/devices/power/events"


def _perf_tree(root):
    write_tree(root, {f"{EVENTS}/energy-pkg": "event=0x02", f"{EVENTS}/energy-pkg.unit": "Joules",
                      f"{EVENTS}/energy-pkg.scale": "2.3283064365386962890625e-10",
                      f"{EVENTS}/energy-ram": "event=0x03", f"{EVENTS}/energy-cores": "event=0x01"})


def test_perf_stat_power_events(tmp_path):
    _perf_tree(tmp_path)
    runner = FakeRunner(["perf"], spawns={"perf": ("ready\n", (0, "", PERF_STDERR))})
    src = PerfSource(str(tmp_path), runner)
    src.open()
    assert src.detail == "energy-pkg + energy-ram"  # energy-cores is inside energy-pkg
    clock = FakeClock()
    meter = src.start(clock=clock)
    clock.t += 1.5
    r = meter.stop()
    assert r.joules == pytest.approx(12.59) and r.seconds == pytest.approx(1.5)
    argv = runner.argvs[0]
    assert argv[:7] == ["perf", "stat", "-a", "-x", ",", "-e",
                        "power/energy-pkg/,power/energy-ram/"]
    assert runner.process.finished_with is None  # ended by closing the workload's stdin


def test_perf_failures(tmp_path):
    assert parse_perf_csv(PERF_STDERR, ["power/energy-pkg/"]) == pytest.approx(11.32)
    with pytest.raises(Unavailable, match="not supported"):
        parse_perf_csv("<not supported>,Joules,power/energy-pkg/,0,100.00,,\n",
                       ["power/energy-pkg/"])
    with pytest.raises(Unavailable, match="not installed"):
        PerfSource(str(tmp_path), FakeRunner()).open()
    with pytest.raises(Unavailable, match="no RAPL perf events"):
        PerfSource(str(tmp_path), FakeRunner(["perf"])).open()
    _perf_tree(tmp_path)
    paranoid = ("Error:\nAccess to performance monitoring and observability operations is "
                "limited.\n")
    runner = FakeRunner(["perf"], spawns={"perf": (None, (255, "", paranoid))})
    src = PerfSource(str(tmp_path), runner)
    src.open()
    with pytest.raises(Unavailable, match=r"perf stat failed \(exit 255\): Error:"):
        src.start()


def test_perf_meter_through_a_real_process(tmp_path, monkeypatch):
    """The subprocess plumbing (ready line, closing the workload's stdin, reading perf's
    stderr) with a stand-in `perf` on PATH that runs the workload and prints one count."""
    from edgeq.energy.commands import CommandRunner

    _perf_tree(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "perf"
    script.write_text('#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done; shift\n"$@"\n'
                      'echo "2.50,Joules,power/energy-pkg/,1000,100.00,," >&2\n'
                      'echo "0.50,Joules,power/energy-ram/,1000,100.00,," >&2\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    src = PerfSource(str(tmp_path), CommandRunner())
    src.open()
    r = src.start().stop()
    assert r.joules == pytest.approx(3.0) and r.seconds >= 0


# ---- macOS powermetrics --------------------------------------------------------------------

# `sudo powermetrics --samplers cpu_power -i 100` on Apple silicon (macOS 13/14): a header,
# then per sample a "*** Sampled system activity (<date>) (<ms> elapsed) ***" block whose
# cpu_power section ends with the CPU, GPU, ANE and "Combined Power (CPU + GPU + ANE)" lines
# in mW (powermetrics(1); the format parsed by asitop and similar tools).
POWERMETRICS = """\
Machine model: Mac14,2
OS version: 23B81
Boot arguments:
Boot time: Mon Nov 20 09:12:44 2023



*** Sampled system activity (Mon Nov 20 10:01:02 2023 +0100) (101.52ms elapsed) ***


**** Processor usage ****

E-Cluster HW active frequency: 2064 MHz
E-Cluster HW active residency: 100.00% (600 MHz:   0% 912 MHz:   0% 1284 MHz:   0% 1752 MHz:   0% 2004 MHz:   0% 2256 MHz: 100%)
CPU 0 frequency: 2064 MHz
CPU 0 active residency: 100.00% (600 MHz:   0% 912 MHz:   0% 1284 MHz:   0% 1752 MHz:   0% 2004 MHz:   0% 2256 MHz: 100%)

P-Cluster HW active frequency: 3504 MHz
P-Cluster HW active residency: 100.00% (660 MHz:   0% 3504 MHz: 100%)

CPU Power: 9810 mW
GPU Power: 35 mW
ANE Power: 0 mW
Combined Power (CPU + GPU + ANE): 9845 mW

**** GPU usage ****

GPU HW active frequency: 444 MHz
GPU HW active residency:   2.27% (444 MHz: 2.3% 612 MHz:   0%)
GPU SW requested state: (P1 : 100% P2 :   0%)
GPU idle residency:  97.73%
GPU Power: 35 mW


*** Sampled system activity (Mon Nov 20 10:01:02 2023 +0100) (98.48ms elapsed) ***


**** Processor usage ****

CPU Power: 10150 mW
GPU Power: 15 mW
ANE Power: 0 mW
Combined Power (CPU + GPU + ANE): 10165 mW
"""


def test_powermetrics_samples():
    assert parse_powermetrics(POWERMETRICS) == [pytest.approx((0.10152, 9.845)),
                                                pytest.approx((0.09848, 10.165))]
    runner = FakeRunner(["powermetrics"], runs={"powermetrics": (0, POWERMETRICS, "")},
                        spawns={"powermetrics": ("Machine model: Mac14,2\n",
                                                 (0, POWERMETRICS, ""))})
    src = PowermetricsSource(runner)
    src.open()
    assert src.detail == "Combined Power"
    clock = FakeClock()
    meter = src.start(clock=clock)
    clock.t += 0.2
    r = meter.stop()
    mean = (0.10152 * 9.845 + 0.09848 * 10.165) / 0.2
    assert r.joules == pytest.approx(mean * 0.2) and r.seconds == pytest.approx(0.2)
    assert runner.process.finished_with is not None  # stopped with SIGINT


def test_powermetrics_needs_root_and_refuses_estimates():
    not_root = FakeRunner(["powermetrics"], runs={"powermetrics": (
        1, "", "powermetrics must be invoked as the superuser\n")})
    with pytest.raises(Unavailable, match=r"needs root \(run with sudo\)"):
        PowermetricsSource(not_root).open()
    intel = FakeRunner(["powermetrics"], runs={"powermetrics": (0, (
        "*** Sampled system activity (Mon Nov 20 10:01:02 2023 +0100) (100.4ms elapsed) ***\n"
        "Intel energy model derived package power (CPUs+GT+SA): 6.75W\n"), "")})
    with pytest.raises(Unavailable, match="estimate"):
        PowermetricsSource(intel).open()
    with pytest.raises(Unavailable, match="macOS only"):
        PowermetricsSource(FakeRunner()).open()


# ---- meters, trust, registry ---------------------------------------------------------------

class ConstantPower(PowerSource):
    name = "constant"

    def __init__(self, watts):
        super().__init__()
        self.w = watts

    def open(self):
        pass

    def watts(self):
        return self.w


def test_sampled_meter_thread_integrates_real_time():
    import time
    meter = SampledMeter(lambda: 10.0, interval=0.01)
    time.sleep(0.2)
    r = meter.stop()
    assert len(meter.samples) > 5  # the thread sampled in between
    assert r.joules == pytest.approx(10.0 * r.seconds) and r.seconds >= 0.2


def test_trust_rejects_a_counter_that_does_not_move(tmp_path):
    rapl_tree(tmp_path)
    src = RaplSource(str(tmp_path))
    src.open()
    with pytest.raises(Unavailable, match=r"did not advance during a 0.3 s busy loop"):
        trust(src, no_load)

    def load(seconds):  # the package counter moves by 3 J over the "load" (~10 W: plausible)
        time.sleep(seconds)
        p = tmp_path / PC.lstrip("/") / "intel-rapl:0/energy_uj"
        p.write_text(str(int(p.read_text()) + 3_000_000))
    assert trust(src, load).joules == pytest.approx(3.0)
    with pytest.raises(Unavailable, match="implausible"):
        trust(ConstantPower(1e6), no_load, seconds=0.01)


def test_find_source_takes_the_first_trusted(tmp_path):
    rapl_tree(tmp_path)  # present but frozen: rejected
    write_tree(tmp_path, {f"{HW}/hwmon0/name": "ina226", f"{HW}/hwmon0/power1_input": 2_000_000})
    probe = find_source(str(tmp_path), FakeRunner(), load=lambda s: __import__("time").sleep(s),
                        seconds=0.05)
    assert probe.source is not None and probe.source.name == "hwmon"
    assert probe.explanation() == "energy source: hwmon (power: ina226/power1)"
    assert probe.check.watts == pytest.approx(2.0)
    assert [s.name for s in probe.statuses] == ["RAPL", "perf", "hwmon"]
    assert "did not advance" in probe.statuses[0].detail


def test_none_readable_explains_every_source(tmp_path):
    (tmp_path / "sys/class/power_supply").mkdir(parents=True)
    _battery(tmp_path, status="Charging", energy_now=1)
    probe = find_source(str(tmp_path), FakeRunner(), load=no_load)
    assert probe.source is None
    text = probe.explanation()
    assert text.startswith("no readable energy source: ")
    for fragment in ["RAPL: /sys/class/powercap not present",
                     "perf: not installed",
                     "hwmon: /sys/class/hwmon not present",
                     "Jetson INA3221: /sys/bus/i2c/drivers/ina3221x not present",
                     "vcgencmd: not installed",
                     "powermetrics: not installed (macOS only)",
                     "battery: on AC power (BAT0 status: Charging)"]:
        assert fragment in text, (fragment, text)
    assert len(probe.statuses) == len(candidates()) and not any(s.ok for s in probe.statuses)


def test_phase_energy_splits_prompt_and_generation(tmp_path):
    rapl_tree(tmp_path, pkg=0)
    src = RaplSource(str(tmp_path))
    src.open()
    phases = PhaseEnergy(src)
    pkg = f"{PC}/intel-rapl:0/energy_uj"
    phases("prompt")
    set_value(tmp_path, pkg, 2_000_000)  # 2 J for the prompt
    phases("generation")
    set_value(tmp_path, pkg, 8_000_000)  # 6 J for the generated tokens
    phases("done")
    assert phases.readings["prompt"].joules == pytest.approx(2.0)
    assert phases.readings["generation"].joules == pytest.approx(6.0)
    line = phases.summary(prompt_tokens=10, generated_tokens=3)
    assert line.startswith("energy: 8.00 J, 0.200 J/prompt token, 2.00 J/generated token, ")
    assert line.endswith(" W avg")


def test_fmt_three_significant_digits():
    assert [fmt(x) for x in (0, 12.345, 0.012345, 123456, 1e-6)] == [
        "0.00", "12.3", "0.0123", "123456", "1.00e-06"]


# ---- the command line ----------------------------------------------------------------------

def edgeq(*args, timeout=300):
    env = dict(os.environ)
    env.pop("EDGEQ_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "edgeq", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_bench_energy_reports_numbers_or_why_not(tmp_path):
    model = tmp_path / "tiny.gguf"
    write_tiny_llama(model, T.Q8_0, tied=True)
    proc = edgeq("bench", model, "-p", "8", "-n", "4", "-r", "2", "-t", "1", "--energy",
                 "-o", "json")
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert len(records) == 2
    for r in records:
        for k in ("joules", "avg_watts", "joules_per_token", "energy_source"):
            assert k in r, k
        if r["energy_source"] is None:  # no meter here (a container): say why, no numbers
            assert r["joules"] is r["avg_watts"] is r["joules_per_token"] is None
            assert "no readable energy source: RAPL: " in proc.stderr
            assert r["energy_note"].startswith("no readable energy source")
        else:
            assert r["joules"] > 0 and math.isfinite(r["avg_watts"])
            n = (r["n_prompt"] or r["n_gen"]) * 2
            assert r["joules_per_token"] == pytest.approx(r["joules"] / n, rel=1e-3)
    md = edgeq("bench", model, "-p", "8", "-n", "0", "-r", "1", "-t", "1", "--energy")
    assert md.returncode == 0, md.stderr
    assert "J/token" in md.stdout and "energy source" in md.stdout.splitlines()[0]
    plain = edgeq("bench", model, "-p", "8", "-n", "0", "-r", "1", "-t", "1", "-o", "json")
    assert "joules" not in json.loads(plain.stdout)[0]  # only asked for with --energy


def test_run_energy_stats_line(smollm2):
    proc = edgeq("run", smollm2, "-p", "The capital of France is", "-n", "4", "--temp", "0",
                 "--no-chat", "--energy")
    assert proc.returncode == 0, proc.stderr
    stats = [ln for ln in proc.stderr.splitlines() if ln.startswith("prompt: ")]
    assert len(stats) == 1 and "| energy: " in stats[0], proc.stderr
    if "energy: n/a" in stats[0]:
        assert "no readable energy source" in proc.stderr
    else:
        assert "J/prompt token" in stats[0] and "J/generated token" in stats[0]


class _FixedProbe:
    """find_source() stand-in: a 10 W meter, so the numbers path runs on any machine."""

    def __init__(self):
        self.source = ConstantPower(10.0)

    def explanation(self):
        return "energy source: constant (test)"


def test_bench_energy_numbers_with_a_meter(tmp_path, monkeypatch, capsys):
    import edgeq.energy
    from edgeq.cli import main

    monkeypatch.setattr(edgeq.energy, "find_source", lambda: _FixedProbe())
    model = tmp_path / "tiny.gguf"
    write_tiny_llama(model, T.Q8_0, tied=True)
    assert main(["bench", str(model), "-p", "16", "-n", "4", "-r", "3", "-t", "1", "--energy",
                 "-o", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    for r in records:
        n = (r["n_prompt"] or r["n_gen"]) * 3
        assert r["energy_source"] == "constant" and r["energy_note"] is None
        assert r["avg_watts"] == pytest.approx(10.0)
        assert r["joules_per_token"] == pytest.approx(r["joules"] / n, rel=1e-3)
        # the meter ran around the three repetitions: at least their summed wall time
        assert r["joules"] >= 10.0 * sum(r["samples_ns"]) * 1e-9 * 0.999
    assert main(["bench", str(model), "-p", "16", "-n", "0", "-r", "1", "-t", "1",
                 "--energy"]) == 0
    md = capsys.readouterr().out
    assert md.splitlines()[0] == "energy source: constant (test)"
    row = [ln for ln in md.splitlines() if "pp16" in ln][0]
    assert row.rstrip(" |").split("|")[-1].strip() == "10.0"  # the W column


def test_run_energy_numbers_with_a_meter(smollm2, monkeypatch, capsys):
    import edgeq.energy
    from edgeq.cli import main

    monkeypatch.setattr(edgeq.energy, "find_source", lambda: _FixedProbe())
    assert main(["run", str(smollm2), "-p", "The capital of France is", "-n", "4", "--temp",
                 "0", "--no-chat", "--energy", "-t", "1"]) == 0
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if ln.startswith("prompt: ")][0]
    energy = line.split("| energy: ")[1]
    total, per_prompt, per_gen, watts = [float(p.split()[0]) for p in energy.split(", ")]
    assert watts == pytest.approx(10.0, rel=0.01)
    assert per_prompt > 0 and per_gen > 0
    # total = prompt J + generated J; the prompt has more than 4 tokens, 4 were generated
    n_prompt = int(line.split()[1])
    assert total == pytest.approx(per_prompt * n_prompt + per_gen * 4, rel=0.02)
