"""`edgeq bench`: prompt-processing and generation speed, measured like llama.cpp's llama-bench.

Tests (the same definitions as llama-bench, so the numbers can be put side by side):
    pp<N>  one eval() of N random token ids on an empty context; t/s = N / time.
    tg<N>  N evals of one token each on an empty context, the first being BOS (or a random id
           when the model has no BOS), then random ids; no prompt; t/s = N / time.
Every repetition starts from an empty KV cache (reset). Before the repetitions of a test one
warm-up is run and not counted, as llama-bench does: a whole pp<N> for a pp test, a single
token for a tg test. The reported t/s is the mean and the sample standard deviation of the
per-repetition t/s (llama-bench's avg_ts / stddev_ts).

weight GB/s (tg only) = bytes of weights read per generated token x t/s: decode reads every
weight matrix once per token (plus one embedding row), so this is the memory bandwidth that
decode achieves on the weights alone (KV-cache reads are not counted).

Output: a markdown table (default, rows printed as they finish) or llama-bench's json / jsonl /
csv records (same field names, plus edgeq's isa, weight_gbps, governor and a few more).

--energy: the machine's own energy meter (RAPL, hwmon, a Jetson's or a Pi 5's rail monitors,
perf, powermetrics, a discharging battery: see edgeq.energy) is read around the repetitions of
each test (not the warm-up), giving joules, avg_watts (joules / wall time of the repetitions)
and joules_per_token (joules / (repetitions x tokens)). The meter sees the whole package or
board, so other load on the machine is counted too. With no meter that moves under load, the
fields are null, energy_note says why for every source tried, and the run still succeeds.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import __version__, _core
from .cli import UsageError, _int_checked
from .energy import Probe, Unavailable
from .device import DEVICES, check_device
from .gguf import GGUFFile, row_bytes

FORMATS = ("md", "json", "jsonl", "csv")
GOVERNOR_PATH = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
SEED = 1234  # token ids are random but the same in every run

# Columns of the markdown table: (header, width, right-aligned). Widths follow llama-bench.
MD_COLUMNS = [("model", 30, False), ("size", 10, True), ("params", 10, True),
              ("backend", 7, False), ("isa", 11, False), ("threads", 7, True),
              ("test", 15, True), ("t/s", 20, True), ("weight GB/s", 11, True)]

# CSV columns: the scalar JSON fields (llama-bench's csv leaves out the sample arrays too).
CSV_FIELDS = ["edgeq_version", "cpu_info", "backends", "isa", "ternary_layout", "model_filename",
              "model_type", "model_size", "model_n_params", "n_threads", "n_prompt", "n_gen", "test_time",
              "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "weight_bytes_per_token",
              "weight_gbps", "governor", "load_avg"]
ENERGY_MD_COLUMNS = [("J/token", 10, True), ("W", 7, True)]
ENERGY_FIELDS = ["joules", "avg_watts", "joules_per_token", "energy_source", "energy_note"]


# ---- what is measured ----------------------------------------------------------------------

@dataclass(frozen=True)
class ModelInfo:
    """Size facts of a GGUF file, from its tensor table."""
    path: str
    arch: str
    size: int  # bytes of all tensors (llama-bench's model_size)
    n_params: int  # elements of all tensors (llama-bench's model_n_params)
    weight_type: str  # the tensor type holding most of the 2-D weight bytes
    bytes_per_token: int  # weight bytes one decoded token reads

    @property
    def type_summary(self) -> str:
        """'llama 135M Q4_1', like llama-bench's model_type."""
        n = self.n_params
        label = (f"{n / 1e9:.1f}B" if n >= 1e9 else f"{round(n / 1e6)}M" if n >= 1e6
                 else f"{round(n / 1e3)}K")
        return f"{self.arch} {label} {self.weight_type}"


def model_info(g: GGUFFile) -> ModelInfo:
    tensors = list(g)
    size = sum(t.nbytes for t in tensors)
    by_type: Dict[str, int] = {}
    for t in tensors:
        if len(t.shape) >= 2:
            by_type[t.type_name] = by_type.get(t.type_name, 0) + t.nbytes
    weight_type = max(by_type, key=by_type.get) if by_type else "?"
    # Decode reads each tensor once, except the embedding table, of which it reads one row:
    # unless the output projection is tied to it, in which case all of it is read anyway.
    per_token = size
    embd = g.tensors.get("token_embd.weight")
    if embd is not None and "output.weight" in g.tensors:
        per_token -= embd.nbytes - row_bytes(embd.type, embd.shape[0])
    return ModelInfo(path=g.path, arch=str(g.architecture), size=size,
                     n_params=sum(t.n_elements for t in tensors), weight_type=weight_type,
                     bytes_per_token=per_token)


