"""Lesion-level CNNEncoder: pooling rules against hand computations, MIL limits, training."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from scipy.special import expit, softmax

from tacelearn.transformers import CNNEncoder, make_lesion_bags, unpack_lesion_bags
from tacelearn.transformers._lesion_pooling import LesionBagModule

FAST = {"backbone": "resnet18", "max_epochs": 1, "batch_size": 4, "random_state": 0}
RULES = ("max", "volume_mean", "attention")


def lesion_bags(n=8, size=16, seed=0):
    """Bags of 1-3 lesions; in responders one lesion carries a bright square."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    counts = rng.integers(1, 4, size=n)
    patches, rows = [], []
    for patient in range(n):
        for lesion in range(counts[patient]):
            patch = rng.normal(size=(2, size, size)).astype(np.float32)
            if y[patient] and lesion == counts[patient] - 1:
                patch[:, 4:10, 4:10] += 2.0
            patches.append(patch)
            rows.append({"lesion": lesion, "volume_ml": float(rng.uniform(0.5, 20.0))})
    lesions = pd.DataFrame(rows)
    # Largest first within a patient, as the extractor numbers lesions.
    return make_lesion_bags(np.stack(patches), lesions), y


@pytest.fixture(scope="module")
def data():
    return lesion_bags()


@pytest.fixture(scope="module", params=RULES)
def fitted(request, data):
    bags, y = data
    return CNNEncoder(lesion_aggregation=request.param, **FAST).fit(bags, y)


def _by_hand(encoder, bags):
    """Each lesion's log-odds and embedding from the timm model run lesion by lesion."""
    backbone = encoder.net_.module_.backbone
    patches, volumes = unpack_lesion_bags(bags)
    log_odds = np.full(volumes.shape, np.nan)
    embeddings = np.zeros((*volumes.shape, encoder.n_embedding_features_))
    with torch.no_grad():
        for patient, slot in zip(*np.nonzero(volumes > 0)):
            x = torch.from_numpy(patches[patient, slot][None])
            logits = backbone(x)[0].numpy()
            log_odds[patient, slot] = logits[1] - logits[0]
            embeddings[patient, slot] = backbone.forward_features(x).mean(dim=(2, 3))[0].numpy()
    return log_odds, embeddings, volumes


def _attention_by_hand(module, embeddings, present):
    """Ilse et al.'s gated attention: softmax_k(w . (tanh(V h + b) * sigmoid(U h + c)))."""
    attention = module.attention
    V, b = (p.detach().numpy() for p in (attention.tanh_branch.weight,
                                         attention.tanh_branch.bias))
    U, c = (p.detach().numpy() for p in (attention.gate.weight, attention.gate.bias))
    w = attention.score.weight.detach().numpy()[0]
    scores = (np.tanh(embeddings @ V.T + b) * expit(embeddings @ U.T + c)) @ w
    return softmax(np.where(present, scores, -np.inf), axis=1)


def test_patient_score_is_the_rule_applied_to_lesion_scores(fitted, data):
    bags, _ = data
    log_odds, embeddings, volumes = _by_hand(fitted, bags)
    present = volumes > 0
    if fitted.lesion_aggregation == "max":
        weights = np.zeros_like(volumes, dtype=float)
        weights[np.arange(len(volumes)), np.nanargmax(log_odds, axis=1)] = 1.0
    elif fitted.lesion_aggregation == "volume_mean":
        weights = volumes / volumes.sum(axis=1, keepdims=True)
    else:
        weights = _attention_by_hand(fitted.net_.module_, embeddings, present)
    expected = np.nansum(weights * log_odds, axis=1)

    np.testing.assert_allclose(fitted.decision_function(bags), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fitted.predict_proba(bags)[:, 1], expit(expected), atol=1e-5)
    scores = fitted.score_lesions(bags)
    np.testing.assert_allclose(scores.log_odds, log_odds, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scores.weights, weights, atol=1e-5)
    # The patient embedding is pooled with the same weights.
    np.testing.assert_allclose(fitted.transform(bags),
                               np.einsum("nk,nkf->nf", weights, embeddings), atol=1e-4)
    assert fitted.transform(bags).shape == (len(bags), 512)


