"""How-to: Responses background mode. A long answer runs in the background; the application polls
it, or streams it and picks the stream up again after a dropped connection, or cancels it."""

import time

import openai
import pytest


def wait_for(client, response_id):  # the code under test: poll until the response is done
    while True:
        response = client.responses.retrieve(response_id)
        if response.status not in ("queued", "in_progress"):
            return response
        time.sleep(0.05)


@pytest.mark.fakellm(text="The report is ready.", ttft_ms=200, itl_ms=20)
def test_poll_a_background_response(fakellm):
    client = fakellm.openai_client()
    created = client.responses.create(model="gpt-4o", input="Write the report", background=True)
    assert created.status == "queued"  # answered at once
    done = wait_for(client, created.id)
    assert (done.status, done.output_text) == ("completed", "The report is ready.")


@pytest.mark.fakellm(text="one two three four five six", itl_ms=20, faults="drop@2 times=1")
def test_resume_a_dropped_background_stream(fakellm):
    client = fakellm.openai_client(max_retries=0)
    cursor, response_id = None, None
    try:
        for event in client.responses.create(model="gpt-4o", input="Count", background=True, stream=True):
            if event.type == "response.created":
                response_id = event.response.id
            cursor = event.sequence_number  # the last event the application has
    except openai.APIConnectionError:  # dropped after two tokens
        pass
    # Pick it up after the cursor: the SDK replays from the start and skips what we had.
    with client.responses.stream(response_id=response_id, starting_after=cursor) as stream:
        final = stream.get_final_response()
    assert final.output_text == "one two three four five six"


@pytest.mark.fakellm(text="a long answer " * 20, itl_ms=50)
def test_cancel_a_background_response(fakellm):
    client = fakellm.openai_client()
    created = client.responses.create(model="gpt-4o", input="Go on", background=True)
    time.sleep(0.3)
    cancelled = client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    assert len(cancelled.output_text) < len("a long answer " * 20)  # stopped part-way
    assert client.responses.cancel(created.id) == cancelled  # cancelling twice is harmless
