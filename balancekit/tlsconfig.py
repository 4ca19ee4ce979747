"""TLS contexts: termination for `bind … ssl crt <file|dir>`, and the client side
for `server … ssl` and `check-ssl`, built at load.

HAProxy's `crt` is a PEM holding the certificate chain *and* its key, or a
directory of such files; with several certificates the one whose names match
the client's SNI is served, and the first loaded is the default.  The context is
built where the configuration is read (`balancekit.config` attaches it to each
`Bind`), so a bad file fails `balancekit-server -c` with its path and line, as
`haproxy -c` does, not the start or the first handshake.  Only the standard
library's `ssl` is used: no socket is opened here.

The server side follows HAProxy's rules for talking TLS to a server: `verify
required` (the default) checks the chain against `ca-file` and, when an SNI is
sent, the certificate's names against it; `verify none` checks nothing; `sni`
is a sample expression evaluated per connection (`SniExpr`).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .acl.fetches import FetchError, SampleExpr, _split_args, format_sample, parse_sample_expr
from .request import Request
from .tls_openssl import (
    OpenSSLUnavailable,
    key_bits,
    set_ciphersuites,
    set_dh_group,
    set_dh_params,
    set_groups,
)

__all__ = [
    "CertEntry",
    "DhParams",
    "ServerTls",
    "SniExpr",
    "TLSConfigError",
    "apply_options",
    "cert_names",
    "client_context",
    "parse_sni",
    "read_crt_list",
    "server_context",
]


class TLSConfigError(ValueError):
    """A `crt` file or directory that cannot be used, with its path in the message."""


def _pem_files(crt: str) -> list[Path]:
    path = Path(crt)
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix not in (".key", ".ocsp", ".issuer", ".sctl")
        )
        if not files:
            raise TLSConfigError(f"crt '{crt}': directory holds no certificate")
        return files
    if not path.exists():
        raise TLSConfigError(f"crt '{crt}': no such file or directory")
    return [path]


def cert_names(pem: str | os.PathLike[str]) -> list[str]:
    """The DNS names a PEM certificate is valid for (SAN entries, else the CN)."""
    try:
        decoded = ssl._ssl._test_decode_cert(str(pem))  # type: ignore[attr-defined]
    except (ssl.SSLError, OSError) as exc:
        raise TLSConfigError(f"crt '{pem}': cannot read certificate: {exc}") from None
    names = [value for kind, value in decoded.get("subjectAltName", ()) if kind == "DNS"]
    if not names:
        for rdn in decoded.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    names.append(value)
    return [n.lower() for n in names]


_VERSIONS = {
    "SSLv3": ssl.TLSVersion.SSLv3,
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


_NO_VERSION = {
    ssl.TLSVersion.TLSv1: ssl.OP_NO_TLSv1,
    ssl.TLSVersion.TLSv1_1: ssl.OP_NO_TLSv1_1,
    ssl.TLSVersion.TLSv1_2: ssl.OP_NO_TLSv1_2,
    ssl.TLSVersion.TLSv1_3: ssl.OP_NO_TLSv1_3,
}


def apply_options(
    ctx: ssl.SSLContext,
    ciphers: str | None,
    options: Iterable[str],
    *,
    ciphersuites: str | None = None,
    curves: str | None = None,
) -> None:
    """`ciphers`, `ciphersuites`, `curves` and the TLS options
    (`ssl-default-bind-options`, then a bind's own): the last
    `ssl-min-ver`/`ssl-max-ver`/`force-*` wins, the `no-*` flags add up, and the
    versions left between the bounds are offered (ssl_sock_prepare_ctx).  With no
    minimum, TLSv1.2 is the lowest, as with Debian's OpenSSL under HAProxy."""
    if ciphers is not None:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise TLSConfigError(f"unable to set SSL cipher list to '{ciphers}'") from None
    try:
        if ciphersuites is not None:
            set_ciphersuites(ctx, ciphersuites)
        if curves is not None:
            set_groups(ctx, curves)
    except (ValueError, OpenSSLUnavailable) as exc:
        raise TLSConfigError(str(exc)) from None
    low, high = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    disabled: set[ssl.TLSVersion] = set()
    for option in options:
        word, _, version = option.partition(" ")
        if word == "ssl-min-ver":
            low = _VERSIONS[version]
        elif word == "ssl-max-ver":
            high = _VERSIONS[version]
        elif word.startswith("force-tlsv1"):  # force-tlsv10 … force-tlsv13
            low = high = _VERSIONS[f"TLSv1.{word[-1]}"]
        elif word.startswith("no-tlsv1"):
            disabled.add(_VERSIONS[f"TLSv1.{word[-1]}"])
        elif word == "no-sslv3":
            disabled.add(ssl.TLSVersion.SSLv3)
        elif word == "no-tls-tickets":
            ctx.options |= ssl.OP_NO_TICKET
        elif word == "prefer-client-ciphers":
            ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    offered = [v for v in _VERSIONS.values() if low <= v <= high and v not in disabled]
    if not offered:
        raise TLSConfigError("all SSL/TLS versions are disabled")
    ctx.minimum_version, ctx.maximum_version = offered[0], offered[-1]
    for hole in disabled:
        if offered[0] < hole < offered[-1]:
            ctx.options |= _NO_VERSION[hole]


@dataclass(frozen=True, slots=True)
class DhParams:
    """Where DHE ciphers get their Diffie-Hellman group (ssl_sock_load_dh_params):
    parameters in the certificate's own file first, else the global
    `ssl-dh-param-file` (`pem`), else, when `tune.ssl.default-dh-param` is set
    (`default_bits`), RFC 7919's group of the certificate key's size, bounded by
    it.  With none of them HAProxy offers no DHE cipher, and neither does this."""

    pem: bytes | None = None
    default_bits: int = 0


def _use_dh(ctx: ssl.SSLContext, pem: Path, dh: DhParams, warnings: list[str]) -> None:
    text = pem.read_bytes()
    unusable = ", DH ciphers won't be available."
    if b"-----BEGIN DH PARAMETERS-----" in text:
        if not set_dh_params(ctx, text):
            warnings.append(f"unable to load the DH parameter specified in '{pem}'{unusable}")
    elif dh.pem is not None:
        if not set_dh_params(ctx, dh.pem):
            warnings.append(
                f"unable to use the global DH parameter for certificate '{pem}'{unusable}"
            )
    elif dh.default_bits:
        bits = min(key_bits(ctx), dh.default_bits)
        if dh.default_bits <= 1024:
            # HAProxy's 1024-bit group, which OpenSSL 3 refuses at its security level.
            warnings.append(
                f"unable to load default 1024 bits DH parameter for certificate '{pem}'." + unusable
            )
        elif bits >= 2048:
            set_dh_group(ctx, 4096 if bits >= 4096 else 2048)


def _load(
    pem: Path,
    ciphers: str | None,
    options: Iterable[str],
    ciphersuites: str | None,
    curves: str | None,
    dh: DhParams,
    warnings: list[str],
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    apply_options(ctx, ciphers, options, ciphersuites=ciphersuites, curves=curves)
    key = pem.with_name(pem.name + ".key")  # HAProxy also accepts the key beside the cert
    try:
        ctx.load_cert_chain(str(pem), str(key) if key.exists() else None)
        _use_dh(ctx, pem, dh, warnings)
    except (ssl.SSLError, OSError) as exc:
        raise TLSConfigError(f"crt '{pem}': unable to load certificate and key: {exc}") from None
    except OpenSSLUnavailable as exc:
        raise TLSConfigError(str(exc)) from None
    return ctx


@dataclass(frozen=True, slots=True)
class CertEntry:
    """One certificate a bind serves: a `crt` file, or a line of a `crt-list`.

    `filters` are the line's SNI filters (`*.example.com`, `!skip.example.com`);
    none means the certificate's own names.  The other fields are the line's
    `[…]` options, which replace the bind's for this certificate (None: the bind's)."""

    pem: str
    filters: tuple[str, ...] = ()
    alpn: tuple[str, ...] | None = None
    ciphers: str | None = None
    options: tuple[str, ...] = ()
    verify: str | None = None
    ca_file: str | None = None


#: What a crt-list line may say between `[` and `]` (HAProxy's ssl_crtlist_kws that
#: balancekit applies); the others are named as unsupported.
_LINE_OPTIONS = ("alpn", "ciphers", "ssl-min-ver", "ssl-max-ver", "verify", "ca-file")
_HAPROXY_LINE_OPTIONS = frozenset(
    ("allow-0rtt", "ca-verify-file", "ciphersuites", "crl-file", "curves", "ecdhe",
     "no-ca-names", "npn")
)  # fmt: skip


def read_crt_list(path: str, crt_base: str | None = None) -> list[CertEntry]:
    """A `crt-list` file: `<crt> [[<options>]] [[!]<sni filter> …]` per line, `#`
    comments; paths relative to `crt-base`.  Errors name the file and line."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise TLSConfigError(f"crt-list '{path}': {exc.strerror}") from None
    entries: list[CertEntry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            try:
                entries.append(_crt_list_line(line, crt_base))
            except TLSConfigError as exc:
                raise TLSConfigError(f"parsing [{path}:{number}]: {exc}") from None
    if not entries:
        raise TLSConfigError(f"crt-list '{path}': no certificate")
    return entries


def _crt_list_line(line: str, crt_base: str | None) -> CertEntry:
    crt, _, rest = line.partition(" ")
    if crt.startswith("["):
        raise TLSConfigError("file must start with a cert")
    options: list[str] = []
    if rest.lstrip().startswith("["):
        inside, bracket, rest = rest.lstrip()[1:].partition("]")
        if not bracket:
            raise TLSConfigError("missing ']'")
        options = inside.split()
    fields: dict[str, object] = {}
    versions: list[str] = []
    while options:
        word = options.pop(0)
        if word in _HAPROXY_LINE_OPTIONS:
            raise TLSConfigError(
                f"'{word}' is an HAProxy crt-list option balancekit does not support"
            )
        if word not in _LINE_OPTIONS:
            raise TLSConfigError(f"unknown ssl keyword {word}")
        if not options:
            raise TLSConfigError(f"ssl args out of '[]' for {word}")
        value = options.pop(0)
        if word == "alpn":
            fields["alpn"] = tuple(p for p in value.split(",") if p)
        elif word in ("ssl-min-ver", "ssl-max-ver"):
            if value not in _VERSIONS:
                raise TLSConfigError(f"'{value}' : unknown ssl/tls version")
            versions.append(f"{word} {value}")
        elif word == "ca-file":
            fields["ca_file"] = value
        else:
            fields[word] = value
    path = crt if os.path.isabs(crt) or not crt_base else os.path.join(crt_base, crt)
    return CertEntry(path, tuple(rest.split()), options=tuple(versions), **fields)  # type: ignore[arg-type]


def server_context(
    crts: str | Iterable[str],
    *,
    alpn: Iterable[str] = (),
    ciphers: str | None = None,
    options: Iterable[str] = (),
    ca_file: str | None = None,
    verify: str = "none",
    strict_sni: bool = False,
    entries: Iterable[CertEntry] = (),
    ciphersuites: str | None = None,
    curves: str | None = None,
    dh: DhParams = DhParams(),
    warnings: list[str] | None = None,
) -> ssl.SSLContext:
    """An SSLContext serving every certificate in `crts` (files or directories) and
    `entries` (`crt-list` lines).

    The first certificate is the default; others are chosen by SNI through an
    `sni_callback` that swaps in the per-certificate context, an exact name before
    a wildcard one, as HAProxy looks them up; with `strict_sni`, a handshake whose
    SNI (or lack of one) matches none is refused with the `unrecognized_name`
    alert.  `ciphers`, `ciphersuites`, `curves` and `options` are the bind's with
    the global `ssl-default-bind-*` ones (see `apply_options`); `verify` (`optional`,
    `required`) asks for a client certificate checked against `ca_file`.  A
    crt-list line's own options replace the bind's for its certificate.  `dh` says
    where DHE ciphers get their group; what HAProxy would warn about goes to `warnings`.
    """
    notes = warnings if warnings is not None else []
    paths = [crts] if isinstance(crts, str) else list(crts)
    certs = [CertEntry(str(f)) for crt in paths for f in _pem_files(crt)]
    certs += list(entries)
    if not certs:
        raise TLSConfigError("ssl: no crt given")
    options = tuple(options)
    exact: dict[str, ssl.SSLContext] = {}
    wildcard: dict[str, ssl.SSLContext] = {}
    excluded: set[tuple[str, int]] = set()
    contexts = []
    for cert in certs:
        for pem in _pem_files(cert.pem):
            ctx = _load(
                pem,
                cert.ciphers or ciphers,
                (*options, *cert.options),
                ciphersuites,
                curves,
                dh,
                notes,
            )
            protocols = list(cert.alpn if cert.alpn is not None else alpn)
            if protocols:
                ctx.set_alpn_protocols(protocols)
            mode = cert.verify or verify
            if mode != "none":
                if (cert.ca_file or ca_file) is None:
                    raise TLSConfigError("verify is enabled but no CA file specified")
                _verify_clients(ctx, cert.ca_file or ca_file, required=mode == "required")
            contexts.append(ctx)
            names = [f for f in cert.filters if not f.startswith("!")] or cert_names(pem)
            excluded.update((f[1:].lower(), id(ctx)) for f in cert.filters if f.startswith("!"))
            for name in names:
                table = wildcard if name.startswith("*.") else exact
                table.setdefault(name.lower().removeprefix("*."), ctx)
    default = contexts[0]

    def pick(wanted: str) -> ssl.SSLContext | None:
        ctx = exact.get(wanted)
        if ctx is None and "." in wanted:
            ctx = wildcard.get(wanted.split(".", 1)[1])
        return None if ctx is None or (wanted, id(ctx)) in excluded else ctx

    def on_sni(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: object) -> int | None:
        # Remember the name for `req.ssl_sni` ACLs, then serve the matching certificate.
        if not name:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME if strict_sni else None
        wanted = name.lower()
        sock.bk_sni = wanted  # type: ignore[union-attr]
        ctx = pick(wanted)
        if ctx is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME if strict_sni else None
        if ctx is not default:
            sock.context = ctx
        return None

    for ctx in contexts:
        ctx.sni_callback = on_sni
    return default


def _verify_clients(ctx: ssl.SSLContext, ca_file: str | None, *, required: bool) -> None:
    """`verify optional|required` with `ca-file`: the client's certificate is asked
    for and must chain to one of those CAs (`required`: and must be sent)."""
    try:
        ctx.load_verify_locations(cafile=ca_file)
    except (ssl.SSLError, OSError) as exc:
        raise TLSConfigError(f"unable to set CA file '{ca_file}' ({exc})") from None
    ctx.verify_mode = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL


def client_context(
    *, verify: bool = True, ca_file: str | None = None, check_hostname: bool = False
) -> ssl.SSLContext:
    """A context for connecting to a server over TLS (`server … ssl`, `check-ssl`).

    `verify` is `verify required`: the chain must lead to a CA of `ca_file` (the
    system's store when None, for library callers; the config refuses `verify
    required` without `ca-file`, as HAProxy does).  `check_hostname` also checks
    the certificate's names, which HAProxy does against the SNI it sends, so a
    context with it must only serve connections that send one.  As HAProxy's
    server side, TLSv1.2 is the minimum.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx.check_hostname = check_hostname
    if ca_file is None:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        return ctx
    try:
        ctx.load_verify_locations(cafile=ca_file)
    except (ssl.SSLError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TLSConfigError(f"Couldn't open the ca-file '{ca_file}' ({reason})") from None
    return ctx


@dataclass(frozen=True, slots=True)
class ServerTls:
    """How balancekit talks TLS to one server (`server … ssl`, `check-ssl`): the
    line's options after the global `ssl-default-server-*` ones, as HAProxy's
    ssl_sock_prepare_srv_ctx combines them.

    `crt` is the client certificate (with its key) the server may ask for;
    `options` are `ssl-default-server-options` words (`ssl-min-ver TLSv1.3`,
    `no-tlsv12`, `no-tls-tickets`…); `alpn` is what connections offer.
    """

    verify: bool = True
    ca_file: str | None = None
    crt: str | None = None
    ciphers: str | None = None
    ciphersuites: str | None = None
    options: tuple[str, ...] = ()
    alpn: tuple[str, ...] = ()

    def contexts(self, named: bool) -> tuple[ssl.SSLContext, ssl.SSLContext | None]:
        """The context of connections that send no SNI and, when `named` (the
        server has an `sni`), the one of those that do: HAProxy checks the
        certificate's names against the SNI it sends, and against nothing when
        it sends none."""
        return self.context(), self.context(check_hostname=self.verify) if named else None

    def context(
        self, *, check_hostname: bool = False, alpn: tuple[str, ...] | None = None
    ) -> ssl.SSLContext:
        """A new client context; `alpn` replaces the server's list (health checks'
        `check-alpn`).  Raises TLSConfigError with the file or setting at fault."""
        ctx = client_context(
            verify=self.verify, ca_file=self.ca_file, check_hostname=check_hostname
        )
        apply_options(ctx, self.ciphers, self.options, ciphersuites=self.ciphersuites)
        protocols = self.alpn if alpn is None else alpn
        if protocols:
            ctx.set_alpn_protocols(list(protocols))
        if self.crt is not None:
            pem = Path(self.crt)
            key = pem.with_name(pem.name + ".key")
            try:
                ctx.load_cert_chain(str(pem), str(key) if key.exists() else None)
            except (ssl.SSLError, OSError) as exc:
                raise TLSConfigError(
                    f"unable to load SSL certificate file '{self.crt}' ({exc})"
                ) from None
        return ctx


@dataclass(frozen=True, slots=True)
class SniExpr:
    """A server's `sni <expr>`, compiled once: the host name each new TLS connection
    announces.  `constant` is set for `str(<name>)`, the value of every connection
    (health checks can only use such one: they have no request)."""

    text: str
    constant: str | None = None
    expr: SampleExpr | None = None

    def value(self, request: Request) -> str:
        """The SNI for a connection opened for `request`; "" (send none) when the
        fetch finds nothing, as HAProxy sends no SNI then."""
        if self.constant is not None:
            return self.constant
        assert self.expr is not None
        sample = self.expr.single(request)
        return "" if sample is None else format_sample(sample)


def parse_sni(text: str) -> SniExpr:
    """Compile the `sni` server option: `str(<name>)` or any supported sample fetch
    with converters (`req.hdr(host)`, `ssl_fc_sni`, `req.hdr(host),lower`).

    Raises TLSConfigError with HAProxy's wording, so `-c` reports it at the line.
    """
    try:
        if text.startswith("str("):
            # A constant.  `str` is no ACL fetch in balancekit, so it is read here,
            # with the fetch argument rules (quotes, escapes) of every other fetch.
            args, end = _split_args(text, 3, "str")
            if end != len(text):
                raise FetchError("converters after 'str(…)' are not supported in 'sni'")
            if len(args) != 1:
                raise FetchError(f"fetch method 'str' expects 1 argument(s), got {len(args)}")
            return SniExpr(text, constant=args[0])
        return SniExpr(text, expr=parse_sample_expr(text))
    except FetchError as exc:
        raise TLSConfigError(f"error detected while parsing sni expression : {exc}") from None
