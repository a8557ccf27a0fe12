"""Workers as Ray actors across a Ray cluster's nodes (`loadlens run --cluster`).

How it works. `RayWorkers.connect` joins the cluster (`ray.init`) and places the workers: by
default one per CPU of each alive node (`--per-node N` for N per node, `--workers N` for N in
all, spread over the nodes in turn). `start` opens a TCP listener on this machine's address
facing the cluster, with an authentication key made for the run, and starts one actor per
worker, pinned to its node (`NodeAffinitySchedulingStrategy`, not soft). Each actor connects
back (`multiprocessing.connection.Client`), says which worker it is (a few bytes, readable by
any version), and runs the same worker loop as a local worker process (`worker.serve`) on that
connection: hello, scenario, clock pings, orders and frames are the local ones. A remote worker
is not bound to the coordinator's process (`lifetime` watches a parent pid, meaningless across
machines): the connection's end-of-file ends it, and `stop` kills any actor left.

Ray is imported here only, and this module only when `--cluster` is given.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from loadlens.engine.worker import serve
from loadlens.errors import ClusterError
from loadlens.http import ClientOptions
from loadlens.model.scenario import Scenario

_CONNECT_TIMEOUT_S = 120.0  # actors to be scheduled, import loadlens and connect back
_REACH_TIMEOUT_S = 5.0  # to open a TCP connection to the cluster's address
_INSTALL_HINT = "pip install 'loadlens[ray]'"
_CLIENT_TRIES = 3  # a Ray Client connection to a head whose client server is still starting
_CLIENT_RETRY_S = 1.0


def require_ray() -> Any:
    """The `ray` module, or a `ClusterError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(
            "--cluster needs Ray, which is not installed", hint=_INSTALL_HINT
        ) from None
    return ray


class WorkerHost:
    """The Ray actor: runs one worker on its node, connected back to the coordinator."""

    def serve(
        self, address: tuple[str, int], authkey: bytes, worker: int, workers: int, node: str
    ) -> None:
        """Connect, say which worker this is, and run the worker loop until told to exit."""
        conn = Client(address, authkey=authkey)
        try:
            conn.send_bytes(str(worker).encode("ascii"))
            serve(conn, worker, workers, None, None, node)
        finally:
            conn.close()


class RayWorkers:
    """A `WorkerBackend` whose workers are Ray actors pinned to the cluster's nodes."""

    remote = True
    tolerates_loss = True

    def __init__(self, address: str, slots: list[str], hosts: dict[str, str]) -> None:
        self.address = address
        self.slots = slots  # the node id of each worker, by worker number
        self.hosts = hosts  # node id -> its address
        self.actors: list[Any] = []  # the actor handles, by worker number
        self._runs: list[Any] = []  # each actor's `serve` call
        self._listener: Listener | None = None
        # Where the actors connect back; None: this machine's address facing the cluster, on
        # a port the system picks (`--listen HOST:PORT` fixes it, e.g. for a firewall).
        self.listen: tuple[str, int] | None = None

    @classmethod
    def connect(
        cls, address: str, *, workers: int | None = None, per_node: int | None = None
    ) -> RayWorkers:
        """Join the cluster at `address` (`auto`, HOST:PORT, ray://HOST:PORT) and place the
        workers on its alive nodes."""
        ray = require_ray()
        _check_reachable(address)
        try:
            _join(ray, address)
        except Exception as error:  # ConnectionError, ValueError, grpc errors: all one message
            raise ClusterError(
                f"cannot join the Ray cluster at {address!r}: {_first_line(error)}",
                hint="start one with `ray start --head`, or give its address (HOST:PORT, ray://HOST:PORT)",
            ) from None
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        capacity = {
            str(node["NodeID"]): per_node or max(1, int(node.get("Resources", {}).get("CPU", 1)))
            for node in nodes
        }
        hosts = {str(node["NodeID"]): str(node.get("NodeManagerAddress", "")) for node in nodes}
        slots = _spread(capacity, workers)
        if not slots:
            raise ClusterError(f"the Ray cluster at {address!r} has no alive node")
        return cls(address, slots, hosts)

    def start(self, scenario: Scenario, client: ClientOptions, workers: int) -> list[Connection]:
        """Start one actor per worker; the connection each opens back, by worker number."""
        ray = require_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        listen = self.listen or (_facing_address(self._cluster_host(ray)), 0)
        authkey = secrets.token_bytes(32)
        try:
            self._listener = Listener(listen, authkey=authkey)
        except OSError as error:
            raise ClusterError(
                f"cannot listen on {listen[0]}:{listen[1]} for the workers: {error.strerror}",
                hint="--listen takes an address of this machine and a free port",
            ) from None
        address = self._listener.address
        conns: dict[int, Connection] = {}
        accepting = threading.Thread(target=self._accept, args=(workers, conns), daemon=True)
        accepting.start()
        actor_class = ray.remote(num_cpus=0)(WorkerHost)
        for worker, node in enumerate(self.slots[:workers]):
            strategy = NodeAffinitySchedulingStrategy(node_id=node, soft=False)
            actor = actor_class.options(
                scheduling_strategy=strategy, name=None, max_restarts=0
            ).remote()
            self.actors.append(actor)
            self._runs.append(actor.serve.remote(address, authkey, worker, workers, node))
        accepting.join(_CONNECT_TIMEOUT_S)
        if len(conns) < workers:
            failed = self._failures()
            missing = sorted(set(range(workers)) - set(conns))
            self.stop(0.0, lambda: True)
            raise ClusterError(
                f"workers {missing} did not connect back to {address[0]}:{address[1]} within "
                f"{_CONNECT_TIMEOUT_S:.0f} s" + (f": {failed}" if failed else ""),
                hint="the nodes must reach this machine's address (docs/distributed.md)",
            )
        return [conns[worker] for worker in range(workers)]

    def _accept(self, workers: int, conns: dict[int, Connection]) -> None:
        assert self._listener is not None
        while len(conns) < workers:
            try:
                conn = self._listener.accept()
                worker = int(conn.recv_bytes(16).decode("ascii"))
            except (OSError, EOFError, ValueError):  # closed by `stop`, or not one of ours
                if self._listener is None:
                    return
                continue
            conns[worker] = conn

    def _failures(self) -> str:
        ray = require_ray()
        done, _ = ray.wait(self._runs, num_returns=len(self._runs), timeout=0)
        for ref in done:
            try:
                ray.get(ref)
            except Exception as error:
                return (
                    str(error).strip().splitlines()[-1]
                    if str(error).strip()
                    else type(error).__name__
                )
        return ""

    def _cluster_host(self, ray: Any) -> str:
        gcs = str(ray.get_runtime_context().gcs_address)
        return gcs.rsplit(":", 1)[0]

    def ended(self, worker: int) -> tuple[int | None, str]:
        """How its actor ended, as Ray saw it."""
        ray = require_ray()
        ref = self._runs[worker]
        done, _ = ray.wait([ref], timeout=1.0)
        if not done:
            return None, "its connection closed, the actor still there"
        try:
            ray.get(ref)
        except Exception as error:
            return None, f"actor died ({type(error).__name__}: {_first_line(error)})"
        return None, "its actor returned"

    def stop(self, wait_s: float, at_once: Callable[[], bool]) -> None:
        """Wait for the actors to return, then kill them all (an actor lives until killed)."""
        ray = require_ray()
        if self._runs and not at_once():
            ray.wait(self._runs, num_returns=len(self._runs), timeout=wait_s)
        for actor in self.actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
        self.actors, self._runs = [], []
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def describe(self) -> str | None:
        """The cluster's address as given."""
        return f"ray {self.address}"


def _join(ray: Any, address: str) -> None:
    """`ray.init`; a Ray Client connection (ray://) is tried up to three times, a second
    apart: the first to a head just started can fail while the head starts the client's own
    server ("Initialization failure from server"), and then succeed."""
    tries = _CLIENT_TRIES if address.startswith("ray://") else 1
    for attempt in range(tries):
        try:
            ray.init(
                address=address,
                logging_level="WARNING",
                log_to_driver=False,
                ignore_reinit_error=True,
            )
            return
        except ConnectionError:
            if attempt == tries - 1:
                raise
            time.sleep(_CLIENT_RETRY_S)


def parse_listen(value: str) -> tuple[str, int]:
    """`--listen HOST:PORT`: where the workers connect back."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(
            f"--listen {value!r} is not HOST:PORT",
            hint="an address of this machine the nodes reach, e.g. --listen 10.0.0.7:7070",
        )
    return host.strip("[]"), int(port)


def _check_reachable(address: str) -> None:
    """Refuse at once a HOST:PORT nobody listens on (Ray itself retries for minutes)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    # Another scheme (http://...) would read as a host named "http://..." otherwise.
    if not host or "/" in host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(
            f"--cluster {address!r} is not auto, HOST:PORT or ray://HOST:PORT",
            hint="e.g. --cluster auto, --cluster 10.0.0.5:6379, --cluster ray://10.0.0.5:10001",
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=_REACH_TIMEOUT_S).close()
    except OSError as error:
        raise ClusterError(
            f"cannot join the Ray cluster at {address!r}: {error.strerror or error}",
            hint="start one with `ray start --head`, or give its address (HOST:PORT, ray://HOST:PORT)",
        ) from None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _spread(capacity: dict[str, int], workers: int | None) -> list[str]:
    """Each worker's node: the nodes in turn, each up to its capacity; `workers` in all when
    given (beyond the capacities, the nodes in turn again)."""
    slots: list[str] = []
    level = 0
    while any(level < count for count in capacity.values()):
        slots.extend(node for node, count in capacity.items() if level < count)
        level += 1
    if workers is None:
        return slots
    nodes = list(capacity)
    while len(slots) < workers and nodes:
        slots.append(nodes[len(slots) % len(nodes)])
    return slots[:workers]


def _facing_address(cluster_host: str) -> str:
    """This machine's address on the interface that reaches the cluster (a UDP socket's
    `connect` picks the route; nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((cluster_host, 9))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"
