"""`edgeq quantize IN.gguf OUT.gguf --type T`: rewrite a GGUF model with its weight matrices in
another type, the way llama.cpp's llama-quantize does (same bytes for the same float source and
the same per-tensor types, except Q4_K, whose default fit searches further: --q4k-search rtn for
llama-quantize's bytes; formats in quant_formats.py).

Which type each tensor gets (llama-quantize's rules without an importance matrix):
  - only matrices are quantized: tensors with 2+ dimensions whose name ends in "weight", except
    norms and a few small tables llama-quantize also leaves alone; everything else (1-D norms,
    BitNet's per-matrix `.scale`, ...) is copied unchanged;
  - output.weight (and token_embd.weight when the output is tied to it): --output-type (for a
    tied embedding --embd-type works too; the two may not differ), else Q6_K for quantized types (Q8_0 for Q8_0; the --type itself for F32 / F16 / BF16);
  - token_embd.weight (not tied): --embd-type, else the --type (Q4_K for ternary types, whose
    embedding table is not ternary);
  - --type Q4_K_M (a mix, quant_formats.MIXES): Q4_K, with Q6_K for attn_v and ffn_down of
    the layers llama.cpp's use_more_bits picks;
  - a row length the chosen type cannot hold (not a multiple of its block) falls back to the
    format's fallback type (Q4_K -> Q5_0, Q6_K -> Q8_0, TQ1_0 / TQ2_0 -> Q4_0), else F16, and is
    reported; --no-fallback makes that an error instead; with --fallback-choice min-error (the
    default) a smaller alternative (Q4_1 for Q4_K) replaces the fallback for a tensor it stores
    with no more squared error (a model dequantized from Q4_1 is stored exactly by Q4_1, not by
    Q5_0; float models keep Q5_0);
  - a tensor already in its chosen type is copied byte for byte (ternary weights stay exact).
Quantized sources are dequantized first (as llama-quantize does). All metadata is kept, with
general.file_type set to the --type's llama.cpp file type; the alignment is the input's.
--q4k-search mse (the default) | wmse writes Q4_K tensors with a searched fit (lower error, other
bytes than llama-quantize's; the format is unchanged, so llama.cpp runs the file); rtn is ggml's
reference.

The output is written to a temporary file next to OUT and renamed at the end: an interrupted run
leaves no partial OUT, and the input can never be overwritten.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import secrets
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .gguf import GGML_TYPE_IDS, GGUFFile, TensorInfo, open_gguf
from .gguf_write import GGUFStreamWriter, TensorSpec, encode_u32_entry, tensor_nbytes
from .quant_formats import FORMATS, MIXES, Q4K_SEARCHES, TERNARY, Format, Mix, lookup, to_float32

GGML_QNT_VERSION = 2   # general.quantization_version llama.cpp writes
CHUNK_VALUES = 1 << 22  # rows are converted ~4M values at a time (16 MB of float32)
# The Q4_K fit by default: "mse" lowered SmolLM2's Q4_K error 2.3x per tensor (its source is on a
# 4-bit grid) and 5% on Gaussian data, and the model's KLD by 3% (bench/README.md); "rtn" gives
# llama-quantize's bytes.
DEFAULT_Q4K_SEARCH = "mse"

# Matrices llama-quantize never quantizes (substrings of the name).
_KEEP_SUBSTRINGS = ("_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
                    "position_embd", "pos_embd", "token_types", "ssm_conv1d", "shortconv.conv.weight",
                    "time_mix_", "attn_rel_b.weight", ".rel_pos", ".patch_embd", "a.rvq.codebook")


class QuantizeError(Exception):
    """A model or option this command cannot honour (one line, exit 1)."""


class QuantizeOptionsError(QuantizeError):
    """Options that contradict each other for this model (a usage error, exit 2)."""


@dataclass
class Options:
    type: Format
    output_type: Optional[Format] = None
    embd_type: Optional[Format] = None
    fallback: bool = True
    threads: int = 1
    mix: Optional[Mix] = None      # a llama.cpp mix (its base is `type`)
    q4k_search: str = DEFAULT_Q4K_SEARCH  # the Q4_K fit (quant_formats.Q4K_SEARCHES)
    fallback_choice: str = "min-error"    # or "llama": always the format's own fallback

    @property
    def name(self) -> str:
        return self.mix.name if self.mix else self.type.name

    @property
    def file_type(self) -> int:
        return self.mix.file_type if self.mix else self.type.file_type


@dataclass
class TensorPlan:
    info: TensorInfo
    type: str                    # output type name
    wanted: Optional[str] = None  # the type the rules chose, when it fell back to `type`
    copy: bool = False           # bytes copied unchanged

    @property
    def type_id(self) -> int:
        return GGML_TYPE_IDS[self.type]

    @property
    def nbytes(self) -> int:
        return tensor_nbytes(self.type_id, self.info.shape)


def is_quantizable(t: TensorInfo) -> bool:
    """llama-quantize's tensor_allows_quantization for the architectures edgeq knows."""
    return (len(t.shape) >= 2 and t.name.endswith("weight")
            and not any(s in t.name for s in _KEEP_SUBSTRINGS))



