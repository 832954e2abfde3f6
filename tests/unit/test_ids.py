"""Ids sort by creation time (to the millisecond) and never repeat."""

from qgjob.ids import new_id, new_ids

CROCKFORD = set("0123456789abcdefghjkmnpqrstvwxyz")


def test_ids_are_26_crockford_characters_that_sort_by_time() -> None:
    moments = [1_763_900_000.0 + step * 0.0017 for step in range(2000)]
    ids = [new_id(moment) for moment in moments]
    assert all(len(i) == 26 and set(i) <= CROCKFORD for i in ids)
    assert ids == sorted(ids)  # every step moves the millisecond prefix on
    assert new_id(0.0).startswith("0000000000")


def test_a_batch_of_ids_shares_its_moment_and_nothing_else() -> None:
    ids = new_ids(5000, 1_763_900_000.5)
    assert len(set(ids)) == 5000
    assert {i[:10] for i in ids} == {new_id(1_763_900_000.5)[:10]}
    assert new_ids(0) == []
