"""The `multipart:` body of a request: fields and files, the files checked on disk at load.

```yaml
multipart:
  title: "Report {{ id }}"              # a field: a template
  document:                             # a file, streamed from disk when sent
    file: files/report.pdf              # relative to the scenario file
    filename: "report-{{ id }}.pdf"     # optional: the name sent (default: the file's own)
    content_type: application/pdf       # optional: guessed from the name
```

Each file must exist and be a readable regular file when the scenario is loaded; its size then
is the size sent (see `loadlens.http.upload`).
"""

from __future__ import annotations

import os
from pathlib import Path

from loadlens.model.scenario import FormPart
from loadlens.spec.context import Context, Scope
from loadlens.spec.nodes import Node
from loadlens.spec.reader import join

FILE_KEYS = ("file", "filename", "content_type")


def read_multipart(ctx: Context, node: Node, key: str, scope: Scope) -> tuple[FormPart, ...]:
    """The parts written at `node`, in order (each problem reported)."""
    reader = ctx.reader
    if not isinstance(node.value, dict) or not node.value:
        reader.report(
            node,
            key,
            "expected a mapping of part names to values (a field) or to {file: PATH} (a file)",
        )
        return ()
    parts: list[FormPart] = []
    for name, child in node.value.items():
        part_key = join(key, name)
        if isinstance(child.value, dict):
            part = _file_part(ctx, name, child, part_key, scope)
        elif isinstance(child.value, list) or child.value is None:
            reader.report(child, part_key, "expected a field's value or {file: PATH}")
            part = None
        else:
            value = ctx.template(child, part_key, scope)
            part = None if value is None else FormPart(name, value=value)
        if part is not None:
            parts.append(part)
    return tuple(parts)


def _file_part(ctx: Context, name: str, node: Node, key: str, scope: Scope) -> FormPart | None:
    reader = ctx.reader
    fields = reader.mapping(node, key, FILE_KEYS, required=("file",), what="a file part")
    if fields is None or "file" not in fields:
        return None
    found = _file(ctx, fields["file"], join(key, "file"))
    filename = None
    if "filename" in fields:
        filename = ctx.template(fields["filename"], join(key, "filename"), scope)
    content_type = None
    if "content_type" in fields:
        content_type = _content_type(ctx, fields["content_type"], join(key, "content_type"))
    if found is None:
        return None
    path, size = found
    return FormPart(name, path=path, size=size, filename=filename, content_type=content_type)


def _file(ctx: Context, node: Node, key: str) -> tuple[str, int] | None:
    """The file's absolute path and size, or None when it cannot be sent (reported)."""
    reader = ctx.reader
    if not isinstance(node.value, str) or not node.value:
        reader.report(node, key, "expected a file path (relative to the scenario file)")
        return None
    base = ctx.base_dir if ctx.base_dir is not None else Path.cwd()
    path = (base / node.value).resolve()
    try:
        stat = path.stat()
    except OSError as error:
        reader.report(node, key, f"cannot read `{node.value}`: {error.strerror} ({path})")
        return None
    if not path.is_file():
        reader.report(node, key, f"`{node.value}` is not a file ({path})")
        return None
    if not os.access(path, os.R_OK):
        reader.report(node, key, f"cannot read `{node.value}`: permission denied ({path})")
        return None
    return str(path), stat.st_size


def _content_type(ctx: Context, node: Node, key: str) -> str | None:
    text = ctx.reader.string(node, key)
    if text is None:
        return None
    kind, slash, sub = text.partition("/")
    if not slash or not kind.strip() or not sub.strip() or any(c in text for c in "\r\n"):
        ctx.reader.report(node, key, f"bad content type `{text}`", "write it as `type/subtype`")
        return None
    return text.strip()
