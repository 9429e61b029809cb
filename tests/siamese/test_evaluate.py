import math

import torch
from torch import nn
from torch.utils.data import TensorDataset

from maskaug.siamese import extract_features, knn_accuracy, knn_predict, linear_probe


def knn_reference(bank, labels, queries, k, t, classes):
    out = []
    for q in queries.double():
        sims = [float(q @ b) / (q.norm() * b.norm()) for b in bank.double()]
        order = sorted(range(len(sims)), key=lambda i: -sims[i])[:k]
        votes = [0.0] * classes
        for i in order:
            votes[int(labels[i])] += math.exp(sims[i] / t)
        out.append(max(range(classes), key=lambda c: votes[c]))
    return torch.tensor(out)


def test_knn_matches_reference() -> None:
    g = torch.Generator().manual_seed(0)
    bank, labels = torch.randn(40, 5, generator=g), torch.randint(0, 4, (40,), generator=g)
    queries = torch.randn(15, 5, generator=g)
    for k in (1, 5, 40):
        got = knn_predict(bank, labels, queries, k=k, temperature=0.5, num_classes=4, chunk_size=4)
        assert torch.equal(got, knn_reference(bank, labels, queries, k, 0.5, 4))


def test_knn_and_probe_on_separable_clusters() -> None:
    g = torch.Generator().manual_seed(1)
    centres = torch.randn(3, 10, generator=g) * 5
    labels = torch.randint(0, 3, (300,), generator=g)
    feats = centres[labels] + torch.randn(300, 10, generator=g)
    train, test = (feats[:200], labels[:200]), (feats[200:], labels[200:])
    assert knn_accuracy(*train, *test, k=10) > 0.95
    result = linear_probe(*train, *test, epochs=20, batch_size=32)
    assert result.train_top1 > 0.95 and result.test_top1 > 0.95
    shuffled = linear_probe(train[0], train[1][torch.randperm(200, generator=g)], *test, epochs=20)
    assert shuffled.test_top1 < 0.7


def test_extract_features_uses_eval_mode_and_transform() -> None:
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    net.train()
    data = TensorDataset(torch.randn(10, 3), torch.arange(10))
    feats, labels = extract_features(net, data, batch_size=4, transform=lambda x: x * 0)
    assert net.training  # restored
    assert torch.equal(labels, torch.arange(10))
    expected = net.eval()(torch.zeros(1, 3))
    assert torch.allclose(feats, expected.detach().expand(10, 2))


def test_extract_features_leaves_the_global_rng_untouched() -> None:
    # a monitored training run replays torch's global RNG when it resumes
    net = nn.Linear(3, 2)
    before = torch.get_rng_state()
    extract_features(net, TensorDataset(torch.zeros(5, 3), torch.arange(5)), batch_size=2)
    assert torch.equal(torch.get_rng_state(), before)
