"""Which supply rails to add up.

A board monitor (Jetson's INA3221s, a PMIC) reports several rails. When one of them is the
board's input (VDD_IN on Orin and Xavier NX, POM_5V_IN on Nano), it already contains the others:
it alone is the measurement. Otherwise the rails are separate supplies and are summed.
"""
from __future__ import annotations

import re
from typing import List, Sequence, Tuple, TypeVar

T = TypeVar("T")
_INPUT = re.compile(r"(^|_)IN$", re.IGNORECASE)


def select_rails(rails: Sequence[Tuple[str, T]]) -> List[Tuple[str, T]]:
    """rails: (label, anything). Returns the input rail(s) if any, else all of them."""
    inputs = [r for r in rails if _INPUT.search(r[0].strip())]
    return inputs or list(rails)


def rails_detail(rails: Sequence[Tuple[str, object]]) -> str:
    return " + ".join(label for label, _ in rails)
