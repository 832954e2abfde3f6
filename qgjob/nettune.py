"""TCP settings for qgjob's HTTP clients.

httpx writes a request's headers and body separately; without TCP_NODELAY, Nagle's algorithm
holds the body until the server acknowledges the headers, and Linux delays that ACK by up to
40 ms. Every agent report and start would pay it, so clients turn Nagle off.
"""

from __future__ import annotations

import socket

NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
