"""`multipart:` bodies: fields, files relative to the scenario, and located problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadlens.errors import SpecError
from loadlens.model.scenario import BodyKind, RequestStep
from loadlens.spec import parse_yaml_text

PLAN = "plan: [{stage: s, users: 1, duration: 1s}]\n"


def _scenario(request: str) -> str:
    head = "name: s\ntarget: http://h\nvars: {n: 1}\nflows:\n  - name: f\n    steps:\n"
    return f"{head}      - request:\n{request}{PLAN}"


def _problems(text: str, base_dir: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_yaml_text(text, base_dir=base_dir)
    return [f"{p.line}:{p.key}: {p.message}" for p in caught.value.problems]


def test_fields_and_files_are_read_in_order_with_paths_from_the_scenario_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.png").write_bytes(b"\x89PNG" + b"0" * 96)
    text = _scenario(
        "          method: POST\n"
        "          url: /up\n"
        "          multipart:\n"
        '            title: "t-{{ n }}"\n'
        "            count: 3\n"
        "            image: {file: files/a.png}\n"
        '            copy: {file: files/a.png, filename: "c-{{ n }}.png", content_type: image/x}\n'
    )
    step = parse_yaml_text(text, base_dir=tmp_path).flows[0].steps[0]
    assert isinstance(step, RequestStep)
    body = step.request.body
    assert body is not None and body.kind is BodyKind.MULTIPART
    title, count, image, copy = body.parts
    assert (title.name, title.value is not None and title.value.static) == ("title", None)
    assert (count.name, count.value is not None and count.value.static) == ("count", "3")
    assert (image.path, image.size, image.filename, image.content_type) == (
        str(tmp_path / "files" / "a.png"),
        100,
        None,
        None,
    )
    assert copy.filename is not None and copy.filename.static is None
    assert copy.content_type == "image/x"


def test_a_missing_file_a_folder_and_wrong_types_are_located_problems(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    text = _scenario(
        "          method: POST\n"
        "          url: /up\n"
        "          multipart:\n"
        "            gone: {file: nowhere.bin}\n"
        "            dir: {file: folder}\n"
        "            number: {file: 7}\n"
        "            list: [1, 2]\n"
        "            typo: {file: folder, filname: x}\n"
        "            kind: {file: folder, content_type: pdf}\n"
    )
    problems = _problems(text, tmp_path)
    key = "flows[0].steps[0].request.multipart"
    assert problems == [
        f"11:{key}.gone.file: cannot read `nowhere.bin`: No such file or directory"
        f" ({tmp_path / 'nowhere.bin'})",
        f"12:{key}.dir.file: `folder` is not a file ({tmp_path / 'folder'})",
        f"13:{key}.number.file: expected a file path (relative to the scenario file)",
        f"14:{key}.list: expected a field's value or {{file: PATH}}",
        f"15:{key}.typo.file: `folder` is not a file ({tmp_path / 'folder'})",
        f"15:{key}.typo.filname: unknown key `filname`",
        f"16:{key}.kind.file: `folder` is not a file ({tmp_path / 'folder'})",
        f"16:{key}.kind.content_type: bad content type `pdf`",
    ]


def test_a_content_type_beside_multipart_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    text = _scenario(
        "          method: POST\n"
        "          url: /up\n"
        "          content_type: text/plain\n"
        "          headers: {Content-Type: text/plain}\n"
        "          multipart: {a: {file: a.txt}}\n"
    )
    message = "a `multipart` body sets its own content type (with its boundary)"
    assert _problems(text, tmp_path) == [
        f"10:flows[0].steps[0].request.content_type: {message}",
        f"11:flows[0].steps[0].request.headers: {message}",
    ]


def test_multipart_and_another_body_are_one_body_too_many(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    text = _scenario(
        "          method: POST\n"
        "          url: /up\n"
        "          json: {a: 1}\n"
        "          multipart: {a: {file: a.txt}}\n"
    )
    assert _problems(text, tmp_path) == [
        "11:flows[0].steps[0].request.multipart: a request has one body:"
        " `json` and `multipart` are both given"
    ]
