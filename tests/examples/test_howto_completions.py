"""How-to: the legacy Completions API (`client.completions.create`) against fakellm."""


def test_completions_stream(fakellm):
    client = fakellm.openai_client()
    stream = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi", stream=True)
    text = "".join(chunk.choices[0].text for chunk in stream if chunk.choices)
    assert text
