from pathlib import Path

import pytest
import torch

from maskaug.siamese import CheckpointError, find_generators, load_checkpoint, rng_state, save_checkpoint, set_rng_state

from ._workers import NoisyViews


def test_round_trip_and_atomic_write(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.pt"
    save_checkpoint(path, {"w": torch.arange(5), "step": 3})
    save_checkpoint(path, {"w": torch.arange(6), "step": 4})
    state = load_checkpoint(path)
    assert state["step"] == 4 and torch.equal(state["w"], torch.arange(6))
    assert [p.name for p in path.parent.iterdir()] == ["c.pt"]  # no temporary file left


@pytest.mark.parametrize("damage", ["truncate", "flip", "header", "empty"])
def test_damaged_checkpoint_is_detected(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"w": torch.randn(100)})
    data = path.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data = data[:-20] + bytes([data[-20] ^ 0xFF]) + data[-19:]
    elif damage == "header":
        data = b"garbage" + data[7:]
    else:
        data = b""
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def test_rng_state_round_trip() -> None:
    views = NoisyViews()
    generators = find_generators(views)
    assert generators == [views.generator]
    views.generator.manual_seed(5)
    saved = rng_state(generators)
    first = (torch.rand(3), views(torch.zeros(1, 2))[0])
    set_rng_state(saved, generators)
    second = (torch.rand(3), views(torch.zeros(1, 2))[0])
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    with pytest.raises(ValueError, match="generator"):
        set_rng_state(saved, [])


def test_find_generators_in_multiview() -> None:
    from maskaug import MSCNMask, MultiView

    g1, g2 = torch.Generator(), torch.Generator()
    views = MultiView([MSCNMask(layout="b c h w", generator=g1), MSCNMask(layout="b c h w", generator=g2)])
    found = find_generators(views)
    assert len(found) == 2 and found[0] is g1 and found[1] is g2
