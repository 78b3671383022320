"""Quality per byte of edgeq's quantizers against llama-quantize's, on one float source model.

For every row: quantize the F16 source (edgeq quantize, or llama-quantize), then measure
  - file size and bits per weight (8 x tensor bytes / tensor values, all tensors, as llama.cpp),
  - perplexity on TEXT (llama-perplexity's method, -c 512, the first --chunks chunks),
  - mean KL divergence against the F16 model and how often both rank the same token first
    (`edgeq perplexity --kl-divergence` against a base file the F16 model wrote first),
  - prefill and decode tokens/s (`edgeq bench FILE -p 128 -n 64 -r 3 -t THREADS`).
llama-quantize's files are scored by edgeq when edgeq runs every tensor type in them (a file
whose tensors are byte for byte an edgeq row's is not scored twice), and with --llama-perplexity also by
llama-perplexity (its own F16 base file: the logits differ slightly between the runtimes).

Every command is printed (`$ ...`) as it runs; results go to OUT.json, the table to OUT.md.

    PYTHONPATH=python python bench/quality_table.py SOURCE_F16.gguf \\
        -f /work/shared/data/britannica-shakespeare.txt --chunks 16 -t 2 -w /tmp/q4q -o bench/results/smollm2
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

# (label, edgeq quantize arguments)
EDGEQ_ROWS = [
    ("Q8_0", ["--type", "Q8_0"]),
    ("Q6_K", ["--type", "Q6_K"]),
    ("Q5_0", ["--type", "Q5_0"]),
    ("Q4_K_M (defaults)", ["--type", "Q4_K_M"]),
    ("Q4_K (defaults)", ["--type", "Q4_K"]),
    ("Q4_K_M mse", ["--type", "Q4_K_M", "--q4k-search", "mse", "--fallback-choice", "llama"]),
    ("Q4_K rtn", ["--type", "Q4_K", "--q4k-search", "rtn", "--fallback-choice", "llama"]),
    ("Q4_K mse", ["--type", "Q4_K", "--q4k-search", "mse", "--fallback-choice", "llama"]),
    ("Q4_K wmse", ["--type", "Q4_K", "--q4k-search", "wmse", "--fallback-choice", "llama"]),
    ("Q4_1", ["--type", "Q4_1"]),
    ("Q4_0", ["--type", "Q4_0"]),
    ("TQ2_0", ["--type", "TQ2_0"]),
]
LLAMA_ROWS = ["Q8_0", "Q6_K", "Q4_K_M", "Q4_K_S", "Q4_0"]


def run(cmd, capture=True) -> str:
    print("$ " + " ".join(shlex.quote(str(c)) for c in cmd), flush=True)
    p = subprocess.run([str(c) for c in cmd], capture_output=capture, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {(p.stderr or '')[-1500:]}")
    return p.stdout


def edgeq(*args) -> list:
    return [sys.executable, "-m", "edgeq", *args]


def bits_per_weight(path: Path) -> float:
    from edgeq.gguf import open_gguf
    from edgeq.gguf_write import tensor_nbytes

    with open_gguf(str(path)) as g:
        nbytes = sum(tensor_nbytes(t.type, t.shape) for t in g)
        n = sum(t.n_elements for t in g)
    return 8.0 * nbytes / n


def tensor_types(path: Path) -> dict:
    from edgeq.gguf import open_gguf

    counts: dict = {}
    with open_gguf(str(path)) as g:
        for t in g:
            if len(t.shape) >= 2:
                counts[t.type_name] = counts.get(t.type_name, 0) + 1
    return counts


def same_tensors(a: str, b: Path) -> bool:
    """Every tensor (name, type, shape, bytes) equal: llama-quantize orders tensors and metadata
    differently, so the files themselves never compare equal."""
    from edgeq.gguf import open_gguf

    with open_gguf(str(a)) as x, open_gguf(str(b)) as y:
        if x.tensors.keys() != y.tensors.keys():
            return False
        return all((t.type, t.shape) == (y.tensors[n].type, y.tensors[n].shape)
                   and (x.tensor_bytes(n) == y.tensor_bytes(n)).all() for n, t in x.tensors.items())


def score_edgeq(path: Path, base: Path, args) -> dict:
    out = json.loads(run(edgeq("perplexity", path, "--kl-divergence", "--kl-divergence-base", base,
                               "-t", args.threads, "--json")).strip().splitlines()[-1])
    r = {"ppl": out["ppl"], "ppl_err": out["ppl_err"], "kld": out["mean_kld"],
         "kld_err": out["mean_kld_err"], "same_top": out["same_top_p"]}
    if not args.no_bench:
        for line in run(edgeq("bench", path, "-p", "128", "-n", "64", "-r", "3", "-t", args.threads,
                              "-o", "jsonl")).splitlines():
            b = json.loads(line)
            r["pp_ts" if b["n_prompt"] else "tg_ts"] = b["avg_ts"]
    return r


def parse_llama(log: str) -> dict:
    """PPL / KLD / same top-1 from llama-perplexity's --kl-divergence report (stdout + stderr)."""
    r = {}
    for line in log.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.split()
        if not value:
            continue
        if key == "Mean PPL(Q)":
            r["ppl"] = float(value[0])
        elif key == "Mean    KLD":
            r["kld"] = float(value[0])
        elif key == "Same top p":
            r["same_top"] = float(value[0].rstrip("%")) / 100.0
    return r


