"""How-to: the same server outside pytest (unittest, scripts, notebooks)."""

import asyncio
import unittest

import openai

import fakellm


class AnswerTest(unittest.TestCase):
    def test_with_a_real_server(self):
        with fakellm.Server(scenarios=[{"name": "default", "content": {"text": "Hi!"}}]) as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="unused")
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Hi"}]
            )
            client.close()
        assert reply.choices[0].message.content == "Hi!"
        assert server.journal.last.outcome == "completed"

    def test_async_with(self):
        async def main():
            scenarios = [{"name": "default", "content": {"text": "Hi!"}}]
            async with fakellm.Server(scenarios=scenarios) as server:
                client = openai.AsyncOpenAI(base_url=server.base_url, api_key="unused")
                reply = await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "Hi"}]
                )
                await client.close()
            return reply.choices[0].message.content

        assert asyncio.run(main()) == "Hi!"

    def test_in_process(self):
        with fakellm.InProcess(scenarios=[{"name": "default", "content": {"text": "Hi!"}}]) as fake:
            client = fake.openai_client()
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Hi"}]
            )
        assert reply.choices[0].message.content == "Hi!"
