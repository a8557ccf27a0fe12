"""The files a scenario uploads (multipart `file:` parts), shipped to a remote worker.

How it works. A multipart file is read from disk as each request is sent (never held whole), by
its absolute path, resolved at load. A cluster node does not have the coordinator's paths, so
the coordinator reads each file once (`read_files`, bounded by `MAX_SHIPPED_BYTES`) and sends
the bytes with the worker's `Assignment`; the worker writes them into a directory of its own
(`unpack`), keeping each file's base name (the file name sent by default), and runs the
scenario with its parts pointed there (`relocate`). Feeder rows need no shipping: they are read
at load and travel inside the scenario.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

from loadlens.errors import ClusterError
from loadlens.model.redaction import request_steps
from loadlens.model.scenario import GroupStep, RequestStep, Scenario, Step

# What a cluster run ships in all: each worker holds the bytes once while it unpacks them, and
# an upload test of a larger file is one machine's job (its disk, not the network, is the limit).
MAX_SHIPPED_BYTES = 256 * 1024 * 1024


def uploaded_files(scenario: Scenario) -> list[str]:
    """The paths of the files the plan's flows upload, each once, in order of appearance."""
    paths: list[str] = []
    for flow in scenario.flows:
        for step in request_steps(flow.steps):
            body = step.request.body
            for part in body.parts if body is not None else ():
                if part.path is not None and part.path not in paths:
                    paths.append(part.path)
    return paths


def read_files(scenario: Scenario) -> dict[str, bytes]:
    """Each uploaded file's bytes, by path; a `ClusterError` when they exceed the limit or a
    file cannot be read."""
    files: dict[str, bytes] = {}
    total = 0
    for path in uploaded_files(scenario):
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise ClusterError(f"cannot read {path}, uploaded by the scenario: {error}") from None
        total += len(data)
        if total > MAX_SHIPPED_BYTES:
            raise ClusterError(
                f"the files the scenario uploads exceed the {MAX_SHIPPED_BYTES:,} bytes a "
                "cluster run ships to its nodes",
                hint="run the upload test locally, without --cluster",
            )
        files[path] = data
    return files


def unpack(files: dict[str, bytes]) -> tuple[str, dict[str, str]]:
    """Write shipped files into a new directory; it, and where each path's file now is."""
    directory = tempfile.mkdtemp(prefix="loadlens-files-")
    moved: dict[str, str] = {}
    for number, (path, data) in enumerate(files.items()):
        folder = os.path.join(directory, str(number))  # base names may repeat across folders
        os.mkdir(folder)
        target = os.path.join(folder, os.path.basename(path))
        with open(target, "wb") as out:
            out.write(data)
        moved[path] = target
    return directory, moved


def relocate(scenario: Scenario, moved: dict[str, str]) -> Scenario:
    """The scenario with its flows' uploaded files at their new paths."""
    if not moved:
        return scenario
    flows = tuple(replace(flow, steps=_moved_steps(flow.steps, moved)) for flow in scenario.flows)
    return replace(scenario, flows=flows)


def _moved_steps(steps: tuple[Step, ...], moved: dict[str, str]) -> tuple[Step, ...]:
    out: list[Step] = []
    for step in steps:
        if isinstance(step, GroupStep):
            out.append(replace(step, steps=_moved_steps(step.steps, moved)))
        elif isinstance(step, RequestStep) and step.request.body is not None:
            body = step.request.body
            parts = tuple(
                replace(part, path=moved[part.path]) if part.path in moved else part
                for part in body.parts
            )
            request = replace(step.request, body=replace(body, parts=parts))
            out.append(replace(step, request=request))
        else:
            out.append(step)
    return tuple(out)
