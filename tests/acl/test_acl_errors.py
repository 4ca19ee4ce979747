"""Every ACL configuration error: the message names the bad word and `file:line`."""

# ruff: noqa: E501  (case tables read best one case per line)

from __future__ import annotations

from pathlib import Path

import pytest

from balancekit.acl import AclSet
from balancekit.errors import ConfigError

DEFINE_ERRORS = [
    ("bad-name", ["bad/name", "path", "/"], "invalid character in ACL name : '/'"),
    ("no-criterion", ["a"], "acl 'a': missing criterion"),
    ("unknown-fetch", ["a", "paht_beg", "/x"], "unknown fetch method 'paht_beg'; did you mean 'path_beg'? in ACL expression 'paht_beg'"),
    ("unknown-fetch-nohint", ["a", "zzzzzz", "/x"], "unknown fetch method 'zzzzzz' in ACL expression"),
    ("unknown-converter", ["a", "path,lowr", "/x"], "unknown converter 'lowr'; did you mean 'lower'?"),
    ("bad-converter-type", ["a", "method,not", "x"], "converter 'not' cannot be applied to a meth sample"),
    ("field-zero", ["a", "path,field(0,/)", "x"], "converter 'field'/'word': Unexpected value 0 for index"),
    ("field-no-delims", ["a", "path,field(1,)", "x"], "converter 'field'/'word': Empty separators list"),
    ("field-missing-args", ["a", "path,field(1)", "x"], "converter 'field' expects 2 argument(s), got 1"),
    ("ipmask-bad", ["a", "src,ipmask(40)", "x"], "converter 'ipmask': invalid IPv4 mask '40'"),
    ("ipmask-bad6", ["a", "src,ipmask(24,zz)", "x"], "converter 'ipmask': invalid IPv6 mask 'zz'"),
    ("regsub-flag", ["a", "path,regsub(a,b,x)", "x"], "converter 'regsub': invalid regex flag 'x', only 'i' and 'g' are supported"),
    ("regsub-regex", ["a", "path,regsub([,b)", "x"], "converter 'regsub': regex '[' is invalid"),
    ("regsub-subst", ["a", "path,regsub(a,\\x4)", "x"], "converter 'regsub': invalid replacement string"),
    ("unclosed-quote", ["a", "path,regsub('a,b)", "x"], "missing closing ')' after arguments to 'regsub'"),
    ("too-many-args", ["a", "hdr(a,1,2)", "x"], "fetch method 'hdr' takes at most 2 argument(s), got 3"),
    ("int-arg", ["a", "hdr(a,x)", "x"], "fetch method 'hdr': argument 2 must be an integer, got 'x'"),
    ("unclosed-args", ["a", "hdr(host", "x"], "missing closing ')' after arguments to 'hdr'"),
    ("garbage-after", ["a", "path/x", "x"], "missing comma after 'path'"),
    ("bad-flag", ["a", "path", "-x", "/"], "'-x' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'"),
    ("bad-method", ["a", "path", "-m", "bg", "/"], "unknown matching method 'bg' when parsing ACL expression; did you mean 'beg'?"),
    ("regm-method", ["a", "path", "-m", "regm", "x"], "matching method 'regm' is not supported by balancekit"),
    ("bin-odd", ["a", "req.payload(0,2)", "-m", "bin", "0"], "an even number of hex digit is expected"),
    ("bin-not-hex", ["a", "req.payload(0,2)", "-m", "bin", "zz"], "an hex digit is expected (found 'z')"),
    ("bin-as-int", ["a", "req.payload(0,2)", "-m", "int", "1"], "matching method 'int' cannot be used with fetch keyword 'req.payload'"),
    ("payload-lv-length", ["a", "req.payload_lv(0,0)", "-m", "found"], "invalid args in fetch method 'req.payload_lv' : payload length must be > 0"),
    ("payload-lv-offset1", ["a", "req.payload_lv(-1,1)", "-m", "found"], "invalid args in fetch method 'req.payload_lv' : payload offset1 must be positive"),
    ("payload-lv-offset2", ["a", "payload_lv(0,1,x)", "-m", "found"], "in argument to 'payload_lv', payload offset2 is not a number"),
    ("payload-lv-negative", ["a", "payload_lv(0,1,-5)", "-m", "found"], "in argument to 'payload_lv', payload offset2 too negative"),
    ("method-missing", ["a", "path", "-m"], "missing matching method after '-m'"),
    ("method-incompatible", ["a", "ssl_fc", "-m", "ip", "1.2.3.4"], "matching method 'ip' cannot be used with fetch keyword 'ssl_fc'"),
    ("meth-int", ["a", "method", "-m", "int", "1"], "matching method 'int' cannot be used with fetch keyword 'method'"),
    ("file-missing-arg", ["a", "path", "-f"], "missing file name after '-f'"),
    ("file-absent", ["a", "path", "-f", "/nonexistent/x.lst"], "failed to open pattern file </nonexistent/x.lst>"),
    ("m-after-f", ["a", "path", "-f", "{tmp}/ok", "-m", "beg"], "'-m' must only be specified before patterns and files"),
    ("dash-u", ["a", "path", "-u", "x", "/"], "the argument of -u must be an integer"),
    ("dash-M", ["a", "path", "-M", "/"], "'-M' (load a map file) is not supported in ACLs"),
    ("bad-cidr", ["a", "src", "10.0.0.0/40"], "acl 'src': '10.0.0.0/40' is not a valid IPv4 or IPv6 address"),
    ("bad-ip", ["a", "src", "300.1.1.1"], "'300.1.1.1' is not a valid IPv4 or IPv6 address"),
    ("bad-regex", ["a", "path_reg", "(unclosed"], "acl 'path_reg': regex '(unclosed' is invalid"),
    ("bad-int", ["a", "dst_port", "http"], "acl 'dst_port': 'http' is not a number"),
    ("bad-range", ["a", "dst_port", "90:80"], "'90:80' is not a valid number range"),
    ("bad-operand", ["a", "dst_port", "gt", "x"], "'x' is neither a number nor a supported operator"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("words", "message"), [c[1:] for c in DEFINE_ERRORS], ids=[c[0] for c in DEFINE_ERRORS]
)
def test_define_errors(words: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "ok").write_text("/x\n")
    words = [w.replace("{tmp}", str(tmp_path)) for w in words]
    with pytest.raises(ConfigError) as info:
        AclSet().define(words, file="haproxy.cfg", line=12)
    assert info.value.file == "haproxy.cfg" and info.value.line == 12
    assert message in str(info.value)
    assert str(info.value).startswith("haproxy.cfg:12: ")


def test_bad_pattern_in_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "ips.lst").write_text("127.0.0.1\n127.0.0.999\n")
    with pytest.raises(ConfigError) as info:
        AclSet().define(["a", "src", "-f", "ips.lst"], file="h.cfg", line=3, base_dir=str(tmp_path))
    text = str(info.value)
    assert "'127.0.0.999' is not a valid IPv4 or IPv6 address" in text
    assert "in pattern file 'ips.lst' (pattern 2)" in text


