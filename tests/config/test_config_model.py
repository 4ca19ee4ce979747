"""Sections, defaults inheritance and the runtime model built from them."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from balancekit import Backend, Request, Server
from balancekit.config import (
    Bind,
    ConfigErrors,
    ForwardFor,
    HttpCheck,
    HttpCheckExpect,
    LogTarget,
    StatsSocket,
    load,
    load_text,
    parse,
)

TIMEOUTS = "    timeout connect 1s\n    timeout client 2s\n    timeout server 3s\n"


def test_statements_keep_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "a.cfg"
    cfg.write_text("global\n    maxconn 10\n\ndefaults\n    # c\n    timeout connect 5s\n")
    parsed = parse([cfg], env={})
    glob, defaults = parsed.sections
    assert (glob.kind, glob.line, glob.file) == ("global", 1, str(cfg))
    stmt = defaults.statements[0]
    assert (stmt.keyword, stmt.args, stmt.file, stmt.line) == (
        "timeout connect",
        ("5s",),
        str(cfg),
        6,
    )
    assert stmt.where == f"{cfg}:6"


def test_several_files_are_read_in_order_and_directories_expand(tmp_path: Path) -> None:
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "20-backend.cfg").write_text("backend b\n    server s 127.0.0.1:1\n")
    (conf / "10-defaults.cfg").write_text("defaults\n    mode http\n" + TIMEOUTS)
    (conf / "ignored.txt").write_text("garbage\n")
    front = tmp_path / "front.cfg"
    front.write_text("frontend f\n    bind 127.0.0.1:0\n    default_backend b\n")
    result = load([conf, front], env={})
    assert result.config.files == (
        str(conf / "10-defaults.cfg"),
        str(conf / "20-backend.cfg"),
        str(front),
    )
    # The backend file comes after the defaults file, so it inherits mode http.
    assert result.config.backend("b").mode == "http"
    assert result.config.frontend("f").mode == "http"
    assert result.warnings == ()


INHERIT = """
defaults
    mode http
    timeout connect 5s
    timeout client 50s
    timeout server 50s
    retries 5
    option redispatch
    option forwardfor except 127.0.0.0/8 header X-Real-IP if-none
    balance first
    default-server weight 7 maxconn 3

backend inherits
    server s1 127.0.0.1:1

defaults named
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s

backend takes_last
    server s1 127.0.0.1:1

backend explicit from named
    server s1 127.0.0.1:1

defaults child from named
    timeout server 9s

backend grandchild
    no option redispatch
    server s1 127.0.0.1:1 weight 2
"""


def test_defaults_inheritance() -> None:
    config = load_text(INHERIT, env={}).config
    first = config.backend("inherits")
    assert first.mode == "http"
    assert (first.timeout_connect, first.timeout_server, first.timeout_queue) == (5.0, 50.0, 5.0)
    assert first.retries == 5
    assert first.redispatch == -1  # `option redispatch`: the last retry
    assert first.forwardfor == ForwardFor("X-Real-IP", "127.0.0.0/8", True)
    assert first.backend.balance.algorithm == "first"
    server = first.backend.servers[0]
    assert (server.weight, server.maxconn) == (7, 3)

    # A defaults section without `from` resets everything, and proxies take the last one.
    last = config.backend("takes_last")
    assert last.mode == "tcp" and last.retries == 3 and last.redispatch == 0
    assert last.backend.balance.algorithm == "roundrobin"
    assert last.backend.servers[0].weight == 1
    assert config.backend("explicit").timeout_connect == 1.0

    # `defaults child from named` starts from `named`, then overrides.
    grandchild = config.backend("grandchild")
    assert grandchild.mode == "tcp"
    assert (grandchild.timeout_connect, grandchild.timeout_server) == (1.0, 9.0)
    assert grandchild.backend.servers[0].weight == 2


def test_no_and_default_prefixes_on_options() -> None:
    text = """
defaults
    mode http
    option httplog
    option dontlognull
    option http-server-close
frontend a
    bind 127.0.0.1:0
    no option httplog
    default option dontlognull
frontend b
    bind 127.0.0.1:0
    option http-keep-alive