def _role(name: str, tied: bool) -> str:
    if name == "output.weight":
        return "output"
    if name == "token_embd.weight":
        return "tied" if tied else "embd"  # tied: it is the output layer too
    return "weight"


def _default_type(role: str, row_length: int, opts: Options) -> Format:
    target = opts.type
    if role == "tied" and opts.output_type is None and opts.embd_type is not None:
        return opts.embd_type  # either flag names the one tensor
    if role in ("output", "tied"):
        if opts.output_type is not None:
            return opts.output_type
        if target.is_float or target.name == "Q8_0":
            return target
        return FORMATS["Q8_0"] if not target.fits(row_length) else FORMATS["Q6_K"]
    if role == "embd":
        if opts.embd_type is not None:
            return opts.embd_type
        return FORMATS["Q4_K"] if target.name in TERNARY else target
    return target


def _layer(name: str) -> Optional[int]:
    parts = name.split(".")
    return int(parts[1]) if len(parts) > 2 and parts[0] == "blk" and parts[1].isdigit() else None


def _mix_more_bits(name: str, n_layers: int, mix: Mix) -> bool:
    """attn_v / ffn_down of a layer use_more_bits picks (llama-quant.cpp's Q4_K_M rule)."""
    layer = _layer(name)
    return (layer is not None and ("attn_v.weight" in name or "ffn_down" in name)
            and mix.use_more_bits(layer, n_layers))


def plan_tensor(t: TensorInfo, tied: bool, opts: Options, n_layers: int = 0) -> TensorPlan:
    if not is_quantizable(t):
        return TensorPlan(t, t.type_name, copy=True)
    role = _role(t.name, tied)
    want = _default_type(role, t.shape[0], opts)
    if opts.mix is not None and role == "weight" and _mix_more_bits(t.name, n_layers, opts.mix):
        want = FORMATS[opts.mix.more]
    use = want
    if not use.fits(t.shape[0]):
        fb = FORMATS.get(use.fallback) if use.fallback else None
        use = fb if fb is not None and fb.fits(t.shape[0]) else FORMATS["F16"]
        if not opts.fallback:
            raise QuantizeError(f"tensor '{t.name}': its rows of {t.shape[0]} values do not fit "
                                f"{want.name} (blocks of {want.block}); without --no-fallback it "
                                f"would be written as {use.name}")
    plan = TensorPlan(t, use.name, wanted=want.name if use is not want else None)
    plan.copy = t.type == use.type_id
    return plan


