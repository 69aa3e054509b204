"""Reading YAML and JSON documents with line numbers (fakellm/documents.py): what cannot be read is
a ScenarioError naming the file and the line, never PyYAML's own exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakellm.documents import read_document
from fakellm.errors import ScenarioError


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("!0", 1, "not valid YAML/JSON: could not determine a constructor for the tag '!0'"),
        ("scenarios:\n  - name: !!python/name:os.system x\n", 2, "the tag 'tag:yaml.org,2002:python/name"),
        ("scenarios:\n  - name: a\n    seed: !!binary ab\n", 3, "YAML/JSON: failed to decode base64 data"),
        (
            "base: &base {name: a}\nscenarios:\n  - <<: *base\n",
            3,
            "(merge keys, '<<', are not read: write the fields out, or alias a whole value)",
        ),
    ],
)
def test_a_value_pyyaml_cannot_construct_is_an_error_at_its_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        read_document(path)
    assert (info.value.file, info.value.line) == (str(path), line)
    assert reason in info.value.reason


def test_lines_of_keys_and_items(tmp_path: Path) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_text("scenarios:\n  - name: a\n\n  - name: b\n    seed: 3\n", encoding="utf-8")
    data, located = read_document(path)
    items = data["scenarios"]
    assert [located.item_line(items, i) for i in range(2)] == [2, 4]
    assert located.line_of(items[1], "seed") == 5
    assert located.line_of(data, "scenarios") == 1
