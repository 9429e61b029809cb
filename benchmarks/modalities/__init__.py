"""Modality recipes: SimCLR with MSCN masks against each modality's usual baseline.

``python -m benchmarks.modalities.spectrogram``, ``.video`` and ``.rgbd`` each pre-train with the
shared engine (`maskaug.siamese.pretrain`), evaluate with kNN and a linear probe, and write
``results/<modality>-<preset>.json`` and ``.md``.
"""