def _squared_error(g: GGUFFile, t: TensorInfo, fmt: Format, threads: int) -> float:
    """sum (decode(quantize(x)) - x)^2 over tensor t stored as fmt."""
    n = t.shape[0]
    rows = g.tensor_bytes(t.name).reshape(t.n_elements // n, -1)
    step = max(1, CHUNK_VALUES // n)
    err = 0.0
    for r0 in range(0, rows.shape[0], step):
        x = to_float32(t.type, rows[r0:r0 + step], n)
        y = to_float32(fmt.type_id, fmt.quantize(x, threads), n)
        err += float(((y.astype(np.float64) - x) ** 2).sum())
    return err


def _choose_fallback(g: GGUFFile, plan: TensorPlan, opts: Options) -> None:
    """--fallback-choice min-error: the smallest-error type among the wanted format's fallback
    and its smaller alternatives (ties go to the smaller type)."""
    alts = [a for a in FORMATS[plan.wanted].alt_fallbacks if FORMATS[a].fits(plan.info.shape[0])]
    if not alts or plan.type != FORMATS[plan.wanted].fallback:
        return
    try:
        errs = {name: _squared_error(g, plan.info, FORMATS[name], opts.threads) for name in [plan.type] + alts}
    except ValueError as e:
        raise QuantizeError(f"tensor '{plan.info.name}': {e}") from None
    best = min(errs, key=lambda name: (errs[name], tensor_nbytes(GGML_TYPE_IDS[name], plan.info.shape)))
    plan.type = best
    plan.copy = plan.info.type == plan.type_id


def make_plan(g: GGUFFile, opts: Options) -> List[TensorPlan]:
    tied = "output.weight" not in g.tensors
    if (tied and opts.output_type is not None and opts.embd_type is not None
            and opts.output_type is not opts.embd_type):
        raise QuantizeOptionsError("the token embedding is the output layer of this model (tied): "
                                   "--output-type and --embd-type cannot differ")
    layers = {_layer(t.name) for t in g} - {None}
    n_layers = max(layers) + 1 if layers else 0
    plans = [plan_tensor(t, tied, opts, n_layers) for t in g]
    if opts.fallback_choice == "min-error":
        for p in plans:
            if p.wanted:
                _choose_fallback(g, p, opts)
    return plans


# ---- conversion -------------------------------------------------------------------------------

def _check_finite(x: np.ndarray, name: str) -> None:
    if not np.isfinite(x).all():
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise QuantizeError(f"tensor '{name}' has {bad} NaN or infinite values; refusing to "
                            f"quantize it")


def convert_tensor(g: GGUFFile, plan: TensorPlan, threads: int, write, q4k_search: str = "rtn") -> None:
    """Writes the plan's bytes for one tensor through write(bytes-like), CHUNK_VALUES at a time."""
    t = plan.info
    src = g.tensor_bytes(t.name)
    if plan.copy:
        write(src)
        return
    fmt = FORMATS[plan.type]
    search = q4k_search if q4k_search in fmt.searches else "rtn"
    n = t.shape[0]
    n_rows = t.n_elements // n
    src_rows = src.reshape(n_rows, -1)
    step = max(1, CHUNK_VALUES // n)
    for r0 in range(0, n_rows, step):
        try:
            x = to_float32(t.type, src_rows[r0:r0 + step], n)
        except ValueError as e:
            raise QuantizeError(f"tensor '{t.name}': {e}") from None
        _check_finite(x, t.name)
        write(fmt.quantize(x, threads, search))


def _metadata_entries(g: GGUFFile, file_type: int) -> List[bytes]:
    """The input's metadata, byte for byte, with general.file_type and
    general.quantization_version set (replaced in place, or appended)."""
    new = {"general.file_type": file_type, "general.quantization_version": GGML_QNT_VERSION}
    entries = []
    for key in g.metadata:
        entries.append(encode_u32_entry(key, new.pop(key)) if key in new else g.metadata_entry_bytes(key))
    entries += [encode_u32_entry(k, v) for k, v in new.items()]
    return entries


# ---- progress ---------------------------------------------------------------------------------

class _Progress:
    """One self-overwriting line on a terminal: [ i/N] name  FROM -> TO. Silent otherwise."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled
        self.width = 0

    def update(self, i: int, plan: TensorPlan) -> None:
        if not self.enabled:
            return
        import shutil

        cols = shutil.get_terminal_size((100, 20)).columns - 1
        arrow = "copy" if plan.copy else f"-> {plan.type}"
        line = f"[{i:{len(str(self.total))}d}/{self.total}] {plan.info.name}  {plan.info.type_name} {arrow}"
        line = line[:cols]
        sys.stderr.write("\r" + line + " " * max(0, self.width - len(line)))
        sys.stderr.flush()
        self.width = len(line)

    def done(self) -> None:
        if self.enabled and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


# ---- the command ------------------------------------------------------------------------------

@dataclass
class Result:
    input: str
    output: str
    type: str
    file_type: int
    threads: int
    seconds: float
    input_bytes: int
    output_bytes: int
    tensors: List[TensorPlan] = field(default_factory=list)

    def to_json(self) -> dict:
        counts: Dict[str, int] = {}
        for p in self.tensors:
            counts[p.type] = counts.get(p.type, 0) + 1
        return {
            "input": self.input, "output": self.output, "type": self.type,
            "file_type": self.file_type, "threads": self.threads,
            "seconds": round(self.seconds, 3), "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes, "n_tensors": len(self.tensors),
            "tensor_types": counts,
            "fallbacks": [{"name": p.info.name, "row_length": p.info.shape[0], "wanted": p.wanted,
                           "used": p.type} for p in self.tensors if p.wanted],
            "tensors": [{"name": p.info.name, "shape": list(p.info.shape),
                         "from": p.info.type_name, "to": p.type, "copied": p.copy}
                        for p in self.tensors],
        }


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _create_partial(dst: str):
    """A new file next to dst (same file system, so the final rename is atomic), created with
    the permissions of an ordinary new file (0666 minus the umask)."""
    base = os.path.join(os.path.dirname(os.path.abspath(dst)), "." + os.path.basename(dst))
    for _ in range(100):
        tmp = f"{base}.{os.getpid()}.{secrets.token_hex(4)}.partial"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise QuantizeError(f"cannot create a temporary file next to {dst}")


def quantize_file(src: str, dst: str, opts: Options, progress: bool = False,
                  note=lambda message: None) -> Result:
    """Quantize the GGUF file src into dst (see the module docstring). Raises QuantizeError,
    GGUFError or OSError; dst is only replaced once it is complete."""
    if _same_file(src, dst):
        raise QuantizeError(f"the output {dst} is the input file; write to another path")
    if os.path.isdir(dst):
        raise QuantizeError(f"the output {dst} is a directory")
    t0 = time.perf_counter()
    with open_gguf(src) as g:
        plans = make_plan(g, opts)
        _notes(plans, note)
        specs = [TensorSpec(p.info.name, p.info.shape, p.type_id, p.nbytes) for p in plans]
        fd, tmp = _create_partial(dst)
        bar = _Progress(len(plans), progress)
        try:
            with os.fdopen(fd, "wb") as f:
                w = GGUFStreamWriter(f, g.alignment)
                w.write_header(_metadata_entries(g, opts.file_type), specs)
                for i, p in enumerate(plans, 1):
                    bar.update(i, p)
                    convert_tensor(g, p, opts.threads, w.write_tensor_data, opts.q4k_search)
                    w.end_tensor()
                w.finish()
                size = w.bytes_written
            os.replace(tmp, dst)
        except BaseException:
            bar.done()
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        bar.done()
        in_size = os.path.getsize(src)
    return Result(src, dst, opts.name, opts.file_type, opts.threads,
                  time.perf_counter() - t0, in_size, size, plans)


def _name_pattern(name: str) -> str:
    """blk.12.attn_q.weight -> blk.*.attn_q.weight (to list fallbacks once per kind)."""
    parts = name.split(".")
    if len(parts) > 2 and parts[0] == "blk" and parts[1].isdigit():
        parts[1] = "*"
    return ".".join(parts)


def _notes(plans: List[TensorPlan], note) -> None:
    """One line per kind of fallback, naming every tensor (by pattern, with a count)."""
    groups: Dict[tuple, Dict[str, int]] = {}
    for p in plans:
        if p.wanted:
            names = groups.setdefault((p.wanted, p.type, p.info.shape[0]), {})
            pattern = _name_pattern(p.info.name)
            names[pattern] = names.get(pattern, 0) + 1
    for (wanted, used, n), names in groups.items():
        listed = ", ".join(k if c == 1 else f"{k} (x{c})" for k, c in names.items())
        count = sum(names.values())
        has = "tensor has" if count == 1 else "tensors have"
        note(f"{count} {has} rows of {n} values, not a multiple of the {wanted} block "
             f"({FORMATS[wanted].block}): written as {used}: {listed}")
    requant = sorted({p.info.type_name for p in plans
                      if not p.copy and not FORMATS[p.type].is_float
                      and p.info.type_name not in ("F32", "F16", "BF16")})
    if requant:
        note(f"note: re-quantizing tensors that are already quantized ({', '.join(requant)}): "
             f"the result is no better than the source")


def _format_arg(text: str) -> Format:
    try:
        return lookup(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _type_arg(text: str):
    """--type: a format, or a mix (Q4_K_M)."""
    return MIXES.get(text.upper()) or _format_arg(text)


def add_quantize_parser(sub) -> argparse.ArgumentParser:
    """Register `quantize` on the CLI's subparsers (its parser class gives one-line errors)."""
    from .cli import _int_checked

    types = "\n".join(f"  {f.name:6s} {f.description}" for f in list(FORMATS.values()) + list(MIXES.values()))
    q = sub.add_parser(
        "quantize", help="convert a GGUF model's weights to another type (like llama-quantize)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write OUT with the weight matrices of IN in --type, as llama-quantize does\n"
                    "(the same bytes for the same source): norms and other 1-D tensors are kept,\n"
                    "the output layer defaults to Q6_K, the token embedding to the --type (Q4_K\n"
                    "for ternary types), and rows a type cannot hold fall back to a 32-block type.\n"
                    "\ntypes:\n" + types)
    q.add_argument("input", metavar="IN", help="the GGUF model to read")
    q.add_argument("output", metavar="OUT",
                   help="the GGUF file to write (replaced if it exists; never the input)")
    q.add_argument("--type", required=True, type=_type_arg, metavar="T",
                   help=f"type of the weight matrices: {', '.join(list(FORMATS) + list(MIXES))}")
    q.add_argument("--output-type", type=_format_arg, metavar="T",
                   help="type of output.weight, or of a tied token embedding "
                        "(default Q6_K; the --type for Q8_0, F32, F16, BF16)")
    q.add_argument("--embd-type", type=_format_arg, metavar="T",
                   help="type of an untied token_embd.weight (default the --type; Q4_K for "
                        "TQ1_0 / TQ2_0)")
    q.add_argument("--q4k-search", choices=Q4K_SEARCHES, default=DEFAULT_Q4K_SEARCH,
                   help="how Q4_K scales are fit: rtn = ggml's reference (llama-quantize's bytes), "
                        "mse / wmse = sub-block and super-block scales searched jointly for the "
                        "lowest plain / ggml-weighted squared error (default %(default)s)")
    q.add_argument("--fallback-choice", choices=("min-error", "llama"), default="min-error",
                   help="rows a type cannot hold: llama = the format's fallback as llama-quantize "
                        "(Q4_K -> Q5_0); min-error (default) = also try the smaller Q4_1 and keep "
                        "it where its squared error is no higher")
    q.add_argument("--no-fallback", action="store_true",
                   help="fail instead of writing a fallback type for rows a type cannot hold")
    q.add_argument("-t", "--threads", type=_int_checked(1, ">= 1"), default=None, metavar="N",
                   help="threads for the C++ quantizers (default: all physical cores)")
    q.add_argument("--json", action="store_true",
                   help="print a JSON summary on stdout (notes still go to stderr)")
    q.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    q.set_defaults(func=cmd_quantize)
    return q


def cmd_quantize(args) -> int:
    from .cli import CliError, UsageError

    if _same_file(args.input, args.output) and os.path.exists(args.input):
        raise UsageError(f"OUT ({args.output}) is the input file; write to another path")
    if not os.path.isfile(args.input):
        raise CliError(f"{args.input}: " + ("is not a file" if os.path.exists(args.input)
                                           else "No such file or directory"))
    if args.threads is None:
        from .model import physical_cores

        args.threads = physical_cores()
    mix = args.type if isinstance(args.type, Mix) else None
    opts = Options(type=FORMATS[mix.base] if mix else args.type, output_type=args.output_type,
                   embd_type=args.embd_type, fallback=not args.no_fallback, threads=args.threads,
                   mix=mix, q4k_search=args.q4k_search, fallback_choice=args.fallback_choice)

    def note(message: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"edgeq: {message}\n")

    try:
        r = quantize_file(args.input, args.output, opts,
                          progress=not args.quiet and sys.stderr.isatty(), note=note)
    except QuantizeOptionsError as e:
        raise UsageError(str(e)) from None
    except QuantizeError as e:
        raise CliError(str(e)) from None
    if args.json:
        sys.stdout.write(json.dumps(r.to_json()) + "\n")
    elif not args.quiet:
        fell = sum(1 for p in r.tensors if p.wanted)
        note(f"wrote {r.output}: {len(r.tensors)} tensors ({fell} fell back), "
             f"{r.input_bytes / 1e6:.1f} MB -> {r.output_bytes / 1e6:.1f} MB, {r.type}, "
             f"{r.seconds:.2f} s with {r.threads} threads")
    return 0