"""
    config = load_text(text, env={}).config
    a, b = config.frontend("a"), config.frontend("b")
    assert (a.httplog, a.dontlognull, a.http_server_close) == (False, False, True)
    assert (b.httplog, b.dontlognull, b.http_server_close) == (True, True, False)


def test_listen_is_a_frontend_and_a_backend_of_the_same_name() -> None:
    text = """
listen mysql
    bind 127.0.0.1:5555
    mode tcp
    option srvtcpka
    option clitcpka
    balance first
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    server mysql1 127.0.0.1:3306 maxconn 10
"""
    config = load_text(text, env={}).config
    front = config.frontend("mysql")
    back = config.backend("mysql")
    assert front.backend_name == "mysql" and front.default_backend is None
    assert front.router.route_tcp(Request()).backend == "mysql"
    assert front.binds == (Bind("127.0.0.1", 5555, file="<string>", line=3),)
    assert front.clitcpka and back.srvtcpka
    assert isinstance(back.backend, Backend)
    assert back.backend.servers == [Server("mysql1", "127.0.0.1:3306", maxconn=10)]


def test_tcp_backend_hashes_on_l4_only() -> None:
    """Mode tcp has no HTTP request: uri hashing falls back to round robin, as in HAProxy."""
    text = """
backend be
    mode tcp
    balance uri
    server a 127.0.0.1:1
    server b 127.0.0.1:2
"""
    backend = load_text(text, env={}).config.backend("be").backend
    assert backend.mode == "tcp"
    same_uri = Request(path="/always/the/same")
    assert [backend.pick(same_uri).name for _ in range(4)] == ["a", "b", "a", "b"]


def test_global_section_model() -> None:
    text = """
global
    log /dev/log local0
    log 127.0.0.1:514 len 2048 format rfc5424 local1 notice info
    log stdout format raw local0
    maxconn 4096
    nbthread 2
    stats socket /run/haproxy/admin.sock mode 660 level admin
    stats socket ipv4@127.0.0.1:9999 level operator
    stats timeout 30s
    hard-stop-after 1m
    ca-base /etc/ssl/certs
    crt-base /etc/ssl/private
frontend f
    log global
    log stderr local2
    bind 127.0.0.1:0
    timeout client 1s
"""
    result = load_text(text, env={})
    g = result.config.global_
    assert g.maxconn == 4096 and g.nbthread == 2
    assert g.logs == (
        LogTarget("/dev/log", "local0", file="<string>", line=3),
        LogTarget("127.0.0.1:514", "local1", "notice", "info", "rfc5424", 2048, "<string>", 4),
        LogTarget("stdout", "local0", format="raw", file="<string>", line=5),
    )
    assert g.stats_sockets == (
        StatsSocket("/run/haproxy/admin.sock", True, 0o660, "admin", file="<string>", line=8),
        StatsSocket("ipv4@127.0.0.1:9999", False, None, "operator", file="<string>", line=9),
    )
    assert (g.stats_timeout, g.hard_stop_after) == (30.0, 60.0)
    assert (g.ca_base, g.crt_base) == ("/etc/ssl/certs", "/etc/ssl/private")
    # `log global` expands to the global targets, in place.
    logs = result.config.frontend("f").logs
    assert [t.address for t in logs] == ["/dev/log", "127.0.0.1:514", "stdout", "stderr"]


def test_frontend_model() -> None:
    text = """
defaults
    mode http
    timeout client 5s
    timeout http-request 3s
    timeout http-keep-alive 1s
    timeout client-fin 2s
    timeout connect 1s
    timeout server 1s
frontend web
    bind 127.0.0.1:8000-8002,[::1]:9000,localhost:7000 name web accept-proxy
    maxconn 50
    option httplog
    option forwardfor
    capture request header Host len 32
    capture response header Content-Type len 20
    log-format "%ci %ST"
    stats enable
    stats uri /stats
    stats auth admin:secret
    stats refresh 10s
    default_backend app
backend app
    server a 127.0.0.1:1