@dataclass(frozen=True)
class Test:
    n_prompt: int
    n_gen: int

    @property
    def name(self) -> str:
        return f"pp{self.n_prompt}" if self.n_prompt else f"tg{self.n_gen}"

    @property
    def n_tokens(self) -> int:
        return self.n_prompt or self.n_gen


def make_tests(prompts: Sequence[int], gens: Sequence[int]) -> List[Test]:
    """pp tests then tg tests, in the order given; size 0 means 'no such test' (llama-bench)."""
    return [Test(p, 0) for p in prompts if p > 0] + [Test(0, n) for n in gens if n > 0]


def _bos_or_random(model, rng: np.random.Generator) -> int:
    meta = model.metadata
    bos = meta.get("tokenizer.ggml.bos_token_id")
    add_bos = meta.get("tokenizer.ggml.add_bos_token", True)
    if bos is not None and add_bos and 0 <= int(bos) < model.n_vocab:
        return int(bos)
    return int(rng.integers(model.n_vocab))


def run_once(model, test: Test, rng: np.random.Generator, n_tokens: Optional[int] = None) -> int:
    """One repetition on an empty context; returns its wall time in ns. n_tokens overrides
    the test's size (the tg warm-up is one token)."""
    n = test.n_tokens if n_tokens is None else n_tokens
    model.reset()
    if test.n_prompt:
        ids = rng.integers(0, model.n_vocab, size=n, dtype=np.int32)
        t0 = time.perf_counter_ns()
        model.eval(ids)
        return time.perf_counter_ns() - t0
    ids = rng.integers(0, model.n_vocab, size=n, dtype=np.int32)
    ids[0] = _bos_or_random(model, rng)
    t0 = time.perf_counter_ns()
    for i in range(n):
        model.eval(ids[i:i + 1])
    return time.perf_counter_ns() - t0


def measure(model, test: Test, reps: int, warmup: bool = True,
            energy: Optional[Probe] = None) -> Tuple[List[int], Optional[dict]]:
    """Wall times (ns) of `reps` repetitions after one uncounted warm-up; with `energy`, also
    the energy fields of the record, metered around the repetitions."""
    rng = np.random.default_rng(SEED)
    if warmup:
        run_once(model, test, rng, n_tokens=None if test.n_prompt else 1)
    if energy is None:
        return [run_once(model, test, rng) for _ in range(reps)], None
    if energy.source is None:
        return [run_once(model, test, rng) for _ in range(reps)], energy_fields(
            None, 0, energy.explanation())
    try:
        meter = energy.source.start()
    except Unavailable as e:
        return [run_once(model, test, rng) for _ in range(reps)], energy_fields(None, 0, str(e))
    samples = [run_once(model, test, rng) for _ in range(reps)]
    try:
        reading = meter.stop()
    except Unavailable as e:
        return samples, energy_fields(None, 0, str(e), energy.source.describe())
    return samples, energy_fields(reading, reps * test.n_tokens, None, energy.source.describe())


def energy_fields(reading, n_tokens: int, note: Optional[str],
                  source: Optional[str] = None) -> dict:
    """The record's energy fields: numbers from a reading, or nulls and the reason."""
    if reading is None:
        return {"joules": None, "avg_watts": None, "joules_per_token": None,
                "energy_source": source, "energy_note": note}
    watts = reading.watts
    return {"joules": round(reading.joules, 6),
            "avg_watts": None if watts is None else round(watts, 4),
            "joules_per_token": round(reading.joules / n_tokens, 9) if n_tokens else None,
            "energy_source": source, "energy_note": None}


# ---- the machine ---------------------------------------------------------------------------

def governor() -> Optional[str]:
    try:
        with open(GOVERNOR_PATH) as f:
            return f.read().strip() or None
    except OSError:
        return None


