"""Scenario files (YAML and JSON), their validation errors, the default scenario, and the rule that
picks a scenario for a request."""

from __future__ import annotations

import random
import textwrap
import time
from pathlib import Path

import pytest

from fakellm.content import EchoText, FakerText, FixedText
from fakellm.errors import RequestError, ScenarioError
from fakellm.scenario import (
    Match,
    Scenario,
    ScenarioBook,
    Timing,
    default_scenario,
    scenario_from_dict,
)
from fakellm.scenario_files import load_scenario_files
from fakellm.tokens import tokenize

YAML = """\
scenarios:
  - name: slow-start
    match: {model: "gpt-4o*", prompt: "(?i)weather"}
    content:
      text: "Hello there, world!"
    timing: {ttft_ms: 300, itl_ms: 20, jitter_ms: 5}
    seed: 42
  - name: prose
    content:
      faker: {paragraphs: 2, sentences: 1, markdown: true, code_probability: 0}
  - name: parrot
    content: {echo: true}
"""

JSON = """\
{
  "scenarios": [
    {
      "name": "slow-start",
      "match": {"model": "gpt-4o*", "prompt": "(?i)weather"},
      "content": {"text": "Hello there, world!"},
      "timing": {"ttft_ms": 300, "itl_ms": 20, "jitter_ms": 5},
      "seed": 42
    },
    {"name": "prose", "content": {"faker": {"paragraphs": 2, "sentences": 1, "markdown": true,
                                            "code_probability": 0}}},
    {"name": "parrot", "content": {"echo": true}}
  ]
}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "text"), [("s.yaml", YAML), ("s.yml", YAML), ("s.json", JSON)])
def test_load_file(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path, name, text)
    slow, prose, parrot = load_scenario_files([path])
    assert slow.name == "slow-start"
    assert slow.content == FixedText("Hello there, world!")
    assert slow.timing == Timing(ttft_ms=300, itl_ms=20, jitter_ms=5)
    assert slow.seed == 42
    assert slow.match is not None
    assert (slow.match.model, slow.match.prompt) == ("gpt-4o*", "(?i)weather")
    assert slow.source == f"{path}:{3 if name.endswith('.json') else 2}"
    assert prose.content == FakerText(paragraphs=2, sentences=1, markdown=True, code_probability=0)
    assert prose.timing == Timing() and prose.seed is None and prose.match is None
    assert parrot.content == EchoText()


def test_yaml_and_json_give_the_same_scenarios(tmp_path: Path) -> None:
    from_yaml = load_scenario_files([write(tmp_path, "a.yaml", YAML)])
    from_json = load_scenario_files([write(tmp_path, "b.json", JSON)])
    strip = [(s.name, s.content, s.timing, s.match, s.seed) for s in from_yaml]
    assert strip == [(s.name, s.content, s.timing, s.match, s.seed) for s in from_json]


def test_json_is_read_as_json_not_as_yaml(tmp_path: Path) -> None:
    # YAML 1.1 reads 1e2 as a string, refuses tab indentation and splits a surrogate-pair escape.
    path = tmp_path / "t.json"
    path.write_text(
        '{\n\t"scenarios": [\n\t\t{"name": "j", "timing": {"ttft_ms": 1e2},'
        ' "content": {"text": "\\ud83d\\ude00"}}\n\t]\n}\n',
        encoding="utf-8",
    )
    (scenario,) = load_scenario_files([path])
    assert scenario.timing.ttft_ms == 100.0
    assert scenario.content == FixedText("\U0001f600")


def test_json_errors_still_have_lines_with_tab_indentation(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{\n\t"scenarios": [\n\t\t{"name": "k",\n\t\t "timing": {"itl_ms": "x"}}\n\t]\n}\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    assert (info.value.line, info.value.scenario, info.value.field) == (4, "k", "timing.itl_ms")


def test_a_bare_list_is_accepted(tmp_path: Path) -> None:
    (scenario,) = load_scenario_files([write(tmp_path, "l.yaml", "- name: only\n")])
    assert scenario.name == "only"


def test_folder_loads_scenario_files_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "scenarios:\n  - name: from-b\n")
    write(tmp_path, "a.json", '{"scenarios": [{"name": "from-a"}]}')
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/c.yml", "scenarios:\n  - name: from-c\n")
    write(tmp_path, "notes.txt", "not a scenario file")
    assert [s.name for s in load_scenario_files([tmp_path])] == ["from-a", "from-b", "from-c"]


def test_several_paths_add_up(tmp_path: Path) -> None:
    one = write(tmp_path, "one.yaml", "scenarios:\n  - name: one\n")
    two = write(tmp_path, "two.yaml", "scenarios:\n  - name: two\n")
    assert [s.name for s in load_scenario_files([two, one])] == ["two", "one"]


def test_duplicate_names_across_files_name_both_places(tmp_path: Path) -> None:
    one = write(tmp_path, "one.yaml", "scenarios:\n  - name: same\n")
    two = write(tmp_path, "two.yaml", "scenarios:\n  - name: other\n  - name: same\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([one, two])
    error = info.value
    assert (error.file, error.line, error.scenario, error.field) == (str(two), 3, "same", "name")
    assert f"{one}:2" in str(error)


# --------------------------------------------------------------------------------------------------
# Validation errors: each names the file, the line, the scenario and the field.

BAD = [
    ("negative-ttft", "  - name: a\n    timing:\n      ttft_ms: -5\n", 4, "a", "timing.ttft_ms"),
    ("itl-not-a-number", "  - name: a\n    timing: {itl_ms: fast}\n", 3, "a", "timing.itl_ms"),
    ("jitter-bool", "  - name: a\n    timing: {jitter_ms: true}\n", 3, "a", "timing.jitter_ms"),
    ("timing-not-a-mapping", "  - name: a\n    timing: [1]\n", 3, "a", "timing"),
    ("unknown-timing-field", "  - name: a\n    timing: {ttft: 1}\n", 3, "a", "timing.ttft"),
    ("unknown-field-typo", "  - name: a\n    contnt: {text: hi}\n", 3, "a", "contnt"),
    ("missing-name", "  - content: {text: hi}\n", 2, "#1", "name"),
    ("name-not-a-string", "  - name: 5\n", 2, "#1", "name"),
    ("entry-not-a-mapping", "  - name: a\n  - just-a-string\n", 3, "#2", "scenarios[1]"),
    ("two-content-kinds", "  - name: a\n    content: {text: hi, echo: true}\n", 3, "a", "content"),
    ("no-content-kind", "  - name: a\n    content: {}\n", 3, "a", "content"),
    ("text-not-a-string", "  - name: a\n    content: {text: [1]}\n", 3, "a", "content.text"),
    ("echo-bad", "  - name: a\n    content: {echo: 3}\n", 3, "a", "content.echo"),
    (
        "faker-paragraphs-zero",
        "  - name: a\n    content:\n      faker: {paragraphs: 0}\n",
        4,
        "a",
        "content.faker.paragraphs",
    ),
    (
        "faker-probability",
        "  - name: a\n    content:\n      faker:\n        code_probability: 2\n",
        5,
        "a",
        "content.faker.code_probability",
    ),
    ("match-model-number", "  - name: a\n    match: {model: 5}\n", 3, "a", "match.model"),
    ("match-bad-regex", "  - name: a\n    match:\n      prompt: '(oops'\n", 4, "a", "match.prompt"),
    ("seed-not-int", "  - name: a\n    seed: abc\n", 3, "a", "seed"),
    ("seed-float", "  - name: a\n    seed: 1.5\n", 3, "a", "seed"),
    ("finish-reason", "  - name: a\n    finish_reason: done\n", 3, "a", "finish_reason"),
    ("faults-not-a-list", "  - name: a\n    faults: {x: 1}\n", 3, "a", "faults"),
    ("unknown-fault", "  - name: a\n    faults:\n      - {type: nope}\n", 4, "a", "faults[0].type"),
    ("second-scenario", "  - name: ok\n  - name: b\n    timing: {itl_ms: -1}\n", 4, "b", "timing.itl_ms"),
    ("resumable-string", "  - name: a\n    resumable: 'true'\n", 3, "a", "resumable"),
    ("resumable-number", "  - name: a\n    resumable: 1\n", 3, "a", "resumable"),
]


@pytest.mark.parametrize(("label", "body", "line", "scenario", "field"), BAD, ids=[b[0] for b in BAD])
def test_yaml_validation_error_names_file_line_scenario_field(
    tmp_path: Path, label: str, body: str, line: int, scenario: str, field: str
) -> None:
    path = write(tmp_path, "bad.yaml", "scenarios:\n" + body)
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    error = info.value
    assert (error.file, error.line, error.scenario, error.field) == (str(path), line, scenario, field)
    message = str(error)
    assert message.startswith(f"{path}:{line}, scenario {scenario!r}, field {field!r}: ")
    assert error.reason and error.reason in message


@pytest.mark.parametrize(
    ("body", "line", "scenario", "field"),
    [
        ('{"scenarios": [\n  {"name": "a",\n   "timing": {"itl_ms": "x"}}\n]}', 3, "a", "timing.itl_ms"),
        ('{"scenarios": [\n  {"name": "a"},\n  {"name": "b", "sed": 1}\n]}', 3, "b", "sed"),
        ('{"scenarios": [\n  {"content": {"text": "x"}}\n]}', 2, "#1", "name"),
    ],
)
def test_json_validation_error_names_file_line_scenario_field(
    tmp_path: Path, body: str, line: int, scenario: str, field: str
) -> None:
    path = write(tmp_path, "bad.json", body)
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    error = info.value
    assert (error.file, error.line, error.scenario, error.field) == (str(path), line, scenario, field)


@pytest.mark.parametrize(
    ("name", "text", "line", "field", "words"),
    [
        ("empty.yaml", "", None, None, "empty"),
        ("syntax.yaml", "scenarios: [\n", 2, None, "not valid YAML"),
        ("syntax.json", '{"scenarios": [1,]}', 1, None, "not valid JSON"),
        ("empty.json", "", 1, None, "not valid JSON"),
        ("wrong-key.yaml", "scenario:\n  - name: a\n", 1, None, "'scenarios:'"),
        ("extra-key.yaml", "scenarios: []\nextra: 1\n", 2, "extra", "unknown top-level field"),
        ("not-a-list.yaml", "scenarios: {name: a}\n", 1, "scenarios", "must be a list"),
        ("scalar.yaml", "42\n", None, None, "'scenarios:'"),
    ],
)
def test_file_level_errors(
    tmp_path: Path, name: str, text: str, line: int | None, field: str | None, words: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    error = info.value
    assert (error.file, error.line, error.field) == (str(path), line, field)
    assert words in str(error) and str(path) in str(error)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario_files([path])


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file or folder") as info:
        load_scenario_files([tmp_path / "nope.yaml"])
    assert info.value.file == str(tmp_path / "nope.yaml")


def test_scripted_scenario_errors_name_scenario_and_field() -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"name": "x", "timing": {"ttft_ms": "soon"}})
    error = info.value
    assert (error.file, error.line, error.scenario, error.field) == (None, None, "x", "timing.ttft_ms")
    assert str(error) == "scenario 'x', field 'timing.ttft_ms': must be a number, got 'soon'"


# --------------------------------------------------------------------------------------------------
# The embedded default scenario


def test_default_scenario_values() -> None:
    default = default_scenario()
    assert default.name == "default"
    assert isinstance(default.content, FakerText)
    assert default.content.markdown
    assert 0 < default.content.code_probability < 1  # "sometimes a code block"
    timing = default.timing
    assert 300 <= timing.ttft_ms <= 500
    assert 0 < timing.ttft_jitter_ms <= 100
    assert 1000 / 60 <= timing.itl_ms <= 1000 / 40  # 40-60 tokens/s
    assert 0 < timing.jitter_ms < timing.itl_ms  # jitter, but not so much that gaps often clamp at 0
    assert default.seed is None and default.match is None and default.faults == ()


def _default_text(seed: int) -> str:
    return default_scenario().content.text({}, random.Random(seed))


def test_default_text_is_markdown_flavoured() -> None:
    texts = [_default_text(seed) for seed in range(20)]
    for text in texts:
        blocks = text.split("\n\n")
        assert blocks[0].startswith("**") and blocks[0].endswith("**")  # a bold title line
        lists = [b for b in blocks if all(line.startswith("- ") for line in b.split("\n"))]
        assert len(lists) == 1 and 3 <= len(lists[0].split("\n")) <= 5
        paragraphs = [b for b in blocks if b[0].isalpha() and "\n" not in b]
        assert len(paragraphs) >= 3
        assert 60 <= len(tokenize(text)) <= 600
    with_code = [t for t in texts if "\n```" in t]
    assert 0 < len(with_code) < len(texts)  # sometimes a fenced code block, not always
    for text in with_code:
        assert text.count("```") == 2
        assert any(f"```{lang}\n" in text for lang in ("python", "javascript", "bash"))


def test_default_text_is_deterministic_per_seed() -> None:
    assert _default_text(5) == _default_text(5)
    assert _default_text(5) != _default_text(6)


# --------------------------------------------------------------------------------------------------
# Matching and selection


@pytest.mark.parametrize(
    ("match", "model", "prompt", "holds"),
    [
        (Match(model="gpt-4o*"), "gpt-4o-mini", "", True),
        (Match(model="gpt-4o*"), "gpt-4.1", "", False),
        (Match(model="gpt-4o*"), "GPT-4o", "", False),  # a glob, case-sensitive
        (Match(model="gpt-?"), "gpt-5", "", True),
        (Match(prompt="(?i)weather"), "any", "What's the WEATHER like?", True),
        (Match(prompt="weather"), "any", "Weather?", False),
        (Match(prompt="rain$"), "any", "will it rain", True),  # searched, not matched from the start
        (Match(model="gpt-4o*", prompt="weather"), "gpt-4o", "weather", True),
        (Match(model="gpt-4o*", prompt="weather"), "gpt-4.1", "weather", False),
        (Match(model="gpt-4o*", prompt="weather"), "gpt-4o", "news", False),
        (Match(), "anything", "at all", True),
    ],
)
def test_match_holds(match: Match, model: str, prompt: str, holds: bool) -> None:
    # Build through scenario_from_dict so the regex is compiled the way files compile it.
    spec = {k: v for k, v in (("model", match.model), ("prompt", match.prompt)) if v is not None}
    built = scenario_from_dict({"name": "m", "match": spec}).match
    assert built is not None
    assert built.holds(model, prompt) is holds


def book() -> ScenarioBook:
    return ScenarioBook(
        [
            scenario_from_dict({"name": "weather", "match": {"prompt": "(?i)weather"}}),
            scenario_from_dict({"name": "gpt-4o", "content": {"text": "named"}}),
            scenario_from_dict({"name": "mini", "match": {"model": "gpt-4o-mini*"}}),
            scenario_from_dict({"name": "also-weather", "match": {"prompt": "weather"}}),
        ],
        default=Scenario(name="fallback"),
    )


@pytest.mark.parametrize(
    ("header", "model", "prompt", "chosen"),
    [
        ("mini", "gpt-4o", "weather", "mini"),  # the header beats everything
        ("gpt-4o", "x", "", "gpt-4o"),
        (None, "gpt-4o", "weather", "gpt-4o"),  # then the model's name beats a match
        (None, "weather", "", "weather"),  # a scenario named like the model, even with a match
        (None, "gpt-4o-mini", "weather", "weather"),  # then the first match in order
        (None, "gpt-4o-mini", "hello", "mini"),
        (None, "gpt-3.5", "hello", "fallback"),  # then the default
        ("fallback", "gpt-4o", "", "fallback"),  # the default can be asked for by name
        (None, "fallback", "", "fallback"),
    ],
)
def test_selection_order(header: str | None, model: str, prompt: str, chosen: str) -> None:
    assert book().select(header, model, prompt).name == chosen


def test_unknown_header_scenario_is_a_404_naming_the_known_ones() -> None:
    with pytest.raises(RequestError) as info:
        book().select("nope", "gpt-4o", "")
    error = info.value
    assert error.status == 404
    assert error.param == "X-FakeLLM-Scenario" and error.code == "scenario_not_found"
    assert "'nope'" in error.message
    assert "fallback, weather, gpt-4o, mini, also-weather" in error.message


def test_a_loaded_scenario_named_default_replaces_the_embedded_one() -> None:
    mine = scenario_from_dict({"name": "default", "content": {"text": "mine"}})
    chosen = ScenarioBook([mine]).select(None, "gpt-4o", "")
    assert chosen is mine
    assert ScenarioBook([mine]).names() == ["default"]


def test_without_scenarios_the_embedded_default_serves() -> None:
    chosen = ScenarioBook().select(None, "gpt-4o", "")
    assert chosen.name == "default" and isinstance(chosen.content, FakerText)


# ---------------------------------------------------------------------------------------------------
# bounds: a scenario that loads must serve; anything else is an error naming file, line and field


@pytest.mark.parametrize(
    ("timing", "field", "words"),
    [
        ("{ttft_ms: .nan, itl_ms: .inf}", "timing.ttft_ms", "must be a finite number, got nan"),
        ("{itl_ms: .inf}", "timing.itl_ms", "must be a finite number, got inf"),
        ("{jitter_ms: -.inf}", "timing.jitter_ms", "must be a finite number, got -inf"),
        ("{ttft_ms: 1.0e+306}", "timing.ttft_ms", "must be <= 86400000 (24 h), got 1e+306"),
        ("{itl_ms: 86400001}", "timing.itl_ms", "must be <= 86400000 (24 h), got 86400001"),
        ("{ttft_jitter_ms: " + "9" * 500 + "}", "timing.ttft_jitter_ms", "must be <= 86400000 (24 h)"),
    ],
)
def test_timing_must_be_finite_and_at_most_a_day(tmp_path: Path, timing: str, field: str, words: str) -> None:
    path = write(tmp_path, "t.yaml", f"scenarios:\n  - name: t\n    timing: {timing}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    assert (info.value.file, info.value.line, info.value.field) == (str(path), 3, field)
    assert info.value.reason.startswith(words), info.value.reason
    assert len(str(info.value)) < 200  # a 500-digit number is not echoed whole


def test_scripted_nan_timing_is_refused() -> None:
    # fakellm.script(ttft_ms=float("nan")) goes through here (and through ScriptOptions, below).
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"name": "s", "timing": {"ttft_ms": float("nan")}})
    assert info.value.field == "timing.ttft_ms"
    from pytest_fakellm.handle import ScriptOptions

    with pytest.raises(ScenarioError) as info:
        ScriptOptions(ttft_ms=float("nan")).scenario(name="s", seed=1, default=default_scenario())
    assert info.value.field == "ttft_ms"


@pytest.mark.parametrize(
    ("faker", "field", "words"),
    [
        ({"paragraphs": 100_000_000}, "content.faker.paragraphs", "must be <= 32"),
        ({"sentences": 17}, "content.faker.sentences", "must be <= 16"),
        ({"code_probability": float("nan")}, "content.faker.code_probability", "must be a finite number"),
        ({"code_probability": 1.5}, "content.faker.code_probability", "must be <= 1"),
    ],
)
def test_faker_settings_are_bounded(faker: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"name": "s", "content": {"faker": faker}})
    assert info.value.field == field
    assert info.value.reason.startswith(words), info.value.reason


def test_the_largest_faker_text_is_made_in_a_few_milliseconds() -> None:
    scenario = scenario_from_dict(
        {"name": "s", "content": {"faker": {"paragraphs": 32, "sentences": 16, "markdown": True}}}
    )
    scenario.content.text({}, random.Random(0))  # warm up Faker's providers
    started = time.perf_counter()
    text = scenario.content.text({}, random.Random(1))
    assert time.perf_counter() - started < 0.1  # about 3 ms; generous on a noisy VM
    assert 5_000 < len(text) < 100_000


@pytest.mark.parametrize(
    ("seed", "words"), [(-1, "must be >= 0, got -1"), (2**63, "must be <= 9223372036854775807")]
)
def test_seed_is_a_non_negative_64_bit_integer(seed: int, words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"name": "s", "seed": seed})
    assert info.value.field == "seed"
    assert info.value.reason.startswith(words), info.value.reason


@pytest.mark.parametrize(
    ("text", "resumable"), [("", False), ("resumable: true", True), ("resumable: false", False)]
)
def test_resumable_is_a_boolean_off_by_default(tmp_path: Path, text: str, resumable: bool) -> None:
    path = write(tmp_path, "r.yaml", f"scenarios:\n  - name: r\n    {text}\n")
    assert load_scenario_files([path])[0].resumable is resumable


@pytest.mark.parametrize("value", ["yes", 1, None, {"on": True}])
def test_a_resumable_that_is_not_a_boolean_names_the_field(value: object) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"name": "s", "resumable": value})
    assert info.value.field == "resumable"
    assert info.value.reason.startswith("must be true or false, got "), info.value.reason
    if value is None:
        return  # resumable=None is the keyword left out
    from pytest_fakellm.handle import ScriptOptions

    with pytest.raises(ScenarioError) as info:
        ScriptOptions(resumable=value).scenario(name="s", seed=1, default=default_scenario())  # type: ignore[arg-type]
    assert info.value.field == "resumable"


def _alias_bomb() -> str:
    """Nine levels of nine aliases: 9**9 (387 million) strings once expanded."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
        previous = name
    return "\n".join(lines) + "\nscenarios:\n  - name: boom\n    content: {text: *i}\n"


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.yaml", _alias_bomb())
    started = time.monotonic()
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    assert time.monotonic() - started < 2
    assert info.value.file == str(path) and info.value.line is not None
    assert "YAML aliases expand to more than 10000 values" in info.value.reason