def test_empty_slots_change_nothing(fitted, data):
    bags, _ = data
    patches, volumes = unpack_lesion_bags(bags)
    wider = np.zeros(len(bags), dtype=[("patches", np.float32, (5, *patches.shape[2:])),
                                       ("volume_ml", np.float64, (5,))])
    wider["patches"][:, :patches.shape[1]] = patches
    wider["volume_ml"][:, :volumes.shape[1]] = volumes
    np.testing.assert_allclose(fitted.decision_function(wider), fitted.decision_function(bags),
                               rtol=1e-5, atol=1e-5)


def _module(aggregation, seed=0):
    torch.manual_seed(seed)
    backbone = timm.create_model("resnet18", in_chans=1, num_classes=2)
    return LesionBagModule(backbone, aggregation=aggregation).eval()


def _random_bags(seed=1):
    rng = np.random.default_rng(seed)
    patches = torch.from_numpy(rng.normal(size=(5, 3, 1, 16, 16)).astype(np.float32))
    volumes = torch.tensor([[4.0, 2.0, 1.0], [3.0, 0.0, 0.0], [5.0, 5.0, 0.0],
                            [2.0, 1.0, 1.0], [9.0, 3.0, 0.0]])
    return patches, volumes


def _lesion_logits(backbone, patches, volumes):
    with torch.no_grad():
        logits = backbone(patches.reshape(-1, *patches.shape[2:])).reshape(
            *patches.shape[:2], 2).numpy()
    present = volumes.numpy() > 0
    return logits, present


def test_attention_with_a_silent_score_is_the_mean():
    module = _module("attention")
    with torch.no_grad():
        module.attention.score.weight.zero_()
    patches, volumes = _random_bags()
    logits, present = _lesion_logits(module.backbone, patches, volumes)
    mean = (logits * present[..., None]).sum(axis=1) / present.sum(axis=1)[:, None]
    with torch.no_grad():
        pooled = module(patches, volumes).numpy()
        equal_volumes = _module("volume_mean")
        equal_volumes.backbone.load_state_dict(module.backbone.state_dict())
        by_volume = equal_volumes(patches, (volumes > 0).float()).numpy()
    np.testing.assert_allclose(pooled, mean, atol=1e-5)
    np.testing.assert_allclose(by_volume, mean, atol=1e-5)


def test_attention_tends_to_the_max_as_its_scores_follow_the_log_odds():
    # score_k = (c / a) tanh(a s_k) * sigmoid(50) -> c s_k: a softmax of c times the lesions'
    # log-odds s_k, which puts all weight on the largest as c grows.
    module = _module("attention")
    classifier = module.backbone.get_classifier()
    alpha, strength = 1e-4, 500.0
    with torch.no_grad():
        attention = module.attention
        for layer in (attention.tanh_branch, attention.gate, attention.score):
            for parameter in layer.parameters():
                parameter.zero_()
        attention.tanh_branch.weight[0] = alpha * (classifier.weight[1] - classifier.weight[0])
        attention.tanh_branch.bias[0] = alpha * (classifier.bias[1] - classifier.bias[0])
        attention.gate.bias.fill_(50.0)
        attention.score.weight[0, 0] = strength / alpha
    patches, volumes = _random_bags()
    logits, present = _lesion_logits(module.backbone, patches, volumes)
    log_odds = np.where(present, logits[..., 1] - logits[..., 0], -np.inf)
    with torch.no_grad():
        pooled = module(patches, volumes).numpy()
        maximum = _module("max")
        maximum.backbone.load_state_dict(module.backbone.state_dict())
        by_max = maximum(patches, volumes).numpy()
    np.testing.assert_allclose(pooled[:, 1] - pooled[:, 0], log_odds.max(axis=1), atol=1e-3)
    np.testing.assert_allclose(by_max[:, 1] - by_max[:, 0], log_odds.max(axis=1), atol=1e-5)


