"""Where a run's start-up and wrap-up go: runs `loadlens ARGS...` with a timestamp at each phase.

    T0=$(date +%s.%N) python bench/startup_trace.py quick http://127.0.0.1:PORT/ -u 2 -d 1s \
        --quiet --out DIR

prints to stderr, in ms since T0 (the shell's clock just before the interpreter started), when
the CLI was imported, and when each phase began (>) and ended (<): the workers started and
awaited, the preloading of the wrap-up's imports (a thread, during the stage), the stage, the
workers' shutdown, the conclusion (diagnosis), result.json, the reports, the history and the
fast exit. The phases are wrapped as their modules are first imported, so the import order
(what is being measured) stays the CLI's own.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

T0 = float(os.environ.get("T0", time.time()))


def mark(what: str) -> None:
    sys.stderr.write(f"@{(time.time() - T0) * 1000:7.0f} ms  {what}\n")


def wrap(owner: Any, names: Sequence[str]) -> None:
    for name in names:
        function = getattr(owner, name, None)
        if function is not None:  # a phase the build measured does not have
            setattr(owner, name, _timed(name, function))


def _timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        mark(f"> {name}")
        try:
            return function(*args, **kwargs)
        finally:
            mark(f"< {name}")

    return timed


def _coordinator(module: ModuleType) -> None:
    phases = ["start_workers", "_await_workers", "_run_stage", "_shutdown_workers"]
    wrap(module.Coordinator, phases)
    wrap(module, ["write_result"])


PHASES: dict[str, Callable[[ModuleType], None]] = {
    "loadlens.engine.coordinator": _coordinator,
    "loadlens.cli.run": lambda m: wrap(m, ["run_and_summarise", "_write_reports", "_record"]),
    "loadlens.cli.preload": lambda m: wrap(m, ["_preload_wrap_up"]),
    "loadlens.analysis.judge": lambda m: wrap(m.GateJudge, ["conclude"]),
    # A finished run ends in os._exit (no atexit "exit" mark then): "> exit_now" is the last.
    "loadlens.cli.main": lambda m: wrap(m, ["exit_now"]),
}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in PHASES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            PHASES[fullname](module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if __name__ == "__main__":  # spawned workers import this file too, and must not run it
    mark("interpreter started")
    atexit.register(mark, "exit")
    sys.meta_path.insert(0, _PatchOnImport())
    from loadlens.cli.main import main

    mark("CLI imported")
    sys.argv[0] = "loadlens"
    main()
