"""Loading a scenario file: YAML (`.yaml`, `.yml`) or Python (`.py`) → a validated Scenario."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import runpy
import traceback
from collections.abc import Mapping
from pathlib import Path

from loadlens.errors import Problem, SpecError
from loadlens.model.scenario import Scenario
from loadlens.spec.env import EnvSubstitution
from loadlens.spec.nodes import Origin, from_python
from loadlens.spec.overrides import Overrides
from loadlens.spec.reader import Reader
from loadlens.spec.validate_scenario import build_scenario, check_target
from loadlens.spec.yaml_nodes import YamlSyntaxError, collector_paused, compose_yaml


def load_scenario(
    path: str | Path,
    *,
    target_override: str | None = None,
    overrides: Overrides | None = None,
) -> Scenario:
    """The scenario in `path`, validated, with the command line's `overrides` applied; raises
    SpecError listing every problem."""
    path = Path(path)
    file = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([Problem(file, 0, 0, "", "no such scenario file")]) from None
    except OSError as error:
        raise SpecError([Problem(file, 0, 0, "", f"cannot read: {error.strerror}")]) from None
    digest = hashlib.sha256(data).hexdigest()
    if path.suffix in (".yaml", ".yml"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            problem = Problem(file, 1, 1, "", f"not UTF-8 text: {error.reason}")
            raise SpecError([problem]) from None
        scenario = parse_yaml_text(
            text,
            file=file,
            base_dir=path.parent,
            target_override=target_override,
            overrides=overrides,
        )
    elif path.suffix == ".py":
        scenario = _load_python(path, target_override, overrides or Overrides())
    else:
        message = "expected a `.yaml`, `.yml` or `.py` scenario file"
        raise SpecError([Problem(file, 0, 0, "", message)])
    return dataclasses.replace(scenario, source=file, source_sha256=digest)


def parse_yaml_text(
    text: str,
    *,
    file: str = "<string>",
    base_dir: Path | None = None,
    target_override: str | None = None,
    overrides: Overrides | None = None,
) -> Scenario:
    """The scenario written in YAML `text`; `file` names it in problems."""
    overrides = overrides or Overrides()
    env = EnvSubstitution(overrides.environ(os.environ))
    with collector_paused():
        try:
            root = compose_yaml(text, file, env)
        except YamlSyntaxError as error:
            raise SpecError([error.problem]) from None
        if root is None:
            raise SpecError([Problem(file, 1, 1, "", "the scenario is empty")])
        overrides.declare_variables(root)
        scenario = build_scenario(
            root,
            Reader(file),
            base_dir=base_dir or Path.cwd(),
            secrets=frozenset(env.secrets),
            target_override=target_override,
        )
    digest = hashlib.sha256(text.encode()).hexdigest()
    scenario = overrides.apply(scenario)
    return dataclasses.replace(scenario, source_sha256=digest, secrets=env.secrets_of(scenario))


def build_from_mapping(
    tree: Mapping[str, object],
    *,
    origin: Origin,
    base_dir: Path,
    target_override: str | None = None,
    overrides: Overrides | None = None,
) -> Scenario:
    """The scenario written as plain Python values (what the builder functions make)."""
    overrides = overrides or Overrides()
    env = EnvSubstitution(overrides.environ(os.environ))
    root = from_python(dict(tree), origin, env)
    overrides.declare_variables(root)
    scenario = build_scenario(
        root,
        Reader(origin.file),
        base_dir=base_dir,
        secrets=frozenset(env.secrets),
        target_override=target_override,
    )
    scenario = overrides.apply(scenario)
    return dataclasses.replace(scenario, secrets=env.secrets_of(scenario))


def _load_python(path: Path, target_override: str | None, overrides: Overrides) -> Scenario:
    from loadlens.spec.builder import ScenarioDraft  # the builder imports this module

    file = str(path)
    try:
        namespace = runpy.run_path(file, run_name="__loadlens_scenario__")
    except SpecError:
        raise
    except SyntaxError as error:
        line, column = error.lineno or 0, error.offset or 0
        raise SpecError([Problem(file, line, column, "", f"syntax error: {error.msg}")]) from None
    except SystemExit as error:  # `sys.exit()` must not end loadlens, least of all with 0 (GO)
        line = _line_in(error, path)
        message = f"the scenario called sys.exit({error.code!r}) while being imported"
        hint = "a scenario file only defines `scenario`; it must not exit"
        raise SpecError([Problem(file, line, 0, "", message, hint)]) from None
    except Exception as error:  # the user's code: any error becomes a located problem
        line = _line_in(error, path)
        message = f"{type(error).__name__} while importing: {error}"
        raise SpecError([Problem(file, line, 0, "", message)]) from None
    value = namespace.get("scenario")
    if isinstance(value, ScenarioDraft):  # validated here, so `-e` and `--var` reach it
        origin = value.tree.origin or Origin("<python>", 0)
        return build_from_mapping(
            value.tree,
            origin=origin,
            base_dir=value.base_dir,
            target_override=target_override,
            overrides=overrides,
        )
    if isinstance(value, Scenario):  # built while imported: `-e` came too late for it
        if target_override is not None:
            problem = check_target(target_override)
            if problem:
                raise SpecError([Problem(file, 0, 0, "--target", problem)])
            value = dataclasses.replace(value, target=target_override)
        return overrides.apply(value)
    message = (
        "a Python scenario must set a module-level `scenario` "
        "(from `loadlens.scenario.scenario(...)`)"
    )
    if value is not None:
        message = f"`scenario` is a {type(value).__name__}, not a Scenario"
    raise SpecError([Problem(file, 0, 0, "scenario", message)])


def _line_in(error: BaseException, path: Path) -> int:
    """The line of the last traceback frame in `path` (0 when none is)."""
    resolved = path.resolve()
    line = 0
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename).resolve() == resolved:
            line = frame.lineno or 0
    return line
