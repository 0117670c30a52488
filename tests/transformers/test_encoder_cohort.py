"""ResNet18 from scratch on the synthetic multicentre cohort: it learns, and looks at the tumour.

One test, so that the two networks train once per run whatever xdist does with the tests.
"""

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score

from tacelearn.explain import grad_cam
from tacelearn.transformers import CNNEncoder, TumourPatchExtractor

PATCH_SIZE = 48
TRAINING = {"backbone": "resnet18", "max_epochs": 2, "lr": 1e-3, "batch_size": 32,
            "random_state": 0}


def test_resnet18_generalises_to_other_centres_and_grad_cam_finds_the_tumour(synthetic_cohort):
    cohort = synthetic_cohort
    patches = TumourPatchExtractor(size=PATCH_SIZE).fit_transform(cohort)
    y = cohort["objective_response"].to_numpy()
    development = cohort["split"].isin(["train", "internal_validation"]).to_numpy()
    external = ~development

    encoder = CNNEncoder(**TRAINING).fit(patches[development], y[development])
    shuffled = np.random.default_rng(0).permutation(y[development])
    control = CNNEncoder(**TRAINING).fit(patches[development], shuffled)

    auc = roc_auc_score(y[external], encoder.decision_function(patches[external]))
    control_auc = roc_auc_score(y[external], control.decision_function(patches[external]))
    # Two unseen centres (263 patients): the SE of an AUC near 0.7 is about 0.03.
    assert auc > 0.65, auc
    assert auc > control_auc + 0.1, (auc, control_auc)

    # Grad-CAM on the external patients. The tumour signs the phantom draws (necrotic core,
    # heterogeneity) are evidence of non-response, so the class-0 logit is explained; layer2
    # (6 x 6 at 48 px) because layer4 is 2 x 2 there and cannot localise anything.
    masks = TumourPatchExtractor(size=PATCH_SIZE, image_columns=("mask_path",),
                                 normalization=None).fit_transform(cohort[external])[:, 0] > 0.5
    heatmaps = grad_cam(encoder, patches[external], target=0, layer="layer2")
    peaks = heatmaps.reshape(len(heatmaps), -1).argmax(axis=1)
    in_tumour = masks.reshape(len(masks), -1)[np.arange(len(masks)), peaks]
    # A peak placed at random falls in the tumour with probability = its share of the patch.
    chance = masks.mean()
    test = binomtest(int(in_tumour.sum()), len(in_tumour), chance, alternative="greater")
    assert in_tumour.mean() > 2 * chance, (in_tumour.mean(), chance)
    assert test.pvalue < 1e-6, test
