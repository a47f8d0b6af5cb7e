"""A Chat Completions endpoint for benchmarks and tests: a function of the prompt answers, after a pause if asked."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = Callable[[str], dict]  # the user messages' text -> the proposal object the model would write


class ChatStandIn:
    """Serves POST /v1/chat/completions on 127.0.0.1 until closed; each answer is answer(prompt), think seconds late."""

    def __init__(self, answer: Answer, think: float = 0.0, model: str = "stand-in") -> None:
        self.answer, self.think, self.model = answer, think, model
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                prompt = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
                proposal = stand_in.answer(prompt)
                time.sleep(stand_in.think)
                data = json.dumps({"model": stand_in.model, "choices": [{"message": {"content": json.dumps(proposal)}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """The base URL to give as AUTORESEARCH_LLM_BASE_URL."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
