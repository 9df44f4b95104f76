"""An agency system that publishes through the SDK and is killed part-way (R3's producer crash).

``python crashing_publisher.py <bootstrap> <topics.json> <submissions.jsonl> <acks.jsonl>``: sends the
submissions (each line ``{"agency": ..., "value": <base64 Avro>}``) with :class:`AgencyPublisher`, one at
a time, and every ``BATCH`` sends appends one line per acked send to ``acks.jsonl`` (the agency's own
ledger). The test kills it with SIGKILL part-way: the sends acked since the last write are *in doubt* (in
Kafka, not in the ledger), as for an agency system that crashes before it records what it sent.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from joinedup.contract.keys import IntakeRecord
from joinedup.contract.sdk import AgencyPublisher
from joinedup.contract.serde import default_codec

CLOCK = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
"""The agency's clock is fixed, so a re-send is byte-identical to the first send."""
BATCH = 10


def publisher(agency: str, bootstrap: str, topics: dict[str, str]) -> AgencyPublisher:
    return AgencyPublisher(agency, bootstrap, topics, clock=lambda: CLOCK, watch_receipts=False)


def load(path: Path) -> list[tuple[str, IntakeRecord]]:
    codec = default_codec()
    out: list[tuple[str, IntakeRecord]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        record = codec.decode(base64.b64decode(item["value"]))
        out.append((item["agency"], record))  # type: ignore[arg-type]
    return out


def main(bootstrap: str, topics_file: str, submissions: str, acks: str) -> None:
    topics = json.loads(Path(topics_file).read_text(encoding="utf-8"))
    items = load(Path(submissions))
    publishers: dict[str, AgencyPublisher] = {}
    with Path(acks).open("a", encoding="utf-8") as ledger:
        unrecorded: list[str] = []
        for n, (agency, record) in enumerate(items, start=1):
            pub = publishers.get(agency) or publishers.setdefault(
                agency, publisher(agency, bootstrap, topics)
            )
            for sent in pub.publish_many([record]):
                line = {
                    "agency": agency,
                    "topic": sent.topic,
                    "partition": sent.partition,
                    "offset": sent.offset,
                }
                unrecorded.append(json.dumps(line) + "\n")
            if n % BATCH == 0:  # the agency records its acks every BATCH sends: a crash loses the rest
                ledger.writelines(unrecorded)
                ledger.flush()
                unrecorded.clear()
        ledger.writelines(unrecorded)


if __name__ == "__main__":
    main(*sys.argv[1:5])
