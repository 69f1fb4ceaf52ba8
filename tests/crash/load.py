"""The crash test's client: starts with an Idempotency-Key, retried until acknowledged.

A client that survives a server crash does exactly this: on a connection error, a timeout or
a 5xx it sends the same request with the same key again (to the other server), and takes the
first 2xx as the answer. Anything else is a failure the test reports.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

TIMEOUT = httpx.Timeout(15.0, connect=2.0)
MAX_ATTEMPTS = 60


@dataclass
class LoadResult:
    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> instance uuid
    failures: list[str] = field(default_factory=list)
    retries: int = 0
    replayed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def done(self) -> int:
        return len(self.acknowledged) + len(self.failures)


@dataclass
class StartLoad:
    """``total`` starts over ``threads`` client threads, alternating between ``base_urls``."""

    base_urls: list[str]
    path: str
    token: str
    total: int
    threads: int
    run_id: str
    deadline: float  # time.monotonic() after which no request is sent any more
    result: LoadResult = field(default_factory=LoadResult)
    _next: Callable[[], int] = field(default_factory=lambda: itertools.count().__next__)

    def run(self) -> LoadResult:
        clients = [threading.Thread(target=self._client, daemon=True) for _ in range(self.threads)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(max(0.0, self.deadline - time.monotonic()) + 20)
        return self.result

    def _client(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(timeout=TIMEOUT, headers=headers) as client:
            while (index := self._next()) < self.total:
                self._start_one(client, index)

    def _start_one(self, client: httpx.Client, index: int) -> None:
        key = f"crash-{self.run_id}-{index}"
        last = "deadline passed"
        for attempt in range(MAX_ATTEMPTS):
            if time.monotonic() > self.deadline:
                break
            if attempt:
                with self.result.lock:
                    self.result.retries += 1
                time.sleep(min(0.5, 0.05 * attempt))
            # Alternate servers, and move to the other one on every retry.
            base = self.base_urls[(index + attempt) % len(self.base_urls)]
            outcome = self._attempt(client, base, key, index)
            if outcome in ("ok", "failed"):
                return
            last = outcome
        self._fail(f"{key}: no 2xx after retries, last: {last}")

    def _attempt(self, client: httpx.Client, base: str, key: str, index: int) -> str:
        try:
            response = client.post(
                f"{base}{self.path}", json={"n": index}, headers={"Idempotency-Key": key}
            )
        except httpx.TransportError as error:
            return f"retry: {error!r}"
        if response.status_code >= 500:
            return f"retry: {response.status_code} {response.text[:200]}"
        if not response.is_success:
            self._fail(f"{key}: {response.status_code} {response.text[:300]}")
            return "failed"
        with self.result.lock:
            self.result.acknowledged[key] = response.json()["uuid"]
            if response.headers.get("Idempotent-Replayed") == "true":
                self.result.replayed += 1
        return "ok"

    def _fail(self, message: str) -> None:
        with self.result.lock:
            self.result.failures.append(message)
