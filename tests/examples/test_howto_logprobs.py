"""How-to: per-token logprobs on Chat Completions, legacy Completions and Responses, read through
the openai SDK (deterministic: the same seed gives the same values)."""


def test_chat_logprobs_through_the_stream_helper(fakellm):
    fakellm.script(text="Hello there, world!")
    client = fakellm.openai_client()
    messages = [{"role": "user", "content": "Say hello."}]
    with client.chat.completions.stream(
        model="gpt-4o", messages=messages, logprobs=True, top_logprobs=3
    ) as stream:
        final = stream.get_final_completion()
    entries = final.choices[0].logprobs.content
    assert "".join(entry.token for entry in entries) == "Hello there, world!"
    first = entries[0]
    assert first.top_logprobs[0].token == first.token  # the sent token is the likeliest
    assert len(first.top_logprobs) == 3 and first.logprob <= 0


def test_completions_logprobs_are_parallel_arrays(fakellm):
    fakellm.script(text="Paris.")
    client = fakellm.openai_client()
    completion = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="The capital of France is", logprobs=2
    )
    logprobs = completion.choices[0].logprobs
    assert logprobs.tokens == ["Paris", "."]
    assert logprobs.text_offset == [24, 29]  # from the start of the prompt
    top = logprobs.top_logprobs[0]  # token -> logprob, the sent token the likeliest
    assert max(top, key=top.get) == "Paris" and len(top) == 2


def test_responses_logprobs_with_include(fakellm):
    fakellm.script(text="Hello there, world!")
    client = fakellm.openai_client()
    with client.responses.stream(
        model="gpt-4.1", input="Say hello.", include=["message.output_text.logprobs"], top_logprobs=2
    ) as stream:
        final = stream.get_final_response()
    logprobs = final.output[0].content[0].logprobs
    assert "".join(lp.token for lp in logprobs) == final.output_text
