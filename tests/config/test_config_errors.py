"""Every configuration error message, as a table: config text -> `file:line: message`.

Each case is a small config with exactly one mistake; the test asserts that
exactly one error is reported, at the right line, with the right words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from balancekit.config import ConfigErrors, check, load_text

T = "    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
B = "backend b\n    server s 127.0.0.1:1\n"  # a valid backend to point at

CASES: list[tuple[str, str, int, str]] = [
    # -- sections ----------------------------------------------------------------------
    ("out of section", "maxconn 10\n", 1, "unknown keyword 'maxconn' out of section"),
    ("global argument", "global foo\n", 1, "'global' takes no argument, got 'foo'"),
    ("from without name", "defaults d\nbackend x from\n", 2, "'from' expects a defaults"),
    ("after from", "defaults d\nbackend x from d y\n", 2, "unexpected 'y' after 'from'"),
    ("extra name", "backend a b\n", 1, "'backend a': unexpected argument 'b'"),
    ("missing name", "frontend\n", 1, "'frontend' needs a name"),
    ("bad name", "backend a/b\n", 1, "invalid character in backend name 'a/b'"),
    ("unknown from", "backend x from nope\n", 1, "no defaults section named 'nope' above"),
    ("duplicate backend", B + B, 3, "backend 'b' has the same name as the backend 'b' declared"),
    ("listen vs backend", B + "listen b\n", 3, "listen 'b' has the same name as the backend"),
    # -- keywords ----------------------------------------------------------------------
    ("unknown keyword", "backend b\n    balanse first\n", 2,
     "unknown keyword 'balanse' in 'backend' section; did you mean 'balance'?"),
    ("unknown option", "defaults\n    option htplog\n", 2,
     "unknown option 'option htplog' in 'defaults' section; did you mean 'option httplog'?"),
    ("unknown timeout", "defaults\n    timeout conect 1s\n", 2,
     "unknown keyword 'timeout conect' in 'defaults' section; did you mean 'timeout connect'?"),
    ("misspelt section", B + "fronted f\n", 3,
     "unknown keyword 'fronted' in 'backend' section; did you mean 'frontend'?"),
    ("haproxy-only keyword", "backend b\n    dispatch 127.0.0.1:1\n", 2,
     "'dispatch' is an HAProxy keyword that balancekit does not support"),
    ("use-server name", "backend b\n    use-server\n", 2, "'use-server' expects a server name."),
    ("use-server condition", "backend b\n    use-server s\n", 2,
     "'use-server' requires either 'if' or 'unless' followed by a condition."),
    ("use-server unknown", "backend b\n    use-server s if TRUE\n    server t 127.0.0.1:1\n", 2,
     "backend 'b' : unable to find server 's' referenced in a 'use-server' rule."),
    ("use-server in defaults", "defaults\n    use-server s if TRUE\n", 2,
     "'use-server' not allowed in 'defaults' section"),
    ("haproxy-only option", "backend b\n    option tcp-check\n", 2,
     "'option tcp-check' is an HAProxy keyword that balancekit does not support"),
    ("haproxy-only timeout", "defaults\n    timeout tarpit 1s\n", 2,
     "'timeout tarpit' is an HAProxy keyword that balancekit does not support"),
    ("global keyword in proxy", "frontend f\n    daemon\n", 2,
     "unknown keyword 'daemon' in 'frontend' section"),
    ("proxy keyword in global", "global\n    mode http\n", 2,
     "unknown keyword 'mode' in 'global' section"),
    ("no prefix", "backend b\n    no balance\n", 2, "'no' prefix is not allowed on 'balance'"),
    ("not in defaults", "defaults\n    bind :80\n", 2, "'bind' not allowed in 'defaults' section"),
    ("server in frontend", "frontend f\n    server s 127.0.0.1:1\n", 2,
     "'server' not allowed because frontend 'f' has no backend capability"),
    ("stray NUL", "global\n    maxconn 1\x00\n", 2, "stray NUL character"),
    ("unmatched quote", 'global\n    log "stdout local0\n', 2, "unmatched quote at position 9"),
    # -- values ------------------------------------------------------------------------
    ("log global in global", "global\n    log global\n", 2, "'log global' is only meaningful"),
    ("nbthread zero", "global\n    nbthread 0\n", 2, "'nbthread' expects an integer >= 1"),
    ("missing timeout value", "defaults\n    timeout connect\n", 2,
     "'timeout connect' expects exactly one argument, got nothing"),
    ("bad time unit", "defaults\n    timeout connect 5x\n", 2,
     "unexpected character 'x' in time value '5x'"),
    ("stats admin in defaults", "defaults\n    stats admin if TRUE\n", 2,
     "'stats admin' not allowed in 'defaults' section"),
    ("stats scope without name", "backend b\n    stats scope\n", 2,
     "'scope' needs a proxy name."),
    ("stats admin without condition", "backend b\n    stats admin\n", 2,
     "'stats admin' requires either 'if' or 'unless' followed by a condition."),
    ("stats http-request in defaults", "defaults\n    stats http-request deny\n", 2,
     "'stats http-request' not allowed in 'defaults' section"),
    ("stats http-request action", "backend b\n    stats http-request set-header a b\n", 2,
     "'stats http-request set-header' is an HAProxy action balancekit does not support"),
    ("stats http-request with auth",
     "backend b\n    stats auth a:b\n    stats http-request deny\n", 3,
     "backend 'b': stats 'auth'/'realm' and 'http-request' can't be used at the same time."),
    ("stats auth after http-request",
     "backend b\n    stats http-request deny\n    stats realm R\n", 3,
     "backend 'b': stats 'auth'/'realm' and 'http-request' can't be used at the same time."),
    ("stats socket level", "global\n    stats socket /tmp/s level root\n", 2,
     "stats socket: level must be user, operator or admin, got 'root'"),
    ("stats socket mode", "global\n    stats socket /tmp/s mode rw\n", 2,
     "stats socket: mode expects octal, got 'rw'"),
    ("stats socket option", "global\n    stats socket /tmp/s lvl admin\n", 2,
     "stats socket: unknown option 'lvl'"),
    ("ssl option", "global\n    ssl-default-bind-options no-sslv4\n", 2,
     "ssl-default-bind-options: unknown option 'no-sslv4'"),
    ("ssl bind-only option", "global\n    ssl-default-bind-options strict-sni\n", 2,
     "ssl-default-bind-options: unknown option 'strict-sni'"),
    ("ssl ciphers", "global\n    ssl-default-bind-ciphers NO-SUCH-CIPHER\n", 2,
     "ssl-default-bind-ciphers: no usable cipher in 'NO-SUCH-CIPHER'"),
    ("mode", "defaults\n    mode ftp\n", 2, "unknown proxy mode 'ftp' (expected tcp or http)"),
    ("log facility", "global\n    log stdout local9\n", 2, "log stdout: unknown facility 'local9'"),
    ("log no facility", "global\n    log stdout\n", 2, "log stdout: missing facility"),
    ("log format", "global\n    log stdout format json local0\n", 2,
     "log: unknown format 'json'"),
    ("log level", "global\n    log stdout local0 loud\n", 2, "log stdout: unknown level 'loud'"),
    ("log len", "global\n    log stdout len 10 local0\n", 2, "log: len 10 out of range"),
    ("log nothing", "global\n    log\n", 2, "'log' expects 'global' or a target address"),
    ("log len value", "global\n    log stdout len\n", 2, "log: 'len' expects a value"),
    ("no log argument", "defaults\n    no log global\n", 2, "'no log' takes no argument"),
    ("stats socket nothing", "global\n    stats socket\n", 2,
     "'stats socket' expects a path or an address"),
    ("stats socket port", "global\n    stats socket ipv4@127.0.0.1:\n", 2,
     "stats socket: missing port in 'ipv4@127.0.0.1:'"),
    ("stats socket value", "global\n    stats socket /tmp/s mode\n", 2,
     "stats socket: 'mode' expects a value"),
    ("stats socket expose-fd", "global\n    stats socket /tmp/s expose-fd all\n", 2,
     "stats socket: expose-fd expects 'listeners', got 'all'"),
    ("ssl-min-ver", "global\n    ssl-default-bind-options ssl-min-ver TLSv9\n", 2,
     "'ssl-min-ver' expects one of SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3"),
    ("mode health", "defaults\n    mode health\n", 2, "'mode health' was removed from HAProxy"),
    # -- bind --------------------------------------------------------------------------
    ("bind nothing", "frontend f\n    bind\n", 2, "'bind' expects an address"),
    ("bind bad port", "frontend f\n    bind :http\n", 2, "bind: invalid port 'http' in ':http'"),
    ("bind crt value", "frontend f\n    bind :443 ssl crt\n", 2, "bind: 'crt' expects a value"),
    ("bind no port", "frontend f\n    bind 127.0.0.1\n", 2,
     "bind: missing port number in '127.0.0.1'"),
    ("bind bad host", "frontend f\n    bind a/b:80\n", 2, "bind: invalid address 'a/b'"),
    ("bind bad range", "frontend f\n    bind :90-80\n", 2, "bind: invalid port range '90-80'"),
    ("bind sockpair", "frontend f\n    bind sockpair@3\n", 2, "is not a TCP address"),
    ("bind abns empty", "frontend f\n    bind abns@\n", 2, "bind: missing socket name in 'abns@'"),
    ("bind option", "frontend f\n    bind :80 acept-proxy\n", 2,
     "bind: unknown option 'acept-proxy'; did you mean 'accept-proxy'?"),
    ("bind ssl no crt", "frontend f\n    bind :443 ssl\n", 2,
     "bind: 'ssl' needs at least one 'crt <file>'"),
    ("bind crt missing", "frontend f\n    bind :443 ssl crt /nonexistent.pem\n", 2,
     "bind: unable to load SSL certificate file '/nonexistent.pem'"),
    # -- server ------------------------------------------------------------------------
    ("server no address", "backend b\n    server s1\n", 2,
     "'server' expects <name> and <address>"),
    ("server address is a keyword", "backend b\n    server flask1 check\n", 2,
     "server 'flask1': missing address (found option 'check' instead)"),
    ("server bad address", "backend b\n    server s a/b:80\n", 2,
     "server 's': invalid address 'a/b:80'"),
    ("server sockpair", "backend b\n    server s sockpair@4\n", 2,
     "server 's': 'sockpair@4' is not a TCP address"),
    ("server abns empty", "backend b\n    server s abns@\n", 2,
     "server 's': missing socket path in 'abns@'"),
    ("server bad port", "backend b\n    server s 127.0.0.1:99999\n", 2,
     "invalid port in address '127.0.0.1:99999'"),
    ("server unknown option", "backend b\n    server s 127.0.0.1:1 wieght 2\n", 2,
     "unknown server option 'wieght'; did you mean 'weight'?"),
    ("weight too big", "backend b\n    server s 127.0.0.1:1 weight 300\n", 2,
     "weight 300 out of range (0..256)"),
    ("rise zero", "backend b\n    server s 127.0.0.1:1 rise 0\n", 2, "rise 0 out of range"),
    ("inter zero", "backend b\n    server s 127.0.0.1:1 inter 0\n", 2,
     "inter must be greater than 0"),
    ("check port", "backend b\n    server s 127.0.0.1:1 port 70000\n", 2,
     "port 70000 out of range (1..65535)"),
    ("check addr", "backend b\n    server s 127.0.0.1:1 addr db.local\n", 2,
     "addr expects an IP address, got 'db.local'"),
    ("observe", "backend b\n    server s 127.0.0.1:1 observe layer5\n", 2,
     "observe expects layer4 or layer7, got 'layer5'"),
    ("on-error", "backend b\n    server s 127.0.0.1:1 on-error explode\n", 2,
     "on-error expects one of fastinter, fail-check, sudden-death, mark-down"),
    ("verify", "backend b\n    server s 127.0.0.1:1 ssl verify maybe\n", 2,
     "verify expects none or required, got 'maybe'"),
    ("duplicate server", "backend b\n    server s 127.0.0.1:1\n    server s 127.0.0.1:2\n", 3,
     "backend 'b': duplicate server name 's' (first at t.cfg:2)"),
    ("duplicate id", "backend b\n    server a 127.0.0.1:1 id 3\n    server c 127.0.0.1:2 id 3\n",
     3, "backend 'b': server id 3 already used by server 'a' at t.cfg:2"),
    ("default-server option", "defaults\n    default-server wait 3\n", 2,
     "unknown server option 'wait'"),
    # -- balancing ---------------------------------------------------------------------
    ("balance unknown", "backend b\n    balance fastest\n", 2,
     "balance: unknown algorithm 'fastest'"),
    ("balance bad option", "backend b\n    balance uri depth x\n", 2,
     "balance: uri depth expects a positive integer, got 'x'"),
    ("hash-type", "backend b\n    hash-type ring\n", 2, "hash-type: unknown method 'ring'"),
    ("hash-type missing", "backend b\n    hash-type\n", 2,
     "'hash-type' expects map-based, consistent or maglev"),
    ("hash-balance-factor", "backend b\n    hash-balance-factor 50\n", 2,
     "hash-balance-factor 50 must be 0 (off) or greater than 100"),
    ("random draw form", "backend b\n    balance random\n    random two\n", 3,
     "unknown keyword 'random' (the tutorial form is 'random draw <N>'; "
     "HAProxy writes 'balance random(<N>)')"),
    ("random draw without random", "backend b\n    random draw 2\n", 2,
     "'random draw 2' only applies to 'balance random' (HAProxy writes 'balance random(2)')"),
    # -- references --------------------------------------------------------------------
    ("unknown default_backend", "frontend f\n    default_backend bb\n" + B, 2,
     "frontend 'f': unable to find required backend 'bb'; did you mean 'b'?"),
    ("unknown use_backend", "frontend f\n    use_backend nope if TRUE\n" + B, 2,
     "frontend 'f': unable to find required backend 'nope'"),
    ("http to tcp backend", "frontend f\n    mode http\n    default_backend b\n" + B, 3,
     "frontend 'f' (mode http) cannot use backend 'b' (mode tcp)"),
    ("tcp to http backend",
     "frontend f\n    default_backend b\nbackend b\n    mode http\n    server s 127.0.0.1:1\n", 2,
     "frontend 'f' (mode tcp) cannot use backend 'b' (mode http)"),
    ("unknown acl", "frontend f\n    mode http\n    http-request deny if nope\n", 3,
     "no such ACL : 'nope'"),
    ("bad acl", "frontend f\n    acl x pathbeg /a\n", 2, "unknown fetch method 'pathbeg'"),
    # -- errorfile, captures, checks, options ------------------------------------------
    ("errorfile code", "defaults\n    errorfile 302 /dev/null\n", 2,
     "errorfile: status code '302' cannot be customized"),
    ("errorfile missing", "defaults\n    errorfile 503 /nonexistent/503.http\n", 2,
     "errorfile 503: error opening file '/nonexistent/503.http'"),
    ("errorfile args", "defaults\n    errorfile 503\n", 2, "'errorfile' expects <code> and <file>"),
    ("capture form", "frontend f\n    capture request header Host 32\n", 2,
     "'capture request header' expects <name> len <length>"),
    ("capture len", "frontend f\n    capture request header Host len 0\n", 2,
     "len must be greater than 0"),
    ("http-check send", "backend b\n    http-check send method GET\n", 2,
     "http-check send: unknown option 'method'"),
    ("http-check hdr", "backend b\n    http-check send hdr Host\n", 2,
     "http-check send: 'hdr' expects <name> <value>"),
    ("http-check value", "backend b\n    http-check send uri\n", 2,
     "http-check send: 'uri' expects a value"),
    ("http-check expect", "backend b\n    http-check expect code 200\n", 2,
     "http-check expect: expects [!] status|rstatus|string|rstring <pattern>"),
    ("http-check regex", "backend b\n    http-check expect rstring (\n", 2,
     "http-check expect: bad regex '('"),
    ("option argument", "defaults\n    option dontlognull all\n", 2,
     "'option dontlognull' takes no argument, got 'all'"),
    ("forwardfor except", "defaults\n    option forwardfor except somewhere\n", 2,
     "option forwardfor: except expects a network, got 'somewhere'"),
    ("forwardfor arg", "defaults\n    option forwardfor always\n", 2,
     "option forwardfor: unknown argument 'always'"),
    ("forwardfor header value", "defaults\n    option forwardfor header\n", 2,
     "option forwardfor: 'header' expects a value"),
    ("mysql-check extra", "defaults\n    option mysql-check user u post-41 x\n", 2,
     "option mysql-check: unexpected 'x'"),
    ("httpchk args", "defaults\n    option httpchk GET / HTTP/1.1 extra\n", 2,
     "option httpchk: expects at most <method> <uri> <version>"),
    ("pgsql-check user", "defaults\n    option pgsql-check\n", 2,
     "'option pgsql-check' expects 'user <username>' as argument."),
    ("pgsql-check keyword", "defaults\n    option pgsql-check usr a\n", 2,
     "'option pgsql-check' only supports optional values: 'user'."),
    ("pgsql-check extra", "defaults\n    option pgsql-check user a b\n", 2,
     "'option pgsql-check' cannot handle unexpected argument 'b'."),
    ("mysql-check", "defaults\n    option mysql-check login x\n", 2,
     "option mysql-check: expects [user <username> [post-41]]"),
    ("stats auth", "defaults\n    stats auth admin\n", 2, "'stats auth' expects <user>:<password>"),
    ("description in defaults", "defaults\n    description x\n", 2,
     "'description' not allowed in 'defaults' section"),
    ("description empty", "backend b\n    description\n", 2,
     "'description' expects a string argument."),
    ("node name", "global\n    node a/b\n", 2, "'node' requires valid node name"),
    ("show-node name", "defaults\n    stats show-node a:b\n", 2,
     "'stats show-node' invalid node name"),
    # -- stick tables --------------------------------------------------------------------------
    ("stick key type",
     "backend b\n    stick-table type ip size 1k\n    stick on req.payload(0,4)\n", 3,
     "Proxy 'b': type of fetch not usable with type of stick-table 'b'."),
    ("response buffer fetch as a request rule's key",
     "backend b\n    stick-table type binary size 1k\n    stick match res.payload(0,4)\n", 3,
     "fetch method 'res.payload' extracts information from 'response buffer', none of which"),
    # -- server addresses and TLS -----------------------------------------------------------
    ("init-addr method", "backend b\n    server s h.test:80 init-addr libc,dns\n", 2,
     "'init-addr' : unknown init-addr method 'dns', supported methods are 'libc', 'last', "
     "'none'."),
    ("init-addr twice", "backend b\n    server s h.test:80 init-addr libc,none,libc\n", 2,
     "'init-addr' : too many init-addr methods when trying to add 'libc'"),
    ("init-addr two ips", "backend b\n    server s h.test:80 init-addr 10.0.0.1,10.0.0.2\n", 2,
     "'init-addr' : initial address already specified, cannot add '10.0.0.2'."),
    ("ssl-server-verify value", "global\n    ssl-server-verify maybe\n", 2,
     "'ssl-server-verify' expects 'none' or 'required' as argument."),
    ("verify without ca-file", "backend b\n    server s 127.0.0.1:443 ssl\n", 2,
     "or use 'ssl-server-verify none' in the global section to disable server-side "
     "verifications by default."),
    ("verify required without ca-file",
     "global\n    ssl-server-verify none\n"
     "backend b\n    server s 127.0.0.1:443 ssl verify required\n", 4,
     "'server b/s' : verify is enabled but no CA file specified."),
    ("ulimit-n value", "global\n    ulimit-n lots\n", 2, "'ulimit-n' expects an integer argument."),
    # -- tcp-response -----------------------------------------------------------------------
    ("tcp-response in mode http",
     "backend b\n    mode http\n    tcp-response content reject if { res.len gt 0 }\n", 3,
     "'tcp-response content' in mode http (backend 'b') is not supported by balancekit"),
    ("tcp-response action", "backend b\n    tcp-response content set-var(txn.x) int(1)\n", 2,
     "'tcp-response content set-var(txn.x)' is an HAProxy action balancekit does not support"),
    ("tcp-response unknown action", "backend b\n    tcp-response content deny\n", 2,
     "'tcp-response content' expects 'accept', 'close' or 'reject', but got 'deny'"),
    ("tcp-response in a frontend", "frontend f\n    tcp-response content accept\n", 2,
     "'tcp-response content' not allowed because frontend 'f' has no backend capability"),
    ("response fetch as a request rule's key",
     "backend b\n    stick-table type ip size 1k\n    stick match res.hdr(x)\n", 3,
     "fetch method 'res.hdr' extracts information from 'HTTP response headers'"),
    ("table size", "backend b\n    stick-table type ip\n", 2, "stick-table: missing size."),
    ("table type", "backend b\n    stick-table size 1k\n", 2, "stick-table: missing type."),
    ("table type name", "backend b\n    stick-table type ipv5 size 1k\n", 2,
     "stick-table: unknown type 'ipv5'."),
    ("table size value", "backend b\n    stick-table type ip size 1x\n", 2,
     "stick-table: unexpected character 'x' in argument of 'size'."),
    ("table argument", "backend b\n    stick-table type ip size 1k purge\n", 2,
     "stick-table: unknown argument 'purge'."),
    ("table peers", "backend b\n    stick-table type ip size 1k peers p\n", 2,
     "Proxy 'b': unable to find sync peers 'p'."),
    ("table peers without us",
     "global\n    localpeer me\npeers p\n"
     "backend b\n    stick-table type ip size 1k peers p\n", 5,
     "Proxy 'b': unable to find local peer 'me' in peers section 'p'."),
    ("table srvkey", "backend b\n    stick-table type ip size 1k srvkey addr\n", 2,
     "'srvkey' is an HAProxy keyword that balancekit does not support (in a 'stick-table'"),
    # -- peers sections --------------------------------------------------------------------
    ("peers name", "peers\n", 1, "'peers' expects <name> as arguments"),
    ("peers duplicate", "peers p\npeers p\n", 2,
     "peers section 'p' has the same name as another peers section declared at"),
    ("peers keyword", "peers p\n    peeer me 127.0.0.1:1\n", 2,
     "unknown keyword 'peeer' in 'peers' section"),
    ("peers haproxy-only", "peers p\n    default-server ssl\n", 2,
     "'default-server' is an HAProxy keyword that balancekit does not support (in 'peers'"),
    ("peer address", "peers p\n    peer me\n", 2, "'peer me' : missing <addr>:<port>"),
    ("peer port", "peers p\n    peer me 127.0.0.1\n", 2,
     "'peer me' : missing or invalid port in '127.0.0.1'"),
    ("peer option", "peers p\n    peer me 127.0.0.1:1 ssl\n", 2,
     "'ssl' is an HAProxy keyword that balancekit does not support (in a 'peer' line"),
    ("peer twice", "peers p\n    peer o 127.0.0.1:1\n    peer o 127.0.0.1:2\n", 3,
     "'peer o' : peer name already referenced"),
    ("peer and bind", "peers p\n    peer me 127.0.0.1:1\n    bind 127.0.0.1:2\n", 3,
     'mixing "peer" and "bind" line is forbidden'),
    ("peers table name", "peers p\n    table type ip size 1\n", 2,
     "'table' expects a table name then its 'type' and 'size'"),
    ("peers table clash",
     "peers p\n    table t type ip size 1\n    table t type ip size 1\n", 3,
     "stick-table name 'p/t' conflicts with a table declared before"),
    ("table store", "backend b\n    stick-table type ip size 1k store http_req_rat\n", 2,
     "stick-table: unknown store option 'http_req_rat'."),
    ("table in defaults", "defaults\n    stick-table type ip size 1k\n", 2,
     "'stick-table' not allowed in 'defaults' section"),
    ("track table", "frontend f\n    mode http\n    http-request track-sc0 src\n", 3,
     "unable to find table 'f' referenced by track-sc0"),
    ("track number", "frontend f\n    mode http\n    stick-table type ip size 1k\n"
     "    http-request track-sc3 src\n", 4,
     "invalid stick table track ID. The max allowed ID is 2."),
    ("track key", "frontend f\n    mode http\n    stick-table type ip size 1k\n"
     "    http-request track-sc0\n", 4, "'http-request track-sc0': missing fetch method"),
    ("content track table", "frontend f\n    mode http\n"
     "    tcp-request content track-sc0 src table nope\n", 3,
     "unable to find table 'nope' referenced by track-sc0"),
    ("sc-inc-gpc index", "frontend f\n    mode http\n    http-request sc-inc-gpc(0)\n", 3,
     "'http-request sc-inc-gpc(0)': expects (<index>,<counter>)"),
    ("src array table", "frontend f\n    mode http\n    stick-table type ip size 1k\n"
     "    acl a src_get_gpc(0) gt 1\n", 4,
     "fetch method 'src_get_gpc' expects 2 argument(s), got 1"),
    ("stick table", "backend b\n    stick on src\n", 2,
     "Proxy 'b': unable to find stick-table 'b'."),
    ("stick kind", "backend b\n    stick-table type ip size 1k\n    stick at src\n", 3,
     "'stick' expects 'on', 'match', 'store-request' or 'store-response', but got 'at'"),
    ("stick key", "backend b\n    stick-table type ip size 1k\n    stick on\n", 3,
     "'stick on': missing fetch method"),
    ("sc-inc number", "frontend f\n    mode http\n    http-request sc-inc-gpc0(x)\n", 3,
     "Wrong track-sc number 'x'"),
    ("src fetch table", "frontend f\n    mode http\n    acl a src_conn_cur gt 1\n", 3,
     "unable to find table 'f' referenced in arg 1 of fetch method 'src_conn_cur'"),
    ("sc fetch table", "frontend f\n    mode http\n    acl a sc0_conn_cur(t) gt 1\n", 3,
     "unable to find table 't' referenced in arg 1 of fetch method 'sc0_conn_cur'"),
    # -- userlist and access control ---------------------------------------------------------
    ("userlist name", "userlist\n", 1, "'userlist' expects <name> as arguments"),
    ("userlist keyword", "userlist L\n    users a\n", 2,
     "unknown keyword 'users' in 'userlist' section"),
    ("group option", "userlist L\n    group g members a\n", 2,
     "'group' only supports 'users' option."),
    ("user option", "userlist L\n    user u pass x\n", 2,
     "'user' only supports 'password', 'insecure-password' and 'groups' options."),
    ("user's group", "userlist L\n    user u insecure-password x groups nope\n", 1,
     "userlist 'L': no such group 'nope' specified in user 'u'"),
    ("group's user", "userlist L\n    group g users zed\n", 1,
     "userlist 'L': no such user 'zed' specified in group 'g'"),
    ("unknown userlist", "frontend f\n    mode http\n    acl ok http_auth(NOPE)\n", 3,
     "unable to find userlist 'NOPE' referenced in arg 1 of fetch method 'http_auth'"),
    ("userlist missing", "frontend f\n    mode http\n    acl ok http_auth\n", 3,
     "missing userlist name in arg 1 of fetch method 'http_auth'"),
    ("auth group", "userlist L\n    group g\nfrontend f\n    mode http\n"
     "    http-request deny if { http_auth_group(L) h }\n", 5,
     "acl 'http_auth_group': invalid group 'h'"),
    ("auth realm", "frontend f\n    mode http\n    http-request auth realm\n", 3,
     "'http-request auth': missing realm value"),
    ("unique-id-format spaces", "frontend f\n    unique-id-format a b\n", 2,
     "unique-id-format expects only one argument, don't forget to escape spaces!"),
    ("unique-id-format fetch", "frontend f\n    unique-id-format %[nosuch]\n", 2,
     "failed to parse unique-id : failed to parse sample expression <nosuch> : "
     "unknown fetch method 'nosuch'."),
    ("unique-id-header", "frontend f\n    unique-id-header\n", 2,
     "unique-id-header expects an argument."),
    ("cache without size", "cache c\n    max-age 5\n", 1, "Size not specified for cache 'c'"),
    ("cache object size", "cache c\n    total-max-size 1\n    max-object-size 600000\n", 1,
     '"max-object-size" is limited to an half of "total-max-size" => 524288'),
    ("cache keyword", "cache c\n    total-max-size 1\n    maxage 5\n", 3,
     "unknown keyword 'maxage' in 'cache' section"),
    ("cache size value", "cache c\n    total-max-size 1M\n", 2,
     "total-max-size wrong value '1M'"),
    ("cache vary on", "cache c\n    total-max-size 1\n    process-vary on\n", 3,
     "'process-vary on' is an HAProxy setting that balancekit does not support"),
    ("cache name twice", "cache c\n    total-max-size 1\ncache c\n    total-max-size 1\n", 3,
     "Duplicate cache name 'c'."),
    ("cache-use name", "frontend f\n    mode http\n    http-request cache-use\n", 3,
     "'http-request cache-use' rule : expects a cache name."),
    ("cache-store unknown", "frontend f\n    mode http\n    http-response cache-store nope\n", 3,
     "unable to find the cache 'nope' referenced by the filter 'cache'."),
    ("http-errors name", "http-errors\n", 1, "missing name for http-errors section."),
    ("http-errors twice", "http-errors e\nhttp-errors e\n", 2,
     "http-errors section 'e' already exists (declared at t.cfg:1)."),
    ("http-errors keyword", "http-errors e\n    errorloc 503 /x\n", 2,
     "unknown keyword 'errorloc' in 'http-errors' section"),
    ("errorfiles unknown", "frontend f\n    errorfiles nope\n", 2,
     "proxy 'f': unknown http-errors section 'nope'."),
    ("errorfiles code", "http-errors e\nfrontend f\n    errorfiles e 999\n", 3,
     "errorfiles : status code '999' not handled."),
    ("errorloc args", "frontend f\n    errorloc 503\n", 2,
     "errorloc : expects <status_code> and <url> as arguments."),
    ("errorloc code", "frontend f\n    errorloc303 302 /x\n", 2,
     "errorloc303 : status code '302' not handled."),
    ("reply errorfiles unknown", "frontend f\n    mode http\n"
     "    http-request deny errorfiles nope\n", 3,
     "unknown http-errors section 'nope' referenced by an http reply"),
    ("reply errorfiles code", "http-errors e\nfrontend f\n    mode http\n"
     "    http-request return status 202 errorfiles e\n", 4,
     "status code '202' not handled by default with 'errorfiles' argument."),
    ("capture args", "frontend f\n    mode http\n    http-request capture path\n", 3,
     "'http-request capture' rule : expects <expression> [ 'len' <length> | id <idx> ]"),
    ("capture kind", "frontend f\n    mode http\n    http-request capture path size 3\n", 3,
     "'http-request capture' rule : expects 'len' or 'id', found 'size'"),
    ("capture in backend", "backend b\n    mode http\n    http-request capture path len 3\n", 3,
     "'http-request capture' rule : proxy 'b' has no frontend capability"),
    ("capture id", "frontend f\n    mode http\n    http-request capture path id 0\n", 3,
     "unable to find capture id '0' referenced by http-request capture rule"),
    ("capture response len", "frontend f\n    mode http\n"
     "    http-response capture res.hdr(x) len 3\n", 3,
     "'http-response capture' rule : expects 'id', found 'len'"),
    ("declare direction", "frontend f\n    declare capture both len 3\n", 2,
     "'declare capture' requires a direction ('request' or 'response')"),
    ("declare len", "frontend f\n    declare capture request len x\n", 2,
     "'declare capture': cannot parse the length 'x'."),
    ("uuid version", "frontend f\n    unique-id-format %[uuid(1)]\n", 2,
     "Unsupported UUID version: '1'"),
]  # fmt: skip


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load_text(text, name="t.cfg", env={})
    return [str(error) for error in info.value.errors]


@pytest.mark.parametrize(
    ("text", "line", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_message(text: str, line: int, message: str) -> None:
    errors = _errors(text)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"t.cfg:{line}: "), errors
    assert message in errors[0]


def test_errors_are_all_reported_in_file_order(tmp_path: Path) -> None:
    cfg = tmp_path / "many.cfg"
    cfg.write_text(
        "global\n    nbthread 0\n"
        "frontend f\n    bind :80 sll\n    default_backend missing\n"
        "backend b\n    server s 127.0.0.1:1 weight 999\n    frobnicate\n"
    )
    errors = check([cfg], env={})
    assert [e.split(": ", 1)[0] for e in errors] == [f"{cfg}:{n}" for n in (2, 4, 5, 7, 8)]


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.cfg"
    assert check([missing]) == [
        f"{missing}:0: cannot open configuration file: No such file or directory"
    ]


def test_errorfile_must_be_an_http_response(tmp_path: Path) -> None:
    page = tmp_path / "503.html"
    page.write_text("<h1>down</h1>\n")
    errors = _errors(f"defaults\n    errorfile 503 {page}\n")
    assert errors == [
        f"t.cfg:2: errorfile 503: '{page}' is not an HTTP response (it must start with the "
        "status line, e.g. 'HTTP/1.1 503 Service Unavailable')"
    ]


def test_errorfile_directory_cannot_be_read(tmp_path: Path) -> None:
    errors = _errors(f"defaults\n    errorfile 503 {tmp_path}\n")
    assert len(errors) == 1 and errors[0].startswith(
        f"t.cfg:2: errorfile 503: cannot read '{tmp_path}'"
    )
