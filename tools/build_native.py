"""Compiles loadlens's hot path with mypyc, in place (`make native`; every make target runs it).

    .venv/bin/python tools/build_native.py [--force]

Does nothing when the compiled modules are newer than their sources. With no C compiler or no
Python headers it says so and leaves the pure-Python package (correct, about 40 % more CPU per
request); a compiler that fails is an error. Which modules, and how a stale build is kept out of
use, is in `loadlens.native`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
BUILD_DIR = ROOT / "build" / "native"

sys.path.insert(0, str(SRC))
from loadlens import native  # noqa: E402  (the module list lives with the code that uses it)


def _missing_toolchain() -> str | None:
    """What is missing to compile C extensions for this Python, or None."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.exists():
        return f"no Python headers ({headers})"
    return None


def _remove_build() -> None:
    for path in native.built_files():
        path.unlink()


def _compile() -> None:
    # Imported here: mypyc and setuptools are development tools, needed only to build.
    from mypyc.build import mypycify
    from setuptools import setup

    sources = [str(native.source_path(m).relative_to(SRC)) for m in native.MODULES]
    os.chdir(SRC)  # build_ext --inplace puts each extension under the current directory
    os.environ["MYPY_CACHE_DIR"] = str(BUILD_DIR / "mypy-cache")  # not in src/
    extensions = mypycify(
        sources, group_name="loadlens", target_dir=str(BUILD_DIR / "c"), opt_level="3"
    )
    setup(
        name="loadlens-native",
        ext_modules=extensions,
        script_args=[
            *("-q", "build_ext", "--inplace"),
            *("--build-temp", str(BUILD_DIR / "obj"), "--build-lib", str(BUILD_DIR / "lib")),
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--force", action="store_true", help="compile even when up to date")
    args = parser.parse_args()
    state = native.build_state()
    if state in ("compiled", "disabled") and not args.force:
        print(f"native: up to date ({len(native.MODULES)} modules compiled)")
        return 0
    missing = _missing_toolchain()
    if missing is not None:
        print(f"native: not compiled, {missing}; loadlens runs as pure Python (slower)")
        return 0
    started = time.monotonic()
    _remove_build()
    _compile()
    # build_ext copies an extension it did not need to rebuild (its C unchanged) with the old
    # file's time: every one was just made from the current sources, so they all date from now.
    now = time.time()
    for path in native.built_files():
        os.utime(path, (now, now))
    if native.build_state() not in ("compiled", "disabled"):
        print(f"native: the build left {native.build_state()} modules", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    print(f"native: compiled {len(native.MODULES)} modules with mypyc in {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
