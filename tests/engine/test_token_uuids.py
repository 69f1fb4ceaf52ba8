"""Token uuids are uuid5(TOKEN_NAMESPACE, "<instance uuid>/<token id>"), forever: replayed
instances and clients holding a token uuid depend on it."""

from __future__ import annotations

import pickle
import uuid

from procflow.engine.tokens import TOKEN_NAMESPACE, token_uuid


def test_token_uuids_are_the_uuid5_of_instance_and_token_id() -> None:
    for _ in range(300):
        instance = uuid.uuid4()
        for token_id in (0, 1, 2, 9, 10, 12345, 2**40):
            expected = uuid.uuid5(TOKEN_NAMESPACE, f"{instance}/{token_id}")
            found = token_uuid(instance, token_id)
            assert found == expected
            assert (str(found), repr(found), hash(found)) == (
                str(expected),
                repr(expected),
                hash(expected),
            )
            assert (found.version, found.variant) == (5, uuid.RFC_4122)


def test_token_uuids_behave_as_ordinary_uuids() -> None:
    found = token_uuid(uuid.UUID("8b0c2b1e-3f1a-4c9e-9a57-0d8e3c7f1a22"), 1)
    assert pickle.loads(pickle.dumps(found)) == found
    assert uuid.UUID(str(found)) == found
    assert found.is_safe is uuid.SafeUUID.unknown
    assert {found: 1}[uuid.UUID(bytes=found.bytes)] == 1
