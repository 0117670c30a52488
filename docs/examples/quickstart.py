"""Quick start: the synthetic cohort, two of the paper's models, AUCs with DeLong CIs.

Run from anywhere: ``python docs/examples/quickstart.py``. It takes about half a minute on a
laptop CPU (small volumes, a ResNet18 on 32 px patches, three epochs), and the test suite runs it.
"""

import tempfile

from tacelearn.datasets import make_tace_cohort
from tacelearn.estimators import load_model, make_clinical_model, make_dltr_lr, save_model
from tacelearn.metrics import delong_roc_ci, delong_roc_test, delong_roc_variance


def main():
    folder = tempfile.mkdtemp(prefix="tacelearn-quickstart-")
    # 1. A synthetic multicentre cohort: a manifest DataFrame plus NIfTI files on disk.
    cohort = make_tace_cohort(folder, n_per_center=(120, 60, 60), image_shape=(40, 40, 10),
                              random_state=0)
    train = cohort[cohort["split"].isin(["train", "internal_validation"])]
    test = cohort[cohort["split"].str.startswith("external")]  # the two unseen centres
    y_train = train["objective_response"].astype(int)
    y_test = test["objective_response"].astype(int)

    # 2. Two of the paper's models; both take the cohort DataFrame as X.
    clinical = make_clinical_model().fit(train, y_train)
    fusion = make_dltr_lr(
        backbone="resnet18", patch_size=32, cv=None, random_state=0,
        encoder_params={"max_epochs": 3, "batch_size": 16},
    ).fit(train, y_train)
    print("screened clinical factors:", list(clinical[:-1].get_feature_names_out()))

    # 3. AUCs with DeLong 95% CIs on the external splits, and the paired DeLong test.
    scores = {name: model.predict_proba(test)[:, 1]
              for name, model in {"clinical": clinical, "dltr_lr": fusion}.items()}
    for name, score in scores.items():
        auc, _ = delong_roc_variance(y_test, score)
        low, high = delong_roc_ci(y_test, score)
        print(f"{name:>8}: AUC {auc:.3f} (95% CI {low:.3f}-{high:.3f})")
    test_result = delong_roc_test(y_test, scores["dltr_lr"], scores["clinical"])
    print(f"DeLong test DLTR_LR vs clinical: z = {test_result.statistic:.2f}, "
          f"P = {test_result.pvalue:.3f}")

    # 4. Save and load without pickle: a folder of JSON and safetensors that cannot run code.
    save_model(fusion, f"{folder}/dltr_lr")
    reloaded = load_model(f"{folder}/dltr_lr")
    assert (reloaded.predict_proba(test) == fusion.predict_proba(test)).all()
    return y_test, scores


if __name__ == "__main__":
    main()
