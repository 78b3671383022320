"""Q1_0 oracles for the tests: plain numpy / Python transcriptions of llama.cpp's C reference
(vendored llama.cpp, ggml/src/ggml-quants.c: quantize_row_q1_0_ref and dequantize_row_q1_0;
block_q1_0 = {fp16 d; uint8 qs[16]} in ggml-common.h). The gguf package knows the type (id 41,
blocks of 128, 18 bytes) but has no Q1_0 quantizer or dequantizer."""
import numpy as np

QK1_0 = 128


def dequantize_q1_0(blocks) -> np.ndarray:
    """dequantize_row_q1_0: value j of a block = bit j % 8 of qs[j / 8] ? d : -d.
    Bytes (any shape, whole blocks) -> float32 (n_blocks, 128)."""
    b = np.asarray(blocks, dtype=np.uint8).reshape(-1, 18)
    d = b[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    bits = (b[:, 2:, None] >> np.arange(8, dtype=np.uint8)) & 1  # (nb, 16, 8): qs[i] bit k = value 8i + k
    return np.where(bits.reshape(-1, QK1_0) == 1, d, -d).astype(np.float32)


def quantize_row_q1_0_ref(x) -> bytes:
    """quantize_row_q1_0_ref, loop by loop in float32 as in C: d = fp16(sum |x| / 128) with the
    sum taken left to right; bit set iff x >= 0."""
    out = bytearray()
    for blk in np.asarray(x, dtype=np.float32).reshape(-1, QK1_0):
        sum_abs = np.float32(0)
        for v in blk:
            sum_abs = np.float32(sum_abs + np.float32(abs(v)))
        d = np.float32(sum_abs / np.float32(QK1_0))
        qs = [0] * 16
        for j in range(QK1_0):
            if blk[j] >= 0.0:
                qs[j // 8] |= 1 << (j % 8)
        out += np.float16(d).tobytes() + bytes(qs)
    return bytes(out)
