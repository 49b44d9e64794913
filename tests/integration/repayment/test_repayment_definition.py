"""The re-payment definition is valid ASL (statelint) and names every function it calls."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from cardops import resources

SPEC = resources.STATE_MACHINES["Repayment"]


def test_every_placeholder_is_a_known_function() -> None:
    text = SPEC.definition_path.read_text(encoding="utf-8")
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    assert placeholders == set(SPEC.function_substitutions)
    assert set(SPEC.function_substitutions.values()) <= set(resources.FUNCTIONS)


def test_statelint_accepts_the_definition(tmp_path: Path) -> None:
    text = SPEC.definition_path.read_text(encoding="utf-8")
    for placeholder in SPEC.function_substitutions:
        arn = f"arn:aws:lambda:ap-northeast-1:123456789012:function:{placeholder}"
        text = text.replace("${" + placeholder + "}", arn)
    definition = json.loads(text)
    definition.pop("QueryLanguage", None)  # JSONPath is the default; statelint predates the field
    path = tmp_path / "repayment.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    statelint = Path(sys.executable).parent / "statelint"
    result = subprocess.run([str(statelint), str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout
