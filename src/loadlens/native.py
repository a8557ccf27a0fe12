"""The hot path compiled to C by mypyc: which modules, and whether this process runs them.

`make native` (tools/build_native.py) compiles `MODULES` in place: each gets a
`<name>.cpython-*.so` beside its `.py`, and one shared library `loadlens__mypyc` holds their code.
Python's import prefers an extension to a source, so a compiled copy older than its source would
run stale code. `route_imports()` (called when `loadlens` is imported) sends every one of
`MODULES` to its source when the build is incomplete or older than any of their sources — every
one, because compiled modules call each other directly inside the shared library — and
`LOADLENS_PURE=1` does the same on purpose (to debug or to compare).

Writing for the compiled modules (each found with callgrind, docs/benchmarks.md):
- a module-level name used per request is `Final`: mypyc makes it a C static or an inlined
  literal; any other module name is a dict lookup at each use;
- data handed along per request is not a fixed-length tuple (`tuple[int, int]`): mypyc keeps
  one as a C struct and boxes it into a new tuple, and its ints into new ints, wherever it
  becomes an object again (stored in a list or dict, passed to Python); use `tuple[int, ...]`
  or a class;
- no NamedTuple built per request (its `__new__` runs as Python code); a class with
  `__slots__` is built in C;
- a frozen dataclass that is pickled (scenarios go to workers pickled) needs `__reduce__`;
- a method of an untyped object (httptools' parser, a transport) called per request is bound
  once and kept: `obj.method(...)` looks it up by name at every call;
- `items[i] += 1` on a `list[int]` is a generic `PyNumber_InPlaceAdd`: read the item into a
  typed local, add, store.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# Only the per-request path: the connection and its parser callbacks, the users, executors and
# arrival schedule that send, the runner that judges a response, the request features, the
# templates and JSONPaths they evaluate, and the recorder. Everything else runs once per stage
# or per second and gains nothing worth a build.
MODULES = (
    "loadlens.http.connection",
    "loadlens.http.response",
    "loadlens.http.pool",
    "loadlens.http.client",
    "loadlens.http.wire",
    "loadlens.http.http2",
    "loadlens.engine.drivers",
    "loadlens.engine.runner",
    "loadlens.engine.executors",
    "loadlens.engine.open_model",
    "loadlens.engine.schedule",
    "loadlens.engine.compiled",
    "loadlens.engine.prepared",
    "loadlens.engine.variables",
    "loadlens.engine.features",
    "loadlens.metrics.recorder",
    "loadlens.metrics.histogram",
    "loadlens.model.jsonpath",
    "loadlens.model.template",
)
SHARED_LIBRARY = "loadlens__mypyc"  # mypycify(group_name="loadlens") names it so
PURE_ENV = "LOADLENS_PURE"

_PACKAGE_DIR = Path(__file__).resolve().parent


def source_path(module: str) -> Path:
    """The `.py` file of a module of this package."""
    return _PACKAGE_DIR.joinpath(*module.split(".")[1:]).with_suffix(".py")


def _existing(stem: Path) -> list[Path]:
    """The extension files named `stem` plus an extension suffix that exist."""
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    return [path for path in (stem.with_name(stem.name + s) for s in suffixes) if path.exists()]


def extension_paths(module: str) -> list[Path]:
    """The compiled files of a module that exist (one, when it was built)."""
    return _existing(source_path(module).with_suffix(""))


def shared_library_paths() -> list[Path]:
    """The shared library of the compiled modules, where it exists (beside the package)."""
    return _existing(_PACKAGE_DIR.parent / SHARED_LIBRARY)


def built_files() -> list[Path]:
    """Every file of the build that exists: the modules' extensions and the shared library."""
    return [path for m in MODULES for path in extension_paths(m)] + shared_library_paths()


def build_state() -> str:
    """`compiled`, `not built`, `stale` (a source is newer), `incomplete` or `disabled`."""
    built = [extension_paths(m) for m in MODULES]
    shared = shared_library_paths()
    if not any(built) and not shared:
        return "not built"
    if not all(built) or not shared:
        return "incomplete"
    oldest_build = min(p.stat().st_mtime for paths in built for p in paths)
    newest_source = max(source_path(m).stat().st_mtime for m in MODULES)
    if newest_source > oldest_build:
        return "stale"
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return "disabled"
    return "compiled"


class _SourcesFirst:
    """Finds the compiled modules' sources, ahead of the extensions beside them (a meta path
    finder: not an `importlib.abc.MetaPathFinder`, whose import costs every process ~15 ms)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


def route_imports() -> None:
    """Makes the compiled modules import from source unless the build is complete and current."""
    if build_state() in ("compiled", "not built"):
        return  # nothing to route: the extensions are current, or there are none
    if not any(isinstance(finder, _SourcesFirst) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourcesFirst())


def running_compiled() -> bool:
    """Whether the hot path of this process runs compiled (looks at what was imported)."""
    module = sys.modules.get(MODULES[0])
    origin = getattr(module, "__file__", None) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
