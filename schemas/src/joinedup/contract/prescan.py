"""A cheap structural pre-scan of an Avro body against its writer schema, before fastavro sees it.

fastavro 1.13 trusts the bytes: it accepts trailing garbage and loops for as long as an array claims items,
so a 7-byte record claiming 2^40 zero-size items hangs it. The scanner walks the body once without building
any value: it reads every varint (at most 10 bytes), checks every declared length and item count against the
bytes that remain and against the limits, checks union branches and booleans, and returns where the body
ends. Every item of a collection consumes at least one byte unless its type is always empty (``null``, a
record of nulls), so the work is bounded by the message size; always-empty items are only counted.

For speed a scanner is generated once per writer schema as straight-line Python (one function, varints
inlined), so a scan of a 1.1 KB record costs a small fraction of fastavro's decode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joinedup.contract.errors import LimitExceeded, Malformed, SchemaError, Truncated

Scan = Callable[[bytes, int], int]
"""``scan(buf, pos) -> position after the record``; raises a DecodeError, or IndexError when ``buf`` ends."""

_FIXED_WIDTH = {"float": 4, "double": 8}


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what a decoder accepts. The defaults suit joinedup's records."""

    max_message_bytes: int = 2 * 1024 * 1024
    """A whole message, header included (a dead letter carries a message of up to 1 MiB)."""
    max_string_bytes: int = 64 * 1024
    """One string value or map key (UTF-8 bytes)."""
    max_bytes_bytes: int = 1024 * 1024
    """One ``bytes`` value."""
    max_items: int = 10_000
    """Items in one array or map (summed over its blocks)."""


def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    """Read one zig-zag varint at ``pos``; return ``(value, next position)``."""
    byte = buf[pos]
    pos += 1
    value = byte & 0x7F
    shift = 7
    while byte & 0x80:
        if shift > 63:
            raise Malformed(f"varint longer than 10 bytes at offset {pos}")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
    return (value >> 1) ^ -(value & 1), pos


def _skip_long(buf: bytes, pos: int) -> int:
    return read_long(buf, pos)[1]


def _check_int(buf: bytes, pos: int) -> int:
    value, end = read_long(buf, pos)
    if value < -(2**31) or value > 2**31 - 1:
        raise Malformed(f"int out of 32-bit range at offset {pos}")
    return end


def compile_scanner(schema: Any, limits: Limits) -> Scan:
    """Generate the scanner of a self-contained writer schema (JSON form, named types inlined once)."""
    source = _Generator(limits).generate(schema)
    namespace: dict[str, Any] = {
        "read_long": read_long,
        "_skip_long": _skip_long,
        "_check_int": _check_int,
        "Malformed": Malformed,
        "Truncated": Truncated,
        "LimitExceeded": LimitExceeded,
    }
    # The source is generated from the schema's structure only (no names or values from it are embedded).
    exec(compile(source, "<joinedup prescan>", "exec"), namespace)  # noqa: S102
    scan: Scan = namespace["scan"]
    return scan


