"""The LLM clients against a real HTTP server on 127.0.0.1: retries, timeouts, headers, a quiet key."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from structlog.testing import capture_logs

from services.proposer.llm.client import RESPONSE_MAX_BYTES, LLMError, LLMUnavailable, Message
from services.proposer.llm.config import LLMSettings
from services.proposer.llm.providers import make_chat_client

KEY = "sk-live-SECRET-4242-do-not-log"
OPENAI_OK = {"model": "local-model", "choices": [{"message": {"content": "answer"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
ANTHROPIC_OK = {"model": "claude-local", "content": [{"type": "text", "text": "answer"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 4, "output_tokens": 1}}


@dataclass
class Reply:
    """One scripted response; delay holds it back to trip the client's read timeout."""

    status: int
    body: dict = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    endless_mb: int = 0  # when set, a body of this many MiB with no length given, written until the client hangs up


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: dict


class LLMServer:
    """A scripted LLM endpoint in a thread."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.seen: list[Seen] = []
        self.written, self.hung_up = 0, threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                reply = server.script.pop(0) if server.script else Reply(500)
                time.sleep(reply.delay)
                if reply.endless_mb:
                    self.write_endless(reply.endless_mb)
                    return
                payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in {"content-type": "application/json", **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it was meant to

            def write_endless(self, megabytes: int) -> None:
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.end_headers()  # no content-length: the body ends when the connection does
                    self.wfile.write(b'{"choices": [{"message": {"content": "')
                    for _ in range(megabytes):
                        self.wfile.write(b"x" * 1024 * 1024)
                        server.written += 1024 * 1024
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    server.hung_up.set()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    server = LLMServer()
    thread = threading.Thread(target=server.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def settings(provider: str, base_url: str, **extra: object) -> LLMSettings:
    key = {"ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY": KEY}
    given = dict(llm_provider=provider, llm_base_url=base_url, llm_model="m1", llm_backoff_s=0.01,
                 llm_backoff_max_s=0.05, llm_max_attempts=4, llm_read_timeout=2.0)
    return LLMSettings(**{**given, **key, **extra})


async def test_openai_client_retries_429_and_500_and_keeps_the_key_out_of_logs(llm_server, caplog):
    llm_server.script = [Reply(429, {"error": "slow down"}, {"Retry-After": "0"}), Reply(500), Reply(200, OPENAI_OK)]
    caplog.set_level(logging.DEBUG)
    chat = make_chat_client(settings("openai", llm_server.url + "/v1"))
    try:
        with capture_logs() as logs:
            completion = await chat.complete("persona", [Message("user", "propose")])
    finally:
        await chat.aclose()
    assert (completion.text, completion.input_tokens, completion.output_tokens) == ("answer", 3, 2)
    assert [s.path for s in llm_server.seen] == ["/v1/chat/completions"] * 3
    assert all(s.headers["authorization"] == f"Bearer {KEY}" for s in llm_server.seen)
    assert llm_server.seen[0].body["messages"][0] == {"role": "system", "content": "persona"}
    retries = [entry for entry in logs if entry["event"] == "llm request failed, retrying"]
    assert [entry["problem"] for entry in retries] == ["HTTP 429", "HTTP 500"]
    assert retries[0]["delay_s"] == 0  # Retry-After: 0 was honoured instead of the backoff
    assert caplog.records, "httpx logs at debug level were expected to be captured"
    assert KEY not in repr(logs) and KEY not in caplog.text


async def test_anthropic_client_sends_its_headers_and_retries_429(llm_server, caplog):
    llm_server.script = [Reply(429, headers={"retry-after": "0"}), Reply(200, ANTHROPIC_OK)]
    caplog.set_level(logging.DEBUG)
    chat = make_chat_client(settings("anthropic", llm_server.url))
    try:
        completion = await chat.complete("persona", [Message("user", "propose")])
    finally:
        await chat.aclose()
    assert completion.text == "answer" and completion.model == "claude-local"
    seen = llm_server.seen[-1]
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == KEY and seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.body["system"] == "persona" and seen.body["max_tokens"] == 8192
    assert len(llm_server.seen) == 2
    assert KEY not in caplog.text


async def test_read_timeout_is_retried(llm_server):
    llm_server.script = [Reply(200, OPENAI_OK, delay=0.4), Reply(200, OPENAI_OK)]
    chat = make_chat_client(settings("openai", llm_server.url, llm_read_timeout=0.1))
    try:
        completion = await chat.complete("s", [Message("user", "u")])
    finally:
        await chat.aclose()
    assert completion.text == "answer" and len(llm_server.seen) == 2


async def test_endpoint_down_raises_unavailable_after_the_bound():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the client connects: nothing listens there
    chat = make_chat_client(settings("openai", f"http://127.0.0.1:{port}", llm_max_attempts=3))
    try:
        with capture_logs() as logs, pytest.raises(LLMUnavailable, match="failed 3 times; last: ConnectError"):
            await chat.complete("s", [Message("user", "u")])
    finally:
        await chat.aclose()
    assert sum(1 for entry in logs if entry["event"] == "llm request failed, retrying") == 2


async def test_an_endless_answer_is_cut_off_at_the_limit_and_not_asked_again(llm_server):
    llm_server.script = [Reply(200, endless_mb=256)]
    chat = make_chat_client(settings("openai", llm_server.url))
    try:
        with pytest.raises(LLMError, match=f"over {RESPONSE_MAX_BYTES} bytes; it was not read further"):
            await chat.complete("s", [Message("user", "u")])
    finally:
        await chat.aclose()
    assert llm_server.hung_up.wait(timeout=30)
    assert llm_server.written < 64 * 1024 * 1024  # the client hung up after a few MiB, socket buffers included
    assert len(llm_server.seen) == 1
