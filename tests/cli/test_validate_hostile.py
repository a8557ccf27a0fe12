"""`loadlens validate` on hostile files: bounded time and memory, a clear error, exit 2.

Each runs the real command in a child process whose address space is capped, so a reader that
expanded an alias bomb or recursed without bound would fail the test (MemoryError, a
traceback) instead of taking the machine down.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

_MEMORY_CAP = 2 * 1024**3  # bytes of address space for the child: the bomb grew past 3 GiB

# The 342-byte "billion laughs": nine levels of nine aliases each, 9^9 strings expanded.
ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]"
            for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def _validate(path: Path, timeout: float = 120.0) -> tuple[int, str, float]:
    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_CAP, _MEMORY_CAP))

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "loadlens", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap_memory,
        check=False,
    )
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    return done.returncode, output, time.monotonic() - started


def test_an_alias_bomb_is_refused_at_its_alias(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    assert len(ALIAS_BOMB.encode()) < 400
    code, output, seconds = _validate(path)
    assert code == 2
    # the values grow ninefold per level: the sixth level's aliases pass 100,000
    assert output.startswith(f"{path}:6:")
    assert "aliases expand to more than 100,000 values" in output
    assert seconds < 10  # generous for a busy machine: the point is that it is bounded


def test_deep_flow_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\nsteps: " + "[" * 20_000 + "]" * 20_000 + "\n")
    code, output, seconds = _validate(path)
    assert code == 2
    assert output.startswith(f"{path}:2:")
    assert "nesting depth" in output or "nested deeper than" in output
    assert seconds < 10


def test_deep_block_nesting_is_refused_at_the_limit(tmp_path: Path) -> None:
    # Indented nesting, which YAML parsers do not limit themselves.
    lines = [f"{'  ' * depth}k{depth}:" for depth in range(150)]
    path = tmp_path / "deep.yaml"
    path.write_text("\n".join(lines) + " 1\n")
    code, output, _ = _validate(path)
    assert code == 2
    assert output == f"{path}:101:201: nested deeper than 100 levels\n"


def test_300k_flows_validate_in_linear_time_and_print_a_bounded_list(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    header = "name: many\ntarget: http://h\nplan: [{stage: s, users: 1, duration: 1s}]\n"
    # Each flow is as small as a flow gets (and wrong twice: a duplicate name, no steps), so
    # the test spends its time on the 300,000 flows, not on their contents.
    path.write_text(header + "flows:\n" + "  - {name: f, steps: []}\n" * 300_000)
    code, output, _ = _validate(path, timeout=300)
    lines = output.splitlines()
    assert code == 2
    assert len(lines) == 51
    assert lines[:2] == [
        f"{path}:5:22: flows[0].steps: expected at least one step",
        f"{path}:6:12: flows[1].name: duplicate flow `f`",
    ]
    assert lines[-1] == "... and 599,949 more problems (fix these first)"
