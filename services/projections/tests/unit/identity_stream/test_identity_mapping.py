"""Resolver events <-> contract records: what a downstream view rebuilds from the topic is the resolver's."""

from __future__ import annotations

from datetime import timedelta

from joinedup.contract.examples import example
from joinedup.contract.models.referral import ReferralAccepted
from joinedup.contract.serde import default_codec
from joinedup.projections.identity.mapping import domain_event, identity_event, resolver_input
from joinedup.projections.identity.membership import Membership
from joinedup.projections.identity.records import RecordObserved
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.store import InMemoryIdentityStore

from .conftest import T0, Feed


def test_membership_rebuilt_from_encoded_identity_events_is_the_resolvers_partition(small_feed: Feed) -> None:
    resolver = IdentityResolver(InMemoryIdentityStore())
    membership = Membership()
    codec = default_codec()
    for n, event in enumerate(small_feed.events):
        at = T0 + timedelta(minutes=n)
        message = resolver_input(event, at)
        assert isinstance(message, RecordObserved)
        for emitted in resolver.resolve(message):
            decoded = codec.decode(codec.encode(identity_event(emitted, event, at)))
            rebuilt = domain_event(decoded)
            if rebuilt is not None:
                membership.apply(rebuilt)
    expected = {key: resolver.person_of(key) for key in resolver.store.record_keys()}
    assert membership.partition() == dict(sorted(expected.items()))


def test_a_canonical_event_without_a_person_record_teaches_the_resolver_nothing() -> None:
    assert resolver_input(example(ReferralAccepted), T0) is None


def test_the_subject_record_belongs_to_the_agency_that_holds_it(small_feed: Feed) -> None:
    kinds = set()
    for event, record in zip(small_feed.events[:6], small_feed.population.stream(), strict=False):
        message = resolver_input(event, T0)
        assert isinstance(message, RecordObserved)
        assert message.record.key == record.key
        assert message.source_event_id == str(event.envelope.event_id)
        kinds.add(type(event).__name__)
    assert kinds == {"ReferralReceived", "ContactRecorded"}
