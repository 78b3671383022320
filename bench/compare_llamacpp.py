#!/usr/bin/env python3
"""edgeq vs llama.cpp on the same GGUF files, in the same run, test by test.

    python bench/compare_llamacpp.py MODEL.gguf [MODEL...] -p 128 -n 64 -r 5 -t 2 \
        [--isa avx2,avx512] [--llama-bench PATH] [--json-out results.json]

Each test (one pp<N> or tg<N> size, one thread count) is run by `python -m edgeq bench` and by
llama.cpp's `llama-bench` back to back, alternating which goes first, so that a change in the
machine's load during the run hits both about equally. Both print JSON with llama-bench's
field names; the table shows their mean t/s and the ratio edgeq / llama.cpp.

llama-bench is found from --llama-bench, else $LLAMA_BENCH, else PATH; without it only edgeq
runs (and the script says so).
"""
from __future__ import annotations

import argparse
import importlib.machinery
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]


def int_list(lo: int):
    def parse(text: str) -> List[int]:
        try:
            values = [int(x) for x in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer list: {text!r}") from None
        if any(v < lo for v in values):
            raise argparse.ArgumentTypeError(f"values must be >= {lo}, got {text}")
        return values
    return parse


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", metavar="MODEL", help="GGUF files")
    ap.add_argument("-p", "--n-prompt", dest="prompts", type=int_list(0), default=[512],
                    metavar="N[,N...]", help="prompt sizes (default 512)")
    ap.add_argument("-n", "--n-gen", dest="gens", type=int_list(0), default=[128],
                    metavar="N[,N...]", help="generation lengths (default 128)")
    ap.add_argument("-r", "--repetitions", dest="reps", type=int, default=5, metavar="N",
                    help="repetitions per test (default 5)")
    ap.add_argument("-t", "--threads", type=int_list(1), default=None, metavar="N[,N...]",
                    help="thread counts (default: each tool's default)")
    ap.add_argument("--isa", default=None, help="edgeq kernel tables (comma list or 'all'; "
                                                "default: dispatch's choice)")
    ap.add_argument("--llama-bench", default=None, metavar="PATH",
                    help="llama-bench binary (default: $LLAMA_BENCH, else PATH)")
    ap.add_argument("--json-out", default=None, metavar="FILE", help="write all results here")
    args = ap.parse_args(argv)
    if args.reps < 1:
        ap.error("-r must be >= 1")
    for m in args.models:
        if not Path(m).is_file():
            ap.error(f"{m}: no such file")
    return args


def find_llama_bench(arg: Optional[str]) -> Optional[str]:
    for candidate in (arg, os.environ.get("LLAMA_BENCH")):
        if candidate:
            path = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK)
                                               else None)
            if path is None:
                print(f"note: llama-bench not found at {candidate}", file=sys.stderr)
            return path
    return shutil.which("llama-bench")


def run_json(cmd: List[str], env=None) -> List[dict]:
    """Run a benchmark command that prints JSON records on stdout."""
    print("$ " + " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise SystemExit(f"error: {cmd[0]} exited with {proc.returncode}: " + " | ".join(tail))
    return json.loads(proc.stdout)


def edgeq_env() -> dict:
    """Run the edgeq of this checkout (its python/ with the built _core) when there is one."""
    env = dict(os.environ)
    built = [p for suffix in importlib.machinery.EXTENSION_SUFFIXES
             for p in (REPO / "python" / "edgeq").glob("_core*" + suffix)]
    if built:  # the compiled module, not just its typing stub (_core.pyi)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in [str(REPO / "python"), env.get("PYTHONPATH", "")] if p)
    return env


def load_avg() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def test_name(n_prompt: int, n_gen: int) -> str:
    return f"pp{n_prompt}" if n_prompt else f"tg{n_gen}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    llama = find_llama_bench(args.llama_bench)
    if llama is None:
        print("note: llama-bench not found (--llama-bench, $LLAMA_BENCH or PATH): "
              "running edgeq only", file=sys.stderr)
    env = edgeq_env()
    tests = [(p, 0) for p in args.prompts if p] + [(0, n) for n in args.gens if n]
    threads = args.threads or [None]
    load_start = load_avg()
    ours: List[dict] = []
    theirs: List[dict] = []
    k = 0
    for model in args.models:
        for t in threads:
            for n_prompt, n_gen in tests:
                common = ["-p", str(n_prompt), "-n", str(n_gen), "-r", str(args.reps)]
                if t is not None:
                    common += ["-t", str(t)]
                ecmd = [sys.executable, "-m", "edgeq", "bench", model, *common, "-o", "json"]
                if args.isa:
                    ecmd += ["--isa", args.isa]
                runs = [("edgeq", ecmd)]
                if llama:
                    runs.append(("llama.cpp", [llama, "-m", model, *common, "-o", "json"]))
                if k % 2:  # alternate who goes first
                    runs.reverse()
                k += 1
                for who, cmd in runs:
                    (ours if who == "edgeq" else theirs).extend(
                        run_json(cmd, env=env if who == "edgeq" else None))
    load_end = load_avg()

    rows = []
    for e in ours:
        match = [r for r in theirs if r["model_filename"] == e["model_filename"]
                 and r["n_prompt"] == e["n_prompt"] and r["n_gen"] == e["n_gen"]
                 and r["n_threads"] == e["n_threads"]]
        ref = match[0] if match else None
        rows.append({
            "model": os.path.basename(e["model_filename"]),
            "model_type": e["model_type"],
            "test": test_name(e["n_prompt"], e["n_gen"]),
            "n_threads": e["n_threads"],
            "isa": e["isa"],
            "edgeq_ts": e["avg_ts"], "edgeq_stddev_ts": e["stddev_ts"],
            "edgeq_weight_gbps": e.get("weight_gbps"),
            "llamacpp_ts": ref["avg_ts"] if ref else None,
            "llamacpp_stddev_ts": ref["stddev_ts"] if ref else None,
            "ratio": e["avg_ts"] / ref["avg_ts"] if ref else None,
        })

    cpu = ours[0]["cpu_info"] if ours else "?"
    build = f"{theirs[0]['build_commit']} ({llama})" if theirs else "not run"
    print(f"CPU: {cpu} ({os.cpu_count()} logical CPUs); edgeq CPU features: "
          f"{ours[0]['cpu_features'] if ours else '?'}")
    print(f"llama.cpp: llama-bench {build}")
    print(f"load average: start {load_start}, end {load_end}")
    print("command: " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]))
    print()
    print("| model | test | threads | edgeq isa | edgeq t/s | weight GB/s | llama.cpp t/s "
          "| edgeq / llama.cpp |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        gbps = "-" if r["edgeq_weight_gbps"] is None else f"{r['edgeq_weight_gbps']:.2f}"
        ref = ("-" if r["llamacpp_ts"] is None
               else f"{r['llamacpp_ts']:.2f} ± {r['llamacpp_stddev_ts']:.2f}")
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"| {r['model']} ({r['model_type']}) | {r['test']} | {r['n_threads']} | {r['isa']} "
              f"| {r['edgeq_ts']:.2f} ± {r['edgeq_stddev_ts']:.2f} | {gbps} | {ref} | {ratio} |")

    if args.json_out:
        result = {"command": [sys.argv[0], *(argv or sys.argv[1:])], "cpu_info": cpu,
                  "llama_bench": llama, "load_avg_start": load_start, "load_avg_end": load_end,
                  "rows": rows, "edgeq": ours, "llama_cpp": theirs}
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json_out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
