"""The one exception tree of loadlens.

Every error a user can cause or meet is a `LoadlensError`; the CLI turns it into one clear
message and the exit code it carries, never a traceback.

    LoadlensError                 exit 1 unless a subclass says otherwise
    ├── SpecError                 exit 2: a scenario that cannot be run; carries every Problem
    ├── UsageError                exit 2: bad command-line arguments
    ├── ResultError               exit 2: a result file that cannot be read
    └── ClusterError              exit 2: `--cluster` cannot be used (no ray, no cluster),
        └── WorkerVersionError    exit 2: a worker of another loadlens or protocol version

A request that gets no HTTP response is not an error of loadlens: the HTTP client raises
`loadlens.http.TransportError` with a stable `ErrorKind`, and the engine records it as an outcome.

Exit codes, the one scheme of every command (the README has the same table):

    0    GO (`run`), or the command did what was asked
    1    NO-GO: a gate, an invariant or a check failed
    2    invalid input: a bad scenario, option or file; for `run`, nothing was sent
    3    INCONCLUSIVE: no verdict could be reached (the measurement cannot be trusted, a worker
         was lost), or loadlens itself failed unexpectedly (a bug: a one-line message, and
         the traceback written to a file for the bug report)
    129  stopped by SIGHUP  (128 + the signal's number, as a shell reports a signal's death)
    130  stopped by SIGINT (Ctrl-C)
    143  stopped by SIGTERM (`timeout`, `docker stop`, CI cancellation)
A run stopped by a signal writes its partial result and reports, marked interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INCONCLUSIVE = 3
EXIT_INTERNAL = 3  # an unexpected exception: like INCONCLUSIVE, no verdict was reached
EXIT_INTERRUPTED = 130  # SIGINT; see `exit_code_for_signal` for the others


def exit_code_for_signal(signum: int) -> int:
    """The exit code of a run stopped by signal `signum`: 128 + its number, what a shell
    reports for a process the signal killed (SIGHUP 129, SIGINT 130, SIGTERM 143)."""
    return 128 + signum


# A scenario with 300,000 broken flows must not print 300,000 lines: the first ones show what
# is wrong, and fixing them usually fixes the rest.
MAX_PROBLEMS_SHOWN = 50


class LoadlensError(Exception):
    """Root of every error loadlens raises on purpose."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario, located as precisely as the source allows."""

    file: str
    line: int
    column: int
    key: str
    message: str
    hint: str | None = None

    def render(self) -> str:
        """One line: `file:line:col: key: message (hint)`."""
        where = f"{self.file}:{self.line}:{self.column}"
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        text = f"{text} ({self.hint})" if self.hint else text
        # A key or value quoted from the file may hold a line break or another control
        # character; escaped, each problem stays one line (and cannot fake another one).
        return text.translate(_ESCAPE_CONTROLS)


_ESCAPE_CONTROLS = {
    code: ascii(chr(code))[1:-1] for code in (*range(0x20), 0x7F) if chr(code) != "\t"
}


class SpecError(LoadlensError):
    """A scenario with one or more problems; nothing is sent while it has any."""

    exit_code = EXIT_INVALID

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the scenario")

    def render(self, limit: int = MAX_PROBLEMS_SHOWN) -> str:
        """The first `limit` problems, one per line, then how many more there are."""
        lines = [p.render() for p in self.problems[:limit]]
        rest = len(self.problems) - limit
        if rest > 0:
            lines.append(
                f"... and {rest:,} more problem{'s' if rest != 1 else ''} (fix these first)"
            )
        return "\n".join(lines)


class UsageError(LoadlensError):
    """Command-line arguments that do not make sense."""

    exit_code = EXIT_INVALID


class ResultError(LoadlensError):
    """A stored result that cannot be read."""

    exit_code = EXIT_INVALID


class ClusterError(LoadlensError):
    """A `--cluster` run that cannot start: ray missing, the cluster unreachable or too small.
    Nothing was sent."""

    exit_code = EXIT_INVALID


class WorkerVersionError(ClusterError):
    """A worker of another loadlens (or frame protocol) version than the coordinator's."""
