"""HEAD answers as GET does, without the body (RFC 9110 9.3.2): load balancers and uptime
checks ask `HEAD /health`, and `curl -I` any page. FastAPI routes a GET only, so every HEAD
was a 405."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _Answered(Exception):
    """The head is sent: whatever the GET goes on to stream (live events) is not."""


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        done = False

        async def head_only(message: Message) -> None:
            nonlocal done
            if done:
                raise _Answered
            if message["type"] == "http.response.body":
                done = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                if message.get("more_body", False):
                    raise _Answered  # a stream: its head is all HEAD asks for
                return
            await send(message)

        try:
            await self.app({**scope, "method": "GET"}, receive, head_only)
        except _Answered as answered:
            # Its context holds the aborted response's frames (a stream's generator among
            # them) in a cycle: broken here, they are freed now, not at the next collection.
            answered.__context__ = answered.__traceback__ = None
