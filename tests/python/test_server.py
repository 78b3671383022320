"""`edgeq serve`: the official `openai` client against the server (streaming and not), the
OpenAI-shaped errors, a disconnecting client, and a bounded load test on loopback (every
request answered or refused with an error, nothing crashes, memory stays flat)."""
from __future__ import annotations

import http.client
import json
import resource
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

openai = pytest.importorskip("openai")  # a test dependency (pip install .[test])

import edgeq  # noqa: E402
from edgeq.server import make_server  # noqa: E402


@pytest.fixture(scope="module")
def server(smollm2):
    llm = edgeq.Model(str(smollm2), n_ctx=1024, seed=3)
    srv = make_server(llm, "127.0.0.1", 0, max_queue=64, max_body=64 * 1024)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    llm.close()


@pytest.fixture(scope="module")
def client(server):
    host, port = server.server_address[:2]
    return openai.OpenAI(base_url=f"http://{host}:{port}/v1", api_key="none", max_retries=0)


def raw(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers=headers or {})
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


def test_models_and_health(client, server):
    assert [m.id for m in client.models.list().data] == [server.model_id]
    assert raw(server, "GET", "/health") == (200, b'{"status": "ok"}')


def test_openai_completion(client):
    r = client.completions.create(model="x", prompt="The capital of France is", max_tokens=8,
                                  temperature=0)
    assert r.object == "text_completion" and r.choices[0].finish_reason in ("length", "stop")
    assert r.usage.completion_tokens <= 8 and r.usage.prompt_tokens > 0
    chunks = list(client.completions.create(model="x", prompt="The capital of France is",
                                            max_tokens=8, temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == r.choices[0].text
    print(f"\nopenai completions: {r.choices[0].text!r} ({r.usage.prompt_tokens} + "
          f"{r.usage.completion_tokens} tokens, {r.choices[0].finish_reason}); streamed in {len(chunks)} chunks")


def test_openai_chat_stream_and_usage(client):
    messages = [{"role": "user", "content": "What is 2 + 2?"}]
    r = client.chat.completions.create(model="x", messages=messages, max_tokens=12,
                                       temperature=0)
    assert r.choices[0].message.role == "assistant"
    stream = client.chat.completions.create(model="x", messages=messages, max_tokens=12,
                                            temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == r.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == r.usage.total_tokens
    print(f"\nopenai chat: {r.choices[0].message.content!r}; streamed {len(chunks)} chunks, "
          f"usage {chunks[-1].usage.prompt_tokens} + {chunks[-1].usage.completion_tokens} tokens")


@pytest.mark.parametrize("body,status,param", [
    (b"{not json", 400, None),
    ({"prompt": "hi", "bogus": 1}, 400, "bogus"),
    ({"prompt": "hi", "temperature": "hot"}, 400, "temperature"),
    ({"prompt": "hi", "max_tokens": 0}, 400, "max_tokens"),
    ({"prompt": "hi", "n": 2}, 400, "n"),
    ({"max_tokens": 4}, 400, "prompt"),
    ({"prompt": "word " * 3000, "max_tokens": 4}, 400, "prompt"),
])
def test_openai_shaped_errors(server, body, status, param):
    code, data = raw(server, "POST", "/v1/completions", body,
                     {"Content-Type": "application/json"})
    err = json.loads(data)["error"]
    assert code == status and err["param"] == param and err["message"]
    assert set(err) == {"message", "type", "param", "code"}


def test_context_and_size_limits(server, client):
    with pytest.raises(openai.BadRequestError, match="context"):
        client.completions.create(model="x", prompt="word " * 3000, max_tokens=4)
    code, data = raw(server, "POST", "/v1/completions", b"x" * (65 * 1024),
                     {"Content-Type": "application/json"})
    assert code == 413 and json.loads(data)["error"]["code"] == "request_too_large"
    code, _ = raw(server, "GET", "/v1/nothing")
    assert code == 404


def test_disconnect_stops_generation(server):
    """A streaming client reads one event and hangs up: the server stops generating (the next
    request is served at once) instead of running to max_tokens."""
    body = json.dumps({"prompt": "Count: 1, 2, 3,", "max_tokens": 900, "temperature": 0,
                       "stream": True}).encode()
    s = socket.create_connection(server.server_address[:2])
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    got = b""
    while b"data: " not in got:  # the headers, then the first event
        part = s.recv(4096)
        assert part, "the server closed the stream"
        got += part
    s.close()
    t0 = time.perf_counter()
    code, _ = raw(server, "POST", "/v1/completions", {"prompt": "Hi", "max_tokens": 1})
    waited = time.perf_counter() - t0
    assert code == 200
    assert server.llm._model.n_past < 300, "the abandoned generation ran on"
    assert waited < 10


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_load_many_concurrent_clients(server, client, capsys):
    """24 clients x 3 requests each, mixed streaming / not / invalid: every request gets an
    answer or an OpenAI error, and RSS does not grow by more than 64 MiB across the run."""
    def one(i):
        t0 = time.perf_counter()
        kind = i % 3
        try:
            if kind == 0:
                r = client.completions.create(model="x", prompt=f"Item {i}:", max_tokens=6)
                ok = r.choices[0].finish_reason is not None
            elif kind == 1:
                chunks = list(client.chat.completions.create(
                    model="x", messages=[{"role": "user", "content": f"Hi {i}"}],
                    max_tokens=6, stream=True))
                ok = chunks[-1].choices[0].finish_reason is not None
            else:
                try:
                    client.completions.create(model="x", prompt="x", max_tokens=-5)
                    ok = False
                except openai.BadRequestError:
                    ok = True
            return ok, time.perf_counter() - t0, None
        except openai.APIStatusError as e:  # e.g. 503 busy: an answer, not a crash
            return e.status_code == 503, time.perf_counter() - t0, e.status_code

    client.completions.create(model="x", prompt="warm up", max_tokens=2)
    rss0 = _rss_kib()
    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(one, range(72)))
    rss1 = _rss_kib()
    lat = sorted(r[1] for r in results)
    errors = sum(1 for r in results if r[2] is not None)
    assert all(r[0] for r in results)
    assert rss1 - rss0 < 64 * 1024
    with capsys.disabled():
        print(f"\nload test: 24 clients, {len(results)} requests, {errors} refused (busy), "
              f"p50 {statistics.median(lat):.2f} s, p99 {lat[int(0.99 * (len(lat) - 1))]:.2f} s, "
              f"RSS {rss0 // 1024} -> {rss1 // 1024} MiB")
    assert raw(server, "GET", "/health")[0] == 200
