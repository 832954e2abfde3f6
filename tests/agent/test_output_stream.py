"""The agent's output stream: every character reaches the server once, in order, even when a
send is still in flight as the test ends or a sent chunk's answer is lost."""

import asyncio

from qgjob.agent.output import OutputGap, OutputStream, refusing


class Server:
    """Holds what arrived; like the real one it skips what it already holds at `offset`."""

    def __init__(self, answer_seconds: float = 0.0, lose_answers: int = 0) -> None:
        self.chunks: list[tuple[str, int]] = []
        self.text = ""
        self.answer_seconds = answer_seconds
        self.lose_answers = lose_answers

    async def send(self, text: str, offset: int) -> None:
        self.chunks.append((text, offset))
        self.text += text[max(len(self.text) - offset, 0):]
        await asyncio.sleep(self.answer_seconds)
        if self.lose_answers:
            self.lose_answers -= 1
            raise ConnectionError("the answer never came")


def test_a_chunk_in_flight_when_the_test_ends_is_sent_once() -> None:
    async def scenario() -> Server:
        server = Server(answer_seconds=0.2)
        stream = OutputStream(server.send, flush_seconds=0.01, flush_chars=1)
        stream.start()
        stream.write("line 1\nline 2\n")
        await asyncio.sleep(0.05)  # the chunk has reached the server; its answer has not
        await stream.close()
        return server

    server = asyncio.run(scenario())
    assert [text for text, _ in server.chunks] == ["line 1\nline 2\n"]


def test_a_chunk_whose_answer_was_lost_is_sent_again_at_the_same_offset() -> None:
    async def scenario() -> Server:
        server = Server(lose_answers=1)
        stream = OutputStream(server.send, flush_seconds=0.01)
        stream.start()
        stream.write("one\n")
        await asyncio.sleep(0.05)
        stream.write("two\n")
        tail, at = await stream.close(carry_chars=4)
        assert (tail, at) == ("two\n", 4)
        return server

    server = asyncio.run(scenario())
    assert server.chunks[:2] == [("one\n", 0), ("one\n", 0)]
    assert server.text == "one\n"


def test_the_tail_left_for_the_report_says_where_it_starts() -> None:
    async def scenario() -> tuple[str, int]:
        server = Server()
        stream = OutputStream(server.send, flush_seconds=10)
        stream.start()
        stream.write("a" * 10)
        return await stream.close(carry_chars=4)

    assert asyncio.run(scenario()) == ("aaaa", 6)


def test_a_server_that_lost_output_gets_the_rest_from_where_its_own_ends() -> None:
    """The server refuses a chunk past its end (`output_gap`): the stream goes on from the
    server's end instead of stopping, so every character it still holds arrives."""
    class Forgetful(Server):
        async def send(self, text: str, offset: int) -> None:
            if offset > len(self.text):
                self.chunks.append((text, offset))
                raise OutputGap("past the end", len(self.text))
            await super().send(text, offset)

    async def scenario() -> Forgetful:
        server = Forgetful()
        stream = OutputStream(refusing(server.send, (LookupError,)), flush_seconds=0.01)
        stream.start()
        stream.write("one\n")
        await asyncio.sleep(0.05)
        server.text = ""  # its copy of "one\n" is gone
        stream.write("two\n")
        await asyncio.sleep(0.05)
        stream.write("three\n")
        assert await stream.close(carry_chars=0) == ("", 10) and not stream.refused
        return server

    server = asyncio.run(scenario())
    assert server.text == "two\nthree\n"
    assert ("two\n", 4) in server.chunks and ("two\n", 0) in server.chunks
