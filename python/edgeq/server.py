"""`edgeq serve MODEL`: an OpenAI-compatible HTTP server on the standard library.

    GET  /health                  {"status": "ok"}
    GET  /v1/models               the one model
    POST /v1/completions          text completion (SSE when "stream": true, ended by [DONE])
    POST /v1/chat/completions     chat completion (same)

One model, one generation at a time: requests wait their turn (at most --max-queue of them;
beyond that a 503). A client that disconnects stops its generation at the next token. Errors are
OpenAI-shaped ({"error": {"message", "type", "param", "code"}}): bad JSON, unknown fields,
out-of-range values and over-long prompts are 400s, bodies over --max-body bytes 413s.
Binds to 127.0.0.1 unless told otherwise.
"""
from __future__ import annotations

import argparse
import json
import select
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, Optional

from .server_requests import RequestError, chat_request, completion_request

DEFAULT_MAX_BODY = 1 << 20


class ClientGone(Exception):
    """The client closed its connection."""


class EdgeqServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, llm, model_id: str, max_queue: int = 32,
                 max_body: int = DEFAULT_MAX_BODY, verbose: bool = False):
        super().__init__(address, Handler)
        self.llm = llm
        self.model_id = model_id
        self.max_body = max_body
        self.verbose = verbose
        self.created = int(time.time())
        self._slots = threading.BoundedSemaphore(max_queue + 1)  # the running one + the queue


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EdgeqServer
    timeout = 60  # seconds a client may take to send its request

    # ---- plumbing ---------------------------------------------------------------------------
    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write(f"edgeq serve: {self.address_string()} {fmt % args}\n")

    def _send_json(self, status: int, obj: Dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, e: RequestError) -> None:
        self._send_json(e.status, e.body())

    def _client_gone(self) -> bool:
        """True if the peer closed the connection (readable with nothing to read)."""
        try:
            ready, _, _ = select.select([self.connection], [], [], 0)
            return bool(ready) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _read_body(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError(411, "a Content-Length header is required")
        try:
            n = int(length)
        except ValueError:
            raise RequestError(400, "bad Content-Length") from None
        if n < 0:
            raise RequestError(400, "bad Content-Length")
        if n > self.server.max_body:
            self.close_connection = True  # do not read what we refuse
            raise RequestError(413, f"request body of {n} bytes exceeds the limit of "
                                    f"{self.server.max_body}", code="request_too_large")
        raw = self.rfile.read(n)
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RequestError(400, f"invalid JSON: {e}") from None

    # ---- routes -----------------------------------------------------------------------------
    def do_GET(self):
        if self.path == "/health":
            self._send_json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self._send_json(200, {"object": "list", "data": [
                {"id": self.server.model_id, "object": "model", "created": self.server.created,
                 "owned_by": "edgeq"}]})
        else:
            self._error(RequestError(404, f"no route {self.path}", etype="not_found_error"))

    def do_POST(self):
        routes = {"/v1/completions": self._completions, "/v1/chat/completions": self._chat}
        route = routes.get(self.path)
        try:
            if route is None:
                raise RequestError(404, f"no route {self.path}", etype="not_found_error")
            body = self._read_body()
            route(body)
        except RequestError as e:
            self._error(e)
        except ClientGone:
            self.close_connection = True

    def _admit(self):
        if not self.server._slots.acquire(blocking=False):
            raise RequestError(503, "the server is busy; retry later", etype="server_error",
                               code="server_busy")

    def _completions(self, body) -> None:
        prompt, kw, echo = completion_request(body)
        self._generate(lambda: self.server.llm.create_completion(prompt, stream=True, echo=echo,
                                                                 **kw), body, chat=False)

    def _chat(self, body) -> None:
        messages, kw = chat_request(body)
        self._generate(lambda: self.server.llm.create_chat_completion(messages, stream=True,
                                                                      **kw), body, chat=True)

    # ---- generation -------------------------------------------------------------------------
    def _generate(self, start, body, chat: bool) -> None:
        from .api import collect_chat, collect_completion
        from .generate import PromptTooLongError

        self._admit()
        try:
            try:
                chunks = start()
            except PromptTooLongError as e:
                raise RequestError(400, str(e), "messages" if chat else "prompt",
                                   "context_length_exceeded") from None
            except ValueError as e:
                raise RequestError(400, str(e)) from None
            chunks = self._watch(chunks)
            if body.get("stream"):
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                self._stream(chunks, include_usage)
            else:
                out = collect_chat(chunks) if chat else collect_completion(chunks)
                out["model"] = self.server.model_id
                self._send_json(200, out)
        finally:
            self.server._slots.release()

    def _watch(self, chunks: Iterator[dict]) -> Iterator[dict]:
        """Stops the generation (closing its iterator frees the model) when the client goes."""
        try:
            for chunk in chunks:
                if self._client_gone():
                    raise ClientGone()
                chunk["model"] = self.server.model_id
                yield chunk
        finally:
            chunks.close()

    def _stream(self, chunks: Iterator[dict], include_usage: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        usage = None
        try:
            for chunk in chunks:
                usage = chunk.pop("usage", usage)
                self._event(chunk)
            if include_usage and usage is not None:
                self._event(dict(chunk, choices=[], usage=usage))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            raise ClientGone() from None

    def _event(self, obj: dict) -> None:
        self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
        self.wfile.flush()


# ---- command ----------------------------------------------------------------------------------

def add_serve_parser(sub) -> argparse.ArgumentParser:
    from .cli import _int_checked

    p = sub.add_parser("serve", help="OpenAI-compatible HTTP server",
                       description="Serve a model over the OpenAI HTTP API (/v1/completions, "
                                   "/v1/chat/completions, /v1/models, /health).")
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help="GGUF file or model name (default: the default model)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_int_checked(0, ">= 0"), default=8080,
                   help="port (default 8080; 0: any free port)")
    p.add_argument("-c", "--ctx-size", type=_int_checked(1, ">= 1"), default=None, metavar="N",
                   help="context size (default: the model's, at most 4096)")
    p.add_argument("-t", "--threads", type=_int_checked(1, ">= 1"), default=None, metavar="N")
    p.add_argument("--max-queue", type=_int_checked(0, ">= 0"), default=32, metavar="N",
                   help="requests that may wait for the model (default 32)")
    p.add_argument("--max-body", type=_int_checked(1, ">= 1"), default=DEFAULT_MAX_BODY,
                   metavar="BYTES", help="largest request body (default 1 MiB)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    p.set_defaults(func=cmd_serve)
    return p


def make_server(llm, host: str, port: int, **kw) -> EdgeqServer:
    from pathlib import Path

    return EdgeqServer((host, port), llm, Path(llm.model_path).name, **kw)


def cmd_serve(args) -> int:
    from .api import Model

    llm = Model(args.model, n_ctx=args.ctx_size, n_threads=args.threads)
    try:
        server = make_server(llm, args.host, args.port, max_queue=args.max_queue,
                             max_body=args.max_body, verbose=args.verbose)
    except OSError as e:
        from .cli import CliError
        raise CliError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    host, port = server.server_address[:2]
    sys.stderr.write(f"edgeq serve: {server.model_id} on http://{host}:{port}/v1 "
                     f"(Ctrl-C to stop)\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        llm.close()
    return 0
