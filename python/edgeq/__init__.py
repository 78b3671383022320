"""edgeq: a CPU-first runtime for low-bit language models.

    import edgeq
    llm = edgeq.Model("model.gguf")      # or edgeq.Model() for the default model
    print(llm("The capital of France is", max_tokens=8)["choices"][0]["text"])
"""
from . import _core  # noqa: F401

__version__ = "0.1.0"
__all__ = ["Model", "__version__"]


def __getattr__(name):
    # Lazy: `python -m edgeq` and `import edgeq._core` need not import jinja2 and the tokenizer.
    if name == "Model":
        from .api import Model
        return Model
    raise AttributeError(f"module 'edgeq' has no attribute {name!r}")