CONDITION_ERRORS = [
    ("no-such-acl", ["if", "is_statc"], "no such ACL : 'is_statc'; did you mean 'is_static'?"),
    ("no-such-acl-nohint", ["if", "qqqq"], "no such ACL : 'qqqq'"),
    ("predefined-hint", ["if", "METH_PST"], "did you mean 'METH_POST'?"),
    ("no-polarity", ["when", "is_static"], "conditions must start with either 'if' or 'unless' (got 'when')"),
    ("unclosed-brace", ["if", "{", "path", "/x"], "missing closing '}' in condition"),
    ("stray-brace", ["if", "is_static", "}"], "unexpected '}' in condition"),
    ("empty-brace", ["if", "{", "}"], "empty anonymous ACL"),
    ("bad-anonymous", ["if", "{", "pth", "/x", "}"], "unknown fetch method 'pth'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("words", "message"),
    [c[1:] for c in CONDITION_ERRORS],
    ids=[c[0] for c in CONDITION_ERRORS],
)
def test_condition_errors(words: list[str], message: str) -> None:
    acls = AclSet()
    acls.define(["is_static", "path_beg", "/static"])
    with pytest.raises(ConfigError) as info:
        acls.condition(words, file="haproxy.cfg", line=30)
    assert message in str(info.value)
    assert (info.value.file, info.value.line) == ("haproxy.cfg", 30)


def test_acl_used_before_declaration_is_an_error() -> None:
    acls = AclSet()
    with pytest.raises(ConfigError, match="no such ACL : 'later'"):
        acls.condition(["if", "later"])
