"""HAProxy 2.6's stick tables as a library: keys, stored data types, rates, the
table with its expiry and purging, and the runtime API's `show/clear/set table`.

    table = StickTable("per_ip", "ip", size=1_000_000, expire_ms=30_000,
                       store="http_req_rate(10s),conn_cur,gpc0")
    entry = table.track(IPv4Address("192.0.2.7"), now)     # track-sc0 src
    table.count_http_request(entry, now)
    if table.read(entry, "http_req_rate", now) > 100: ...  # sc0_http_req_rate
    table.untrack(entry, now)                               # the connection ends

Modules: `freqctr` (the rate counters), `datatypes` (what `store` may name),
`keys` (the key types and their casts), `table` (StickTable), `dump` (the CLI).
"""

from __future__ import annotations

from .datatypes import DATA_TYPES, DataType, StoredType, StoreSpec, parse_store
from .dump import entry_id, format_entry, format_header, run_table_command
from .freqctr import (
    FreqCtr,
    freq_ctr_remain_period,
    next_event_delay_period,
    read_freq_ctr_period,
    update_freq_ctr_period,
)
from .keys import Key, KeyInput, KeyType, format_key, normalize_key, parse_key_type
from .table import READS, Entry, StickTable

__all__ = [
    "DATA_TYPES",
    "READS",
    "DataType",
    "Entry",
    "FreqCtr",
    "Key",
    "KeyInput",
    "KeyType",
    "StickTable",
    "StoreSpec",
    "StoredType",
    "entry_id",
    "format_entry",
    "format_header",
    "format_key",
    "freq_ctr_remain_period",
    "next_event_delay_period",
    "normalize_key",
    "parse_key_type",
    "parse_store",
    "read_freq_ctr_period",
    "run_table_command",
    "update_freq_ctr_period",
]