class _Generator:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.named: dict[str, Any] = {}
        self.lines: list[str] = []
        self.counter = 0
        self.active: set[str] = set()

    def generate(self, schema: Any) -> str:
        self.lines = ["def scan(buf, pos):", "    n = len(buf)"]
        self._value(schema, "", 1)
        self.lines.append("    return pos")
        return "\n".join(self.lines) + "\n"

    def _emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def _var(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    # ------------------------------------------------------------------ types
    def _value(self, schema: Any, namespace: str, depth: int) -> None:
        if isinstance(schema, list):
            self._union(schema, namespace, depth)
            return
        if isinstance(schema, str):
            if schema in self.named or _qualify(schema, namespace) in self.named:
                target = self.named.get(schema) or self.named[_qualify(schema, namespace)]
                self._value(target, namespace, depth)
            else:
                self._primitive(schema, depth)
            return
        if not isinstance(schema, dict):
            raise SchemaError(f"cannot scan schema element of type {type(schema).__name__}")
        kind = schema["type"]
        if kind in ("record", "error"):
            self._record(schema, namespace, depth)
        elif kind == "array":
            self._collection(schema["items"], namespace, depth, keyed=False)
        elif kind == "map":
            self._collection(schema["values"], namespace, depth, keyed=True)
        elif kind == "enum":
            self._register(schema, namespace)
            self._enum(len(schema["symbols"]), depth)
        elif kind == "fixed":
            self._register(schema, namespace)
            self._fixed(int(schema["size"]), depth)
        else:
            self._primitive(kind, depth)

    def _register(self, schema: dict[str, Any], namespace: str) -> str:
        name = _qualify(schema["name"], schema.get("namespace", namespace))
        self.named[name] = schema
        return name

    def _primitive(self, kind: str, depth: int) -> None:
        if kind == "null":
            return
        if kind == "boolean":
            self._emit(depth, "if buf[pos] > 1:")
            self._emit(depth + 1, 'raise Malformed(f"boolean byte is neither 0 nor 1 at offset {pos}")')
            self._emit(depth, "pos += 1")
        elif kind == "long":
            self._emit(depth, "if buf[pos] & 0x80:")
            self._emit(depth + 1, "pos = _skip_long(buf, pos)")
            self._emit(depth, "else:")
            self._emit(depth + 1, "pos += 1")
        elif kind == "int":
            self._emit(depth, "if buf[pos] & 0x80:")
            self._emit(depth + 1, "pos = _check_int(buf, pos)")
            self._emit(depth, "else:")
            self._emit(depth + 1, "pos += 1")
        elif kind in _FIXED_WIDTH:
            self._fixed(_FIXED_WIDTH[kind], depth)
        elif kind == "string":
            self._sized("string", self.limits.max_string_bytes, depth)
        elif kind == "bytes":
            self._sized("bytes", self.limits.max_bytes_bytes, depth)
        else:
            raise SchemaError(f"unknown type {kind} in writer schema")

    def _read_long(self, target: str, depth: int) -> None:
        """Emit code that reads a varint into ``target`` (single-byte values inline)."""
        self._emit(depth, f"{target} = buf[pos]")
        self._emit(depth, f"if {target} & 0x80:")
        self._emit(depth + 1, f"{target}, pos = read_long(buf, pos)")
        self._emit(depth, "else:")
        self._emit(depth + 1, "pos += 1")
        self._emit(depth + 1, f"{target} = ({target} >> 1) ^ -({target} & 1)")

    def _sized(self, what: str, limit: int, depth: int) -> None:
        length = self._var("length")
        self._read_long(length, depth)
        self._emit(depth, f"if {length} < 0:")
        self._emit(depth + 1, f'raise Malformed(f"negative {what} length at offset {{pos}}")')
        self._emit(depth, f"if {length} > {limit}:")
        self._emit(
            depth + 1, f'raise LimitExceeded(f"{what} of {{{length}}} bytes exceeds the limit of {limit}")'
        )
        self._emit(depth, f"pos += {length}")
        self._emit(depth, "if pos > n:")
        self._emit(
            depth + 1, f'raise Truncated(f"{what} of {{{length}}} bytes runs past the end of the message")'
        )

    def _fixed(self, size: int, depth: int) -> None:
        if size == 0:
            return
        self._emit(depth, f"pos += {size}")
        self._emit(depth, "if pos > n:")
        self._emit(depth + 1, f'raise Truncated("a {size}-byte value runs past the end of the message")')

    def _enum(self, count: int, depth: int) -> None:
        index = self._var("symbol")
        self._read_long(index, depth)
        self._emit(depth, f"if {index} < 0 or {index} >= {count}:")
        self._emit(depth + 1, f'raise Malformed(f"enum symbol {{{index}}} out of range at offset {{pos}}")')

    def _record(self, schema: dict[str, Any], namespace: str, depth: int) -> None:
        name = self._register(schema, namespace)
        if name in self.active:
            raise SchemaError("recursive schemas are not supported by the pre-scan")
        self.active.add(name)
        inner = name.rsplit(".", 1)[0] if "." in name else ""
        for field in schema.get("fields", []):
            self._value(field["type"], inner, depth)
        self.active.discard(name)

    def _union(self, branches: list[Any], namespace: str, depth: int) -> None:
        index = self._var("branch")
        self._read_long(index, depth)
        for i, branch in enumerate(branches):
            self._emit(depth, f"{'if' if i == 0 else 'elif'} {index} == {i}:")
            mark = len(self.lines)
            self._value(branch, namespace, depth + 1)
            if len(self.lines) == mark:
                self._emit(depth + 1, "pass")
        self._emit(depth, "else:")
        self._emit(
            depth + 1, f'raise Malformed(f"union branch {{{index}}} out of range (0..{len(branches) - 1})")'
        )

    def _always_empty(self, schema: Any, namespace: str) -> bool:
        """True when every value of the type is encoded in zero bytes (null, a record of nulls, fixed(0))."""
        if isinstance(schema, str):
            target = self.named.get(schema) or self.named.get(_qualify(schema, namespace))
            return schema == "null" or (target is not None and self._always_empty(target, namespace))
        if isinstance(schema, dict):
            kind = schema.get("type")
            if kind in ("record", "error"):
                name = _qualify(schema["name"], schema.get("namespace", namespace))
                inner = name.rsplit(".", 1)[0] if "." in name else ""
                return all(self._always_empty(f["type"], inner) for f in schema.get("fields", []))
            if kind == "fixed":
                return int(schema["size"]) == 0
            return kind == "null"
        return False

    def _collection(self, items: Any, namespace: str, depth: int, keyed: bool) -> None:
        what = "map" if keyed else "array"
        limit = self.limits.max_items
        total, count, size, item = (
            self._var("total"),
            self._var("count"),
            self._var("size"),
            self._var("item"),
        )
        empty = not keyed and self._always_empty(items, namespace)
        self._emit(depth, f"{total} = 0")
        self._emit(depth, "while True:")
        body = depth + 1
        self._read_long(count, body)
        self._emit(body, f"if {count} == 0:")
        self._emit(body + 1, "break")
        self._emit(body, f"if {count} < 0:")
        self._emit(body + 1, f"{count} = -{count}")
        self._read_long(size, body + 1)
        self._emit(body + 1, f"if {size} < 0:")
        self._emit(body + 2, f'raise Malformed(f"negative {what} block size at offset {{pos}}")')
        self._emit(body, f"{total} += {count}")
        self._emit(body, f"if {total} > {limit}:")
        self._emit(
            body + 1,
            f'raise LimitExceeded(f"{what} of at least {{{total}}} items exceeds the limit of {limit}")',
        )
        if empty:  # always-empty items consume no bytes: counting them is the whole check
            self._emit(body, "continue")
            return
        self._emit(body, f"if {count} > n - pos:")
        self._emit(
            body + 1, f'raise Truncated(f"{what} claims {{{count}}} items but only {{n - pos}} bytes remain")'
        )
        self._emit(body, f"for {item} in range({count}):")
        if keyed:
            self._sized("map key", self.limits.max_string_bytes, body + 1)
        mark = len(self.lines)
        self._value(items, namespace, body + 1)
        if len(self.lines) == mark:
            self._emit(body + 1, "pass")


def _qualify(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"
