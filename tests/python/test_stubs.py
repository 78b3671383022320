"""The typing stub of the C++ extension (python/edgeq/_core.pyi, shipped with py.typed) names
exactly what the compiled module exports, so type checkers and editors see the real interface.
Regenerate after changing a binding:
    pip install pybind11-stubgen && PYTHONPATH=python pybind11-stubgen edgeq._core -o /tmp/s \\
        && cp /tmp/s/edgeq/_core.pyi python/edgeq/_core.pyi
"""
import ast
from pathlib import Path

import edgeq
from edgeq import _core

STUB = Path(edgeq.__file__).with_name("_core.pyi")


def _public(names):
    return {n for n in names if not n.startswith("_")}


def test_stub_matches_module():
    assert STUB.is_file(), f"{STUB} is missing (installed packages must ship it)"
    tree = ast.parse(STUB.read_text())
    functions, classes = set(), {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            functions.add(node.name)
        elif (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
              and node.target.id != "__all__"):
            functions.add(node.target.id)  # a constant (e.g. TYPE_TL2: int)
        elif isinstance(node, ast.ClassDef):
            classes[node.name] = _public(n.name for n in node.body
                                         if isinstance(n, ast.FunctionDef))
    exported = _public(dir(_core)) - {"annotations"}  # (the stub's `from __future__` import)
    module_classes = {n for n in exported if isinstance(getattr(_core, n), type)}
    assert functions == exported - module_classes
    assert set(classes) == module_classes
    for name, members in classes.items():
        assert members == _public(dir(getattr(_core, name))), name
    assert (STUB.parent / "py.typed").is_file()
