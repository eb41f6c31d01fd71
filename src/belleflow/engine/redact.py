"""Secrets never written: URLs are redacted in every report, cache, log and message.

File URLs may carry credentials: user info (``root://user:password@host``),
tokens in the query string (``?authz=...``, presigned ``https://...?X-Amz-...``)
or a fragment. The engine keeps the full URL only in memory, to open the
file, and writes everywhere else the redacted form: user info and query
string become ``REDACTED``, a fragment is dropped. :func:`redact` rewrites
every URL inside any text (messages, tracebacks, JSON),
:func:`redact_tree` every string of a JSON-like structure, and
:class:`RedactingFilter` every log record; :func:`install_log_redaction`
puts the filter on this process's log handlers, and
:class:`RedactLogsPlugin` does the same in Dask workers.

Example:
    >>> redact("cannot open root://alice:pw@eos.example//f.root?authz=abc|0|100")
    'cannot open root://REDACTED@eos.example//f.root?REDACTED|0|100'
"""

from __future__ import annotations

import logging
import re
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = [
    "REDACTED",
    "RedactLogsPlugin",
    "RedactingFilter",
    "install_log_redaction",
    "redact",
    "redact_tree",
]

#: What replaces a secret.
REDACTED = "REDACTED"

# scheme://[userinfo@]rest[?query][#fragment]; a URL ends at white space,
# quotes, angle brackets or "|" (the separator of chunk keys).
_URL_RE = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)"
    r"(?:(?P<userinfo>[^\s/@'\"<>|?#]*)@)?"
    r"(?P<rest>[^\s'\"<>|?#]*)"
    r"(?P<query>\?[^\s'\"<>|#]*)?"
    r"(?P<fragment>#[^\s'\"<>|]*)?"
)


def _replace(match: re.Match[str]) -> str:
    out = match.group("scheme")
    if match.group("userinfo") is not None:
        out += f"{REDACTED}@"
    out += match.group("rest")
    if match.group("query"):
        out += f"?{REDACTED}"
    return out


def redact(text: str) -> str:
    """``text`` with the user info, query string and fragment of every URL removed."""
    return _URL_RE.sub(_replace, text) if "://" in text else text


def redact_tree(obj: Any) -> Any:
    """A copy of a JSON-like structure with every string (keys too) redacted."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact_tree(k): redact_tree(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_tree(v) for v in obj]
    return obj


class RedactingFilter(logging.Filter):
    """Log filter that formats a record once and redacts the message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(message), None
        record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Put :class:`RedactingFilter` on every log handler of this process (idempotent).

    Handlers are where records of all loggers end up (``distributed``,
    ``coffea``, ``uproot``, ``belleflow``); a handler created later is not covered,
    so call it again after starting a cluster.
    """
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)


class RedactLogsPlugin(WorkerPlugin):
    """Dask worker plugin: :func:`install_log_redaction` in every worker.

    A failed task is logged by the worker with its arguments, which hold the
    file URL: without this the token would reach the worker's log.
    """

    name = "belleflow-redact-logs"

    def setup(self, worker: Any) -> None:  # noqa: ARG002 - distributed's signature
        """Called by distributed in each worker."""
        install_log_redaction()