"""
    front = load_text(text, env={}).config.frontend("web")
    assert [b.address for b in front.binds] == [
        "127.0.0.1:8000",
        "127.0.0.1:8001",
        "127.0.0.1:8002",
        "[::1]:9000",
        "localhost:7000",
    ]
    assert all(b.accept_proxy and b.name == "web" for b in front.binds)
    assert front.binds[-2].v6 and not front.binds[-1].v6
    assert front.maxconn == 50
    assert (front.timeout_client, front.timeout_http_request) == (5.0, 3.0)
    assert (front.timeout_http_keep_alive, front.timeout_client_fin) == (1.0, 2.0)
    assert front.httplog and front.forwardfor == ForwardFor()
    assert [(c.direction, c.header, c.length) for c in front.captures] == [
        ("request", "Host", 32),
        ("response", "Content-Type", 20),
    ]
    assert front.log_format == "%ci %ST"
    assert front.stats is not None
    assert (front.stats.uri, front.stats.auth, front.stats.refresh) == (
        "/stats",
        (("admin", "secret"),),
        10.0,
    )
    assert front.default_backend == "app"
    assert front.router.route(Request(path="/")).backend == "app"


def test_servers_and_default_server() -> None:
    text = """
backend b
    balance first
    default-server inter 3s fall 5 check
    server a 127.0.0.1:1 weight 10 maxconn 5 maxqueue 2 id 7 rise 1 fastinter 500ms send-proxy-v2
    server b 127.0.0.1:2 backup disabled no-check downinter 10s slowstart 30s port 8080
    server c 127.0.0.1:3 addr 127.0.0.9 observe layer7 error-limit 4 on-error mark-down
    server d [::1]:4 send-proxy ssl verify none sni str(example.com) check-ssl
"""
    runtime = load_text(text, env={}).config.backend("b")
    a, b, c, d = runtime.backend.servers
    assert (a.weight, a.maxconn, a.maxqueue, a.id, a.rise, a.fall, a.inter, a.fastinter) == (
        10, 5, 2, 7, 1, 5, 3.0, 0.5,
    )  # fmt: skip
    assert a.check and not b.check
    assert (b.backup, b.disabled, b.downinter, b.slowstart, b.check_port) == (
        True, True, 10.0, 30.0, 8080,
    )  # fmt: skip
    assert a.send_proxy_v2 and not c.send_proxy_v2
    assert (c.check_addr, c.observe, c.error_limit, c.on_error) == (
        "127.0.0.9", "layer7", 4, "mark-down",
    )  # fmt: skip
    assert d.send_proxy and d.port == 4 and d.host == "::1"
    extras = runtime.extras("d")
    assert (extras.ssl, extras.verify, extras.sni, extras.check_ssl) == (
        True, "none", "str(example.com)", True,
    )  # fmt: skip
    assert runtime.extras("a").ssl is False
    assert (runtime.extras("c").file, runtime.extras("c").line) == ("<string>", 7)


def test_backend_health_check_settings() -> None:
    text = """
backend web
    mode http
    option httpchk GET /health HTTP/1.1
    http-check send hdr Host example.com
    http-check expect status 200
    http-check expect ! rstring ^error
    timeout check 2s
    option log-health-checks
    server a 127.0.0.1:1 check
backend db
    option mysql-check user haproxy_check
    server a 127.0.0.1:3306 check
"""
    config = load_text(text, env={}).config
    web = config.backend("web")
    assert web.httpchk == HttpCheck("GET", "/health", "HTTP/1.1", (("Host", "example.com"),))
    assert web.http_check_expect == (
        HttpCheckExpect("status", "200", False, "<string>", 6),
        HttpCheckExpect("rstring", "^error", True, "<string>", 7),
    )
    assert web.timeout_check == 2.0 and web.log_health_checks
    assert config.backend("db").mysql_check_user == "haproxy_check"


def test_errorfile_contents_are_loaded(tmp_path: Path) -> None:
    page = tmp_path / "503.http"
    page.write_bytes(b"HTTP/1.1 503 Service Unavailable\r\n\r\nsorry\n")
    text = f"""
defaults
    mode http
    errorfile 503 {page}
frontend f
    bind 127.0.0.1:0
    default_backend b
backend b
    server a 127.0.0.1:1
"""
    config = load_text(text, env={}).config
    assert config.frontend("f").errorfiles[503].endswith(b"sorry\n")
    assert config.backend("b").errorfiles[503].startswith(b"HTTP/1.1 503")


def test_empty_errorfile_is_accepted(tmp_path: Path) -> None:
    """HAProxy 2.6 accepts an empty errorfile (`/dev/null`): that status closes silently."""
    empty = tmp_path / "empty.http"
    empty.write_bytes(b"")
    text = f"""
