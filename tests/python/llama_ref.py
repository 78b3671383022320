"""An independent numpy float64 llama forward pass (the test oracle for edgeq's C++ one).

Weights come from the `gguf` package's dequantizers, never from edgeq's kernels; everything is
computed in float64 over the whole sequence at once (no KV cache), as the textbook formulas:
    x = embd[tokens]
    per layer: h = rmsnorm(x) * attn_norm; q, k, v = h Wq^T, h Wk^T, h Wv^T; rope(q, k);
               x += softmax(q k^T / sqrt(d) + causal mask) v Wo^T  (kv head = head // group)
               h = rmsnorm(x) * ffn_norm; x += (silu(h Wg^T) * h Wu^T) Wd^T
    logits = (rmsnorm(x) * output_norm) Wout^T    (Wout = token_embd when there is no output)

BitNet (cfg flags, as llama.cpp's build_bitnet and bitnet.cpp's build_bitnet_158 compute them):
    sub_norms:     x += rmsnorm(att) * attn_sub_norm Wo^T;  h = rmsnorm(h) * ffn_sub_norm before Wd
    ffn_act:       "silu": silu(g) * u;  "relu2": max(g, 0)^2 * u
    matmul_scales: y = (x W^T) * s for each `<matrix>.scale` tensor s (1 element) in the file
NVFP4 matrices: y = (x W^T) * s for their `<matrix>.scale` (ModelOpt's weight_scale_2), any arch
"""
from __future__ import annotations

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import dequantize


GGML_I2_S = 36  # bitnet.cpp's ternary type: not in the gguf package


