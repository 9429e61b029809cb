"""`maskaug._random.spawn`: generators seeded from another's state, which it leaves as it is."""

from __future__ import annotations

import torch

from maskaug._random import spawn

CPU = torch.device("cpu")


def test_spawn_leaves_the_generator_as_it_is_and_follows_its_draws():
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    first = torch.randn(8, generator=spawn(generator, CPU))
    assert torch.equal(generator.get_state(), state)
    assert torch.equal(torch.randn(8, generator=spawn(generator, CPU)), first), "the same state, the same seed"
    torch.rand(1, generator=generator)
    assert not torch.equal(torch.randn(8, generator=spawn(generator, CPU)), first)


def test_spawn_from_the_default_generator():
    torch.manual_seed(3)
    state = torch.get_rng_state()
    spawned = spawn(None, CPU)
    assert spawned is not None and spawned.device == CPU
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(3)
    assert torch.equal(torch.randn(4, generator=spawn(None, CPU)), torch.randn(4, generator=spawned))


def test_spawned_cpu_generators_take_the_whole_state_not_a_32_bit_seed():
    generator = torch.Generator().manual_seed(0)
    firsts = set()
    for _ in range(2000):
        torch.rand(2, generator=generator)
        spawned = spawn(generator, CPU)
        first = torch.randn(4, generator=spawned)
        firsts.add(tuple(first.tolist()))
        if len(firsts) == 1:  # not the stream manual_seed would give from the low 32 bits of its seed
            seeded = torch.Generator().manual_seed(spawned.initial_seed() & 0xFFFFFFFF)
            assert not torch.equal(torch.randn(4, generator=seeded), first)
    assert len(firsts) == 2000
    noise = torch.randn(200_000, generator=spawn(generator, CPU))
    assert abs(float(noise.mean())) < 0.01 and abs(float(noise.std()) - 1) < 0.01


def test_spawn_keeps_the_generator_where_it_cannot_make_one():
    generator = torch.Generator().manual_seed(0)
    assert spawn(generator, torch.device("meta")) is generator
    assert spawn(None, torch.device("meta")) is None