def load_avg() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def header_lines(command: str, energy: Optional[Probe] = None) -> List[str]:
    """What a reader needs to judge the numbers: the CPU, the ISA, how the machine was."""
    runnable = ", ".join(_core.runnable_isas())
    load = load_avg()
    return ([energy.explanation()] if energy is not None else []) + [
        f"CPU: {_core.cpu_model_name()} ({os.cpu_count()} logical CPUs)",
        f"ISA: {_core.isa()} (dispatch's choice; runnable: {runnable})",
        f"features: {' '.join(_core.cpu_features())}",
        f"governor: {governor() or 'n/a'}, load average: "
        + (" ".join(f"{x:.2f}" for x in load) if load else "n/a"),
        f"command: {command}",
    ]


# ---- records and formatting ----------------------------------------------------------------

def make_record(info: ModelInfo, isa: str, n_threads: int, test: Test, test_time: str,
                samples_ns: List[int], energy: Optional[dict] = None,
                ternary_layout: str = "none", device: str = "cpu") -> dict:
    samples_ts = [test.n_tokens * 1e9 / ns for ns in samples_ns]
    avg_ts = statistics.fmean(samples_ts)
    gbps = info.bytes_per_token * avg_ts / 1e9 if test.n_gen else None
    record = {
        "edgeq_version": __version__,
        "cpu_info": _core.cpu_model_name(),
        "cpu_features": " ".join(_core.cpu_features()),
        "backends": "CUDA" if device == "cuda" else "CPU",
        "isa": isa,
        "ternary_layout": ternary_layout,
        "model_filename": info.path,
        "model_type": info.type_summary,
        "model_size": info.size,
        "model_n_params": info.n_params,
        "n_threads": n_threads,
        "n_prompt": test.n_prompt,
        "n_gen": test.n_gen,
        "test_time": test_time,
        "avg_ns": int(round(statistics.fmean(samples_ns))),
        "stddev_ns": int(round(_stdev(samples_ns))),
        "avg_ts": round(avg_ts, 6),
        "stddev_ts": round(_stdev(samples_ts), 6),
        "samples_ns": list(samples_ns),
        "samples_ts": [round(x, 6) for x in samples_ts],
        "weight_bytes_per_token": info.bytes_per_token,
        "weight_gbps": None if gbps is None else round(gbps, 4),
        "governor": governor(),
        "load_avg": load_avg(),
    }
    if energy is not None:
        record.update(energy)
    return record


def _stdev(xs: Sequence[float]) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def md_columns(energy: bool = False):
    return MD_COLUMNS + (ENERGY_MD_COLUMNS if energy else [])


def _md_line(cells: Sequence[str], columns) -> str:
    out = []
    for text, (_, width, right) in zip(cells, columns):
        out.append(text.rjust(width) if right else text.ljust(width))
    return "| " + " | ".join(out) + " |"


def md_header(energy: bool = False) -> str:
    columns = md_columns(energy)
    rule = "| " + " | ".join(("-" * (w - 1) + ":") if right else "-" * w
                               for _, w, right in columns) + " |"
    return _md_line([name for name, _, _ in columns], columns) + "\n" + rule


def md_row(r: dict) -> str:
    from .energy import fmt

    name = os.path.basename(r["model_filename"])
    gbps = "-" if r["weight_gbps"] is None else f"{r['weight_gbps']:.2f}"
    test = Test(r["n_prompt"], r["n_gen"]).name
    # A model whose ternary matrices run in a lookup-table layout: "avx512 tl" (TL2), "avx512 tl2d".
    layout = r.get("ternary_layout")
    isa = r["isa"] + (f" {layout}" if layout in ("tl", "tl2d") else "")
    cells = [f"{name} ({r['model_type']})", f"{r['model_size'] / 2**20:.2f} MiB",
             f"{r['model_n_params'] / 1e6:.2f} M", r["backends"], isa,
             str(r["n_threads"]), test, f"{r['avg_ts']:.2f} ± {r['stddev_ts']:.2f}", gbps]
    energy = "joules" in r
    if energy:
        cells += ["-" if r["joules_per_token"] is None else fmt(r["joules_per_token"]),
                  "-" if r["avg_watts"] is None else fmt(r["avg_watts"])]
    return _md_line(cells, md_columns(energy))


def csv_text(records: Sequence[dict]) -> str:
    fields = CSV_FIELDS + (ENERGY_FIELDS if records and "joules" in records[0] else [])
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(fields)
    for r in records:
        w.writerow(["" if r[k] is None else (" ".join(map(str, r[k])) if isinstance(r[k], list)
                                              else r[k]) for k in fields])
    return buf.getvalue()


# ---- the run -------------------------------------------------------------------------------

