"""A real ``procflow serve`` under hostile clients: a hanging identity provider, huge
headers, slowloris heads and bodies, big bodies. Each is refused or cut off in bounded time,
and ``/health/live`` answers within a second while it goes on."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.api.served import PROCFLOW, free_port, wait_ready

WORKSPACE = "00000000-0000-0000-0000-000000000001"
APP = "00000000-0000-0000-0000-0000000000a1"
START = f"/api/runtime/wks/{WORKSPACE}/app/{APP}/process-name/loan_application/start"
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
JWKS_TIMEOUT = 2.0
METRICS_TOKEN = "scrape-" + "m" * 24


class _Idp(BaseHTTPRequestHandler):
    """Serves its JWKS until told to hang: then it accepts and never answers."""

    document = b""
    hang = threading.Event()
    release = threading.Event()

    def do_GET(self) -> None:
        if self.hang.is_set():
            self.release.wait(60)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Served:
    base: str
    port: int
    metrics_port: int
    token: Callable[[str], str]
    idp: type[_Idp]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("hostile")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    idp: type[_Idp] = type(
        "Idp", (_Idp,), {"hang": threading.Event(), "release": threading.Event()}
    )
    idp.document = json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256"}]}).encode()
    idp_server = ThreadingHTTPServer(("127.0.0.1", 0), idp)
    idp_server.daemon_threads = True
    threading.Thread(target=idp_server.serve_forever, daemon=True).start()
    port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCFLOW_")}
    env.update(
        PROCFLOW_DATA_DIR=str(tmp / "data"),
        PROCFLOW_PORT=str(port),
        PROCFLOW_JWKS_URL=f"http://127.0.0.1:{idp_server.server_address[1]}/jwks",
        PROCFLOW_JWKS_TIMEOUT_SECONDS=str(JWKS_TIMEOUT),
        PROCFLOW_JWKS_REFETCH_SECONDS="600",
        PROCFLOW_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        PROCFLOW_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
        PROCFLOW_METRICS_PORT=str(metrics_port),
        PROCFLOW_METRICS_TOKEN=METRICS_TOKEN,
    )
    log = tmp / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(PROCFLOW), "serve"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp
        )

    def token(kid: str) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": "hostile-test",
            "iss": "procflow",
            "aud": "procflow",
            "iat": now,
            "exp": now + timedelta(minutes=10),
            "workspaces": {WORKSPACE: ["start", "read"]},
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, log)
        yield Served(base, port, metrics_port, token, idp)
    finally:
        idp.release.set()
        process.terminate()
        process.wait(timeout=10)
        idp_server.shutdown()


def _live_latency(base: str, during: Callable[[], bool]) -> float:
    """The slowest /health/live (each on a new connection) while ``during()`` holds."""
    slowest = 0.0
    probes = 0
    while during() or probes < 3:
        began = time.monotonic()
        response = httpx.get(f"{base}/health/live", timeout=5)
        slowest = max(slowest, time.monotonic() - began)
        assert response.status_code == 200
        probes += 1
        time.sleep(0.05)
    return slowest


def _in_background(work: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        began = time.monotonic()
        outcome["value"] = work()
        outcome["seconds"] = time.monotonic() - began

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _connect(served: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


def test_a_hanging_identity_provider_freezes_nothing(served: Served) -> None:
    known = served.token("k1")
    headers = {"Authorization": f"Bearer {known}"}
    assert (
        httpx.get(
            f"{served.base}/api/runtime/wks/{WORKSPACE}/process-instances",
            headers=headers,
            timeout=10,
        ).status_code
        == 200
    )
    served.idp.hang.set()
    rotated = {"Authorization": f"Bearer {served.token('k2')}"}
    search = f"{served.base}/api/runtime/wks/{WORKSPACE}/process-instances"
    thread, outcome = _in_background(lambda: httpx.get(search, headers=rotated, timeout=10))
    slowest = _live_latency(served.base, thread.is_alive)
    thread.join()
    assert slowest < 1.0
    assert outcome["value"].status_code == 401
    assert outcome["seconds"] < JWKS_TIMEOUT + 1.5
    # No refetch is allowed for a while: the next unknown kid is refused at once, and the
    # cached key still works.
    began = time.monotonic()
    again = httpx.get(
        f"{served.base}/api/runtime/wks/{WORKSPACE}/process-instances", headers=rotated, timeout=10
    )
    assert again.status_code == 401 and time.monotonic() - began < 0.5
    assert again.json()["message"] == "Invalid token." and "k2" not in again.text
    assert (
        httpx.get(
            f"{served.base}/api/runtime/wks/{WORKSPACE}/process-instances",
            headers=headers,
            timeout=10,
        ).status_code
        == 200
    )


def test_huge_headers_are_refused_before_they_are_read(served: Served) -> None:
    # Just over the per-header limit: a 431 problem, then the connection is closed.
    with _connect(served) as sock:
        sock.sendall(
            b"GET /health/live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + b"a" * 9000
            + b"\r\n\r\n"
        )
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"application/problem+json" in answer

    def send_32_mb() -> int:
        sent = 0
        with _connect(served) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
            try:
                while sent < 32 * 1024 * 1024:
                    sock.sendall(b"a" * 65536)
                    sent += 65536
            except OSError:
                pass
        return sent

    thread, outcome = _in_background(send_32_mb)
    slowest = _live_latency(served.base, thread.is_alive)
    thread.join()
    assert slowest < 1.0
    assert outcome["value"] < 8 * 1024 * 1024, "the server kept reading a 32 MB header"
    assert outcome["seconds"] < 2.0


def test_slowloris_heads_are_cut_off_at_the_header_timeout(served: Served) -> None:
    def slowloris() -> bytes:
        with _connect(served) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
            try:
                for i in range(40):
                    sock.sendall(f"X-{i}: y\r\n".encode())
                    time.sleep(0.25)
            except OSError:
                pass
            return _read_all(sock)

    silent = [_connect(served) for _ in range(20)]  # connected, never a byte
    threads = [_in_background(slowloris) for _ in range(20)]
    slowest = _live_latency(served.base, lambda: any(t.is_alive() for t, _ in threads))
    assert slowest < 1.0
    for thread, outcome in threads:
        thread.join()
        assert outcome["value"].startswith(b"HTTP/1.1 408"), outcome["value"][:100]
        assert outcome["seconds"] < HEADER_TIMEOUT + 1.5
    for sock in silent:
        sock.settimeout(HEADER_TIMEOUT + 1.5)
        assert _read_all(sock) == b""  # closed by the server, not by the timeout above
        sock.close()


def test_a_slow_body_is_a_408_and_a_big_one_a_413(served: Served) -> None:
    token = served.token("k1")

    def slow_body() -> bytes:
        with _connect(served) as sock:
            sock.sendall(
                (
                    f"POST {START} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
                ).encode()
            )
            try:
                for _ in range(40):
                    sock.sendall(b" ")
                    time.sleep(0.25)
            except OSError:
                pass
            return _read_all(sock)

    threads = [_in_background(slow_body) for _ in range(5)]
    slowest = _live_latency(served.base, lambda: any(t.is_alive() for t, _ in threads))
    assert slowest < 1.0
    for thread, outcome in threads:
        thread.join()
        assert outcome["value"].startswith(b"HTTP/1.1 408"), outcome["value"][:300]
        assert outcome["seconds"] < BODY_TIMEOUT + 1.5

    big = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    thread, outcome = _in_background(
        lambda: httpx.post(
            f"{served.base}{START}",
            content=big,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=10,
        )
    )
    slowest = _live_latency(served.base, thread.is_alive)
    thread.join()
    assert slowest < 1.0
    assert outcome["value"].status_code == 413


def test_metrics_port_is_public_and_the_api_port_needs_the_token(served: Served) -> None:
    public = httpx.get(f"http://127.0.0.1:{served.metrics_port}/metrics", timeout=5)
    assert public.status_code == 200 and "procflow_" in public.text
    assert httpx.get(f"{served.base}/metrics", timeout=5).status_code == 401
    scraped = httpx.get(
        f"{served.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5
    )
    assert scraped.status_code == 200


def test_answers_carry_no_server_banner(served: Served) -> None:
    response = httpx.get(f"{served.base}/health/live", timeout=5)
    assert "server" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
