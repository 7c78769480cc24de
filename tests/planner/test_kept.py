"""planner.kept: values kept by the identity of the specs they were computed from."""

from planner.kept import Kept


class Spec:
    def __init__(self, name):
        self.name = name

    def __eq__(self, other):  # equal by value: the cache must still tell two objects apart
        return isinstance(other, Spec) and other.name == self.name

    __hash__ = None


def test_the_same_objects_hit_and_an_equal_new_object_misses():
    kept, calls = Kept(limit=8), []

    def make(tag):
        calls.append(tag)
        return tag

    a = Spec("h200")
    assert kept.get((a,), lambda: make("first"), (8192,)) == "first"
    assert kept.get((a,), lambda: make("again"), (8192,)) == "first"  # the same object and extra: kept
    assert kept.get((a,), lambda: make("other context"), (4096,)) == "other context"  # extra compared by value
    assert kept.get((Spec("h200"),), lambda: make("equal copy"), (8192,)) == "equal copy"  # identity, not equality
    assert calls == ["first", "other context", "equal copy"]


def test_past_its_limit_it_forgets_everything():
    kept, owners = Kept(limit=2), [Spec(str(i)) for i in range(4)]
    for i, o in enumerate(owners):
        kept.get((o,), lambda i=i: i)
    # entries 0, 1, 2 were held (3 > limit 2 cleared them before the 4th was made): only the last remains
    assert kept.get((owners[3],), lambda: "made") == 3
    assert kept.get((owners[0],), lambda: "made") == "made"
