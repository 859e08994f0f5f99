"""A local OpenAI-compatible chat-completions server for tests (stdlib only, 127.0.0.1, random port).

Replies are scripted: each POST to ``/v1/chat/completions`` takes the next entry of ``script``:

- a string → a 200 completion with that content (and token usage);
- a callable ``f(request_json) -> str`` → the same, content computed from the request;
- ``{"status": 500}`` (any code) → an error response with that status, with ``"message"`` as the
  error text and ``"headers"`` (e.g. ``{"Retry-After": "7"}``) when given;
- ``{"drop": True}`` → the connection is closed without a response (a transport error);
- ``{"tool_input": "..."}`` → a 200 completion whose answer is a custom tool call with that input.

``GET /v1/models`` lists ``models`` (404 when it is None). Every POST (body and headers) is
recorded in ``requests`` for assertions.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubOpenAI:
    def __init__(self, script: list, models: list[str] | None = None) -> None:
        self.script = list(script)
        self.models = models
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                return None

            def do_GET(self):  # noqa: N802
                if self.path.endswith("/models") and stub.models is not None:
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in stub.models]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                stub.requests.append(body)
                stub.headers.append({k.lower(): v for k, v in self.headers.items()})
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                item = stub.script.pop(0) if stub.script else "no more scripted replies"
                if isinstance(item, dict) and item.get("drop"):
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if isinstance(item, dict) and "status" in item:
                    self._send(int(item["status"]), {"error": {"message": item.get("message", "scripted failure"),
                                                               "type": "server_error"}}, item.get("headers"))
                    return
                tool_calls = None
                if isinstance(item, dict) and "tool_input" in item:
                    tool_calls = [{"id": "call_1", "type": "custom",
                                   "custom": {"name": "submit_mapper", "input": item["tool_input"]}}]
                    content = ""
                else:
                    content = item(body) if callable(item) else str(item)
                prompt_chars = sum(len(m.get("content") or "") for m in body.get("messages", []))
                self._send(200, {
                    "id": f"chatcmpl-{len(stub.requests)}", "object": "chat.completion", "created": 0,
                    "model": body.get("model", "stub"),
                    "choices": [{"index": 0, "finish_reason": "tool_calls" if tool_calls else "stop",
                                 "message": {"role": "assistant", "content": content or None,
                                             **({"tool_calls": tool_calls} if tool_calls else {})}}],
                    "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(content) // 4,
                              "total_tokens": prompt_chars // 4 + len(content) // 4},
                })

            def _send(self, code: int, obj: dict, headers: dict | None = None) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "StubOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
