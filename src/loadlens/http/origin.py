"""Where requests go: scheme, host and port, parsed once from a URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    """The scheme, host and port that a pooled connection serves."""

    scheme: str
    host: str
    port: int
    _host_header: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.scheme not in DEFAULT_PORTS:
            raise ValueError(f"unsupported scheme {self.scheme!r}: use http or https")
        if not self.host:
            raise ValueError("an origin needs a host")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is out of range 1-65535")
        name = self.host.encode("ascii") if self.host.isascii() else self.host.encode("idna")
        host = b"[" + name + b"]" if b":" in name else name
        if self.port != DEFAULT_PORTS[self.scheme]:
            host += b":%d" % self.port
        # Computed once: the encoder asks for it for every distinct request it builds.
        object.__setattr__(self, "_host_header", host)

    @classmethod
    def parse(cls, url: str) -> Origin:
        """The origin of an absolute http(s) URL; path, query and fragment are ignored."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"invalid URL {url!r}: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(f"invalid URL {url!r}: it must start with http:// or https://")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                f"invalid URL {url!r}: credentials in the URL are not supported; "
                "use `auth: {basic: [user, password]}` instead"
            )
        host = parts.hostname
        if not host:
            raise ValueError(f"invalid URL {url!r}: it has no host")
        if port == 0:
            raise ValueError(f"invalid URL {url!r}: port 0 is not a port to connect to")
        return cls(scheme, host, DEFAULT_PORTS[scheme] if port is None else port)

    @property
    def host_header(self) -> bytes:
        """The value of the Host header: `host:port`, the port left out when it is the default."""
        return self._host_header

    def __str__(self) -> str:
        return f"{self.scheme}://{self._host_header.decode('ascii')}"
