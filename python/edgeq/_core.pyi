"""
edgeq C++ core: kernels and the transformer forward pass
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['ACT_B1', 'ACT_I8_LUT3', 'ACT_I8_LUT3S', 'ACT_I8_TOKEN', 'ACT_Q8_PLANES', 'Model', 'TYPE_TL2', 'TYPE_TL2D', 'act_type_name', 'arch_flags', 'block_size', 'compiled_isas', 'cpu_features', 'cpu_model_name', 'cuda_available', 'cuda_benchmark', 'cuda_matmul', 'cuda_status', 'dequantize', 'ggml_types', 'has_quantizer', 'isa', 'matmul', 'matmul_act_type', 'matmul_kernel_isa', 'matmul_rows', 'quantize', 'quantize_act', 'quantize_rows', 'runnable_isas', 'tl_pack', 'type_name', 'type_size', 'x16_pack', 'x16_type']
class Model:
    """
    A llama-style decoder over zero-copy GGUF tensors, with its KV cache
    """
    def __init__(self, config: dict, tensors: dict, n_ctx: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex, isa: str = '', ternary_layout: str = 'auto', device: str = 'cpu') -> None:
        """
        isa: kernel table to use ('' = the dispatched one, as edgeq._core.isa()); ternary_layout: 'auto' | 'native' | 'tl' (how TQ2_0 / TQ1_0 matrices are kept, see weights.h); device: 'cpu' or 'cuda' (the whole forward pass on the GPU, backends/gpu_model.h; isa and ternary_layout then do not apply; RuntimeError 'CUDA not available: ...' without a usable device)
        """
    def eval(self, tokens: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], all_logits: bool = False) -> numpy.typing.NDArray[numpy.float32]:
        """
        Run tokens at positions n_past.. and append them to the cache; returns float32 logits (n, n_vocab) if all_logits else (1, n_vocab) for the last token
        """
    def reset(self) -> None:
        """
        Empty the cache
        """
    def truncate(self, n: typing.SupportsInt | typing.SupportsIndex) -> None:
        """
        Rewind the cache to its first n positions
        """
    @property
    def device(self) -> str:
        ...
    @property
    def device_info(self) -> str:
        """
        on the GPU: the device and what the model holds there (one line); else ''
        """
    @property
    def isa(self) -> str:
        ...
    @property
    def n_ctx(self) -> int:
        ...
    @property
    def n_past(self) -> int:
        ...
    @property
    def n_threads(self) -> int:
        """
        CPU threads of the forward pass (1 on the GPU: the host thread that drives it)
        """
    @property
    def n_vocab(self) -> int:
        ...
    @property
    def ternary_layout(self) -> str:
        """
        'tl', 'native' or 'none' (no ternary matrices, or the GPU, which keeps every non-FP4 matrix as F16)
        """
    @property
    def ternary_note(self) -> str:
        """
        why ternary_layout='auto' kept the ternary matrices native, else ''
        """
    @property
    def tied_output(self) -> bool:
        ...
def act_type_name(act: typing.SupportsInt | typing.SupportsIndex) -> str:
    """
    name of an activation format
    """
def arch_flags() -> dict:
    """
    The architectures the forward pass runs: {arch: {rope_style, ffn_act, sub_norms, matmul_scales}}
    """
def block_size(arg0: typing.SupportsInt | typing.SupportsIndex) -> int:
    ...
def compiled_isas() -> list[str]:
    ...
def cpu_features() -> list[str]:
    ...
def cpu_model_name() -> str:
    ...
def cuda_available() -> bool:
    ...
def cuda_benchmark(type: typing.SupportsInt | typing.SupportsIndex, w: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], n_out: typing.SupportsInt | typing.SupportsIndex, n_in: typing.SupportsInt | typing.SupportsIndex, n_tok: typing.SupportsInt | typing.SupportsIndex = 1, path: str = 'auto', iters: typing.SupportsInt | typing.SupportsIndex = 20) -> dict:
    """
    Median time of one GPU matmul with resident weights: {path, device, seconds, weight_gbps, memcpy_gbps}
    """
def cuda_matmul(type: typing.SupportsInt | typing.SupportsIndex, w: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], n_out: typing.SupportsInt | typing.SupportsIndex, n_in: typing.SupportsInt | typing.SupportsIndex, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], path: str = 'auto') -> numpy.typing.NDArray[numpy.float32]:
    """
    Y (n_tok, n_out) = X @ W^T on the GPU for MXFP4 / NVFP4 GGUF bytes W; path auto|gemv|wmma|fp4mma. RuntimeError 'CUDA not available: <reason>' without a usable device
    """
def cuda_status() -> str:
    ...
def dequantize(type: typing.SupportsInt | typing.SupportsIndex, data: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], n: typing.SupportsInt | typing.SupportsIndex, isa: str = '') -> numpy.typing.NDArray[numpy.float32]:
    ...
def ggml_types() -> dict:
    """
    The GGML tensor types the C++ GGUF reader knows: {id: (name, values per block, bytes per block)}
    """
def has_quantizer(type: typing.SupportsInt | typing.SupportsIndex, search: str = 'rtn') -> bool:
    """
    whether the C++ core quantizes weights of this GGUF type
    """
def isa() -> str:
    """
    ISA of the kernel table in use
    """
def matmul(type: typing.SupportsInt | typing.SupportsIndex, w: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], n_out: typing.SupportsInt | typing.SupportsIndex, n_in: typing.SupportsInt | typing.SupportsIndex, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], isa: str = '', binary_act: bool = False) -> numpy.typing.NDArray[numpy.float32]:
    ...
def matmul_act_type(type: typing.SupportsInt | typing.SupportsIndex, isa: str = '') -> int:
    ...
def matmul_kernel_isa(type: typing.SupportsInt | typing.SupportsIndex, isa: str = '') -> str:
    """
    ISA that implements the matmul kernel for a type
    """
def matmul_rows(type: typing.SupportsInt | typing.SupportsIndex, w: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], n_out: typing.SupportsInt | typing.SupportsIndex, n_in: typing.SupportsInt | typing.SupportsIndex, xq: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], y: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], row0: typing.SupportsInt | typing.SupportsIndex, row1: typing.SupportsInt | typing.SupportsIndex, isa: str = '') -> None:
    ...
def quantize(type: typing.SupportsInt | typing.SupportsIndex, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.uint8]:
    """
    Quantize float rows (rows, n) to GGUF bytes (rows, row bytes) with edgeq's reference weight quantizer (MXFP4, NVFP4: byte-identical to llama.cpp's quantize_row_*_ref)
    """
def quantize_act(act: typing.SupportsInt | typing.SupportsIndex, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], isa: str = '') -> numpy.typing.NDArray[numpy.uint8]:
    ...
def quantize_rows(type: typing.SupportsInt | typing.SupportsIndex, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], n_threads: typing.SupportsInt | typing.SupportsIndex = 0, search: str = 'rtn') -> numpy.typing.NDArray[numpy.uint8]:
    """
    float32 (n_rows, n_per_row) -> uint8 (n_rows, row bytes): ggml's reference quantizer bytes (search='rtn'), or for Q4_K a searched fit ('mse', 'wmse')
    """
def runnable_isas() -> list[str]:
    ...
def tl_pack(type: typing.SupportsInt | typing.SupportsIndex, w: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], n_out: typing.SupportsInt | typing.SupportsIndex, n_in: typing.SupportsInt | typing.SupportsIndex, layout: typing.SupportsInt | typing.SupportsIndex = 63) -> numpy.typing.NDArray[numpy.uint8]:
    ...
def type_name(arg0: typing.SupportsInt | typing.SupportsIndex) -> str:
    ...
def type_size(arg0: typing.SupportsInt | typing.SupportsIndex) -> int:
    ...
def x16_pack(type: typing.SupportsInt | typing.SupportsIndex, w: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], n_out: typing.SupportsInt | typing.SupportsIndex, n_in: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.uint8]:
    """
    Q4_0 / Q4_1 / Q5_0 / Q8_0 / Q4_K / Q6_K rows -> the 16-row interleaved layout (type x16_type(type))
    """
def x16_type(type: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    the x16 layout's type id of a weight type, else 0
    """
ACT_B1: int = 7
ACT_I8_LUT3: int = 5
ACT_I8_LUT3S: int = 8
ACT_I8_TOKEN: int = 4
ACT_Q8_PLANES: int = 6
TYPE_TL2: int = 63
TYPE_TL2D: int = 56
