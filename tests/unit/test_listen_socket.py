import socket

import pytest

from qgjob.processes import ListenError, listen_socket


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


@pytest.mark.parametrize(("host", "says"), [
    ("not a host", "not an IP address or a host name this machine can resolve"),
    ("999.1.1.1", "not an IP address or a host name this machine can resolve"),
    ("192.0.2.1", "no network interface of this machine has that address"),  # TEST-NET-1
])
def test_a_host_it_cannot_listen_on_says_why(host: str, says: str) -> None:
    """A host that is no address was reported as a taken port ("is another qgjob server
    running?")."""
    with pytest.raises(ListenError, match=says) as refused:
        listen_socket(host, 0)
    assert "another qgjob server" not in str(refused.value)


def test_a_taken_port_says_another_server_may_hold_it() -> None:
    taken = listen_socket("127.0.0.1", 0)
    try:
        with pytest.raises(ListenError, match="is another qgjob server running"):
            listen_socket("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()
