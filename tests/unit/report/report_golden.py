"""Compare text with a golden file in tests/golden; LOADLENS_UPDATE_GOLDEN=1 rewrites it."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def assert_golden(name: str, text: str) -> None:
    """Fail with a unified diff when `text` differs from tests/golden/NAME."""
    path = GOLDEN / name
    if os.environ.get("LOADLENS_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing; create it with LOADLENS_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"golden/{name}",
                "rendered",
            )
        )
        raise AssertionError(
            f"{name} differs from its golden file (LOADLENS_UPDATE_GOLDEN=1 rewrites it "
            f"after a deliberate change):\n{diff}"
        )
