"""`edgeq info [MODEL]`: what this build and this CPU will do, and what a model file holds.

    edgeq info                 # CPU, features, ISA tables, the kernel picked per weight type,
                               # the energy meters found (and why the others are not usable)
    edgeq info model.gguf      # ... plus architecture, size, tensor types, chat template
    edgeq info --json          # the same as one JSON object
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from typing import Any, Dict, List, Optional

from . import __version__, _core

def system_info() -> Dict[str, Any]:
    from .energy import energy_sources
    from .model import physical_cores

    isa = _core.isa()
    kernels = []
    for t in range(64):
        provider = _core.matmul_kernel_isa(t)
        if provider:
            kernels.append({"type": _core.type_name(t), "isa": provider,
                            "activations": _core.act_type_name(_core.matmul_act_type(t))})
    return {
        "edgeq": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": _core.cpu_model_name(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "default_threads": physical_cores(),
        "features": _core.cpu_features(),
        "compiled_isas": _core.compiled_isas(),
        "runnable_isas": _core.runnable_isas(),
        "isa": isa,
        "isa_forced_by": "EDGEQ_ISA" if os.environ.get("EDGEQ_ISA") else None,
        "kernels": kernels,
        "cuda": _core.cuda_status(),
        "energy": energy_sources(),
    }


def model_summary(path: str) -> Dict[str, Any]:
    from .gguf import open_gguf

    with open_gguf(path) as g:
        types: Dict[str, Dict[str, int]] = {}
        for t in g:
            e = types.setdefault(t.type_name, {"tensors": 0, "bytes": 0, "params": 0})
            e["tensors"] += 1
            e["bytes"] += t.nbytes
            e["params"] += t.n_elements
        arch = g.architecture
        size = sum(e["bytes"] for e in types.values())
        params = sum(e["params"] for e in types.values())
        template = g.get("tokenizer.chat_template")
        return {
            "path": str(path),
            "gguf_version": g.version,
            "architecture": arch,
            "name": g.get("general.name"),
            "tensor_bytes": size,
            "params": params,
            "bits_per_weight": round(8 * size / params, 4) if params else None,
            "context_length": g.get(f"{arch}.context_length"),
            "layers": g.get(f"{arch}.block_count"),
            "embedding_length": g.get(f"{arch}.embedding_length"),
            "vocabulary": {"model": g.get("tokenizer.ggml.model"),
                           "pre": g.get("tokenizer.ggml.pre"),
                           "size": len(g.get("tokenizer.ggml.tokens") or [])},
            "tensor_types": types,
            "chat_template": template,
        }


def _energy_line(e: Dict[str, Any]) -> str:
    """'RAPL (package-0 + dram); also usable: hwmon (...)' or 'none readable (RAPL: ...; ...)'."""
    ok = [x["detail"] for x in e["sources"] if x["ok"]]
    if not ok:
        return "none readable (" + "; ".join(f"{x['name']}: {x['detail']}"
                                              for x in e["sources"]) + ")"
    others = [f"{x['name']}: {x['detail']}" for x in e["sources"] if not x["ok"]]
    return (ok[0] + (f"; also usable: {', '.join(ok[1:])}" if ok[1:] else "")
            + (f"; not usable: {'; '.join(others)}" if others else ""))


def _gib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def text_lines(sysinfo: Dict[str, Any], model: Optional[Dict[str, Any]]) -> List[str]:
    s = sysinfo
    lines = [
        f"edgeq {s['edgeq']} (python {s['python']}, {s['machine']})",
        f"cpu:       {s['cpu']} ({s['logical_cpus']} logical CPUs, {s['physical_cores']} cores)",
        f"features:  {' '.join(s['features']) or '(none)'}",
        f"isa:       {s['isa']}" + (" (EDGEQ_ISA)" if s["isa_forced_by"] else " (best runnable)")
        + f"; compiled {', '.join(s['compiled_isas'])}; runnable {', '.join(s['runnable_isas'])}",
        f"threads:   {s['default_threads']} by default (-t to change)",
        f"cuda:      {s['cuda']}",
        "kernels:   " + ", ".join(f"{k['type']}={k['isa']}" for k in s["kernels"]),
        f"energy:    {_energy_line(s['energy'])}",
    ]
    if model:
        m = model
        lines += [
            "",
            f"model:     {m['path']}",
            f"arch:      {m['architecture']} ({m['layers']} layers, width "
            f"{m['embedding_length']}, context {m['context_length']}), GGUF v{m['gguf_version']}",
            f"size:      {_gib(m['tensor_bytes'])}, {m['params'] / 1e6:.1f} M parameters, "
            f"{m['bits_per_weight']} bits per weight",
            f"vocab:     {m['vocabulary']['model']} / {m['vocabulary']['pre']}, "
            f"{m['vocabulary']['size']} tokens",
        ]
        for name, e in sorted(m["tensor_types"].items(), key=lambda kv: -kv[1]["bytes"]):
            lines.append(f"  {name:8s} {e['tensors']:5d} tensors  {_gib(e['bytes']):>10s}")
        tpl = m["chat_template"]
        lines.append("chat template: " + ("none" if not tpl else
                                          f"{len(tpl)} characters, starting "
                                          f"{tpl[:60]!r}"))
    return lines


def add_info_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("info", help="CPU features, kernels picked, and a model's contents",
                       description="What this build does on this CPU; with MODEL, what the "
                                   "file holds.")
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help="a GGUF file or model name")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_info)
    return p


def cmd_info(args) -> int:
    model = None
    if args.model is not None:
        from .pull import resolve_model
        model = model_summary(str(resolve_model(args.model)))
    sysinfo = system_info()
    if args.json:
        sys.stdout.write(json.dumps({"system": sysinfo, "model": model}, indent=1) + "\n")
    else:
        sys.stdout.write("\n".join(text_lines(sysinfo, model)) + "\n")
    return 0
