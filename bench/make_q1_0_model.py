"""Writes a llama-architecture GGUF whose matrices are random Q1_0 blocks (random sign bits, fp16
scales ~0.02 / sqrt-ish of the fan-in), with the llama-spm vocabulary (32000 tokens) copied from
$EDGEQ_SHARED_DATA/vocab/ggml-vocab-llama-spm.gguf so that llama.cpp loads it too. The token
embedding is Q1_0 and tied to the output. For comparing Q1_0 decode speed of edgeq and llama.cpp:

    python bench/make_q1_0_model.py /tmp/q1.gguf [--layers 8 --embd 2048 --ff 5632]
    python -m edgeq bench /tmp/q1.gguf -p 0 -n 64 -t 1,2
    llama-bench -m /tmp/q1.gguf -p 0 -n 64 -t 1,2

The default shape (a 1B-class model, 67 MB of weights) is larger than the 32 MB L3 of the
development machines, so decode reads DRAM.
"""
import argparse
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T


def q1_0_blocks(rng, n_out, n_in, scale):
    nb = n_in // 128
    b = rng.integers(0, 256, size=(n_out, nb, 18), dtype=np.uint8)
    d = (scale * rng.uniform(0.5, 1.5, size=(n_out, nb))).astype(np.float16)
    b[:, :, :2] = d.view(np.uint8).reshape(n_out, nb, 2)
    return b.reshape(n_out, nb * 18)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--embd", type=int, default=2048)
    ap.add_argument("--ff", type=int, default=5632)
    ap.add_argument("--heads", type=int, default=16)
    a = ap.parse_args()
    vocab_path = os.path.join(os.environ.get("EDGEQ_SHARED_DATA", "/work/shared/data"), "vocab",
                              "ggml-vocab-llama-spm.gguf")
    v = gguf.GGUFReader(vocab_path)
    f = v.fields
    tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]) for i in f["tokenizer.ggml.tokens"].data]
    scores = [float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data]
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    n_vocab, D, F, H = len(tokens), a.embd, a.ff, a.heads
    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(a.out, "llama")
    w.add_block_count(a.layers)
    w.add_context_length(2048)
    w.add_embedding_length(D)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(H)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(D // H)
    w.add_file_type(40)  # LLAMA_FTYPE_MOSTLY_Q1_0
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    for key in ("bos", "eos", "unknown"):
        getattr(w, f"add_{'unk' if key == 'unknown' else key}_token_id")(int(f[f"tokenizer.ggml.{key}_token_id"].parts[-1][0]))

    def mat(name, n_out, n_in):
        w.add_tensor(name, q1_0_blocks(rng, n_out, n_in, 1.0 / np.sqrt(n_in)), raw_dtype=T.Q1_0)

    mat("token_embd.weight", n_vocab, D)
    for l in range(a.layers):
        p = f"blk.{l}."
        w.add_tensor(p + "attn_norm.weight", np.ones(D, np.float32))
        for n in ("attn_q", "attn_k", "attn_v", "attn_output"):
            mat(p + n + ".weight", D, D)
        w.add_tensor(p + "ffn_norm.weight", np.ones(D, np.float32))
        mat(p + "ffn_gate.weight", F, D)
        mat(p + "ffn_up.weight", F, D)
        mat(p + "ffn_down.weight", D, F)
    w.add_tensor("output_norm.weight", np.ones(D, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
