"""OpenAI Embeddings (``POST /v1/embeddings``): the request, and deterministic vectors.

Not a stream: the answer is one JSON object, ``{"object": "list", "data": [{"object":
"embedding", "index": i, "embedding": [...]}], "model", "usage": {"prompt_tokens",
"total_tokens"}}``, with the Chat Completions errors and headers (wire/openai.py).

Deliberate design: a vector is the normalized sum of one pseudo-random unit vector per distinct
word of the input (lower-cased runs of letters and digits), each drawn from
``blake2b(seed, model, dimensions, word)``. So the same text, seed, model and dimensions give the
same vector in every run and process; every vector has unit norm and float32 values (what the API
sends, and what ``encoding_format: "base64"`` packs); and texts that share words are nearer (by
cosine) than texts that share none, so a retrieval test gets stable, meaningful nearest
neighbours. Word vectors are cached within a request; the work is bounded (at most
:data:`MAX_INPUTS` inputs and :data:`MAX_DISTINCT_WORDS` distinct words a request) and runs off
the event loop (``app.py``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import struct
from dataclasses import dataclass
from typing import Any

from ..errors import RequestError
from ..tokens import tokens_for

__all__ = [
    "MAX_DISTINCT_WORDS",
    "MAX_INPUTS",
    "MAX_INPUT_TOKENS",
    "EmbeddingsRequest",
    "default_dimensions",
    "embeddings_body",
    "parse_embeddings_request",
]

MAX_INPUTS = 2048
"""The most inputs one request may hold (OpenAI's limit)."""
MAX_INPUT_TOKENS = 8192
"""The most tokens one input may hold (OpenAI's limit for text-embedding-3-*)."""
MAX_DISTINCT_WORDS = 20_000
"""The most distinct words one request may hold (each costs one vector of ``dimensions`` floats)."""
MAX_DIMENSIONS = 3072
_WORD = re.compile(r"\w+")
_FLOAT32 = struct.Struct("<f")


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    body: dict[str, Any]
    model: str
    inputs: list[str]
    dimensions: int
    encoding_format: str  # "float" or "base64"
    prompt_tokens: int


def default_dimensions(model: str) -> int:
    """The size of a model's vectors: 3072 for ``text-embedding-3-large``, else 1536."""
    return 3072 if "3-large" in model else 1536


def _refuse(message: str, param: str | None, code: str | None = None) -> RequestError:
    return RequestError(400, message, param=param, code=code)


def parse_embeddings_request(raw: bytes) -> EmbeddingsRequest:
    """The validated request, or a :class:`RequestError` in OpenAI's wording."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise _refuse(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
            "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
            "valid JSON.)",
            None,
        ) from None
    if not isinstance(body, dict):
        raise _refuse(
            f"Invalid type for request body: expected an object, but got {type(body).__name__}.", None
        )
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _refuse("you must provide a model parameter", "model")
    given = body.get("input")
    if isinstance(given, str):
        inputs = [given]
    elif isinstance(given, list) and given and all(isinstance(item, str) for item in given):
        inputs = list(given)
    elif isinstance(given, list) and given and all(isinstance(item, int) for item in given):
        inputs = [" ".join(str(token) for token in given)]  # one input of token ids: its ids are its words
    elif isinstance(given, list) and given and all(isinstance(item, list) for item in given):
        if not all(all(isinstance(t, int) and not isinstance(t, bool) for t in item) for item in given):
            raise _refuse("'input' token arrays must hold integers.", "input")
        inputs = [" ".join(str(token) for token in item) for item in given]
    else:
        raise _refuse(
            "'input' must be a string, an array of strings, or an array of token arrays, and not empty.",
            "input",
        )
    if len(inputs) > MAX_INPUTS:
        raise _refuse(f"'input' must have at most {MAX_INPUTS} items, got {len(inputs)}.", "input")
    counts = [len(tokens_for(text)) for text in inputs]
    for index, count in enumerate(counts):
        if count > MAX_INPUT_TOKENS:
            raise _refuse(
                f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you requested "
                f"{count} tokens in input[{index}]. Please reduce your prompt; or completion length.",
                "input",
                "context_length_exceeded",
            )
    dimensions = body.get("dimensions", default_dimensions(model))
    if (
        isinstance(dimensions, bool)
        or not isinstance(dimensions, int)
        or not 1 <= dimensions <= MAX_DIMENSIONS
    ):
        raise _refuse(
            f"'dimensions' must be an integer from 1 to {MAX_DIMENSIONS}, got {dimensions!r}.", "dimensions"
        )
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise _refuse(f"'encoding_format' must be 'float' or 'base64', got {encoding!r}.", "encoding_format")
    words = {word for text in inputs for word in _WORD.findall(text.lower())}
    if len(words) > MAX_DISTINCT_WORDS:
        raise _refuse(
            f"fakellm embeds at most {MAX_DISTINCT_WORDS} distinct words a request, got {len(words)}.",
            "input",
        )
    return EmbeddingsRequest(body, model, inputs, dimensions, encoding, sum(counts))


def _word_vector(word: str, key: bytes, dimensions: int) -> list[float]:
    digest = hashlib.blake2b(word.encode("utf-8", "backslashreplace"), key=key, digest_size=16).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    gauss = rng.gauss
    return [gauss(0.0, 1.0) for _ in range(dimensions)]


def embed(texts: list[str], *, model: str, dimensions: int, seed: int) -> list[list[float]]:
    """One unit vector (float32 values) per text; see the module notes."""
    key = hashlib.blake2b(f"{seed}\0{model}\0{dimensions}".encode("utf-8", "backslashreplace")).digest()[:32]
    cache: dict[str, list[float]] = {}
    vectors = []
    for text in texts:
        total = [0.0] * dimensions
        words = dict.fromkeys(_WORD.findall(text.lower())) or {"": None}  # an empty text has a vector too
        for word in words:
            vector = cache.get(word)
            if vector is None:
                vector = cache[word] = _word_vector(word, key, dimensions)
            total = [a + b for a, b in zip(total, vector, strict=True)]
        norm = math.sqrt(sum(x * x for x in total)) or 1.0
        unpack = _FLOAT32.unpack
        pack = _FLOAT32.pack
        vectors.append([unpack(pack(x / norm))[0] for x in total])
    return vectors


def embeddings_body(request: EmbeddingsRequest, *, seed: int) -> dict[str, Any]:
    """The answer's JSON object (vectors as float lists, or base64 of little-endian float32)."""
    vectors = embed(request.inputs, model=request.model, dimensions=request.dimensions, seed=seed)
    data: list[dict[str, Any]] = []
    for index, vector in enumerate(vectors):
        value: Any = vector
        if request.encoding_format == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": value})
    usage = {"prompt_tokens": request.prompt_tokens, "total_tokens": request.prompt_tokens}
    return {"object": "list", "data": data, "model": request.model, "usage": usage}
