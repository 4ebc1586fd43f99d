"""The training sampler: seeded, resumable, shared out among ranks."""

from itertools import islice

import pytest

from gan3d.data import InfiniteSampler
from gan3d.errors import InputError


def take(sampler, n):
    return list(islice(iter(sampler), n))


def test_every_epoch_is_a_permutation_and_seeds_differ():
    stream = take(InfiniteSampler(10, seed=3), 30)
    for e in range(3):
        assert sorted(stream[10 * e: 10 * e + 10]) == list(range(10))
    assert stream[:10] != stream[10:20]  # a new order each epoch
    assert stream == take(InfiniteSampler(10, seed=3), 30)
    assert stream != take(InfiniteSampler(10, seed=4), 30)
    assert take(InfiniteSampler(4, shuffle=False), 6) == [0, 1, 2, 3, 0, 1]


def test_resume_continues_the_uninterrupted_stream():
    full = take(InfiniteSampler(7, seed=11), 60)
    first = InfiniteSampler(7, seed=11)
    head = take(first, 23)
    resumed = InfiniteSampler(7, seed=11)
    resumed.load_state_dict(first.state_dict())
    assert head + take(resumed, 37) == full
    # a DataLoader prefetches: the state after the indices actually trained on
    again = InfiniteSampler(7, seed=11)
    again.load_state_dict(first.state_dict(consumed=20))
    assert take(again, 5) == full[20:25]


def test_ranks_partition_the_stream():
    full = take(InfiniteSampler(9, seed=2), 40)
    r0, r1 = (take(InfiniteSampler(9, rank=r, world=2, seed=2), 20) for r in (0, 1))
    assert [x for pair in zip(r0, r1) for x in pair] == full
    assert r0 == full[0::2] and r1 == full[1::2]


def test_resume_with_another_world_size_continues_the_global_stream():
    full = take(InfiniteSampler(5, seed=0), 30)
    ranks = [InfiniteSampler(5, rank=r, world=3, seed=0) for r in range(3)]
    for s in ranks:
        take(s, 4)  # 12 positions consumed
    states = [s.state_dict() for s in ranks]
    assert len({s["position"] for s in states}) == 1
    single = InfiniteSampler(5, seed=0)
    single.load_state_dict(states[0])
    assert take(single, 10) == full[12:22]


def test_bad_arguments_and_mismatched_state():
    with pytest.raises(InputError, match="non-empty"):
        InfiniteSampler(0)
    with pytest.raises(InputError, match="rank must lie"):
        InfiniteSampler(5, rank=2, world=2)
    s = InfiniteSampler(5, seed=1)
    with pytest.raises(InputError, match=r"size 6 \(now 5\)"):
        s.load_state_dict({**s.state_dict(), "size": 6})
