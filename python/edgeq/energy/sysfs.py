"""Reading sysfs files under a root directory (tests point the root at a fake tree)."""
from __future__ import annotations

import glob
import os
from typing import List, Optional

from .base import Unavailable


class SysfsTree:
    def __init__(self, root: str = "/"):
        self.root = root

    def path(self, rel: str) -> str:
        """'/sys/class/x' -> root/sys/class/x."""
        return os.path.join(self.root, rel.lstrip("/"))

    def glob(self, rel_pattern: str) -> List[str]:
        return sorted(glob.glob(self.path(rel_pattern)), key=_natural)

    def exists(self, rel: str) -> bool:
        return os.path.exists(self.path(rel))

    def shown(self, path: str) -> str:
        """An absolute path as the user would see it on the real machine (root stripped)."""
        rel = os.path.relpath(path, self.root)
        return "/" + rel if not rel.startswith("..") else path


def read_text(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def read_optional(path: str) -> Optional[str]:
    """The file's text, or None if it does not exist or cannot be read."""
    try:
        return read_text(path)
    except (OSError, UnicodeDecodeError):
        return None


def read_number(path: str, shown: Optional[str] = None) -> float:
    """A sysfs number; unreadable or malformed -> Unavailable naming the file (permission
    errors say so, since RAPL's energy_uj is root-only since Linux 5.10)."""
    where = shown or path
    try:
        text = read_text(path)
    except PermissionError:
        raise Unavailable(f"{where}: permission denied") from None
    except OSError as e:
        raise Unavailable(f"{where}: {e.strerror or e}") from None
    try:
        return float(int(text))
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise Unavailable(f"{where}: not a number ({text[:40]!r})") from None


def _natural(s: str):
    """hwmon2 < hwmon10: digits compare as numbers."""
    import re
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s)]
