"""A scenario: flows of steps that virtual users run, with data, captures and expectations.

Every value here is frozen and validated by `loadlens.spec` before the engine sees it; the engine
may rely on the invariants stated in each docstring.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loadlens.model.generator import GeneratorLimits
from loadlens.model.jsonpath import JsonPath
from loadlens.model.plan import Stage
from loadlens.model.template import Template

if TYPE_CHECKING:  # these modules import Location from here
    from loadlens.model.integrity import InvariantSpec, LedgerSpec
    from loadlens.model.observation import ObserveSpec
from loadlens.model.threshold import Threshold


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value was written: file, 1-based line and column (0 for Python-built values)."""

    file: str
    line: int = 0
    column: int = 0


NOWHERE = Location("<python>")

# The bytes of a response body kept (for checks, captures, samples) unless `max_body` says
# otherwise: more than any JSON document a check reads, and bounded memory however many users.
DEFAULT_MAX_BODY = 4 * 1024 * 1024

# Redirects a request follows unless it says otherwise (`redirects:`), as k6 does.
DEFAULT_REDIRECTS = 10
# HTTP/2 streams at once on one connection unless `max_streams:` says otherwise: the most that
# common servers allow by default (h2o, Apache, hypercorn: 100; nginx 128).
DEFAULT_MAX_STREAMS = 100

# A JSON body template: JSON values whose strings are Templates. A string that is exactly one
# `{{ var }}` renders to the variable's value with its type kept (an int stays an int).
JsonTemplate = (
    None | bool | int | float | Template | list["JsonTemplate"] | dict[str, "JsonTemplate"]
)


class BodyKind(enum.Enum):
    """How a request body is written."""

    JSON = "json"
    FORM = "form"
    RAW = "raw"
    MULTIPART = "multipart"  # multipart/form-data: fields and files, files streamed from disk


@dataclass(frozen=True, slots=True)
class FormPart:
    """One part of a multipart body: a field's value, or a file read from disk as it is sent."""

    name: str
    value: Template | None = None  # a field's value (None for a file)
    path: str | None = None  # a file: its absolute path, resolved at load
    size: int = 0  # the file's size at load: exactly this many bytes are sent
    filename: Template | None = None  # the file name sent; None: the path's base name
    content_type: str | None = None  # a file's type; None: guessed from its name


@dataclass(frozen=True, slots=True)
class Body:
    """A request body; one of `json`, `form`, `raw`, `parts` is meaningful, per `kind`."""

    kind: BodyKind
    json: JsonTemplate = None
    form: tuple[tuple[str, Template], ...] = ()
    raw: Template | None = None
    parts: tuple[FormPart, ...] = ()  # a multipart body's parts, in order
    content_type: str | None = None  # default per kind: application/json, x-www-form-urlencoded

    @property
    def static_json(self) -> bool:
        """Whether the JSON body has no variable, so it can be encoded once."""
        return _is_static(self.json)


def _is_static(value: JsonTemplate) -> bool:
    if isinstance(value, Template):
        return value.static is not None
    if isinstance(value, list):
        return all(_is_static(v) for v in value)
    if isinstance(value, dict):
        return all(_is_static(v) for v in value.values())
    return True


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-request time limits in seconds; None leaves the engine's default."""

    connect: float | None = None
    read: float | None = None
    total: float | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request. `name` is its operation: the key all metrics are grouped by."""

    name: str  # default: METHOD + path template with variables as `{var}`
    method: str  # upper case, one of spec.METHODS
    url: Template  # path (and optional query) relative to the target, or an absolute URL
    query: tuple[tuple[str, Template], ...] = ()
    headers: tuple[tuple[str, Template], ...] = ()  # names lower-cased
    body: Body | None = None
    timeouts: Timeouts = Timeouts()
    tags: tuple[str, ...] = ()  # labels that gates select operations by (`tag:write`)
    max_body: int | None = None  # bytes of the response body kept; None: the scenario's default
    redirects: int | None = None  # redirects followed (0: none); None: the scenario's default


class ExtractorKind(enum.Enum):
    """How a capture or check finds a value in a response."""

    JSONPATH = "jsonpath"
    REGEX = "regex"  # first match's group `group` (0 = whole match) in the body text
    HEADER = "header"  # a response header by (lower-cased) name
    STATUS = "status"  # the status code
    COOKIE = "cookie"  # a cookie by name, as the response set it or the user's jar holds it


@dataclass(frozen=True, slots=True)
class Extractor:
    """Where a value comes from in a response."""

    kind: ExtractorKind
    expression: str  # the source text: `$.id`, a regex, a header name
    jsonpath: JsonPath | None = None  # compiled, for JSONPATH
    group: int = 1  # for REGEX; the pattern is compiled by the engine once at load


@dataclass(frozen=True, slots=True)
class Capture:
    """Store an extracted value in the user's variables, or append it to a shared pool."""

    variable: str
    extractor: Extractor
    into_pool: bool = False  # `pool.NAME`: shared by all users of a worker
    all_matches: bool = False  # pools only: add every JSONPath match, not only the first
    location: Location = field(default=NOWHERE, compare=False)
    secret: bool = False  # `secret: true`: the value is redacted wherever it would be written