@pytest.mark.parametrize("aggregation", RULES)
def test_one_lesion_per_patient_is_that_lesions_score(aggregation):
    module = _module(aggregation)
    patches, _ = _random_bags()
    single = torch.tensor([[2.0, 0.0, 0.0]] * len(patches))
    logits, _ = _lesion_logits(module.backbone, patches, single)
    with torch.no_grad():
        np.testing.assert_allclose(module(patches, single).numpy(), logits[:, 0], atol=1e-5)


@pytest.mark.parametrize(("aggregation", "reached"), [
    ("max", "the top lesion only"), ("volume_mean", "every lesion"),
    ("attention", "every lesion")])
def test_gradients_reach_the_lesions_the_rule_uses(aggregation, reached):
    module = _module(aggregation)
    patches, volumes = _random_bags()
    patches.requires_grad_(True)
    logits = module(patches, volumes)
    (logits[:, 1] - logits[:, 0]).sum().backward()
    touched = patches.grad.abs().flatten(2).sum(dim=2).numpy() > 0
    present = volumes.numpy() > 0
    assert not (touched & ~present).any()          # empty slots never matter
    if reached == "every lesion":
        assert (touched == present).all()
    else:
        log_odds, _ = _lesion_logits(module.backbone, patches.detach(), volumes)
        scores = np.where(present, log_odds[..., 1] - log_odds[..., 0], -np.inf)
        expected = np.zeros_like(present)
        expected[np.arange(len(present)), scores.argmax(axis=1)] = True
        np.testing.assert_array_equal(touched, expected)


def test_lesion_encoder_trains_reproducibly_and_caches(data, tmp_path, trainings):
    bags, y = data
    # A tiny timm network: the point is the bags' path through skorch, its held-out split
    # (early stopping), the seeded stream and the cache, not the network.
    params = {**FAST, "backbone": "test_resnet", "lesion_aggregation": "attention",
              "max_epochs": 2, "early_stopping": 2, "memory": tmp_path}
    first = CNNEncoder(**params).fit(bags, y)
    assert len(trainings) == 1
    again = CNNEncoder(**params).fit(bags, y)
    assert len(trainings) == 1                      # loaded from the weights cache
    np.testing.assert_array_equal(again.decision_function(bags), first.decision_function(bags))
    fresh = CNNEncoder(**{**params, "memory": None}).fit(bags, y)
    np.testing.assert_array_equal(fresh.decision_function(bags), first.decision_function(bags))
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.predict_proba(bags), first.predict_proba(bags))


def test_bags_and_arrays_are_not_confused(data):
    bags, y = data
    patches = unpack_lesion_bags(bags)[0][:, 0]
    with pytest.raises(ValueError, match="X holds lesion bags .* set lesion_aggregation"):
        CNNEncoder(**FAST).fit(bags, y)
    with pytest.raises(ValueError, match="X must be lesion bags"):
        CNNEncoder(**FAST, lesion_aggregation="max").fit(patches, y)
    with pytest.raises(ValueError, match="'lesion_aggregation' parameter"):
        CNNEncoder(**FAST, lesion_aggregation="mean").fit(bags, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        CNNEncoder(**FAST, lesion_aggregation="max").fit(bags, y[:-1])
    plain = CNNEncoder(**FAST).fit(patches, y)
    with pytest.raises(ValueError, match="score_lesions needs a lesion-level encoder"):
        plain.score_lesions(bags)


@pytest.mark.gpu
def test_cuda_lesion_pooling_trains_and_loads_on_the_cpu(data):
    bags, y = data
    for rule in RULES:
        encoder = CNNEncoder(**FAST, device="cuda", lesion_aggregation=rule).fit(bags, y)
        scores = encoder.score_lesions(bags)
        np.testing.assert_allclose(np.nansum(scores.weights * scores.log_odds, axis=1),
                                   encoder.decision_function(bags), atol=1e-2)
        restored = pickle.loads(pickle.dumps(encoder))
        assert restored.predict_proba(bags).shape == (len(bags), 2)
