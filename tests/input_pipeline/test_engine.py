"""The device path drives the shared siamese engine: canvases through its DataLoader and pinned
memory, views made by ``batch_views``, the views' one generator found (so the engine seeds and
checkpoints it)."""

from __future__ import annotations

from pathlib import Path

import torch

from benchmarks.imagenet.synthetic import write_image_folder
from maskaug.adapters import image
from maskaug.adapters.gpu_augment import ToCanvas, gpu_pretrain_views
from maskaug.siamese import TrainConfig, find_generators, pretrain


def _run(tmp_path: Path, out: str):
    root = write_image_folder(tmp_path / "data", classes=2, train_per_class=4, val_per_class=0, size=(40, 30),
                              suffix=".jpg")
    samples = image.scan_image_folder(root / "train").samples
    dataset = image.ImageFolderDataset(samples, ToCanvas(48))
    views = gpu_pretrain_views(16, cell=4, highpass_sigma=1.0, generator=torch.Generator())
    config = TrainConfig(method="simclr", feature_dim=512, global_batch_size=4, epochs=1, warmup_epochs=0,
                         proj_hidden_dim=32, proj_out_dim=16, num_classes=2, out_dir=str(tmp_path / out),
                         progress=False, knn_every_epochs=0, checkpoint_every_steps=0)
    torch.manual_seed(0)
    result = pretrain(config, image.resnet_backbone("resnet18"), dataset, batch_views=views, device="cpu")
    return result, views


def test_pretrain_runs_on_canvas_batches_with_device_views(tmp_path: Path) -> None:
    result, views = _run(tmp_path, "run")
    assert result.steps == 2 and torch.isfinite(torch.tensor(result.final_loss))
    assert find_generators(views) == [views.augment.generator]  # one generator, shared by the masks
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
