"""Hatchling build hook: the wheel carries the compiled hot path when `make native` built it.

The mypyc extensions live beside their sources (`loadlens.native`), ignored by git, so hatchling
would leave them out. When the build is complete and current, this hook adds them (and the
shared library `loadlens__mypyc` beside the package) and marks the wheel platform-specific
(`cp311-cp311-linux_x86_64`, say). Otherwise — no compiler, a stale build, `LOADLENS_PURE=1`,
or a build from the sdist — the wheel is pure Python (`py3-none-any`), which loadlens runs as
it is (slower per request). `make dist` builds the extensions first.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_SRC = Path(__file__).resolve().parent / "src"


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the compiled modules to a wheel when they are current."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install imports the extensions where they were built
        native = _load_native()
        state = native.build_state()
        if state != "compiled":
            self.app.display_info(f"loadlens wheel: pure Python (compiled hot path {state})")
            return
        for path in native.built_files():
            build_data["force_include"][str(path)] = path.relative_to(_SRC).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True  # this interpreter's tag: the extensions are built for it
        count = len(native.MODULES)
        self.app.display_info(f"loadlens wheel: with the compiled hot path ({count} modules)")


def _load_native() -> Any:
    """`loadlens.native` from the source tree (standard library only: no dependency needed)."""
    spec = importlib.util.spec_from_file_location("_loadlens_native", _SRC / "loadlens/native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
