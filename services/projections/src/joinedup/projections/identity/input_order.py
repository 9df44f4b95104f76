"""The one order the identity resolver reads its inputs in: the contract's deterministic merge (by Kafka
timestamp, catalog topic name, partition, offset), shared with the stream runtime. See
:mod:`joinedup.contract.ordered_merge`; this module only re-exports it for the projections' code."""

from __future__ import annotations

from joinedup.contract.ordered_merge import OrderedMerge, Partition

__all__ = ["OrderedMerge", "Partition"]
