"""Log lines (`log-format`, `option tcplog`/`httplog`) compiled at load, rendered later.

A log-format string is checked and compiled once, where the configuration is
read, so that `balancekit-server -c` rejects a bad one at its `file:line` as
`haproxy -c` does, and the engines receive it ready to render (the renderer,
`balancekit_server.ops.logs.LogFormat`, only fills values in).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .acl.fetches import FetchError, SampleExpr, parse_sample_expr
from .acl.logformat import LogFormatError, tokenize

__all__ = [
    "ABSENT_WHEN_EMPTY",
    "CLF_HTTPLOG_FORMAT",
    "HTTPLOG_FORMAT",
    "HTTPSLOG_FORMAT",
    "LOG_FETCHES",
    "LOG_VARIABLES",
    "PAYLOAD_FETCHES",
    "QUOTABLE",
    "TCPLOG_FORMAT",
    "LogLine",
    "Part",
    "compile_log_line",
]

LOG_VARIABLES = frozenset(
    [
        "B",
        "CC",
        "CS",
        "H",
        "HM",
        "HP",
        "HPO",
        "HQ",
        "HU",
        "HV",
        "ID",
        "ST",
        "T",
        "Ta",
        "Tc",
        "Td",
        "Tl",
        "Th",
        "Ti",
        "Tq",
        "TR",
        "Tr",
        "Ts",
        "Tt",
        "Tu",
        "Tw",
        "U",
        "ac",
        "b",
        "bc",
        "bi",
        "bp",
        "bq",
        "ci",
        "cp",
        "f",
        "fc",
        "fi",
        "fp",
        "ft",
        "lc",
        "hr",
        "hrl",
        "hs",
        "hsl",
        "ms",
        "pid",
        "r",
        "rc",
        "rt",
        "s",
        "sc",
        "si",
        "sp",
        "sq",
        "sslc",
        "sslv",
        "t",
        "tr",
        "trg",
        "trl",
        "ts",
        "tsc",
        "o",
    ]
)
"""Every `%var` HAProxy 2.6 documents for `log-format` (configuration.txt 8.2.4)."""

# Variables `%{+Q}` quotes in HAProxy: texts and addresses, not numbers, dates or %ts.
QUOTABLE = frozenset(
    [
        "ci",
        "fi",
        "si",
        "bi",
        "f",
        "ft",
        "b",
        "s",
        "H",
        "ID",
        "CC",
        "CS",
        "HM",
        "HP",
        "HPO",
        "HQ",
        "HU",
        "HV",
        "r",
        "sslc",
        "sslv",
        "hr",
        "hs",
        "hrl",
        "hsl",
    ]
)

# What a log line may sample: HAProxy 2.6 refuses payload and HTTP fetches there
# ("may not be reliably used here"), in both modes, as nothing is buffered at log time.
LOG_FETCHES = frozenset(
    [
        "src",
        "dst",
        "src_port",
        "dst_port",
        "ssl_fc",
        "ssl_fc_sni",
        "ssl_fc_has_sni",
        "ssl_fc_is_resumed",
        "ssl_fc_err",
        "ssl_c_err",
        "ssl_c_ca_err",
        "fc_err",
        "always_true",
        "always_false",
    ]
)
PAYLOAD_FETCHES = frozenset(
    [
        "req.ssl_sni",
        "req_ssl_sni",
        "req.ssl_hello_type",
        "req_ssl_hello_type",
        "req.len",
        "req_len",
        "req.proto_http",
        "req_proto_http",
        "req.rdp_cookie_cnt",
        "wait_end",
    ]
)

# Captures that are not configured: HAProxy skips these variables altogether, and
# with them the space that would follow.
ABSENT_WHEN_EMPTY = frozenset(["hr", "hs", "hrl", "hsl"])

TCPLOG_FORMAT = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
HTTPLOG_FORMAT = (
    "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc "
    "%ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
)
#: `option httpslog`: httplog's fields, then what the connection and its TLS layer
#: report (error codes, resumption, SNI, version, cipher).
HTTPSLOG_FORMAT = (
    HTTPLOG_FORMAT + " %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/"
    "%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc"
)
#: `option httplog clf`: the Common Log Format, then HAProxy's own fields.
CLF_HTTPLOG_FORMAT = (
    '%{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta '
    "%tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl"
)


Part = tuple[str, str, bool]
"""(kind: "lit", "sep", "sample" or "var"; text or variable name; quoted)."""


@dataclass(frozen=True, slots=True)
class LogLine:
    """A compiled log-format: its parts in order, the sample expressions they use
    (by their text) and the `%var`s they print."""

    template: str
    parts: tuple[Part, ...]
    samples: MappingProxyType[str, SampleExpr]
    variables: frozenset[str]

    def __deepcopy__(self, memo: dict[int, object]) -> LogLine:
        return self  # immutable: a `defaults` section's copy may share it


def compile_log_line(template: str) -> LogLine:
    """Compile `template`, or raise ValueError with HAProxy's reason.

    As in HAProxy 2.6: an unknown `%var` is an error; `%o` sets the quoting of
    every later variable; a log line may only sample the connection, in `mode
    http` too, since the request is gone by the time it is written.
    """
    parts: list[Part] = []
    samples: dict[str, SampleExpr] = {}
    names: set[str] = set()
    default_quote = False
    try:
        tokens = list(tokenize(template, spaces=True))
    except LogFormatError as exc:
        raise ValueError(f"log-format: {exc}") from None
    for kind, text, options in tokens:
        if kind == "lit" or kind == "sep":
            parts.append((kind, text, False))
            continue
        quote = default_quote
        for flag in options.split(","):
            if flag in ("+Q", "-Q"):
                quote = flag == "+Q"
        if kind == "sample":
            try:
                samples[text] = expr = parse_sample_expr(text)
            except FetchError as exc:
                raise ValueError(f"log-format: sample expression '{text}': {exc}") from None
            if expr.fetch.name not in LOG_FETCHES:
                needs = (
                    "request buffer"
                    if expr.fetch.name in PAYLOAD_FETCHES
                    else "HTTP request headers"
                )
                raise ValueError(
                    f"log-format: sample fetch <{text}> may not be reliably used here "
                    f"because it needs '{needs}' which is not available here"
                )
            parts.append(("sample", text, quote))
            continue
        if text not in LOG_VARIABLES:
            raise ValueError(f"log-format: unknown variable '%{text}'")
        if text == "o":
            default_quote = quote
            continue
        names.add(text)
        parts.append(("var", text, quote and text in QUOTABLE))
    return LogLine(template, tuple(parts), MappingProxyType(samples), frozenset(names))