def decode_i2s(raw: np.ndarray, n: int) -> np.ndarray:
    """bitnet.cpp's I2_S bytes of n values -> float32 (n), from its documented layout (quantize_i2_s
    in microsoft/BitNet src/ggml-bitnet-mad.cpp, x86): in each 128-value block of 32 bytes, value
    32 g + p is bits (7 - 2g)..(6 - 2g) of byte p, code c -> s * (c - 1); the f32 s follows the n / 4
    packed bytes."""
    raw = np.asarray(raw, dtype=np.uint8)
    packed = raw[:n // 4].reshape(-1, 1, 32)
    codes = (packed >> np.array([6, 4, 2, 0], dtype=np.uint8).reshape(1, 4, 1)) & 3  # (block, g, p)
    s = raw[n // 4:n // 4 + 4].copy().view(np.float32)[0]
    return (codes.reshape(-1).astype(np.float32) - np.float32(1.0)) * s


def dequant(g, name: str) -> np.ndarray:
    """A GGUF tensor -> float32 numpy array in numpy order (rows = shape[-1] ... )."""
    t = g.tensors[name]
    if t.type == GGML_I2_S:
        flat = decode_i2s(g.tensor_bytes(name), t.n_elements)
    else:
        flat = dequantize(np.asarray(g.tensor_bytes(name)), GGMLQuantizationType(t.type))
    return np.asarray(flat, dtype=np.float32).reshape(tuple(reversed(t.shape)))


def rmsnorm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x: np.ndarray, positions: np.ndarray, base: float, rope_dim: int, neox: bool) -> np.ndarray:
    """x (n, heads, head_dim): rotate the first rope_dim dims of each head."""
    half = rope_dim // 2
    inv_freq = base ** (-2.0 * np.arange(half) / rope_dim)
    ang = positions[:, None].astype(np.float64) * inv_freq[None, :]  # (n, half)
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    out = x.copy()
    if neox:
        a, b = x[..., :half], x[..., half:rope_dim]
        out[..., :half] = a * c - b * s
        out[..., half:rope_dim] = a * s + b * c
    else:
        a, b = x[..., 0:rope_dim:2], x[..., 1:rope_dim:2]
        out[..., 0:rope_dim:2] = a * c - b * s
        out[..., 1:rope_dim:2] = a * s + b * c
    return out


# Weight types whose edgeq kernels take 8-bit activations in blocks of 32 (Q8_0 / Q8_1).
Q8_BLOCK32_WEIGHTS = {GGMLQuantizationType.Q4_0, GGMLQuantizationType.Q4_1, GGMLQuantizationType.Q8_0,
                      GGMLQuantizationType.MXFP4, GGMLQuantizationType.NVFP4}


def q8_block32(x: np.ndarray):
    """x (n, k) -> (values, s): the values of its 8-bit activation blocks as a Q8_0 / Q8_1
    kernel sees them (per 32 values d = amax / 127 in float32, q = round(x / d) half to even,
    value = q * fp16(d)) and Q8_1's block sums s = fp16(d * sum q) (n, k / 32), which use the
    float32 d, not fp16(d). Lets the oracle be compared without the quantization error."""
    n, k = x.shape
    b = x.reshape(n, k // 32, 32)
    d = (np.abs(b).max(axis=-1, keepdims=True) / np.float32(127.0)).astype(np.float32)
    safe = np.where(d == 0, np.float32(1.0), d)
    q = np.where(d == 0, 0.0, np.rint(b.astype(np.float32) / safe))
    vals = (q * d.astype(np.float16).astype(np.float64)).reshape(n, k)
    s = (d[..., 0].astype(np.float64) * q.sum(axis=-1)).astype(np.float16).astype(np.float64)
    return vals, s


# Ternary weight types whose edgeq kernels take per-token int8 activations (ACT_I8_TOKEN; I2_S runs
# as TQ2_0).
I8_TOKEN_WEIGHTS = {GGMLQuantizationType.TQ1_0, GGMLQuantizationType.TQ2_0, GGML_I2_S}


def i8_token(x: np.ndarray) -> np.ndarray:
    """x (n, k) -> the values q / s of its per-token int8 activations as the ternary kernels see
    them (bitnet.cpp's quantize_row_i8_s: s = float32(127 / max(1e-5, max|x|)) in double,
    q = clamp(round half to even(float32(x) * s), -128, 127))."""
    x32 = x.astype(np.float32)
    amax = np.maximum(1e-5, np.abs(x32).max(axis=-1, keepdims=True).astype(np.float64))
    s = (127.0 / amax).astype(np.float32)
    q = np.clip(np.rint(x32 * s), -128, 127)
    return q.astype(np.float64) / s.astype(np.float64)


def q4_1_mins(g, name: str) -> np.ndarray:
    """The per-block minimums m (n_out, n_in / 32) of a Q4_1 tensor (block: fp16 d, fp16 m, 16 B)."""
    t = g.tensors[name]
    blocks = np.asarray(g.tensor_bytes(name)).reshape(t.shape[1], t.shape[0] // 32, 20)
    return blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float64)


class RefLlama:
    """emulate_act_quant: pass each matmul input through q8_block32 when the weight's edgeq
    kernel quantizes activations that way (the output then differs from edgeq's only by float
    rounding; without it, by the activation quantization error too)."""

    def __init__(self, g, cfg: dict, emulate_act_quant: bool = False):
        self.cfg = cfg
        self.types = {t.name: t.type for t in g}  # ggml type ids (I2_S is no GGMLQuantizationType)
        self.emulate = emulate_act_quant
        # Q4_1 . Q8_1 = W . x_values + m . (s - blocksum(x_values)): the mins meet s, not x.
        self.mins = {n: q4_1_mins(g, n) for n, ty in self.types.items()
                     if emulate_act_quant and ty == GGMLQuantizationType.Q4_1}
        self.embd = dequant(g, "token_embd.weight")  # (n_vocab, n_embd)
        self.output = dequant(g, "output.weight") if "output.weight" in g.tensors else self.embd
        self.output_norm = dequant(g, "output_norm.weight").astype(np.float64)
        self.layers = []
        for l in range(cfg["n_layer"]):
            p = f"blk.{l}."
            self.layers.append({k: dequant(g, p + k + ".weight") for k in (
                "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")})
            self.layers[-1]["prefix"] = p
            if cfg.get("sub_norms"):
                for k in ("attn_sub_norm", "ffn_sub_norm"):
                    self.layers[-1][k] = dequant(g, p + k + ".weight")
        # name of a matrix's weight -> its scale: BitNet's optional `<matrix>.scale` tensors, and
        # NVFP4's per-tensor scale (llama.cpp loads it for the projections and an NVFP4 output)
        self.scales = {}
        for n in list(self.types):
            w = n[:-len(".scale")] + ".weight"
            if not (n.endswith(".scale") and w in self.types):
                continue
            nvfp4 = self.types[w] == GGMLQuantizationType.NVFP4
            if (cfg.get("matmul_scales") and w != "output.weight") or nvfp4:
                self.scales[w] = float(dequant(g, n).reshape(-1)[0])
        self.output_name = "output.weight" if "output.weight" in g.tensors else "token_embd.weight"

    def mm(self, x: np.ndarray, w: np.ndarray, name: str) -> np.ndarray:
        """x (n, n_in) @ W (n_out, n_in)^T in float64 (times the matrix's scale, if it has one)."""
        return self._mm(x, w, name) * self.scales.get(name, 1.0)

    def _mm(self, x: np.ndarray, w: np.ndarray, name: str) -> np.ndarray:
        if self.emulate and self.types[name] in I8_TOKEN_WEIGHTS:
            return i8_token(x) @ w.T.astype(np.float64)
        if not (self.emulate and self.types[name] in Q8_BLOCK32_WEIGHTS):
            return x @ w.T.astype(np.float64)
        vals, s = q8_block32(x)
        y = vals @ w.T.astype(np.float64)
        if name in self.mins:
            n = x.shape[0]
            y += (s - vals.reshape(n, -1, 32).sum(axis=-1)) @ self.mins[name].T
        return y

    def forward(self, tokens) -> np.ndarray:
        """tokens (n) at positions 0..n-1 -> logits (n, n_vocab), float64."""
        c = self.cfg
        n = len(tokens)
        n_head, n_kv = c["n_head"], c["n_head_kv"]
        hd = c.get("head_dim") or c["n_embd"] // n_head
        rd = c.get("rope_dim") or hd
        neox = c.get("rope_style", "normal") == "neox"
        eps = c["rms_eps"]
        pos = np.arange(n)
        mask = np.triu(np.full((n, n), -np.inf), k=1)
        x = self.embd[np.asarray(tokens)].astype(np.float64)
        for L in self.layers:
            h = rmsnorm(x, L["attn_norm"], eps)
            p = L["prefix"]
            q = self.mm(h, L["attn_q"], p + "attn_q.weight").reshape(n, n_head, hd)
            k = self.mm(h, L["attn_k"], p + "attn_k.weight").reshape(n, n_kv, hd)
            v = self.mm(h, L["attn_v"], p + "attn_v.weight").reshape(n, n_kv, hd)
            q = rope(q, pos, c["rope_base"], rd, neox)
            k = rope(k, pos, c["rope_base"], rd, neox)
            group = n_head // n_kv
            att = np.empty((n, n_head, hd))
            for hh in range(n_head):
                s = q[:, hh, :] @ k[:, hh // group, :].T / np.sqrt(hd) + mask
                s = np.exp(s - s.max(axis=-1, keepdims=True))
                s /= s.sum(axis=-1, keepdims=True)
                att[:, hh, :] = s @ v[:, hh // group, :]
            att = att.reshape(n, n_head * hd)
            if c.get("sub_norms"):
                att = rmsnorm(att, L["attn_sub_norm"], eps)
            x = x + self.mm(att, L["attn_output"], p + "attn_output.weight")
            h = rmsnorm(x, L["ffn_norm"], eps)
            gate = self.mm(h, L["ffn_gate"], p + "ffn_gate.weight")
            up = self.mm(h, L["ffn_up"], p + "ffn_up.weight")
            if c.get("ffn_act", "silu") == "relu2":
                hidden = np.maximum(gate, 0.0) ** 2 * up
            else:
                hidden = gate / (1.0 + np.exp(-gate)) * up
            if c.get("sub_norms"):
                hidden = rmsnorm(hidden, L["ffn_sub_norm"], eps)
            x = x + self.mm(hidden, L["ffn_down"], p + "ffn_down.weight")
        x = rmsnorm(x, self.output_norm, eps)
        return self.mm(x, self.output, self.output_name)
