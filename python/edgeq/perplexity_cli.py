"""`edgeq perplexity MODEL -f TEXT`: llama-perplexity's command on edgeq (see perplexity.py).

    edgeq perplexity model.gguf -f text.txt                       # [i]ppl progress, final estimate
    edgeq perplexity base.gguf -f text.txt --kl-divergence-base base.kld   # also save log-probs
    edgeq perplexity quant.gguf --kl-divergence-base base.kld --kl-divergence   # compare
"""
from __future__ import annotations

import argparse
import json
import sys

from .cli import CliError, UsageError, _int_checked, _read_text_file


def add_perplexity_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("perplexity", help="perplexity / KL divergence on a text (like "
                                          "llama-perplexity)",
                       description="Perplexity with llama-perplexity's method: non-overlapping "
                                   "chunks of -c tokens, the second half of each scored.")
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help="GGUF file or model name (default: the default model)")
    p.add_argument("-f", "--file", metavar="FILE", help="the text to score (UTF-8)")
    p.add_argument("-c", "--ctx-size", type=_int_checked(4, ">= 4"), default=512, metavar="N",
                   help="tokens per chunk (default 512)")
    p.add_argument("--chunks", type=_int_checked(1, ">= 1"), default=None, metavar="N",
                   help="score at most N chunks (default: all)")
    p.add_argument("-t", "--threads", type=_int_checked(1, ">= 1"), default=None, metavar="N",
                   help="threads (default: physical cores)")
    p.add_argument("--kl-divergence-base", dest="kld_base", metavar="FILE",
                   help="with -f: save the log-probabilities here (llama.cpp's format); with "
                        "--kl-divergence: the base to compare with")
    p.add_argument("--kl-divergence", dest="kld", action="store_true",
                   help="KL divergence against --kl-divergence-base (its tokens; no -f)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=cmd_perplexity)
    return p


def _check_args(args) -> None:
    if args.kld:
        if not args.kld_base:
            raise UsageError("--kl-divergence needs --kl-divergence-base FILE")
        if args.file:
            raise UsageError("--kl-divergence reads its tokens from the base file; drop -f")
    elif not args.file:
        raise UsageError("-f/--file is required (the text to score)")


def cmd_perplexity(args) -> int:
    _check_args(args)
    text = _read_text_file(args.file) if args.file else None  # fails before the model loads
    from .logprob_file import LogProbFileError
    from .pull import resolve_model

    path = resolve_model(args.model)
    n_ctx = args.ctx_size
    base = None  # with --kl-divergence: the base file, read once (its n_ctx sizes the model)
    if args.kld:
        from .logprob_file import LogProbReader
        try:
            base = LogProbReader(args.kld_base)
        except LogProbFileError as e:
            raise CliError(str(e)) from None
        n_ctx = base.n_ctx
    try:
        return _evaluate(args, path, text, n_ctx, base)
    finally:
        if base is not None:
            base.close()


def _evaluate(args, path, text, n_ctx: int, base) -> int:
    from .kld import kl_divergence, report_lines
    from .logprob_file import LogProbFileError
    from .model import load_model
    from .perplexity import PerplexityError, perplexity

    model = load_model(str(path), n_ctx=n_ctx, n_threads=args.threads)
    tok = model.tokenizer
    bos = tok.bos_id if tok.add_bos else None
    max_chunks = -1 if args.chunks is None else args.chunks
    quiet = args.json

    def progress(i: int, value) -> None:
        if quiet:
            return
        if args.kld:
            value = value.sum_kld / value.count
        sys.stdout.write(f"[{i + 1}]{value:.4f},")
        sys.stdout.flush()

    try:
        if args.kld:
            result = kl_divergence(model, base, max_chunks, bos, progress)
            if quiet:
                sys.stdout.write(json.dumps(result) + "\n")
            else:
                sys.stdout.write("\n\n" + "\n".join(report_lines(result)) + "\n")
            return 0
        ids = tok.encode(text, add_special=True, parse_special=False)
        result = perplexity(model, ids, n_ctx, max_chunks, bos, args.kld_base, progress)
    except (PerplexityError, LogProbFileError) as e:
        raise CliError(str(e)) from None
    if quiet:
        sys.stdout.write(json.dumps(dict(result.as_dict(), model=str(path))) + "\n")
    else:
        sys.stdout.write(f"\nFinal estimate: PPL = {result.ppl:.4f} +/- {result.ppl_err:.5f}\n")
    return 0
