"""How-to: a multi-turn agent gets one scripted response per call, in order; the journal shows
what it sent each time."""

import pytest


def agent(client, task, turns=2):  # the code under test: feeds each answer back in
    messages = [{"role": "user", "content": task}]
    for _ in range(turns):
        reply = client.chat.completions.create(model="gpt-4o", messages=messages)
        messages += [{"role": "assistant", "content": reply.choices[0].message.content}]
        messages += [{"role": "user", "content": "Go on."}]
    return messages


@pytest.mark.fakellm(["Step 1: plan.", {"text": "Step 2: do it.", "ttft_ms": 50}])
def test_agent_feeds_each_answer_back(fakellm):
    agent(fakellm.openai_client(), "Write a poem")
    first, second = fakellm.journal
    assert first.text == "Step 1: plan."
    assert second.request["messages"][1] == {"role": "assistant", "content": "Step 1: plan."}
