"""Encode / decode throughput of the contract's serde for a typical ReferralSubmission (~1.1 KB).

Run: .venv/bin/python bench/contract_serde.py [--seconds 0.2] [--rounds 7]

Prints microseconds per message (best of interleaved rounds, so other load inflates figures less) for
raw fastavro and for each stage the contract adds: the structural pre-scan, the envelope checks, pydantic
conversion both ways, and the batch APIs. Not a test; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import fastavro
from fastavro import schemaless_reader, schemaless_writer

from joinedup.contract.examples import referral_submission
from joinedup.contract.models.intake import ReferralSubmission
from joinedup.contract.serde import HEADER_SIZE, Codec

BATCH = 500


def best_us(rows: list[tuple[str, Callable[[], Any]]], seconds: float, rounds: int) -> dict[str, float]:
    """Best microseconds per call of each row. Rows are timed in interleaved rounds, so a burst of other load
    on the machine hits them alike and the ratios between them stay meaningful."""
    numbers = {name: max(1, int(seconds / max(timeit.timeit(fn, number=20) / 20, 1e-7))) for name, fn in rows}
    best = dict.fromkeys(numbers, float("inf"))
    for _ in range(rounds):
        for name, fn in rows:
            best[name] = min(best[name], timeit.timeit(fn, number=numbers[name]) / numbers[name] * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="length of each timing run")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (the best is kept)")
    args = parser.parse_args()

    codec = Codec()
    record = referral_submission()
    payload = codec.encode(record)
    version = codec.contract.for_model(ReferralSubmission).current
    scan = codec._writers[version.fingerprint].scan  # measuring one stage on its own
    datum = record.model_dump()
    _, decoded = codec.decode_dict(payload)
    batch_records = [record] * BATCH
    batch_payloads = [payload] * BATCH

    def raw_write() -> bytes:
        buffer = io.BytesIO()
        schemaless_writer(buffer, version.parsed, datum)
        return buffer.getvalue()

    rows = [
        (
            "fastavro schemaless_reader (body only)",
            lambda: schemaless_reader(io.BytesIO(payload[HEADER_SIZE:]), version.parsed, None),
        ),
        ("fastavro schemaless_writer (body only)", raw_write),
        ("pre-scan of the body", lambda: scan(payload, HEADER_SIZE)),
        ("decode_dict (header, pre-scan, fastavro, envelope checks)", lambda: codec.decode_dict(payload)),
        ("pydantic model_validate (dict -> model)", lambda: ReferralSubmission.model_validate(decoded)),
        ("decode (bytes -> model)", lambda: codec.decode(payload)),
        ("pydantic model_dump (model -> dict)", record.model_dump),
        ("encode_dict (dict -> bytes)", lambda: codec.encode_dict(ReferralSubmission.avro_name, datum)),
        ("encode (model -> bytes)", lambda: codec.encode(record)),
    ]
    print(f"contract serde benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"python {platform.python_version()}, fastavro {fastavro.__version__}, {os.cpu_count()} cpu(s), "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"message: joinedup.intake.ReferralSubmission, {len(payload)} bytes on the wire\n")
    rows.append((f"decode_many, per message (batches of {BATCH})", lambda: codec.decode_many(batch_payloads)))
    rows.append((f"encode_many, per message (batches of {BATCH})", lambda: codec.encode_many(batch_records)))
    results = best_us(rows, args.seconds, args.rounds)
    for name, _ in rows:
        value = results[name] / (BATCH if "_many" in name else 1)
        results[name] = value
        print(f"  {name:<58} {value:8.1f} us   {1e6 / value:>9,.0f} /s")
    raw_read = results["fastavro schemaless_reader (body only)"]
    checks = results["decode_dict (header, pre-scan, fastavro, envelope checks)"]
    print(
        f"\ndefensive decode / raw fastavro decode: {checks / raw_read:.2f}x "
        f"(pre-scan alone {results['pre-scan of the body'] / raw_read:.2f}x); "
        f"full decode to a model: {results['decode (bytes -> model)'] / raw_read:.2f}x"
    )


if __name__ == "__main__":
    main()