@dataclass
class BenchConfig:
    models: List[str]
    prompts: List[int] = field(default_factory=lambda: [512])
    gens: List[int] = field(default_factory=lambda: [128])
    reps: int = 5
    threads: List[int] = field(default_factory=list)  # empty: physical cores
    isas: List[str] = field(default_factory=list)  # empty: dispatch's choice
    ternary_layouts: List[str] = field(default_factory=list)  # empty: "auto"
    warmup: bool = True
    energy: Optional[Probe] = None  # --energy: the probed meter (its source may be None)
    device: str = "cpu"  # --device: "cuda" runs the forward pass on the GPU


def run_bench(cfg: BenchConfig, on_record: Callable[[dict], None] = lambda r: None) -> List[dict]:
    """Every model (a path) x ISA x thread count x test; each record is passed to on_record as it is
    finished (the markdown table streams) and all are returned."""
    from .model import load_model, physical_cores

    tests = make_tests(cfg.prompts, cfg.gens)
    n_ctx = max(t.n_tokens for t in tests)
    threads = cfg.threads or [physical_cores()]
    isas = cfg.isas or [""]
    layouts = cfg.ternary_layouts or ["auto"]
    records: List[dict] = []
    for path in cfg.models:
        for isa in isas:
            for layout in layouts:
                for n_threads in threads:
                    model = load_model(path, n_ctx=n_ctx, n_threads=n_threads, isa=isa,
                                       ternary_layout=layout, device=cfg.device)
                    try:
                        info = model_info(model.gguf)
                        for test in tests:
                            test_time = datetime.datetime.now(datetime.timezone.utc).strftime(
                                "%Y-%m-%dT%H:%M:%SZ")
                            samples, energy = measure(model, test, cfg.reps, warmup=cfg.warmup,
                                                      energy=cfg.energy)
                            rec = make_record(info, model.isa, model.n_threads, test, test_time,
                                              samples, energy, model.ternary_layout, model.device)
                            records.append(rec)
                            on_record(rec)
                    finally:
                        del model
    return records


def command_line(cfg: BenchConfig, output: str = "md") -> str:
    """The run as one canonical command line (defaults spelled out), for the report header."""
    def join(xs):
        return ",".join(map(str, xs))
    parts = ["edgeq", "bench", *cfg.models, "-p", join(cfg.prompts), "-n", join(cfg.gens),
             "-r", str(cfg.reps)]
    if cfg.threads:
        parts += ["-t", join(cfg.threads)]
    if cfg.isas:
        parts += ["--isa", join(cfg.isas)]
    if cfg.ternary_layouts:
        parts += ["--ternary-layout", join(cfg.ternary_layouts)]
    if cfg.device != "cpu":
        parts += ["--device", cfg.device]
    if output != "md":
        parts += ["-o", output]
    if not cfg.warmup:
        parts.append("--no-warmup")
    if cfg.energy is not None:
        parts.append("--energy")
    return " ".join(shlex.quote(p) for p in parts)


# ---- command line --------------------------------------------------------------------------

def _int_list(lo: int, what: str):
    """'128,256' (and repeated flags, see _extend) -> [128, 256]; each value >= lo."""
    def parse(text: str) -> List[int]:
        values = []
        for part in text.split(","):
            try:
                v = int(part)
            except ValueError:
                raise argparse.ArgumentTypeError(f"invalid integer: {part!r}") from None
            if v < lo:
                raise argparse.ArgumentTypeError(f"must be {what}, got {v}")
            values.append(v)
        return values
    return parse


def _isa_list(text: str) -> List[str]:
    """'avx2,avx512' or 'all' (every ISA this CPU runs) -> names, each runnable here."""
    runnable = list(_core.runnable_isas())
    if text.strip() == "all":
        return runnable
    names = [s.strip() for s in text.split(",")]
    for name in names:
        if name not in runnable:
            why = ("is compiled but this CPU cannot run it" if name in _core.compiled_isas()
                   else "is not an ISA edgeq knows")
            raise argparse.ArgumentTypeError(f"{name!r} {why} (runnable: {', '.join(runnable)}, "
                                             f"or 'all')")
    return names


def _layout_list(text: str) -> List[str]:
    """'native,tl' -> names, each a ternary layout load_model takes."""
    from .model import TERNARY_LAYOUTS

    names = [s.strip() for s in text.split(",")]
    for name in names:
        if name not in TERNARY_LAYOUTS:
            raise argparse.ArgumentTypeError(f"{name!r} is not a ternary layout "
                                             f"({', '.join(TERNARY_LAYOUTS)})")
    return names


