"""The docs say what the code does: every setting is documented in the README."""

from __future__ import annotations

from pathlib import Path

from finsent.settings import CONCERNS, env_var

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme_table() -> None:
    missing = [
        env_var(concern, field)
        for concern, cls in CONCERNS.items()
        for field in cls.model_fields
        if f"| `{env_var(concern, field)}` |" not in README
    ]
    assert missing == []


def test_the_readme_starts_with_the_two_commands() -> None:
    block = README.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[0:2] for line in block] == [["make", "run"], ["make", "test"]]
