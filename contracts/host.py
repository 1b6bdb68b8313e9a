# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A platform host: serves a model over HTTP on 127.0.0.1 and signs every answer (EIP-712 `Response`).

Protocol: ``POST /generate`` with ``{"prompt": str}`` answers ``{"output", "prompt_hash", "output_hash",
"timestamp", "endpoint_hash", "host", "signature"}`` (hashes and signature as 0x-hex). Every answer is signed with
the time it was given and the host's endpoint (the hash it registered on joining). ``GET /health`` answers the
host address and endpoint hash.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_account.signers.local import LocalAccount

from loyal.contracts.eip712 import Domain, response_message, sign_response, try_recover
from loyal.contracts.merkle import hash_text

__all__ = ["HostServer", "JsonHandler", "SignedOutput", "host_address", "query_host"]

logger = logging.getLogger(__name__)

#: A model as the host sees it: prompt text in, generated text out (greedy decoding).
TextModel = Callable[[str], str]

_MAX_BODY = 1 << 20


#: A clock in whole seconds (the registry compares answer timestamps with block timestamps).
Clock = Callable[[], int]


def wall_clock() -> int:
    """Seconds since the epoch (UTC), the default clock."""
    return int(time.time())


@dataclass(frozen=True)
class SignedOutput:
    """A host's answer to one prompt, with its EIP-712 signature."""

    prompt: str
    output: str
    timestamp: int
    endpoint_hash: bytes
    host: str
    signature: bytes = field(repr=False)

    @property
    def prompt_hash(self) -> bytes:
        """keccak256 of the prompt."""
        return hash_text(self.prompt)

    @property
    def output_hash(self) -> bytes:
        """keccak256 of the output."""
        return hash_text(self.output)

    def signer(self, domain: Domain) -> str | None:
        """The address that signed this answer under `domain` by the contract's rules, or None (see `try_recover`)."""
        message = response_message(domain, self.prompt_hash, self.output_hash, self.timestamp, self.endpoint_hash)
        return try_recover(message, self.signature)


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON and logs at debug (the host's, and the guardrail's in front of it)."""

    log_prefix = "host"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        logger.debug(self.log_prefix + ": " + format, *args)

    def _reply(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class HostServer:
    """Serves `model` on 127.0.0.1 from a background thread; every answer is signed by `account`.

    Use as a context manager; `url` is valid inside it. Port 0 (default) picks a free port.

    Args:
      model: prompt → output.
      account: the host's key (its platform address).
      domain: the registry's EIP-712 domain.
      endpoint: the endpoint string whose keccak256 the host registered (`joinPlatform`).
      clock: the time signed into answers, in seconds (default `wall_clock`); tests pass the chain's clock.
      port: TCP port on 127.0.0.1 (0: any free one).
    """

    def __init__(
        self, model: TextModel, account: LocalAccount, domain: Domain, endpoint: str, clock: Clock = wall_clock,
        port: int = 0,
    ):
        if not endpoint:
            raise ValueError("endpoint must be a non-empty string, got ''")
        self._model = model
        self._account = account
        self._domain = domain
        self._endpoint_hash = hash_text(endpoint)
        self._clock = clock
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread: threading.Thread | None = None
        self.served = 0

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, prompt: str) -> dict[str, Any]:
        """Runs the model on `prompt` and signs the result (what `POST /generate` returns)."""
        output = self._model(prompt)
        prompt_hash, output_hash, timestamp = hash_text(prompt), hash_text(output), int(self._clock())
        signature = sign_response(self._account, self._domain, prompt_hash, output_hash, timestamp, self._endpoint_hash)
        self.served += 1
        return {
            "output": output,
            "prompt_hash": "0x" + prompt_hash.hex(),
            "output_hash": "0x" + output_hash.hex(),
            "timestamp": timestamp,
            "endpoint_hash": "0x" + self._endpoint_hash.hex(),
            "host": self._account.address,
            "signature": "0x" + signature.hex(),
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                if self.path == "/health":
                    self._reply(200, {"host": server._account.address,
                                      "endpoint_hash": "0x" + server._endpoint_hash.hex()})
                else:
                    self._reply(404, {"error": f"no route {self.path}"})

            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                if self.path != "/generate":
                    self._reply(404, {"error": f"no route {self.path}"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= _MAX_BODY:
                    self._reply(400, {"error": f"body must be 1..{_MAX_BODY} bytes, got {length}"})
                    return
                try:
                    prompt = json.loads(self.rfile.read(length))["prompt"]
                    if not isinstance(prompt, str):
                        raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
                except (ValueError, KeyError, TypeError) as e:
                    self._reply(400, {"error": f"expected {{\"prompt\": str}}: {e}"})
                    return
                self._reply(200, server.answer(prompt))

        return Handler

    def start(self) -> HostServer:
        """Starts serving in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="oml-host", daemon=True)
        self._thread.start()
        logger.info("host %s serving at %s", self._account.address, self.url)
        return self

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HostServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def query_host(url: str, prompt: str, timeout: float = 10.0) -> SignedOutput:
    """Sends `prompt` to a host's ``/generate`` and returns its signed answer.

    Raises:
      ValueError: if the host's reply is malformed or its prompt hash is not that of `prompt`.
    """
    request = urllib.request.Request(
        url.rstrip("/") + "/generate",
        data=json.dumps({"prompt": prompt}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310 (URL given by the owner)
        body = json.loads(reply.read())
    try:
        out = SignedOutput(
            prompt=prompt,
            output=str(body["output"]),
            timestamp=int(body["timestamp"]),
            endpoint_hash=bytes.fromhex(str(body["endpoint_hash"]).removeprefix("0x")),
            host=str(body["host"]),
            signature=bytes.fromhex(str(body["signature"]).removeprefix("0x")),
        )
    except (KeyError, ValueError, TypeError) as e:
        raise ValueError(f"host {url} sent a malformed reply: {e}") from None
    if body.get("prompt_hash") != "0x" + out.prompt_hash.hex():
        raise ValueError(f"host {url} signed a different prompt (prompt_hash {body.get('prompt_hash')})")
    return out


def host_address(url: str, timeout: float = 10.0) -> str:
    """Returns the signing address a host announces at ``GET /health``."""
    with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as reply:  # noqa: S310
        return str(json.loads(reply.read())["host"])
