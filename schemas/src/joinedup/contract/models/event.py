"""Records that travel on a topic on their own: every one carries the envelope as its first field."""

from __future__ import annotations

from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.shared_records import Envelope


class Event(AvroRecord):
    """A record published on a topic (an intake submission, a canonical event, a receipt, an alert...)."""

    envelope: Envelope
