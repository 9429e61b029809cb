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
