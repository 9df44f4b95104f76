"""Record-to-person membership rebuilt by replaying ``joinedup.identity.events`` from offset 0 (what
``joinedup identity export --from-topic`` prints, without the resolver's store)."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from joinedup.contract.errors import DecodeError
from joinedup.contract.kafka import consumer
from joinedup.contract.serde import default_codec
from joinedup.projections.identity.mapping import domain_event
from joinedup.projections.identity.membership import Membership


def membership_from_topic(bootstrap: str, topic: str, *, timeout_s: float = 60.0) -> Membership:
    """Apply every committed identity event on ``topic`` (all partitions, up to their end now)."""
    reader: KafkaConsumer = consumer(bootstrap, None, "joinedup.projections.identity-export")
    membership = Membership()
    codec = default_codec()
    try:
        partitions = sorted(reader.partitions_for_topic(topic) or ())
        if not partitions:
            raise LookupError(f"topic {topic} does not exist")
        assigned = [TopicPartition(topic, p) for p in partitions]
        reader.assign(assigned)
        reader.seek_to_beginning(*assigned)
        ends = reader.end_offsets(assigned)
        waiting = {tp for tp in assigned if ends[tp] > 0}
        while waiting:
            batches = reader.poll(timeout_ms=int(timeout_s * 1000), max_records=1000)
            if not batches:
                raise TimeoutError(f"no records from {topic} for {timeout_s:.0f} s")
            for _, messages in sorted(batches.items()):
                for message in messages:
                    try:
                        event = domain_event(codec.decode(message.value))
                    except DecodeError:  # the resolver never wrote it: not an identity event
                        continue
                    if event is not None:
                        membership.apply(event)
            waiting = {tp for tp in waiting if reader.position(tp) < ends[tp]}
    finally:
        reader.close()
    return membership
