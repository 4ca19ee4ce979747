"""Converters of HAProxy 2.6's sample.c and http_conv.c beyond the string basics.

Encodings (`base64`, `b64dec`, `ub64enc`, `ub64dec`, `hex`, `hex2i`, `json`,
`url_dec`), slicing (`bytes`, `ltrim`, `rtrim`, `cut_crlf`, `host_only`,
`port_only`), integer arithmetic with HAProxy's saturation (`add`, `sub`, `mul`,
`div`, `mod`, `neg`, `and`, `or`, `xor`, `cpl`, `odd`, `even`, `htonl`), hashes
(`crc32`, `crc32c`, `djb2`, `sdbm`, `wt6`, `xxh32`, `xxh64`, `xxh3`, `sha1`) and
`iif`.  Each behaves as its C counterpart does on the edge cases a rule can reach
(a division by zero is the largest integer, an invalid encoding is no sample),
checked against HAProxy 2.6.

They register themselves into `fetches.CONVERTERS` when `balancekit.acl` loads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable
from typing import cast

from ..hashing import crc32, crc32c, djb2, full_hash, sdbm, wt6, xxh32, xxh64
from ..variables import VarError, parse_var_name
from .fetches import (
    CONVERTERS,
    ConverterDef,
    ConvFn,
    FetchError,
    Value,
    VarArgs,
    cast_function,
    prepare_time_unit,
    sample_type,
)
from .patterns import str_to_int

__all__ = ["MORE_CONVERTERS"]

_MAX = (1 << 63) - 1
_MIN = -(1 << 63)


def _bin(value: Value) -> bytes:
    return cast(bytes, value)


def _base64(value: Value, args: tuple[object, ...]) -> Value | None:
    return base64.b64encode(_bin(value)).decode("ascii")


def _b64dec(value: Value, args: tuple[object, ...]) -> Value | None:
    try:
        return base64.b64decode(str(value).encode("latin-1"), validate=True)
    except (binascii.Error, ValueError):
        return None


def _ub64enc(value: Value, args: tuple[object, ...]) -> Value | None:
    return base64.urlsafe_b64encode(_bin(value)).decode("ascii").rstrip("=")


def _ub64dec(value: Value, args: tuple[object, ...]) -> Value | None:
    text = str(value)
    if len(text) % 4 == 1:
        return None
    try:
        padded = (text + "=" * (-len(text) % 4)).encode("latin-1")
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None


def _hex(value: Value, args: tuple[object, ...]) -> Value | None:
    return _bin(value).hex().upper()


def _hex2i(value: Value, args: tuple[object, ...]) -> Value | None:
    """Hex digits to an integer (64-bit, wrapping as C's shifts do); any other
    character is no sample."""
    number = 0
    for ch in str(value):
        digit = int(ch, 16) if ch in "0123456789abcdefABCDEF" else -1
        if digit < 0:
            return None
        number = _wrap((number << 4) + digit)
    return number


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f",
                 "\r": "\\r", "\n": "\\n", "\t": "\\t"}  # fmt: skip
_JSON_MODES = ("ascii", "utf8", "utf8s", "utf8p", "utf8ps")


def _prepare_json(args: tuple[object, ...]) -> tuple[object, ...]:
    mode = str(args[0]) if args and args[0] != "" else "ascii"
    if mode not in _JSON_MODES:
        raise FetchError(
            f"converter 'json': Unexpected input code type '{mode}'. "
            "Allowed value are 'ascii', 'utf8', 'utf8s', 'utf8p' and 'utf8ps'"
        )
    return (mode,)


def _json(value: Value, args: tuple[object, ...]) -> Value | None:
    """JSON string escaping: in `ascii` mode each byte is a character; the utf8
    modes read UTF-8 (`s`: skip what is invalid, else no sample; `p`: accept
    overlong forms, which Python's decoder never produces, so they read as invalid)."""
    mode = str(args[0])
    data = str(value).encode("latin-1", "replace")
    if mode == "ascii":
        chars = [chr(b) for b in data]
    else:
        strict = not mode.endswith("s")  # raises UnicodeDecodeError: no sample
        chars = list(data.decode("utf-8", "strict" if strict else "ignore"))
        if any(ord(ch) > 0xFFFF for ch in chars):
            if strict:
                return None
            chars = [ch for ch in chars if ord(ch) <= 0xFFFF]
    out: list[str] = []
    for ch in chars:
        code = ord(ch)
        escaped = _JSON_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif code > 0xFF or not 0x20 <= code < 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _json_safe(value: Value, args: tuple[object, ...]) -> Value | None:
    try:
        return _json(value, args)
    except UnicodeDecodeError:
        return None


def _bytes(value: Value, args: tuple[object, ...]) -> Value | None:
    data = _bin(value)
    offset = cast(int, args[0])
    if len(data) <= offset:
        return b""
    data = data[offset:]
    if len(args) > 1 and cast(int, args[1]) < len(data):
        data = data[: cast(int, args[1])]
    return data


def _ltrim(value: Value, args: tuple[object, ...]) -> Value | None:
    return str(value).lstrip(str(args[0]))


def _rtrim(value: Value, args: tuple[object, ...]) -> Value | None:
    return str(value).rstrip(str(args[0]))


def _cut_crlf(value: Value, args: tuple[object, ...]) -> Value | None:
    text = str(value)
    cuts = [at for at in (text.find("\r"), text.find("\n")) if at >= 0]
    return text[: min(cuts)] if cuts else text


def _port_separator(text: str) -> int:
    """Where the `:port` of a Host value starts (-1: none), as HAProxy scans it
    from the end, stopping at `]` (an IPv6 literal)."""
    for at in range(len(text) - 1, -1, -1):
        if text[at] in ":]":
            return at if text[at] == ":" else -1
    return -1


def _host_only(value: Value, args: tuple[object, ...]) -> Value | None:
    text = str(value)
    at = _port_separator(text)
    return (text[:at] if at >= 0 else text).lower()


def _port_only(value: Value, args: tuple[object, ...]) -> Value | None:
    text = str(value)
    at = _port_separator(text)
    digits = ""
    for ch in text[at + 1 :] if at >= 0 else "":
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0


def _url_dec(value: Value, args: tuple[object, ...]) -> Value | None:
    """`%XX` decoded (`+` as a space when the argument is non-zero, or after a `?`);
    a malformed escape is no sample, as in HAProxy's url_decode."""
    data = str(value).encode("latin-1", "replace")
    in_form = bool(args and cast(int, args[0]))
    out = bytearray()
    at = 0
    while at < len(data):
        byte = data[at]
        if byte == ord("?"):
            in_form = True
        if byte == ord("+") and in_form:
            out.append(ord(" "))
        elif byte == ord("%"):
            pair = data[at + 1 : at + 3]
            if len(pair) < 2 or not all(chr(b) in "0123456789abcdefABCDEF" for b in pair):
                return None
            out.append(int(pair, 16))
            at += 2
        else:
            out.append(byte)
        at += 1
    return out.decode("latin-1")


# -- integers ---------------------------------------------------------------------------


def _wrap(number: int) -> int:
    """A result as C's 64-bit signed arithmetic leaves it."""
    number &= 0xFFFFFFFFFFFFFFFF
    return number - (1 << 64) if number > _MAX else number


def _arith_add(a: int, b: int) -> int:
    """sample.c's arith_add, saturating as it does, its unchecked `LLONG_MAX - a`
    included (two negatives near the lower limit saturate high, as in HAProxy)."""
    if (a ^ b) >= 0:
        if a < 0 and _MIN - a > b:
            return _MIN
        if _wrap(_MAX - a) < b:
            return _MAX
    return _wrap(a + b)


def _prepare_operand(args: tuple[object, ...]) -> tuple[object, ...]:
    """HAProxy's check_operator: an integer, or a variable's name (read per request)."""
    text = str(args[0])
    try:
        return (int(text, 10),)
    except ValueError:
        pass
    try:
        return VarArgs((parse_var_name(text),))
    except VarError:
        raise FetchError(f"failed to parse '{text}' as an integer or a variable name") from None


def _operand(args: tuple[object, ...]) -> int | None:
    """The integer operand: given, or a variable's value cast to an integer (None:
    no such variable, or not a number: the converter yields nothing)."""
    value = args[0]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return str_to_int(value) if value else None  # c_str2int: an empty one fails
    return None


def _text(value: object) -> str | None:
    """A variable's value as a string (sample.c's cast to SMP_T_STR), or None."""
    if value is None:
        return None
    converted = cast_function(sample_type(value), "str")(value)
    return None if converted is None else str(converted)


def _prepare_concat(args: tuple[object, ...]) -> tuple[object, ...]:
    """`concat(<prefix>[,<var>[,<suffix>]])` and `add_item(<delim>[,<var>[,<suffix>]])`:
    the middle argument names a variable."""
    first = str(args[0]) if args else ""
    last = str(args[2]) if len(args) > 2 else ""
    name = str(args[1]) if len(args) > 1 else ""
    if not name:
        return (first, None, last)
    try:
        return VarArgs((first, parse_var_name(name), last))
    except VarError as exc:
        raise FetchError(f"failed to register variable name '{name}': {exc}") from None


def _concat(value: Value, args: tuple[object, ...]) -> Value | None:
    middle = _text(args[1]) or ""
    return f"{value}{args[0]}{middle}{args[2]}"


def _add_item(value: Value, args: tuple[object, ...]) -> Value | None:
    """The delimiter only between a non-empty input and something to add."""
    text, middle, suffix = str(value), _text(args[1]), str(args[2])
    adding = (middle or "") + suffix
    return text + (str(args[0]) if text and (middle or suffix) else "") + adding


def _prepare_strcmp(args: tuple[object, ...]) -> tuple[object, ...]:
    try:
        return VarArgs((parse_var_name(str(args[0])),))
    except VarError as exc:
        raise FetchError(f"failed to register variable name '{args[0]}': {exc}") from None


def _strcmp(value: Value, args: tuple[object, ...]) -> Value | None:
    """glibc's strncmp over the shorter length (the first differing bytes'
    difference), then -1/1 when one is a prefix of the other."""
    other = _text(args[0])
    if other is None:
        return None
    mine, theirs = str(value).encode("latin-1", "replace"), other.encode("latin-1", "replace")
    for a, b in zip(mine, theirs, strict=False):
        if a != b:
            return a - b
    if len(mine) == len(theirs):
        return 0
    return -1 if len(mine) < len(theirs) else 1


def _add(value: Value, args: tuple[object, ...]) -> Value | None:
    b = _operand(args)
    return None if b is None else _arith_add(cast(int, value), b)


def _sub(value: Value, args: tuple[object, ...]) -> Value | None:
    a, b = cast(int, value), _operand(args)
    if b is None:
        return None
    if b == _MIN:  # -LLONG_MIN does not exist: add LLONG_MAX, then one more
        result = _arith_add(a, _MAX)
        return result + 1 if result < _MAX else result
    return _arith_add(a, -b)


def _mul(value: Value, args: tuple[object, ...]) -> Value | None:
    a, b = cast(int, value), _operand(args)
    if b is None:
        return None
    if not a or not b:
        return 0
    if a == _MIN and b == -1:
        return _MAX
    product = _wrap(a * b)
    if a != _truncated_division(product, b)[0]:
        return _MAX if (a < 0) == (b < 0) else _MIN
    return product


def _truncated_division(a: int, b: int) -> tuple[int, int]:
    """C's `/` and `%`: the quotient rounds toward zero."""
    quotient = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        quotient = -quotient
    return quotient, a - quotient * b


def _div(value: Value, args: tuple[object, ...]) -> Value | None:
    a, b = cast(int, value), _operand(args)
    if b is None:
        return None
    if b == 0:
        return _MAX
    if a == _MIN and b == -1:
        return _MAX
    return _truncated_division(a, b)[0]


def _mod(value: Value, args: tuple[object, ...]) -> Value | None:
    a, b = cast(int, value), _operand(args)
    if b is None:
        return None
    if b == 0 or (a == _MIN and b == -1):
        return 0
    return _truncated_division(a, b)[1]


def _neg(value: Value, args: tuple[object, ...]) -> Value | None:
    number = cast(int, value)
    return _MAX if number == _MIN else -number


def _and(value: Value, args: tuple[object, ...]) -> Value | None:
    b = _operand(args)
    return None if b is None else _wrap(cast(int, value) & b)


def _or(value: Value, args: tuple[object, ...]) -> Value | None:
    b = _operand(args)
    return None if b is None else _wrap(cast(int, value) | b)


def _xor(value: Value, args: tuple[object, ...]) -> Value | None:
    b = _operand(args)
    return None if b is None else _wrap(cast(int, value) ^ b)


def _cpl(value: Value, args: tuple[object, ...]) -> Value | None:
    return _wrap(~cast(int, value))


def _odd(value: Value, args: tuple[object, ...]) -> Value | None:
    return bool(cast(int, value) & 1)


def _even(value: Value, args: tuple[object, ...]) -> Value | None:
    return not cast(int, value) & 1


def _htonl(value: Value, args: tuple[object, ...]) -> Value | None:
    return (cast(int, value) & 0xFFFFFFFF).to_bytes(4, "big")


def _iif(value: Value, args: tuple[object, ...]) -> Value | None:
    return str(args[0]) if value else str(args[1])


# -- hashes -----------------------------------------------------------------------------


def _hash32(function: Callable[[bytes], int]) -> ConvFn:
    """A 32-bit hash converter; a non-zero argument applies HAProxy's avalanche."""

    def convert(value: Value, args: tuple[object, ...]) -> Value | None:
        number = function(_bin(value))
        return full_hash(number) if args and cast(int, args[0]) else number

    return convert


def _xxh64(value: Value, args: tuple[object, ...]) -> Value | None:
    seed = cast(int, args[0]) & 0xFFFFFFFFFFFFFFFF if args else 0
    return _wrap(xxh64(_bin(value), seed))


def _xxh32(value: Value, args: tuple[object, ...]) -> Value | None:
    return xxh32(_bin(value), cast(int, args[0]) if args else 0)


def _prepare_xxh3(args: tuple[object, ...]) -> tuple[object, ...]:
    """XXH3 comes from the `xxhash` package (balancekit-server installs it): a config
    using `xxh3` without it is refused at its line rather than failing on traffic."""
    try:
        import xxhash
    except ImportError:
        raise FetchError(
            "converter 'xxh3' needs the 'xxhash' package (pip install xxhash)"
        ) from None
    seed = cast(int, args[0]) & 0xFFFFFFFFFFFFFFFF if args else 0
    return (xxhash.xxh3_64_intdigest, seed)


def _xxh3(value: Value, args: tuple[object, ...]) -> Value | None:
    digest = cast(Callable[..., int], args[0])
    return _wrap(digest(_bin(value), seed=args[1]))


def _sha1(value: Value, args: tuple[object, ...]) -> Value | None:
    return hashlib.sha1(_bin(value)).digest()


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _http_date(value: Value, args: tuple[object, ...]) -> Value | None:
    """`http_date([<offset>][,<unit>])`: a date (in that unit) as in HTTP headers; a
    unit other than `s` adds the fraction of the second, as HAProxy prints it."""
    offset, per_second, with_unit = cast(tuple[int, int, bool], args)
    stamp = cast(int, value) + offset
    seconds, fraction = divmod(stamp, per_second) if per_second > 1 else (stamp, 0)
    when = time.gmtime(seconds & 0x007FFFFFFFFFFFFF)
    text = (
        f"{_DAYS[when.tm_wday]}, {when.tm_mday:02d} {_MONTHS[when.tm_mon - 1]} "
        f"{when.tm_year:04d} {when.tm_hour:02d}:{when.tm_min:02d}:{when.tm_sec:02d}"
    )
    return f"{text}.{fraction} GMT" if with_unit and per_second > 1 else f"{text} GMT"


MORE_CONVERTERS: dict[str, ConverterDef] = {
    c.name: c
    for c in (
        ConverterDef("base64", "bin", "str", _base64),
        ConverterDef("b64dec", "str", "bin", _b64dec),
        ConverterDef("ub64enc", "bin", "str", _ub64enc),
        ConverterDef("ub64dec", "str", "bin", _ub64dec),
        ConverterDef("hex", "bin", "str", _hex),
        ConverterDef("hex2i", "str", "sint", _hex2i),
        ConverterDef("json", "str", "str", _json_safe, ("str",), 0, _prepare_json),
        ConverterDef("url_dec", "str", "str", _url_dec, ("int",)),
        ConverterDef("bytes", "bin", "bin", _bytes, ("int", "int"), 1),
        ConverterDef("ltrim", "str", "str", _ltrim, ("str",), 1),
        ConverterDef("rtrim", "str", "str", _rtrim, ("str",), 1),
        ConverterDef("cut_crlf", "str", "str", _cut_crlf),
        ConverterDef("host_only", "str", "str", _host_only),
        ConverterDef("port_only", "str", "sint", _port_only),
        ConverterDef("add", "sint", "sint", _add, ("str",), 1, _prepare_operand),
        ConverterDef("sub", "sint", "sint", _sub, ("str",), 1, _prepare_operand),
        ConverterDef("mul", "sint", "sint", _mul, ("str",), 1, _prepare_operand),
        ConverterDef("div", "sint", "sint", _div, ("str",), 1, _prepare_operand),
        ConverterDef("mod", "sint", "sint", _mod, ("str",), 1, _prepare_operand),
        ConverterDef("and", "sint", "sint", _and, ("str",), 1, _prepare_operand),
        ConverterDef("or", "sint", "sint", _or, ("str",), 1, _prepare_operand),
        ConverterDef("xor", "sint", "sint", _xor, ("str",), 1, _prepare_operand),
        ConverterDef("neg", "sint", "sint", _neg),
        ConverterDef("cpl", "sint", "sint", _cpl),
        ConverterDef("odd", "sint", "bool", _odd),
        ConverterDef("even", "sint", "bool", _even),
        ConverterDef("htonl", "sint", "bin", _htonl),
        ConverterDef("iif", "bool", "str", _iif, ("str", "str"), 2),
        ConverterDef("concat", "str", "str", _concat, ("str", "str", "str"), 1, _prepare_concat),
        ConverterDef(
            "add_item", "str", "str", _add_item, ("str", "str", "str"), 1, _prepare_concat
        ),
        ConverterDef("strcmp", "str", "sint", _strcmp, ("str",), 1, _prepare_strcmp),
        ConverterDef("crc32", "bin", "sint", _hash32(crc32), ("int",)),
        ConverterDef("crc32c", "bin", "sint", _hash32(crc32c), ("int",)),
        ConverterDef("xxh32", "bin", "sint", _xxh32, ("int",)),
        ConverterDef("xxh3", "bin", "sint", _xxh3, ("int",), 0, _prepare_xxh3),
        ConverterDef("djb2", "bin", "sint", _hash32(djb2), ("int",)),
        ConverterDef("sdbm", "bin", "sint", _hash32(sdbm), ("int",)),
        ConverterDef("wt6", "bin", "sint", _hash32(wt6), ("int",)),
        ConverterDef("xxh64", "bin", "sint", _xxh64, ("int",)),
        ConverterDef("sha1", "bin", "bin", _sha1),
        ConverterDef("http_date", "sint", "str", _http_date, ("int", "str"), 0, prepare_time_unit),
    )
}

CONVERTERS.update(MORE_CONVERTERS)
