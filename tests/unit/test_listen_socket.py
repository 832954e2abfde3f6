import socket

from qgjob.processes import listen_socket


def test_accepted_connections_have_nagle_turned_off() -> None:
    """asyncio disables Nagle only on sockets whose proto is TCP; with Nagle on, every
    keep-alive response waits for a delayed ACK (~40 ms per agent report)."""
    listener = listen_socket("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        assert accepted.proto == socket.IPPROTO_TCP
        accepted.close()
        client.close()
    finally:
        listener.close()
