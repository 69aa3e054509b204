"""How-to: several choices (`n`) and a list of prompts, read through the openai SDK."""


def test_two_choices_through_the_stream_helper(fakellm):
    client = fakellm.openai_client()
    messages = [{"role": "user", "content": "Name a colour."}]
    with client.chat.completions.stream(model="gpt-4o", messages=messages, n=2) as stream:
        final = stream.get_final_completion()
    first, second = (choice.message.content for choice in final.choices)
    assert first != second  # each choice is drawn from a seed of its own


def test_one_choice_per_prompt(fakellm):
    fakellm.script(echo=True)
    client = fakellm.openai_client()
    stream = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt=["Say hi", "Say bye"], stream=True
    )
    texts = {0: "", 1: ""}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.text
    assert texts == {0: "Say hi", 1: "Say bye"}