def llama_perplexity(path: Path, base: Path, args, make_base: bool) -> dict:
    exe = Path(args.llama_bin) / "llama-perplexity"
    cmd = [exe, "-m", path, "-t", args.threads, "-c", "512", "--chunks", args.chunks, "--kl-divergence-base", base]
    cmd += ["-f", args.file] if make_base else ["--kl-divergence"]
    print("$ " + " ".join(shlex.quote(str(c)) for c in cmd), flush=True)
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if p.returncode != 0:
        return {"llama_error": (p.stderr or "")[-300:]}
    return {} if make_base else parse_llama(p.stdout + "\n" + p.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="the F16 (or F32) source GGUF")
    ap.add_argument("-f", "--file", required=True, help="text for perplexity")
    ap.add_argument("--chunks", type=int, default=16, help="chunks of 512 tokens scored (every row)")
    ap.add_argument("-t", "--threads", default="2")
    ap.add_argument("-w", "--workdir", required=True, help="where the quantized files go")
    ap.add_argument("-o", "--out", required=True, help="OUT.json / OUT.md prefix")
    ap.add_argument("--llama-bin", default=os.environ.get("EDGEQ_LLAMA_CPP_BIN"))
    ap.add_argument("--llama-perplexity", action="store_true", help="also score llama rows with llama-perplexity")
    ap.add_argument("--rows", help="comma-separated labels to run (default all; llama rows as 'llama Q4_K_M')")
    ap.add_argument("--no-bench", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    want = set(args.rows.split(",")) if args.rows else None
    out_json = Path(args.out + ".json")
    results = json.loads(out_json.read_text()) if out_json.exists() else {}

    def save():
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(results, indent=1) + "\n")
        Path(args.out + ".md").write_text(markdown(results, args) + "\n")

    base = work / f"f16-c512-n{args.chunks}.kld"
    if not base.exists():
        run(edgeq("perplexity", args.source, "-f", args.file, "-c", "512", "--chunks", args.chunks,
                  "-t", args.threads, "--kl-divergence-base", base, "--json"))
    rows = [("F16", None)] + [(label, a) for label, a in EDGEQ_ROWS]
    for label, qargs in rows:
        if (want and label not in want) or label in results:
            continue
        path = Path(args.source) if qargs is None else work / f"edgeq-{label.replace(' ', '-')}.gguf"
        if qargs is not None:
            run(edgeq("quantize", args.source, path, *qargs, "-t", args.threads, "-q"))
        r = {"by": "edgeq", "file": str(path), "bytes": path.stat().st_size, "bpw": bits_per_weight(path),
             "types": tensor_types(path), "command": qargs}
        r.update(score_edgeq(path, base, args))
        results[label] = r
        save()
    if args.llama_bin:
        lbase = work / f"f16-c512-n{args.chunks}.llama.kld"
        if args.llama_perplexity and not lbase.exists():
            llama_perplexity(Path(args.source), lbase, args, make_base=True)
        for t in LLAMA_ROWS:
            label = f"llama {t}"
            if (want and label not in want) or label in results:
                continue
            path = work / f"llama-{t}.gguf"
            run([Path(args.llama_bin) / "llama-quantize", args.source, path, t, args.threads])
            r = {"by": "llama-quantize", "file": str(path), "bytes": path.stat().st_size,
                 "bpw": bits_per_weight(path), "types": tensor_types(path), "command": [t]}
            same = [k for k, v in results.items() if v.get("by") == "edgeq" and Path(v["file"]).exists()
                    and same_tensors(v["file"], path)]
            if same:
                r["same_file_as"] = same[0]
                r.update({k: results[same[0]][k] for k in ("ppl", "ppl_err", "kld", "kld_err", "same_top", "pp_ts", "tg_ts")
                          if k in results[same[0]]})
            else:
                try:
                    r.update(score_edgeq(path, base, args))
                except RuntimeError as e:
                    r["edgeq_error"] = str(e).splitlines()[-1][:200]
            if args.llama_perplexity:
                r["llama_perplexity"] = llama_perplexity(path, lbase, args, make_base=False)
            results[label] = r
            save()
    save()
    print(markdown(results, args))
    return 0


def markdown(results: dict, args) -> str:
    head = ("| model | quantizer | size MB | bpw | PPL | mean KLD | same top-1 % | pp128 t/s | tg64 t/s "
            "| llama-perplexity PPL / KLD | tensor types |")
    lines = [head, "|" + "---|" * 11]
    f = lambda v, fmt: "-" if v is None else format(v, fmt)  # noqa: E731
    for label, r in results.items():
        lp = r.get("llama_perplexity") or {}
        llama = f"{lp['ppl']:.3f} / {lp['kld']:.4f}" if "ppl" in lp and "kld" in lp else "-"
        ppl = f"{r['ppl']:.3f} ± {r['ppl_err']:.3f}" if "ppl" in r else r.get("edgeq_error", "-")[:60]
        note = f" (= edgeq {r['same_file_as']})" if r.get("same_file_as") else ""
        types = ", ".join(f"{k} {v}" for k, v in sorted(r["types"].items(), key=lambda kv: -kv[1]))
        lines.append(f"| {label}{note} | {r['by']} | {r['bytes'] / 1e6:.1f} | {r['bpw']:.2f} | {ppl} | "
                     f"{f(r.get('kld'), '.5f')} | {f(100 * r['same_top'] if 'same_top' in r else None, '.2f')} | "
                     f"{f(r.get('pp_ts'), '.1f')} | {f(r.get('tg_ts'), '.1f')} | {llama} | {types} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
