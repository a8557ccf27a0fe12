"""`observe:` → ObserveSpec: sources (JSON, Prometheus, process), the interval, derived metrics.

`observe:` is a mapping (`every`, `sources`, `derived`) or, for short, the list of sources.
"""

from __future__ import annotations

import re

from loadlens.model.jsonpath import JsonPathSyntaxError, parse_jsonpath
from loadlens.model.observation import (
    PLACEHOLDERS,
    DerivedMetric,
    ExpressionError,
    JsonMetric,
    ObserverSpec,
    ObserveSpec,
    ProcessTarget,
    PrometheusMetric,
    SourceKind,
    names_in,
    parse_expression,
    placeholders_in,
    quantile_name,
)
from loadlens.spec.durations import QuantityError, parse_duration
from loadlens.spec.nodes import Node
from loadlens.spec.reader import Reader, did_you_mean, join
from loadlens.spec.urls import url_problem

_KEYS = ("every", "sources", "derived")
_SOURCE_KEYS = ("json", "prometheus", "process", "metrics", "quantiles", "name")
_PROCESS_KEYS = ("pid", "pidfile", "port")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SELECTOR = re.compile(r"\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_PROCESS_STATS = ("cpu_percent", "rss_bytes", "threads", "open_files", "connections")
MIN_EVERY_S = 0.1


def read_observe(reader: Reader, node: Node, key: str = "observe") -> ObserveSpec | None:
    """The ObserveSpec, or None (and problems recorded) when it cannot be read."""
    every = 1.0
    derived_node: Node | None = None
    if isinstance(node.value, list):
        sources_node = node
    else:
        fields = reader.mapping(node, key, _KEYS, required=("sources",), what="a mapping")
        if fields is None or "sources" not in fields:
            return None
        sources_node = fields["sources"]
        derived_node = fields.get("derived")
        if "every" in fields:
            every = _every(reader, fields["every"], join(key, "every")) or every
    sources_key = key if sources_node is node else join(key, "sources")
    items = reader.sequence(sources_node, sources_key) or []
    sources = []
    for index, item in enumerate(items):
        source = _source(reader, item, join(sources_key, index))
        if source is not None:
            sources.append(source)
    known, complete = _known_names(sources)
    derived = _derived(reader, derived_node, join(key, "derived"), known, complete)
    return ObserveSpec(tuple(sources), every, derived, location=reader.location(node))


def _every(reader: Reader, node: Node, key: str) -> float | None:
    try:
        seconds = parse_duration(node.value)
    except QuantityError as error:
        reader.report(node, key, str(error))
        return None
    if seconds < MIN_EVERY_S:
        reader.report(node, key, f"must be at least {MIN_EVERY_S:g}s, got {node.value}")
        return None
    return seconds


def _source(reader: Reader, node: Node, key: str) -> ObserverSpec | None:
    fields = reader.mapping(node, key, _SOURCE_KEYS, what="a source mapping")
    if fields is None:
        return None
    kinds = [kind for kind in ("json", "prometheus", "process") if kind in fields]
    if len(kinds) != 1:
        reader.report(node, key, "a source needs exactly one of `json`, `prometheus`, `process`")
        return None
    kind = SourceKind(kinds[0])
    location = reader.location(node)
    if kind is SourceKind.PROCESS:
        for extra in ("metrics", "quantiles"):
            if extra in fields:
                reader.report(fields[extra], join(key, extra), f"a process source has no `{extra}`")
        target = _process(reader, fields["process"], join(key, "process"))
        prefix = "process"
        if "name" in fields:
            prefix = _name(reader, fields["name"], join(key, "name")) or prefix
        if target is None:
            return None
        return ObserverSpec(kind, process=target, prefix=prefix, location=location)
    if "name" in fields:
        reader.report(fields["name"], join(key, "name"), "only a process source takes `name`")
    url = _url(reader, fields[kind.value], join(key, kind.value))
    if kind is SourceKind.JSON:
        if "quantiles" in fields:
            reader.report(fields["quantiles"], join(key, "quantiles"), "only for `prometheus`")
        metrics = _json_metrics(reader, fields.get("metrics"), join(key, "metrics"))
        if url is None or metrics is None:
            return None
        return ObserverSpec(kind, url=url, json_metrics=metrics, location=location)
    if "metrics" not in fields:
        reader.report(node, join(key, "metrics"), "a prometheus source needs `metrics`")
        return None
    prometheus = _prometheus_metrics(reader, fields["metrics"], join(key, "metrics"))
    quantiles: tuple[float, ...] | None = (0.5, 0.95, 0.99)
    if "quantiles" in fields:
        quantiles = _quantiles(reader, fields["quantiles"], join(key, "quantiles"))
    if url is None or prometheus is None or quantiles is None:
        return None
    return ObserverSpec(
        kind, url=url, prometheus_metrics=prometheus, quantiles=quantiles, location=location
    )


def _url(reader: Reader, node: Node, key: str) -> str | None:
    text = reader.string(node, key)
    if text is None:
        return None
    if not _placeholders_ok(reader, node, key, text):
        return None
    if not text.startswith(("http://", "https://", "{{")):
        reader.report(node, key, f"expected an http(s) URL, got `{text}`", "or `{{ target }}/path`")
        return None
    problem = None if "{{" in text else url_problem(text)
    if problem is not None:
        reader.report(node, key, problem)
        return None
    return text


def _placeholders_ok(reader: Reader, node: Node, key: str, text: str) -> bool:
    for name in placeholders_in(text):
        if name not in PLACEHOLDERS:
            hint = did_you_mean(name, PLACEHOLDERS) or "only `{{ target }}`, `{{ target_port }}`"
            reader.report(node, key, f"unknown placeholder `{{{{ {name} }}}}`", hint)
            return False
    return True


def _name(reader: Reader, node: Node, key: str) -> str | None:
    text = reader.string(node, key)
    if text is not None and _NAME.fullmatch(text) is None:
        reader.report(node, key, f"`{text}` is not a metric name (letters, digits, `_`)")
        return None
    return text


def _metric_nodes(reader: Reader, node: Node, key: str) -> list[tuple[str, Node]] | None:
    if not isinstance(node.value, dict):
        reader.report(node, key, "expected a mapping of metric names to what to read")
        return None
    good = []
    for name, child in node.value.items():
        if _NAME.fullmatch(name) is None:
            reader.report(child, join(key, name), f"`{name}` is not a metric name", at_key=True)
        else:
            good.append((name, child))
    return good


def _json_metrics(reader: Reader, node: Node | None, key: str) -> tuple[JsonMetric, ...] | None:
    if node is None:
        return ()
    items = _metric_nodes(reader, node, key)
    if items is None:
        return None
    metrics = []
    for name, child in items:
        text = reader.string(child, join(key, name))
        if text is None:
            continue
        try:
            metrics.append(JsonMetric(name, parse_jsonpath(text)))
        except JsonPathSyntaxError as error:
            reader.report(child, join(key, name), f"bad JSONPath `{text}`: {error}")
    return tuple(metrics) if len(metrics) == len(items) else None


def _prometheus_metrics(
    reader: Reader, node: Node, key: str
) -> tuple[PrometheusMetric, ...] | None:
    items = _metric_nodes(reader, node, key)
    if items is None:
        return None
    metrics = []
    for name, child in items:
        text = reader.string(child, join(key, name))
        if text is None:
            continue
        selector = parse_selector(text)
        if selector is None:
            reader.report(
                child, join(key, name), f"bad selector `{text}`", 'e.g. `metric{route="/users"}`'
            )
            continue
        metrics.append(PrometheusMetric(name, *selector))
    return tuple(metrics)


def parse_selector(text: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """(metric, label filter) of `metric{a="x",b="y"}`, or None."""
    match = _SELECTOR.fullmatch(text)
    if match is None:
        return None
    labels: list[tuple[str, str]] = []
    inside = match.group(2) or ""
    position = 0
    while position < len(inside.strip()):
        label = _LABEL.match(inside, position)
        if label is None or label.end() == position:
            return None
        value = label.group(2).replace('\\"', '"').replace("\\\\", "\\")
        labels.append((label.group(1), value))
        position = label.end()
    return match.group(1), tuple(labels)


def _quantiles(reader: Reader, node: Node, key: str) -> tuple[float, ...] | None:
    items = reader.sequence(node, key)
    if items is None:
        return None
    found = []
    for index, item in enumerate(items):
        value = item.value
        if isinstance(value, str) and re.fullmatch(r"p\d+(\.\d+)?", value):
            value = float(value[1:]) / 100
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < 1:
            reader.report(item, join(key, index), "expected a quantile like 0.95 or `p95`")
            return None
        found.append(float(value))
    return tuple(found)


def _process(reader: Reader, node: Node, key: str) -> ProcessTarget | None:
    fields = reader.mapping(
        node, key, _PROCESS_KEYS, what="`{pid: N}`, `{pidfile: F}`, `{port: N}`"
    )
    if fields is None:
        return None
    if len(fields) != 1:
        reader.report(node, key, "give exactly one of `pid`, `pidfile`, `port`")
        return None
    ((name, child),) = fields.items()
    where = join(key, name)
    if name == "pid":
        pid = reader.integer(child, where, minimum=1)
        return ProcessTarget(pid=pid) if pid is not None else None
    if name == "pidfile":
        text = reader.string(child, where)
        return ProcessTarget(pidfile=text) if text is not None else None
    text = reader.string(child, where)
    if text is None or not _placeholders_ok(reader, child, where, text):
        return None
    if not placeholders_in(text) and not (text.isdigit() and 0 < int(text) < 65536):
        reader.report(child, where, f"expected a TCP port or `{{{{ target_port }}}}`, got {text}")
        return None
    return ProcessTarget(port=text)


def _known_names(sources: list[ObserverSpec]) -> tuple[set[str], bool]:
    """The metric names the sources will yield, and whether that list is complete."""
    names: set[str] = set()
    complete = True
    for source in sources:
        if source.kind is SourceKind.JSON:
            names.update(m.name for m in source.json_metrics)
            complete = complete and bool(source.json_metrics)
        elif source.kind is SourceKind.PROCESS:
            names.update(f"{source.prefix}_{stat}" for stat in _PROCESS_STATS)
        else:
            for metric in source.prometheus_metrics:
                names.update((metric.name, f"{metric.name}_rate"))
                names.update(quantile_name(metric.name, q) for q in source.quantiles)
    return names, complete


def _derived(
    reader: Reader, node: Node | None, key: str, known: set[str], complete: bool
) -> tuple[DerivedMetric, ...]:
    if node is None:
        return ()
    items = _metric_nodes(reader, node, key)
    derived = []
    for name, child in items or []:
        text = reader.string(child, join(key, name))
        if text is None:
            continue
        try:
            expression = parse_expression(text)
        except ExpressionError as error:
            reader.report(child, join(key, name), f"bad expression `{text}`: {error}")
            continue
        for used in sorted(names_in(expression)):
            if complete and used not in known:
                hint = did_you_mean(used, known) or "name a metric observed above"
                reader.report(child, join(key, name), f"unknown metric `{used}`", hint)
        known.add(name)
        derived.append(DerivedMetric(name, text, expression))
    return tuple(derived)