defaults
    mode http
    errorfile 408 /dev/null
frontend f
    bind 127.0.0.1:0
    errorfile 503 {empty}
    default_backend b
backend b
    server a 127.0.0.1:1
"""
    config = load_text(text, env={}).config
    assert config.frontend("f").errorfiles == {408: b"", 503: b""}
    assert config.backend("b").errorfiles == {408: b""}


def test_missing_stock_errorfile_falls_back_with_a_warning(tmp_path: Path) -> None:
    text = "defaults\n    errorfile 503 /etc/haproxy/errors/does-not-exist.http\n"
    result = load_text(text, env={})
    assert any("built-in 503 page" in str(w) and ":2:" in str(w) for w in result.warnings)


def test_load_raises_every_error_at_once() -> None:
    text = "global\n    nbthread 0\nfrontend f\n    bogus\n    mode ftp\n"
    with pytest.raises(ConfigErrors) as info:
        load_text(text, name="t.cfg", env={})
    lines = [(e.file, e.line) for e in info.value.errors]
    assert lines == [("t.cfg", 2), ("t.cfg", 4), ("t.cfg", 5)]
    assert str(info.value).count("\n") == 2
    # It still behaves as a single ConfigError pointing at the first problem.
    assert (info.value.file, info.value.line) == ("t.cfg", 2)


def test_tls_bind_with_crt_base_and_default_ciphers(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "site.pem"))
    text = f"""
global
    crt-base {tmp_path}
    ssl-default-bind-ciphers ECDHE-RSA-AES128-GCM-SHA256
    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
frontend tls
    bind 127.0.0.1:0 ssl crt site.pem alpn h2,http/1.1
    timeout client 1s
"""
    result = load_text(text, env={})
    (bind,) = result.config.frontend("tls").binds
    assert bind.ssl and bind.crts == (str(tmp_path / "site.pem"),)
    assert bind.alpn == ("h2", "http/1.1")
    g = result.config.global_
    assert g.ssl_default_bind_ciphers == "ECDHE-RSA-AES128-GCM-SHA256"
    assert g.ssl_default_bind_options == ("ssl-min-ver TLSv1.2", "no-tls-tickets")
    # Used by a TLS bind, so not warned about.
    assert not [w for w in result.warnings if "ssl-default" in w.message]


def test_environment_variables_in_addresses() -> None:
    text = 'backend b\n    server s "${HOST-127.0.0.1}:${PORT}"\n'
    server = load_text(text, env={"PORT": "5001"}).config.backend("b").backend.servers[0]
    assert server.address == "127.0.0.1:5001"


def test_http_only_settings_in_a_tcp_proxy_fall_back_like_haproxy() -> None:
    text = """
defaults
    option httplog clf
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen stats
    bind 127.0.0.1:0
    stats enable
    stats uri /x
    server s 127.0.0.1:1
frontend web
    mode http
    bind 127.0.0.1:0
"""
    result = load_text(text, env={})
    tcp, web = result.config.frontend("stats"), result.config.frontend("web")
    assert (tcp.httplog, tcp.tcplog, tcp.stats) == (False, True, None)
    assert (web.httplog, web.httplog_clf, web.tcplog) == (True, True, False)
    assert [str(w) for w in result.warnings] == [
        "<string>:7: 'option httplog' not usable with listen 'stats' (needs 'mode http'); "
        "falling back to 'option tcplog'",
        "<string>:7: 'stats' statements ignored for listen 'stats' as they require HTTP mode",
    ]


def test_crlf_and_lone_cr_are_read_like_haproxy(tmp_path: Path) -> None:
    # CRLF files work; a lone CR ends the line's parsing (HAProxy stops at '\r'), it does
    # not start a new line, so line numbers stay those of '\n'.
    cfg = tmp_path / "dos.cfg"
    cfg.write_bytes(b"backend b\r\n    server s 127.0.0.1:1\r\n    retries 5\rbogus\n")
    parsed = parse([cfg], env={})
    (section,) = parsed.sections
    assert [(s.keyword, s.args, s.line) for s in section.statements] == [
        ("server", ("s", "127.0.0.1:1"), 2),
        ("retries", ("5",), 3),
    ]
