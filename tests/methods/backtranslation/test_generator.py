# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""OpenAIGenerator against a loopback stub server; URL and model-folder validation."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from loyal.methods.backtranslation.generator import GenerationError, OpenAIGenerator, TransformersGenerator, check_url


class _Stub(BaseHTTPRequestHandler):
    """Answers /v1/completions (choices out of order) and /v1/chat/completions; records each request."""

    requests: list[tuple[str, dict, str]] = []

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Stub.requests.append((self.path, body, self.headers.get("Authorization", "")))
        if self.path == "/v1/completions":
            answer = {"choices": [{"index": i, "text": f"<{p[::-1]}>"} for i, p in reversed(list(enumerate(body["prompt"])))]}
        elif self.path == "/v1/chat/completions":
            answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": body["messages"][0]["content"].upper()}}]}
        elif self.path == "/fail/v1/completions":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"model exploded")
            return
        elif self.path == "/moved/v1/completions":
            self.send_response(307)
            self.send_header("Location", "https://elsewhere.example/v1/completions")
            self.end_headers()
            return
        else:
            answer = {"unexpected": True}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server_url():
    server = HTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_completions_endpoint_batches_prompts_and_orders_choices(server_url, monkeypatch) -> None:
    # Prepare
    monkeypatch.setenv("STUB_KEY", "sk-test-123")
    _Stub.requests.clear()
    gen = OpenAIGenerator(server_url + "/", "tiny", api_key_env="STUB_KEY", temperature=0.3)
    # Execute
    out = gen.generate(["abc", "xyz", "hello"], max_new_tokens=7, seed=11)
    # Assert
    assert out == ["<cba>", "<zyx>", "<olleh>"]
    path, body, auth = _Stub.requests[-1]
    assert path == "/v1/completions" and len(_Stub.requests) == 1
    assert body == {"model": "tiny", "max_tokens": 7, "temperature": 0.3, "seed": 11, "prompt": ["abc", "xyz", "hello"]}
    assert auth == "Bearer sk-test-123"
    assert "sk-test-123" not in repr(gen)


def test_chat_endpoint_sends_one_request_per_prompt(server_url) -> None:
    _Stub.requests.clear()
    out = OpenAIGenerator(server_url, "tiny", endpoint="chat").generate(["ab", "cd"], 5, seed=0)
    assert out == ["AB", "CD"]
    assert [r[0] for r in _Stub.requests] == ["/v1/chat/completions"] * 2
    assert _Stub.requests[0][1]["messages"] == [{"role": "user", "content": "ab"}] and _Stub.requests[0][2] == ""


@pytest.mark.parametrize(("suffix", "message"), [
    ("/fail", "POST /v1/completions failed: HTTP 500: model exploded"),
    ("/moved", "server redirected to 'https://elsewhere.example/v1/completions'"),
    ("/other", "server answer lacks the expected choices"),
])
def test_generate_fails_if_the_server_misbehaves(server_url, suffix: str, message: str) -> None:
    with pytest.raises(GenerationError, match=message):
        OpenAIGenerator(server_url + suffix, "tiny").generate(["p"], 4, seed=0)


def test_generate_fails_if_nothing_listens() -> None:
    with pytest.raises(GenerationError, match="POST /v1/completions failed"):
        OpenAIGenerator("http://127.0.0.1:9", "tiny", timeout=2).generate(["p"], 4, seed=0)


@pytest.mark.parametrize("url", ["http://localhost:8000", "http://127.0.0.1", "http://[::1]:80/", "https://api.example.com/x"])
def test_check_url_accepts_https_and_loopback_http(url: str) -> None:
    assert check_url(url) == url.rstrip("/")


@pytest.mark.parametrize(("url", "message"), [
    ("http://10.0.0.5:8000", "must use https unless the host is loopback"),
    ("http://example.com", "must use https unless the host is loopback"),
    ("ftp://127.0.0.1", "must be an http\\(s\\) URL with a host"),
    ("127.0.0.1:8000", "must be an http\\(s\\) URL with a host"),
    ("https://user:pw@api.example.com", "must not carry credentials, a query or a fragment"),
    ("https://api.example.com/?key=1", "must not carry credentials, a query or a fragment"),
])
def test_check_url_fails_if_the_url_is_unsafe(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_url(url)


def test_openai_generator_fails_if_the_key_variable_is_unset(monkeypatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(ValueError, match="api_key_env names 'NO_SUCH_KEY_VAR', which is not set"):
        OpenAIGenerator("https://api.example.com", "m", api_key_env="NO_SUCH_KEY_VAR")


def test_transformers_generator_fails_if_the_model_dir_is_missing(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=f"model_dir '{tmp_path / 'nope'}' is not a folder"):
        TransformersGenerator(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="has no config.json \\(save it with save_pretrained\\)"):
        TransformersGenerator(tmp_path)