def test_aliases_within_the_budget_still_share_settings(tmp_path: Path) -> None:
    text = (
        "scenarios:\n  - name: a\n    timing: &fast {ttft_ms: 5, itl_ms: 1}\n  - name: b\n    timing: *fast\n"
    )
    a, b = load_scenario_files([write(tmp_path, "ok.yaml", text)])
    assert a.timing == b.timing == Timing(ttft_ms=5, itl_ms=1)


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("self.yaml", "x: &a [*a]\nscenarios: []\n", "nested more than 64 levels deep (a YAML alias"),
        ("loop.yaml", "scenarios: &s\n  - name: x\n    match: *s\n", "nested more than 64 levels deep"),
        ("deep.yaml", "scenarios: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("deep2.yaml", "scenarios: " + "[" * 100 + "]" * 100 + "\n", "nested more than 64 levels deep"),
        ("deep.json", '{"scenarios": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ("long.yaml", "scenarios:\n  - name: x\n    seed: " + "9" * 5000 + "\n", "cannot read the number"),
        (
            "long.json",
            '{"scenarios": [{"name": "x", "seed": ' + "9" * 5000 + "}]}",
            "a number of more than 4300 digits",
        ),
    ],
)
def test_documents_too_deep_or_too_long_to_read_are_errors(
    tmp_path: Path, name: str, text: str, words: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    assert info.value.file == str(path)
    assert info.value.reason.startswith(words), info.value.reason


def test_a_folder_without_scenario_files_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path, "notes.txt", "not a scenario file")
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([tmp_path])
    assert str(info.value) == f"{tmp_path}: no scenario file (.yaml, .yml, .json) in this folder"
