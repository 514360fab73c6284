"""A small OpenAI-compatible server for tests, on 127.0.0.1 (real HTTP, real streaming).

Its reply is built from the prompt: it quotes the first line of text of passage [1] and cites
it, or says the refusal sentence when the question contains "不存在". `mode` switches faults.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.mode = "ok"
        self.rewrite: str | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                outer.requests.append({"body": body, "auth": self.headers.get("authorization")})
                if outer.mode == "500":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"boom")
                    return
                reply = outer.reply(body["messages"])
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    pieces = [reply[i : i + 5] for i in range(0, len(reply), 5)]
                    if outer.mode == "cut":
                        pieces = pieces[:2]
                    for piece in pieces:
                        chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                        self.wfile.flush()
                    if outer.mode != "cut":
                        self.wfile.write(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
                    return
                payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}]}
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reply(self, messages: list[dict[str, str]]) -> str:
        user = messages[-1]["content"]
        if "改写" in messages[0]["content"]:  # the follow-up rewriter: `rewrite` when set, else the follow-up as sent
            return self.rewrite or user.rsplit("追问：", 1)[-1].split("\n", 1)[0]
        question = user.rsplit("问题：", 1)[-1]
        if "不存在" in question:
            refusal = re.search(r"只回答：(.+)", messages[0]["content"])
            return refusal.group(1).strip() if refusal else "无法回答"
        block = user.split("[1] ", 1)[1].split("\n\n[2]", 1)[0]
        text_lines = [line for line in block.split("\n")[1:] if line.strip()]
        first = text_lines[0].strip() if text_lines else ""
        return f"根据资料，{first}[1]。另见[9]。"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