class _Extend(argparse.Action):
    """Repeated list flags add up (-p 128 -p 256 == -p 128,256), replacing the default."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = getattr(namespace, "_given_" + self.dest, False)
        current = list(getattr(namespace, self.dest) or []) if seen else []
        setattr(namespace, self.dest, current + list(values))
        setattr(namespace, "_given_" + self.dest, True)


def add_bench_parser(sub) -> argparse.ArgumentParser:
    """Register `bench` on the CLI's subparsers (its parser class gives one-line errors)."""
    b = sub.add_parser("bench", help="measure prompt and generation speed (like llama-bench)",
                       description="Measure prompt processing (pp<N>) and generation (tg<N>) "
                                   "speed like llama.cpp's llama-bench. Lists are "
                                   "comma-separated or repeated flags.")
    b.add_argument("models", nargs="+", metavar="MODEL", help="GGUF files or model names")
    b.add_argument("-p", "--n-prompt", dest="prompts", type=_int_list(0, ">= 0"),
                   action=_Extend, default=[512], metavar="N[,N...]",
                   help="prompt sizes; 0: none (default 512)")
    b.add_argument("-n", "--n-gen", dest="gens", type=_int_list(0, ">= 0"), action=_Extend,
                   default=[128], metavar="N[,N...]", help="generation lengths; 0: none "
                                                           "(default 128)")
    b.add_argument("-r", "--repetitions", dest="reps", type=_int_checked(1, ">= 1"), default=5,
                   metavar="N", help="repetitions of each test (default 5)")
    b.add_argument("-t", "--threads", type=_int_list(1, ">= 1"), action=_Extend, default=[],
                   metavar="N[,N...]", help="thread counts (default: all physical cores)")
    b.add_argument("--isa", dest="isas", type=_isa_list, action=_Extend, default=[],
                   metavar="ISA[,ISA...]",
                   help="kernel tables to measure, or 'all' (default: dispatch's choice)")
    b.add_argument("--ternary-layout", dest="ternary_layouts", type=_layout_list, action=_Extend,
                   default=[], metavar="L[,L...]",
                   help="how ternary matrices are kept: auto, native, tl (default auto)")
    b.add_argument("-o", "--output", choices=FORMATS, default="md",
                   help="output format (default md)")
    b.add_argument("--no-warmup", action="store_true", help="skip the uncounted warm-up run")
    b.add_argument("--energy", action="store_true",
                   help="also measure energy (joules, watts, joules per token) with the "
                        "machine's own meter; says why when there is none")
    b.add_argument("--device", choices=DEVICES, default="cpu",
                   help="compute device (default cpu; cuda needs a CUDA build and a GPU)")
    b.set_defaults(func=cmd_bench)
    return b


def cmd_bench(args) -> int:
    if not make_tests(args.prompts, args.gens):
        raise UsageError("nothing to measure: every -p and -n size is 0")
    check_device(args.device)
    from .pull import resolve_model

    models = [str(resolve_model(m)) for m in args.models]  # a missing file fails before output
    energy = None
    if args.energy:
        from .energy import find_source

        energy = find_source()
        if energy.source is None and args.output != "md":  # the md header says it already
            sys.stderr.write(f"edgeq bench: {energy.explanation()}\n")
    cfg = BenchConfig(models=models, prompts=args.prompts, gens=args.gens,
                      reps=args.reps, threads=args.threads, isas=args.isas,
                      ternary_layouts=args.ternary_layouts,
                      warmup=not args.no_warmup, energy=energy, device=args.device)
    command = command_line(cfg, args.output)
    out = sys.stdout
    if args.output == "md":
        out.write("\n".join(header_lines(command, energy)) + "\n\n"
                  + md_header(energy is not None) + "\n")
        out.flush()

        def show(r: dict) -> None:
            out.write(md_row(r) + "\n")
            out.flush()
        run_bench(cfg, show)
        out.write(f"\nedgeq {__version__}\n")
    elif args.output == "jsonl":
        run_bench(cfg, lambda r: (out.write(json.dumps(r) + "\n"), out.flush()))
    else:
        records = run_bench(cfg)
        out.write(json.dumps(records, indent=2) + "\n" if args.output == "json"
                  else csv_text(records))
    return 0
