from fakellm import Server
from tests.helpers import chat_body, content_of, raw_request

from ..conftest import FAST_TEXT


def test_stream_ends_with_done_and_terminator(server: Server) -> None:
    response = raw_request(server.port, chat_body())
    assert response.status == 200
    assert response.terminated
    assert response.body.endswith(b"data: [DONE]\n\n")
    assert content_of(response.body) == FAST_TEXT
