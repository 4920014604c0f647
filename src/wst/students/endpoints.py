"""Several endpoints serving one model: least-outstanding-requests balancing with failover.

Hand-written because no library does this over OpenAI clients: the ``openai`` client talks to
one ``base_url``, httpx has no balancing transport, and LiteLLM's router or an nginx/Envoy in
front would be a service or a framework to run for a few dozen lines of logic. Retries with
backoff on one endpoint stay the client's job; this only chooses an endpoint per request and
moves a request to another one when its endpoint is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Client = TypeVar("Client")
Result = TypeVar("Result")


@dataclass(eq=False)  # endpoints are told apart by identity, not by their fields
class Endpoint(Generic[Client]):
    """One endpoint's client and load: requests in flight, requests sent, and the time until
    which it is out of rotation."""

    name: str
    client: Client
    outstanding: int = 0
    sent: int = 0
    down_until: float = 0.0

    def healthy(self, now: float) -> bool:
        return self.down_until <= now


class EndpointPool(Generic[Client]):
    """Runs each call on the endpoint with the fewest requests in flight (ties: the one sent
    fewest, so a sequential caller also spreads its load).

    A call that fails with an outage (``is_outage``: connection error, timeout, 5xx, after the
    client's own retries) takes its endpoint out of rotation for ``backoff_s`` and is run again
    on an endpoint it has not tried yet; any other error is the request's own and is raised.
    When every endpoint it may still try is out of rotation, the one back soonest is tried
    anyway, so an outage fails a request only after every endpoint failed it. A call returns
    or raises exactly once, so its answer is cached once whichever endpoint gave it.
    """

    def __init__(self, endpoints: Sequence[tuple[str, Client]],
                 is_outage: Callable[[Exception], bool], backoff_s: float = 30.0):
        if not endpoints:
            raise ValueError("an endpoint pool needs at least one endpoint")
        self.endpoints = [Endpoint(name, client) for name, client in endpoints]
        self.is_outage = is_outage
        self.backoff_s = backoff_s
        self._lock = threading.Lock()

    def call(self, work: Callable[[Client], Result]) -> Result:
        """``work(client)`` on the least-loaded endpoint, failing over on outages."""
        tried: list[Endpoint[Client]] = []
        while True:
            endpoint = self._take(tried)
            try:
                result = work(endpoint.client)
            except Exception as exc:
                outage = self.is_outage(exc)
                self._give_back(endpoint, outage)
                if not outage or len(tried) == len(self.endpoints):
                    raise
                log.warning("%s: out of rotation for %.0f s after %s (%s); the request "
                            "moves to another endpoint", endpoint.name, self.backoff_s,
                            type(exc).__name__, exc)
                continue
            self._give_back(endpoint, False)
            return result

    def _take(self, tried: list[Endpoint[Client]]) -> Endpoint[Client]:
        with self._lock:
            now = time.monotonic()
            untried = [e for e in self.endpoints if e not in tried]
            healthy = [e for e in untried if e.healthy(now)]
            endpoint = (min(healthy, key=lambda e: (e.outstanding, e.sent)) if healthy
                        else min(untried, key=lambda e: e.down_until))
            endpoint.outstanding += 1
            endpoint.sent += 1
        tried.append(endpoint)
        return endpoint

    def _give_back(self, endpoint: Endpoint[Client], outage: bool) -> None:
        with self._lock:
            endpoint.outstanding -= 1
            if outage:
                endpoint.down_until = time.monotonic() + self.backoff_s
