"""Requests from a browser test to its live server. The server runs in the test's own
process, beside the browser's driver and the agents' threads, so under CI's load an answer
can take a second or more (a fresh app's first request to a router builds its route state;
a 1,000-job answer is serialised on the event loop): these wait up to 30 s, not httpx's 5 s.
A server that hangs still fails the test."""

from __future__ import annotations

from typing import Any

import httpx

TIMEOUT_SECONDS = 30.0


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=TIMEOUT_SECONDS, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, timeout=TIMEOUT_SECONDS, **kwargs)


def client(**kwargs: Any) -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT_SECONDS, **kwargs)
