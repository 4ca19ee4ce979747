"""What `show stat`, `show info` and `show servers state` say, as HAProxy 2.6 says it.

One `StatsSource` reads the loaded config, the pools, the health monitor and the
counters registry, and renders rows keyed by HAProxy's own column names in
HAProxy's column order (src/stats.c), so tools that parse HAProxy's CSV
(hatop, haproxy_exporter, Datadog, scripts with `cut -d,`) parse ours.  Columns
balancekit has no notion of (compression, SSL, H2, agent checks) are left empty
or 0 exactly where HAProxy leaves them empty or 0 for a proxy without them.

The numbers are this process's: with `--workers N` each worker answers for
itself (see docs/runtime-api.md).
"""

from __future__ import annotations

import os
import resource
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from balancekit import Backend
from balancekit.config import BackendRuntime, Config, Frontend
from balancekit.health import CheckStatus, ServerHealth
from balancekit_server.ops.counters import REGISTRY, Counters, Registry

if TYPE_CHECKING:
    from balancekit_server.ops.checks import HealthMonitor
    from balancekit_server.process.limits import Limits

__all__ = [
    "FIELDS",
    "TYPE_BACKEND",
    "TYPE_FRONTEND",
    "TYPE_SERVER",
    "Proxy",
    "StatsSource",
]

_FIELD_TEXT = """pxname svname qcur qmax scur smax slim stot bin bout dreq dresp ereq econ eresp
wretr
wredis status weight act bck chkfail chkdown lastchg downtime qlimit pid iid sid throttle lbtot
tracked type rate rate_lim rate_max check_status check_code check_duration hrsp_1xx hrsp_2xx
hrsp_3xx hrsp_4xx hrsp_5xx hrsp_other hanafail req_rate req_rate_max req_tot cli_abrt srv_abrt
comp_in comp_out comp_byp comp_rsp lastsess last_chk last_agt qtime ctime rtime ttime
agent_status agent_code agent_duration check_desc agent_desc check_rise check_fall check_health
agent_rise agent_fall agent_health addr cookie mode algo conn_rate conn_rate_max conn_tot
intercepted dcon dses wrew connect reuse cache_lookups cache_hits srv_icur src_ilim qtime_max
ctime_max rtime_max ttime_max eint idle_conn_cur safe_conn_cur used_conn_cur need_conn_est
uweight agg_server_status agg_server_check_status agg_check_status - ssl_sess ssl_reused_sess
ssl_failed_handshake h2_headers_rcvd h2_data_rcvd h2_settings_rcvd h2_rst_stream_rcvd
h2_goaway_rcvd h2_detected_conn_protocol_errors h2_detected_strm_protocol_errors
h2_rst_stream_resp h2_goaway_resp h2_open_connections h2_backend_open_streams
h2_total_connections h2_backend_total_streams h1_open_connections h1_open_streams
h1_total_connections h1_total_streams h1_bytes_in h1_bytes_out h1_spliced_bytes_in
h1_spliced_bytes_out"""
FIELDS: tuple[str, ...] = tuple(_FIELD_TEXT.split())
"""`show stat` columns, in HAProxy 2.6's order (the `-` is HAProxy's own placeholder)."""

TYPE_FRONTEND, TYPE_BACKEND, TYPE_SERVER = 0, 1, 2

# HAProxy's HCHK_STATUS_* numbers, as `show servers state` prints them.
_CHECK_STATUS_CODE = {
    CheckStatus.UNK: 0,
    CheckStatus.INI: 1,
    CheckStatus.CHECKED: 3,
    CheckStatus.HANA: 4,
    CheckStatus.SOCKERR: 5,
    CheckStatus.L4OK: 6,
    CheckStatus.L4TOUT: 7,
    CheckStatus.L4CON: 8,
    CheckStatus.L6OK: 9,
    CheckStatus.L6TOUT: 10,
    CheckStatus.L6RSP: 11,
    CheckStatus.L7TOUT: 12,
    CheckStatus.L7RSP: 13,
    CheckStatus.L7OK: 15,
    CheckStatus.L7OKC: 16,
    CheckStatus.L7STS: 17,
    CheckStatus.PROCERR: 18,
    CheckStatus.PROCTOUT: 19,
    CheckStatus.PROCOK: 20,
}
_CHECK_RESULT_CODE = {"neutral": 1, "failed": 2, "passed": 3, "condpass": 4}

