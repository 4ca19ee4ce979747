"""The `table_<what>(<table>)` converters (stick_table.c's sample_conv_table_*).

They look the sample up as a key of a stick table, the way `src_<what>` looks up
the client's address: a key the table does not hold reads 0, a value the table
does not store gives no sample, nothing is created or refreshed.  So a rule can
ask about any key, not only the tracked one (`http-request deny if {
req.hdr(x-user),table_http_req_rate(users) gt 10 }`).  `table_trackers` counts
its own lookup, as HAProxy's does: one more than `src_trackers` for a held key.
"""

from __future__ import annotations

from collections.abc import Callable

from ..sticktables import StickTable
from ..tracking import table_key
from .fetches import CONVERTERS, NOW, ConverterDef, ConvFn, Value, VarArgs

__all__ = ["TABLE_CONVERTERS"]

#: HAProxy 2.6's converters that take the table alone (`table_<what>(table)`).
_PLAIN = (
    "bytes_in_rate", "bytes_out_rate", "conn_cnt", "conn_cur", "conn_rate", "gpt0", "gpc0",
    "gpc1", "gpc0_rate", "gpc1_rate", "http_err_cnt", "http_err_rate", "http_fail_cnt",
    "http_fail_rate", "http_req_cnt", "http_req_rate", "kbytes_in", "kbytes_out",
    "server_id", "sess_cnt", "sess_rate", "trackers",
)  # fmt: skip
#: Those that take an array index first (`table_gpc(<idx>,table)`).
_INDEXED = ("gpt", "gpc", "gpc_rate")


def _converter(what: str, indexed: bool) -> ConvFn:
    def convert(value: Value, args: tuple[object, ...]) -> Value | None:
        idx, table, now = args if indexed else (0, *args)
        key = table_key(value)
        if not isinstance(table, StickTable) or not isinstance(now, int) or key is None:
            return None
        if not isinstance(idx, int):
            return None
        found = table.fetch(key, what, now, idx)
        if found is not None and what == "trackers" and table.lookup(key, now) is not None:
            found += 1  # HAProxy's lookup holds the entry too while it counts
        return found

    return convert


def _with_now(args: tuple[object, ...]) -> tuple[object, ...]:
    """The stream's time joins the arguments: rates are read at it."""
    return VarArgs((*args, NOW))


def _definition(what: str, indexed: bool) -> ConverterDef:
    spec: tuple[str, ...] = ("int", "table") if indexed else ("table",)
    prepare: Callable[[tuple[object, ...]], tuple[object, ...]] = _with_now
    return ConverterDef(
        f"table_{what}", "any", "sint", _converter(what, indexed), spec, len(spec), prepare
    )


TABLE_CONVERTERS: dict[str, ConverterDef] = {
    **{f"table_{what}": _definition(what, False) for what in _PLAIN},
    **{f"table_{what}": _definition(what, True) for what in _INDEXED},
}
CONVERTERS.update(TABLE_CONVERTERS)