class CheckKind(enum.Enum):
    """What a named body check asserts."""

    EXISTS = "exists"  # the extractor finds something
    EQUALS = "equals"  # the found value equals `value`
    CONTAINS = "contains"  # body text (or the found string) contains `value`


@dataclass(frozen=True, slots=True)
class Check:
    """A named assertion on a response; its pass rate is recorded."""

    name: str
    kind: CheckKind
    extractor: Extractor | None  # None for CONTAINS on the whole body
    value: object = None


@dataclass(frozen=True, slots=True)
class Expectation:
    """What counts as success. `statuses` None means any 2xx or 3xx."""

    statuses: frozenset[int] | None = None
    checks: tuple[Check, ...] = ()

    def accepts(self, status: int) -> bool:
        """Whether `status` counts as success."""
        if self.statuses is None:
            return 200 <= status < 400
        return status in self.statuses


@dataclass(frozen=True, slots=True)
class RequestStep:
    """Send a request, judge it, capture from it. `repeat` > 1 runs it that many times."""

    request: Request
    expect: Expectation = Expectation()
    captures: tuple[Capture, ...] = ()
    repeat: int = 1
    location: Location = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class ThinkStep:
    """Pause a user for a fixed time or a uniform random time in [low, high] seconds."""

    low: float
    high: float
    location: Location = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class GroupStep:
    """Named steps run in order; `repeat` > 1 runs the group that many times."""

    name: str
    steps: tuple[Step, ...]
    repeat: int = 1
    location: Location = field(default=NOWHERE, compare=False)


Step = RequestStep | ThinkStep | GroupStep


@dataclass(frozen=True, slots=True)
class Flow:
    """The steps one virtual user runs per iteration; chosen with probability weight/total."""

    name: str
    steps: tuple[Step, ...]
    weight: float = 1.0
    location: Location = field(default=NOWHERE, compare=False)


class FeederOrder(enum.Enum):
    """How a feeder hands out rows."""

    SEQUENTIAL = "sequential"  # rows in order, wrapping around, shared by the worker's users
    RANDOM = "random"  # a random row per use
    UNIQUE = "unique"  # row k belongs to user k (users beyond the rows wrap around)


@dataclass(frozen=True, slots=True)
class Feeder:
    """Rows of data from a CSV or JSON file, loaded and checked when the scenario is loaded."""

    name: str
    path: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str | int | float | bool | None, ...], ...]  # values in `columns` order
    order: FeederOrder = FeederOrder.SEQUENTIAL
    location: Location = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything needed to run: target, data, flows, setup/teardown and the plan."""

    name: str
    target: str  # absolute http(s) URL; a path is the base of every relative request URL
    flows: tuple[Flow, ...]
    plan: tuple[Stage, ...]
    headers: tuple[tuple[str, Template], ...] = ()  # default headers for every request
    max_body: int = DEFAULT_MAX_BODY  # `defaults.max_body`: body bytes a response keeps
    redirects: int = DEFAULT_REDIRECTS  # `defaults.redirects`: redirects a request follows
    cookies: bool = True  # `cookies:`: each user keeps the cookies responses set, sends them back
    compression: bool = True  # `compression:`: ask for gzip/deflate bodies, decode when read
    http2: bool = False  # `http2:`: HTTP/2 (ALPN h2 over TLS, prior knowledge on http://)
    max_streams: int = DEFAULT_MAX_STREAMS  # `max_streams:`: HTTP/2 streams per connection
    feeders: tuple[Feeder, ...] = ()
    setup: tuple[Step, ...] = ()
    teardown: tuple[Step, ...] = ()
    variables: tuple[tuple[str, Template], ...] = ()  # initial user variables (`vars:`)
    secrets: frozenset[str] = field(default_factory=frozenset)  # values to redact when written
    thresholds: tuple[Threshold, ...] = ()  # gates of every stage, besides each stage's own
    invariants: tuple[object, ...] = ()  # `invariants:` as written (kept for compatibility)
    observe: ObserveSpec | None = None  # `observe:`: what to watch on the service
    invariant_specs: tuple[InvariantSpec, ...] = ()  # `invariants:`, validated
    ledger: LedgerSpec | None = None  # `ledger:` and `reconcile:`
    generator: GeneratorLimits = field(default_factory=GeneratorLimits)  # `generator:`
    source: str = field(default="<python>", compare=False)  # the file it came from
    source_sha256: str = field(default="", compare=False)

    def stage_gates(self, stage: Stage) -> tuple[Threshold, ...]:
        """The gates a stage is judged by: the scenario's thresholds, then its own gates."""
        return self.thresholds + stage.gates