# A Counters record that stays empty: for proxies nothing has counted yet.
_ZERO = Counters("server", "")

_MAX_WEIGHT_DISPLAY = 256


@dataclass(frozen=True, slots=True)
class Proxy:
    """One proxy as `show stat` lists it: a frontend, a backend, or both (`listen`)."""

    name: str
    iid: int
    frontend: Frontend | None
    backend: BackendRuntime | None


# HTTP frontends and backends report compression and cache columns; we have neither.
_NO_COMPRESSION_OR_CACHE = dict.fromkeys(
    ("comp_in", "comp_out", "comp_byp", "comp_rsp", "cache_lookups", "cache_hits"), "0"
)


def _declared(obj: Frontend | BackendRuntime, files: list[str]) -> tuple[int, int]:
    file, line = obj.file, obj.line or 0
    index = files.index(file) if file in files else len(files)
    return index, line


def _age(since: float | None, now: float) -> str:
    return "-1" if since is None else str(max(int(now - since), 0))


class StatsSource:
    """Read-only view over a running configuration for the stats outputs."""

    def __init__(
        self,
        config: Config,
        *,
        registry: Registry = REGISTRY,
        monitor: HealthMonitor | None = None,
        started: float | None = None,
        pid: int | None = None,
        stopping: bool = False,
        limits: Limits | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.monitor = monitor
        self.limits = limits  # frontends' runtime maxconn and pause (FrontendGate)
        self.started = time.time() if started is None else started
        self.pid = os.getpid() if pid is None else pid
        self.stopping = stopping
        self._proxies = self._order()

    def __repr__(self) -> str:
        return f"<StatsSource proxies={len(self._proxies)} monitor={self.monitor!r}>"

    # -- proxies, in declaration order (their iid is the config's `uuid`) -----------------

    def _order(self) -> list[Proxy]:
        files = list(self.config.files)
        entries: dict[str, tuple[Frontend | None, BackendRuntime | None, tuple[int, int]]] = {}
        for fe in self.config.frontends:
            entries[fe.name] = (fe, None, _declared(fe, files))
        for name, be in self.config.backends.items():
            fe_here, _, where = entries.get(name, (None, None, _declared(be, files)))
            if fe_here is not None and fe_here.backend_name != name:
                # A frontend and a backend that only share a name are two proxies.
                entries[name + "\0be"] = (None, be, _declared(be, files))
            else:
                entries[name] = (fe_here, be, where if fe_here else _declared(be, files))
        ordered = sorted(entries.items(), key=lambda item: item[1][2])
        proxies = []
        for key, (front, back, _) in ordered:
            half = front if front is not None else back
            assert half is not None
            proxies.append(Proxy(key.split("\0")[0], half.uuid, front, back))
        return proxies

    @property
    def proxies(self) -> list[Proxy]:
        return self._proxies

    @property
    def node(self) -> str:
        """global `node`, else the host name (HAProxy's default)."""
        node = self.config.global_.node
        return node if node is not None else socket.gethostname()

    def backend(self, name: str) -> BackendRuntime | None:
        return self.config.backends.get(name)

    def health(self, backend: str, server: str) -> ServerHealth | None:
        if self.monitor is None:
            return None
        watched = self.monitor.watched.get((backend, server))
        return watched.health if watched is not None else None

    def checked(self, backend: str, server: str) -> bool:
        return self.monitor is not None and self.monitor.checked(backend, server)

    def probing(self, backend: str, server: str) -> bool:
        """Whether the server's check is running now."""
        watched = self.monitor.watched.get((backend, server)) if self.monitor else None
        return watched is not None and watched.probing

    def agent(self, backend: str, server: str) -> tuple[bool, bool]:
        """Whether the server has an agent check, and whether it is running now."""
        watched = self.monitor.watched.get((backend, server)) if self.monitor else None
        if watched is None or watched.agent is None or not watched.health.agent_enabled:
            return False, False
        return True, watched.agent_probing

    # -- show stat ------------------------------------------------------------------------

    def rows(
        self, *, iid: int = -1, types: int = -1, sid: int = -1, now: float | None = None
    ) -> list[dict[str, str]]:
        """Rows for `show stat [iid type sid]`; `types` is HAProxy's bitmask 1|2|4."""
        at = time.time() if now is None else now
        self.registry.sync_rates(at)
        out: list[dict[str, str]] = []
        for proxy in self._proxies:
            if iid != -1 and proxy.iid != iid:
                continue
            if proxy.frontend is not None and types & 1 and sid in (-1, 0):
                out.append(self._frontend_row(proxy, proxy.frontend, at))
            if proxy.backend is None:
                continue
            if types & 4:
                for member in proxy.backend.backend.members:
                    if sid in (-1, member.puid):
                        out.append(self._server_row(proxy, proxy.backend, member, at))
            if types & 2 and sid in (-1, 0):
                out.append(self._backend_row(proxy, proxy.backend, at))
        return out

    def csv(self, rows: Iterable[Mapping[str, str]]) -> str:
        """HAProxy's CSV: a `# ` header, every line ending with a comma."""
        lines = ["# " + ",".join(FIELDS) + ","]
        for row in rows:
            lines.append(",".join(row.get(f, "") for f in FIELDS) + ",")
        return "\n".join(lines) + "\n"

    def _common(self, proxy: Proxy, c: Counters, mode: str) -> dict[str, str]:
        return {
            "pxname": proxy.name,
            "scur": str(c.scur),
            "smax": str(c.smax),
            "stot": str(c.stot),
            "bin": str(c.bin),
            "bout": str(c.bout),
            "dresp": str(c.dresp),
            "pid": "1",
            "iid": str(proxy.iid),
            "mode": mode,
            "cli_abrt": str(c.cli_abrt),
            "srv_abrt": str(c.srv_abrt),
            "wrew": "0",
            "eint": "0",
        }

    def _http_counters(self, c: Counters, row: dict[str, str]) -> None:
        for name in ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"):
            row[name] = str(getattr(c, name))
        row["req_tot"] = str(c.req_tot)

    def _frontend_row(self, proxy: Proxy, fe: Frontend, now: float) -> dict[str, str]:
        c = self.registry.frontends().get(fe.name, _ZERO)
        row = self._common(proxy, c, fe.mode)
        gate = self.limits.gates.get(fe.name) if self.limits is not None else None
        maxconn = (gate.maxconn if gate is not None else fe.maxconn) or (
            self.config.global_.maxconn
        )
        paused = gate is not None and gate.paused
        row.update(
            svname="FRONTEND",
            slim=str(maxconn) if maxconn else "",
            dreq=str(c.dreq),
            ereq=str(c.ereq),
            status="STOP" if self.stopping else "PAUSED" if paused else "OPEN",
            sid="0",
            type=str(TYPE_FRONTEND),
            rate=str(c.sess_rate.read(now)),
            rate_lim="0",
            rate_max=str(c.sess_rate.max),
            conn_rate=str(c.sess_rate.read(now)),
            conn_rate_max=str(c.sess_rate.max),
            conn_tot=str(c.stot),
            intercepted="0",
            dcon="0",
            dses="0",
        )
        if fe.mode == "http":
            self._http_counters(c, row)
            row.update(
                _NO_COMPRESSION_OR_CACHE,
                req_rate=str(c.req_rate.read(now)),
                req_rate_max=str(c.req_rate.max),
            )
        return row

    @staticmethod
    def display_weight(pool: Backend, eweight: int) -> int:
        """HAProxy's `weight` column: the effective weight scaled back to user units."""
        scale = pool.algorithm.weight_scale
        divisor = pool.algorithm.weight_divisor
        return (eweight * divisor + scale - 1) // scale

    def _server_row(
        self, proxy: Proxy, be: BackendRuntime, member: Any, now: float
    ) -> dict[str, str]:
        pool = be.backend
        server = member.server
        c = self.registry.servers().get((be.name, member.name), _ZERO)
        health = self.health(be.name, member.name)
        checked = self.checked(be.name, member.name)
        row = self._common(proxy, c, be.mode)
        usable_weight = self.display_weight(pool, member.eweight) if member.up else member.uweight
        row.update(
            svname=member.name,
            qcur=str(len(member.queue)),
            qmax=str(c.qmax),
            slim=str(server.maxconn) if server.maxconn else "",
            econ=str(c.econ),
            eresp=str(c.eresp),
            wretr=str(c.wretr),
            wredis=str(c.wredis),
            status=self.server_status(be.name, member),
            weight=str(usable_weight),
            act="0" if member.backup else "1",
            bck="1" if member.backup else "0",
            lastchg=_age(c.lastchg, now),
            qlimit=str(server.maxqueue) if server.maxqueue else "",
            sid=str(member.puid),
            lbtot=str(member.lbtot),
            type=str(TYPE_SERVER),
            rate=str(c.sess_rate.read(now)),
            rate_max=str(c.sess_rate.max),
            lastsess=_age(c.lastsess, now),
            qtime="0",
            ctime="0",
            rtime="0",
            ttime="0",
            addr=server.address,
            cookie=server.cookie or "",
            connect=str(c.stot),
            reuse="0",
            srv_icur="0",
            qtime_max="0",
            ctime_max="0",
            rtime_max="0",
            ttime_max="0",
            idle_conn_cur="0",
            safe_conn_cur="0",
            used_conn_cur=str(member.inflight),
            need_conn_est="0",
            uweight=str(member.uweight),
            ssl_sess="0",
            ssl_reused_sess="0",
            ssl_failed_handshake="0",
        )
        if member.ramp < 1.0 and member.up:
            row["throttle"] = str(int(member.ramp * 100))
        if be.mode == "http":
            self._http_counters(c, row)
        if checked and health is not None:
            row.update(
                chkfail=str(health.failed_checks),
                chkdown=str(health.down_transitions),
                downtime=str(c.total_downtime(now)),
                check_rise=str(health.settings.rise),
                check_fall=str(health.settings.fall),
                check_health=str(health.health),
            )
            result = health.last_result
            if result is not None and not health.maint:
                running = self.probing(be.name, member.name)
                row["check_status"] = ("* " if running else "") + result.status.info
                if result.status.has_code and result.code is not None:
                    row["check_code"] = "0" if running else str(result.code)
                if result.duration_ms is not None:
                    row["check_duration"] = str(result.duration_ms)
                row["last_chk"] = "" if running else result.info
                row["check_desc"] = result.status.description
            elif health.maint:
                row["check_status"] = ""
            if health.settings.observe:
                row["hanafail"] = str(health.hana_failures)
        agent, running = self.agent(be.name, member.name)
        if agent and health is not None:
            self._agent_columns(row, health, running)
        return row

    @staticmethod
    def _agent_columns(row: dict[str, str], health: ServerHealth, running: bool) -> None:
        """The agent's columns (an agent's counter is 0 or 1: rise = fall = 1).

        A running agent check is marked "* " but keeps its last text: HAProxy
        blanks it for the few milliseconds the check runs, which only makes a
        snapshot depend on timing (agents are asked often)."""
        result = health.agent_result
        status = result.status if result is not None else CheckStatus.INI
        row.update(
            agent_status=("* " if running else "") + status.info,
            agent_duration=str(result.duration_ms or 0) if result is not None else "0",
            agent_desc=status.description,
            last_agt="" if result is None else result.info,
            agent_rise="1",
            agent_fall="1",
            agent_health="1" if health.agent_up else "0",
        )
        if status.has_code:
            row["agent_code"] = str(result.code if result and result.code is not None else 0)

    def server_status(self, backend: str, member: Any) -> str:
        """`show stat` status: MAINT, DRAIN, "no check", UP, DOWN and the x/y transitions."""
        if member.admin == "maint":
            # RMAINT: the resolvers gave it no address.
            return "MAINT (resolution)" if member.resolution else "MAINT"
        health = self.health(backend, member.name)
        agent, _ = self.agent(backend, member.name)
        if agent and health is not None:
            if not health.up and not health.agent_up:
                return "DOWN (agent)"
            if health.up and not health.stopping and member.admin == "drain":
                return "DRAIN (agent)"
        if not self.checked(backend, member.name) or health is None:
            if not member.up:
                return "DOWN"
            if member.stopping:
                return "NOLB"
            return "DRAIN" if member.admin == "drain" else "no check"
        text = health.status_text
        if member.admin == "drain" and health.up:
            return text.replace("UP", "DRAIN", 1)
        if member.up and not health.up:
            return "UP"  # panic mode (extension): serving although its checks fail
        return text

    def _backend_row(self, proxy: Proxy, be: BackendRuntime, now: float) -> dict[str, str]:
        pool = be.backend
        c = self.registry.backends().get(be.name, _ZERO)
        row = self._common(proxy, c, be.mode)
        act = [m for m in pool.members if m.usable and not m.backup]
        bck = [m for m in pool.members if m.usable and m.backup]
        serving = act or bck
        weight = sum(self.display_weight(pool, m.eweight) for m in serving)
        chkdown = 0
        if self.monitor is not None:
            chkdown = sum(
                self.monitor.health(be.name, m.name).down_transitions for m in pool.members
            )
        row.update(
            svname="BACKEND",
            slim=str(be.fullconn) if be.fullconn else "",
            qcur=str(pool.queued),
            qmax=str(c.qmax),
            dreq=str(c.dreq),
            econ=str(c.econ),
            eresp=str(c.eresp),
            wretr=str(c.wretr),
            wredis=str(c.wredis),
            status="UP" if pool.usable else "DOWN",
            weight=str(weight),
            act=str(len(act)),
            bck=str(len(bck)),
            chkdown=str(chkdown),
            lastchg=_age(c.lastchg, now),
            downtime=str(c.total_downtime(now)),
            sid="0",
            lbtot=str(sum(m.lbtot for m in pool.members)),
            type=str(TYPE_BACKEND),
            rate=str(c.sess_rate.read(now)),
            rate_max=str(c.sess_rate.max),
            lastsess=_age(c.lastsess, now),
            qtime="0",
            ctime="0",
            rtime="0",
            ttime="0",
            algo=pool.balance.algorithm,
            cookie=be.cookie.name if be.cookie is not None else "",
            connect=str(c.stot),
            reuse="0",
            qtime_max="0",
            ctime_max="0",
            rtime_max="0",
            ttime_max="0",
            uweight=str(sum(m.uweight for m in serving)),
            agg_server_status="0",
            agg_server_check_status="0",
            agg_check_status="0",
            ssl_sess="0",
            ssl_reused_sess="0",
            ssl_failed_handshake="0",
        )
        if be.mode == "http":
            self._http_counters(c, row)
            row.update(_NO_COMPRESSION_OR_CACHE)
        return row

    # -- show info --------------------------------------------------------------------------

    def info(self, now: float | None = None, *, nbthread: int = 1) -> list[tuple[str, str]]:
        at = time.time() if now is None else now
        self.registry.sync_rates(at)
        up = max(int(at - self.started), 0)
        days, rest = divmod(up, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        fes = self.registry.frontends().values()
        cur = sum(c.scur for c in fes)
        cum = sum(c.stot for c in fes)
        req = sum(c.req_tot for c in fes)
        rate = sum(c.sess_rate.read(at) for c in fes)
        out = sum(c.bout for c in fes)
        g = self.config.global_
        maxconn = g.maxconn
        from balancekit import __version__ as version

        return [
            ("Name", "balancekit"),
            ("Version", f"{version} (HAProxy 2.6 compatible)"),
            ("Release_date", ""),
            ("Nbthread", str(nbthread)),
            ("Nbproc", "1"),
            ("Process_num", "1"),
            ("Pid", str(self.pid)),
            ("Uptime", f"{days}d {hours}h{minutes:02d}m{seconds:02d}s"),
            ("Uptime_sec", str(up)),
            # The process's file descriptor limit, as `ulimit-n` (or maxconn) set it.
            ("Ulimit-n", str(resource.getrlimit(resource.RLIMIT_NOFILE)[0])),
            ("Maxconn", str(maxconn)),
            ("Hard_maxconn", str(maxconn)),
            ("CurrConns", str(cur)),
            ("CumConns", str(cum)),
            ("CumReq", str(req)),
            ("ConnRate", str(rate)),
            ("ConnRateLimit", "0"),
            ("MaxConnRate", str(max((c.sess_rate.max for c in fes), default=0))),
            ("SessRate", str(rate)),
            ("SessRateLimit", "0"),
            ("MaxSessRate", str(max((c.sess_rate.max for c in fes), default=0))),
            ("node", self.node),
            *((("description", g.description),) if g.description is not None else ()),
            ("Stopping", "1" if self.stopping else "0"),
            ("Jobs", str(cur + len(self.config.frontends))),
            ("Listeners", str(sum(len(f.binds) for f in self.config.frontends))),
            ("TotalBytesOut", str(out)),
            ("Start_time_sec", str(int(self.started))),
        ]

    # -- show servers state -----------------------------------------------------------------

    SERVERS_STATE_HEADER = (
        "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
        "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
        "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
        "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr "
        "srv_agent_addr srv_agent_port"
    )

    def servers_state(self, backend: str | None = None, now: float | None = None) -> str:
        at = time.time() if now is None else now
        lines = ["1", self.SERVERS_STATE_HEADER]
        for proxy in self._proxies:
            be = proxy.backend
            if be is None or (backend is not None and be.name != backend):
                continue
            for member in be.backend.members:
                lines.append(self._state_line(proxy, be, member, at))
        return "\n".join(lines) + "\n"

    def _state_line(self, proxy: Proxy, be: BackendRuntime, member: Any, now: float) -> str:
        server = member.server
        health = self.health(be.name, member.name)
        checked = self.checked(be.name, member.name)
        c = self.registry.servers().get((be.name, member.name), _ZERO)
        if not member.up or member.admin == "maint":
            op = 0
        elif member.stopping:
            op = 3  # SRV_ST_STOPPING
        elif member.ramp < 1.0:
            op = 1
        else:
            op = 2
        # SRV_ADMF_*: CMAINT (config `disabled`) stays set after `state ready`, as in HAProxy.
        admin = 0x04 if server.disabled else 0
        if member.admin == "maint":
            admin |= 0x20 if member.resolution else 0x01  # RMAINT or FMAINT
        elif member.admin == "drain":
            admin |= 0x08
        status, result = 1, 0  # HCHK_STATUS_INI: no check ran (or none configured)
        health_value = health.health if health is not None else 0
        check_state = 0x08 if server.disabled else 0  # CHK_ST_PAUSED
        monitor = self.monitor
        if not checked and monitor is not None and monitor.check_configured(be.name, member.name):
            check_state |= 0x02  # CONFIGURED, disabled at run time
        if checked and health is not None:
            check_state = 0x06 | (0x08 if health.maint else 0)  # CONFIGURED|ENABLED
            if health.last_result is not None:
                status = _CHECK_STATUS_CODE.get(health.last_result.status, 0)
                result = _CHECK_RESULT_CODE.get(health.last_result.status.result, 0)
        port = server.port or 0
        agent, _ = self.agent(be.name, member.name)
        # CHK_ST_CONFIGURED|AGENT, and ENABLED unless `disable agent`.
        watched = self.monitor.watched.get((be.name, member.name)) if self.monitor else None
        spec = watched.agent if watched is not None else None
        agent_state = (0x16 if agent else 0x12) if spec is not None else 0
        try:
            srvrecord = be.extras(member.name).srvrecord or "-"
        except KeyError:  # a server added at run time has no config line
            srvrecord = "-"
        if member.fqdn is not None and srvrecord != "-":
            admin |= 0x40  # HMAINT: HAProxy 2.6 leaves it set on a name an SRV record gave
        address = "-" if member.resolution else server.host
        if member.resolution and srvrecord != "-":
            port = 0
        return " ".join(
            str(v)
            for v in (
                proxy.iid,
                be.name,
                member.puid,
                member.name,
                address,
                op,
                admin,
                member.uweight,
                server.weight,
                _age(c.lastchg, now),
                status,
                result,
                health_value,
                check_state,
                agent_state,
                0,
                1 if server.id is not None else 0,
                member.fqdn or "-",
                port,
                srvrecord,
                0,
                server.check_port or 0,
                server.check_addr or "-",
                # the address only when `agent-addr` or `addr` gave one, as HAProxy
                (watched.agent_addr or "-") if watched is not None and spec else "-",
                spec.port if spec is not None else 0,
            )
        )
