"""The canonical hash of the whole person view state: equal hashes mean equal views.

The state is written as lines of canonical JSON (keys sorted, no whitespace, UTF-8, times in UTC) in a fixed
order, and the lines are hashed with SHA-256:

- ``["person", <PersonView>]`` for every current person with records, by person id;
- ``["held", <record>, [<ViewItem>...]]`` for every record no identity event has placed yet, by record;
- ``["alias", <absorbed id>, <survivor id>]`` for every merged-away person id, sorted.

Replaying the same events (in any batch sizes, with duplicates) gives the same hash; two stores holding the
same state give the same hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from joinedup.projections.person_view.assembly import ViewAssembly
from joinedup.projections.person_view.store import PersonViewStore


def canonical_json(value: Any) -> bytes:
    """``value`` (JSON-ready: dicts, lists, strings, numbers) as canonical JSON bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_lines(store: PersonViewStore) -> Iterator[bytes]:
    """The state as canonical JSON lines, in the order the hash reads them."""
    assembly = ViewAssembly(store)
    for person_id in store.person_ids():
        view = assembly.view_of(person_id, store.records_of(person_id))
        yield canonical_json(["person", view.model_dump(mode="json")])
    for key in store.unplaced_records():
        records = assembly.source_records([key])
        items, _ = assembly.items_of([key])
        yield canonical_json(
            [
                "held",
                records[0].model_dump(mode="json"),
                [item.model_dump(mode="json") for item in items],
            ]
        )
    for absorbed, survivor in store.aliases():
        yield canonical_json(["alias", absorbed, survivor])


def view_state_hash(store: PersonViewStore) -> str:
    """The SHA-256 (hex) of the canonical lines of the state."""
    digest = hashlib.sha256()
    for line in canonical_lines(store):
        digest.update(line)
        digest.update(b"\n")
    return digest.hexdigest()
