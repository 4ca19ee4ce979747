"""Prometheus exposition text, named like HAProxy's built-in exporter (addons/promex).

`http-request use-service prometheus-exporter [if …]` answers with `render()`:
`haproxy_frontend_*`, `haproxy_backend_*`, `haproxy_server_*` and
`haproxy_process_*` families with `proxy` / `server` labels and the `state`
label on `*_status`, so dashboards and alerts written for HAProxy's exporter
work unchanged.  Values are read from the same rows as `show stat`, so the two
never disagree.  Numbers are this worker's (see docs/runtime-api.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from balancekit_server.ops.stats_data import TYPE_BACKEND, TYPE_FRONTEND, TYPE_SERVER, StatsSource

__all__ = ["CONTENT_TYPE", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4"  # HAProxy 2.6's promex, to the byte

# column → (metric suffix, type, help, kinds it applies to: f=frontend b=backend s=server)
_COLUMNS: tuple[tuple[str, str, str, str, str], ...] = (
    ("qcur", "current_queue", "gauge", "Current number of queued requests.", "bs"),
    ("qmax", "max_queue", "gauge", "Maximum observed number of queued requests.", "bs"),
    ("scur", "current_sessions", "gauge", "Current number of active sessions.", "fbs"),
    ("smax", "max_sessions", "gauge", "Maximum observed number of active sessions.", "fbs"),
    ("slim", "limit_sessions", "gauge", "Configured session limit.", "fs"),
    ("stot", "sessions_total", "counter", "Total number of sessions.", "fbs"),
    ("bin", "bytes_in_total", "counter", "Current total of incoming bytes.", "fbs"),
    ("bout", "bytes_out_total", "counter", "Current total of outgoing bytes.", "fbs"),
    ("dreq", "requests_denied_total", "counter", "Total number of denied requests.", "fb"),
    ("dresp", "responses_denied_total", "counter", "Total number of denied responses.", "fbs"),
    ("ereq", "request_errors_total", "counter", "Total number of request errors.", "f"),
    ("econ", "connection_errors_total", "counter", "Total number of connection errors.", "bs"),
    ("eresp", "response_errors_total", "counter", "Total number of response errors.", "bs"),
    ("wretr", "retry_warnings_total", "counter", "Total number of retry warnings.", "bs"),
    ("wredis", "redispatch_warnings_total", "counter", "Total number of redispatches.", "bs"),
    ("weight", "weight", "gauge", "Service weight.", "bs"),
    ("act", "active_servers", "gauge", "Current number of active servers.", "b"),
    ("bck", "backup_servers", "gauge", "Current number of backup servers.", "b"),
    ("chkfail", "check_failures_total", "counter", "Total number of failed checks.", "s"),
    ("chkdown", "check_up_down_total", "counter", "Total number of UP->DOWN transitions.", "bs"),
    ("lastchg", "check_last_change_seconds", "gauge", "Seconds since the last change.", "bs"),
    ("downtime", "downtime_seconds_total", "counter", "Total downtime (in seconds).", "bs"),
    ("qlimit", "queue_limit", "gauge", "Configured maxqueue for the server.", "s"),
    ("throttle", "current_throttle", "gauge", "Current throttle percentage (slowstart).", "s"),
    ("lbtot", "loadbalanced_total", "counter", "Times the service was selected.", "bs"),
    ("rate_max", "max_session_rate", "gauge", "Maximum observed sessions per second.", "fbs"),
    ("check_code", "check_code", "gauge", "layer5-7 code, if available of the last check.", "s"),
    ("req_tot", "http_requests_total", "counter", "Total number of HTTP requests.", "fb"),
    ("req_rate_max", "http_requests_rate_max", "gauge", "Maximum HTTP requests per second.", "f"),
    ("cli_abrt", "client_aborts_total", "counter", "Data transfers aborted by the client.", "bs"),
    ("srv_abrt", "server_aborts_total", "counter", "Data transfers aborted by the server.", "bs"),
    ("uweight", "uweight", "gauge", "Server's user weight.", "bs"),
)
_HRSP = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
_SERVER_STATES = ("DOWN", "UP", "MAINT", "DRAIN", "NOLB")
_PROXY_STATES = ("DOWN", "UP")
_KIND = {
    TYPE_FRONTEND: ("frontend", "f"),
    TYPE_BACKEND: ("backend", "b"),
    TYPE_SERVER: ("server", "s"),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(row: Mapping[str, str], extra: Mapping[str, str] | None = None) -> str:
    pairs = [("proxy", row["pxname"])]
    if row["type"] == str(TYPE_SERVER):
        pairs.append(("server", row["svname"]))
    if extra:
        pairs.extend(extra.items())
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _server_state(status: str) -> str:
    word = status.split(" ", 1)[0]
    if word == "no":  # "no check": serving
        return "UP"
    return word if word in _SERVER_STATES else "DOWN"


class _Family:
    __slots__ = ("help", "lines", "name", "type")

    def __init__(self, name: str, kind: str, text: str) -> None:
        self.name = name
        self.type = kind
        self.help = text
        self.lines: list[str] = []

    def text(self) -> str:
        head = f"# HELP {self.name} {self.help}\n# TYPE {self.name} {self.type}\n"
        return head + "".join(self.lines)


def _families(rows: Iterable[Mapping[str, str]]) -> list[_Family]:
    order: list[_Family] = []
    found: dict[str, _Family] = {}

    def family(name: str, kind: str, text: str) -> _Family:
        fam = found.get(name)
        if fam is None:
            fam = found[name] = _Family(name, kind, text)
            order.append(fam)
        return fam

    for row in rows:
        kind, letter = _KIND[int(row["type"])]
        prefix = f"haproxy_{kind}_"
        states = _SERVER_STATES if letter == "s" else _PROXY_STATES
        if letter == "s":
            current = _server_state(row["status"])
        elif letter == "f":
            current = "UP" if row["status"] == "OPEN" else "DOWN"
        else:
            current = row["status"]
        fam = family(prefix + "status", "gauge", "Current status of the service, per state.")
        for state in states:
            flag = 1 if state == current else 0
            fam.lines.append(f"{prefix}status{_labels(row, {'state': state})} {flag}\n")
        for column, suffix, mtype, text, kinds in _COLUMNS:
            value = row.get(column, "")
            if letter not in kinds or value == "" or not value.lstrip("-").isdigit():
                continue
            name = prefix + suffix
            family(name, mtype, text).lines.append(f"{name}{_labels(row)} {value}\n")
        if letter == "s" and row.get("check_duration", "").isdigit():
            name = prefix + "check_duration_seconds"
            seconds = int(row["check_duration"]) / 1000
            family(name, "gauge", "Previously run health check duration, in seconds.").lines.append(
                f"{name}{_labels(row)} {seconds:g}\n"
            )
        if row.get("hrsp_1xx", "") != "":
            name = prefix + "http_responses_total"
            fam = family(name, "counter", "Total number of HTTP responses.")
            for code in _HRSP:
                count = row.get(f"hrsp_{code}", "0") or "0"
                fam.lines.append(f"{name}{_labels(row, {'code': code})} {count}\n")
    return order


def render(source: StatsSource, now: float | None = None) -> str:
    """The whole scrape: process, frontend, backend and server families."""
    at = time.time() if now is None else now
    info = dict(source.info(at))
    process = [
        ("haproxy_process_start_time_seconds", "gauge", "Start time in seconds.",
         info["Start_time_sec"]),
        ("haproxy_process_current_connections", "gauge", "Number of active sessions.",
         info["CurrConns"]),
        ("haproxy_process_connections_total", "counter", "Total number of created sessions.",
         info["CumConns"]),
        ("haproxy_process_requests_total", "counter", "Total number of requests.",
         info["CumReq"]),
        ("haproxy_process_stopping", "gauge", "Non zero means stopping in progress.",
         info["Stopping"]),
    ]  # fmt: skip
    parts = [
        f"# HELP {name} {text}\n# TYPE {name} {kind}\n{name} {value}\n"
        for name, kind, text, value in process
    ]
    parts.extend(f.text() for f in _families(source.rows(now=at)))
    return "".join(parts)
