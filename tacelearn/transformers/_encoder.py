"""CNNEncoder: a timm (2D) or MONAI (3D) backbone fine-tuned with skorch; a scikit-learn
classifier and transformer, of patients' patches or of their bags of lesion patches."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, _fit_context
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, EpochScoring, LRScheduler, ProgressBar
from skorch.dataset import ValidSplit
from skorch.history import History
from torch import nn

from ..utils import ContentStore, as_store, content_key
from ._augment import PatchAugmentation
from ._backbones import (
    backbone_versions,
    check_backbone_name,
    check_backbone_params,
    create_backbone,
)
from ._encoder_inputs import check_encoder_inputs, encoder_inputs, validate_encoder_data
from ._encoder_net import EncoderModule, EncoderNet, match_frozen_parameters
from ._lesion_pooling import LESION_AGGREGATIONS, LesionBagModule
from ._lesions import LesionScores
from ._progress import EpochProgress
from ._weights_cache import WEIGHTS_FORMAT_VERSION, load_weights, store_weights

__all__ = ["CNNEncoder"]

OUTPUTS = ("embedding", "logit", "proba")
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
SCHEDULERS = ("cosine", None)
#: Share of the training patients held out, stratified, to monitor early stopping.
VALIDATION_FRACTION = 0.2


def resolve_device(device, *, fallback_to_cpu=False):
    """The torch device for ``device`` ("auto", "cpu", "cuda", "cuda:1" or a torch.device).

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` is CUDA when present, else the CPU; ``"cpu"``, ``"cuda"`` or
        ``"cuda:<index>"`` name a device.
    fallback_to_cpu : bool, default=False
        Give the CPU when a CUDA device is asked for but absent (used when loading a net
        trained elsewhere) instead of raising.

    Returns
    -------
    device : torch.device
        The device to compute on.

    Raises
    ------
    TypeError
        If ``device`` is neither a string nor a torch.device.
    ValueError
        If it names another kind of device, or CUDA is asked for, absent and
        ``fallback_to_cpu`` is False.

    Examples
    --------
    >>> from tacelearn.transformers import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("cuda:0", fallback_to_cpu=True).type in ("cuda", "cpu")
    True
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be 'auto', 'cpu', 'cuda' or a torch.device, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        resolved = None
    if resolved is None or resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>', got {device!r}")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        if fallback_to_cpu:
            return torch.device("cpu")
        raise ValueError(f"device={device!r} but CUDA is not available on this machine; "
                         "use device='auto' to train on the CPU")
    return resolved


def _check_finite_training(net):
    """Refuse a training that diverged: NaN weights would give NaN probabilities later."""
    broken = [name for name, tensor in net.module_.state_dict().items()
              if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    losses = [entry.get("train_loss") for entry in net.history.to_list()]
    if broken or any(loss is not None and not np.isfinite(loss) for loss in losses):
        where = f"{len(broken)} weight tensor(s) such as {broken[0]!r}" if broken else "the loss"
        raise ValueError(f"CNN training diverged: {where} became NaN or infinite (losses per "
                         f"epoch: {losses}); lower the learning rate (lr={net.lr}) or check the "
                         "patches")


class CNNEncoder(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Fine-tune a CNN on tumour patches: a classifier and a feature transformer.

    The DLTR model of Chen et al. (BMC Cancer 2025) is a DenseNet169 fine-tuned on MRI tumour
    patches; the defaults are those of the paper's public training code (Adam, learning rate
    and weight decay 5e-4, batch 32, 20 epochs, cosine schedule). ``fit`` trains the network
    through a skorch net kept as ``net_`` (the torch module at ``net_.module_``, the timm model
    at ``net_.module_.backbone``). ``predict_proba`` gives the DLTR score; ``transform`` gives
    the pre-logit embedding or the score, for fusion with clinical variables.

    The patches are 2D or 2.5D ``(n, C, H, W)`` for a timm backbone and 3D
    ``(n, C, D, H, W)`` for a MONAI one (``backbone="monai:..."``). With
    ``lesion_aggregation`` the encoder takes lesion bags, every lesion of each patient
    (:class:`TumourPatchExtractor` with ``lesion="bags"``): the network scores every lesion
    and pools the lesions' scores into the patient's, trained end to end on the patients'
    labels; everything it returns is still one row per patient.

    Parameters
    ----------
    backbone : str, default="densenet169"
        A timm model name, for 2D patches. The paper compared ``"resnet18"``,
        ``"resnet50"``, ``"densenet169"`` and ``"swin_tiny_patch4_window7_224"``. Models with
        a fixed input size (Swin, ViT) are built for the size of the training patches
        (timm's ``img_size``), so no resizing happens. ``"monai:<architecture>"`` names one
        of MONAI's 3D networks (``monai.networks.nets``) for 3D patches:
        ``"monai:densenet121"``, ``"monai:densenet169"``, ``"monai:densenet201"``,
        ``"monai:resnet10"``, ``"monai:resnet18"``, ``"monai:resnet34"``,
        ``"monai:resnet50"``; one name, so that factories, :func:`compare_backbones`, caches
        and saved models treat 2D and 3D backbones alike.
    backbone_params : dict, optional
        Further keyword arguments of the architecture: of ``timm.create_model`` (e.g.
        ``{"drop_rate": 0.2}``) or of the MONAI network (e.g. ``{"init_features": 16,
        "growth_rate": 16}`` for a small DenseNet, ``{"widen_factor": 0.25}`` for a thin
        ResNet). The channels, classes, size and weights are the encoder's to set.
    pretrained : str or path-like, optional
        A local weights file (``.pth``, ``.pt``, ``.bin``, ``.ckpt`` or ``.safetensors``) in
        timm's key layout, or torchvision's for ResNet and DenseNet, or MONAI's (MedicalNet's
        for its ResNets) for a MONAI backbone. It is read with
        ``weights_only=True`` (or safetensors) and loaded strictly; the first convolution is
        adapted to the number of input channels and the classifier is re-initialised for two
        classes. Nothing is ever downloaded. ``None`` trains from random weights.
    output : {"embedding", "logit", "proba"}, default="embedding"
        What ``transform`` returns: the pre-logit embedding (``n_embedding_features_``
        columns, e.g. 1664 for DenseNet169 and 512 for ResNet18), or one column with the
        log-odds of the positive class (``decision_function``) or its probability
        (``predict_proba[:, 1]``).
    lesion_aggregation : {"max", "volume_mean", "attention"}, optional
        Pool the lesions of each patient inside the network (multiple-instance learning);
        ``X`` is then lesion bags. The patient's logits are a weighted sum of the lesions':
        ``"max"`` all weight on the lesion of highest log-odds; ``"volume_mean"`` weights
        proportional to the lesions' volumes (a volume-weighted mean of lesion log-odds);
        ``"attention"`` gated attention learned end to end (Ilse et al., ICML 2018). See
        :meth:`score_lesions` and ``tacelearn.transformers._lesion_pooling``. ``None``: one
        patch per patient.
    max_epochs : int, default=20
        Training epochs (fewer with early stopping).
    lr : float, default=5e-4
        Learning rate.
    weight_decay : float, default=5e-4
        Weight decay of the optimizer.
    batch_size : int, default=32
        Patches per batch, in training and prediction. At least 2 (BatchNorm).
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        ``"sgd"`` uses momentum 0.9.
    scheduler : {"cosine", None}, default="cosine"
        Cosine annealing of the learning rate over ``max_epochs``, or a constant rate.
    augment : bool, default=True
        Random flips, rotations up to 15 degrees and intensity jitter during training. Every
        channel of a patch gets the same flips and rotation (3D patches: the same in-plane
        rotation on every slice, and flips along all three axes); see
        ``tacelearn.transformers._augment``.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the cross-entropy loss, as in scikit-learn.
    freeze : str or sequence of str, optional
        Shell-style (fnmatch) patterns on the backbone's parameter names (e.g. ``"conv1.*"``,
        ``"layer1.*"``, ``"features.denseblock1.*"``); matched parameters do not train and
        BatchNorm layers left without trainable parameters keep their running statistics.
        The classifier always trains, so ``"*"`` fits the head alone.
    early_stopping : int, optional
        Patience in epochs. When set, a stratified 20 % of the training patients is held out,
        training stops once its loss has not improved for this many epochs, and the weights
        of the best epoch are kept.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        ``"auto"`` trains on CUDA when present (float16 autocast with gradient scaling,
        channels-last memory), on the CPU otherwise. A fitted encoder always unpickles, on
        CUDA when its ``device`` allows and CUDA is present, else on the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, batch order, augmentation and the early-stopping
        split. The same int gives identical results on the CPU (GPU kernels are not
        bit-reproducible).
    memory : str, path-like or joblib.Memory, optional
        Folder of a cache of trained weights. A fit whose patches, labels and training
        settings (every parameter but ``output``, ``verbose`` and ``memory``; the device type;
        the pretrained file's size and modification time) match a stored entry loads the
        weights and history from it instead of training; otherwise it trains and stores them.
        Entries are safetensors files, never pickles. This is how DLTR and the fusion models
        of a study share one training, and how a grid search over a fusion head avoids
        re-training the CNN for every candidate. A loaded fit has no optimizer state.
    verbose : int, default=0
        0 is silent; 1 draws one progress bar over the epochs on stderr (loss, validation
        loss and AUC when ``early_stopping`` holds patients out, ETA); 2 or more prints
        skorch's epoch table and a bar over the batches instead.

    Attributes
    ----------
    net_ : skorch.NeuralNetClassifier
        The trained net (:class:`~tacelearn.transformers._encoder_net.EncoderNet`); its
        ``history`` holds the losses per epoch.
    classes_ : ndarray of shape (2,)
        The class labels; ``classes_[1]`` is the positive class.
    n_features_in_ : int
        Channels of the training patches.
    image_size_ : tuple of int
        Height and width (depth, height and width in 3D) of the training patches; prediction
        requires the same size.
    n_embedding_features_ : int
        Width of the pre-logit embedding.
    device_ : str
        Device the net runs on.

    See Also
    --------
    TumourPatchExtractor : Makes the patches (or lesion bags) from NIfTI or DICOM files.
    tacelearn.explain.grad_cam : Where in the patch the prediction comes from.
    tacelearn.estimators.lesion_table : Every lesion's score beside its patient's.

    Notes
    -----
    A binary classifier: the log-odds ``decision_function`` is the difference of the two
    class logits, ``predict_proba`` its logistic transform.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.transformers import CNNEncoder
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 8)
    >>> X = rng.normal(size=(16, 2, 32, 32)).astype(np.float32)
    >>> X[y == 1, :, 12:20, 12:20] += 2.0
    >>> encoder = CNNEncoder(backbone="resnet18", max_epochs=2, batch_size=8, random_state=0)
    >>> encoder.fit(X, y).transform(X).shape
    (16, 512)
    >>> encoder.predict_proba(X).shape
    (16, 2)
    >>> encoder.set_params(output="logit").get_feature_names_out()
    array(['cnn_logit'], dtype=object)

    A small 3D network on 3D patches, and attention pooling over lesion bags:

    >>> volumes = rng.normal(size=(8, 1, 16, 16, 16)).astype(np.float32)
    >>> small = {"widen_factor": 0.125, "conv1_t_size": 3, "conv1_t_stride": 2}
    >>> CNNEncoder(backbone="monai:resnet10", backbone_params=small, max_epochs=1,
    ...            batch_size=4, random_state=0).fit(volumes, y[:8]).predict_proba(
    ...     volumes).shape
    (8, 2)
    >>> import pandas as pd
    >>> from tacelearn.transformers import make_lesion_bags
    >>> lesions = pd.DataFrame({"lesion": [0, 1] * 8, "volume_ml": [3.0, 1.0] * 8})
    >>> bags = make_lesion_bags(X, lesions)                      # 8 patients, 2 lesions each
    >>> mil = CNNEncoder(backbone="resnet18", lesion_aggregation="attention", max_epochs=1,
    ...                  batch_size=4, random_state=0).fit(bags, y[:8])
    >>> mil.predict_proba(bags).shape, mil.score_lesions(bags).log_odds.shape
    ((8, 2), (8, 2))
    """

    _parameter_constraints: dict = {
        "backbone": [str],
        "backbone_params": [None, dict],
        "pretrained": [None, str, os.PathLike],
        "output": [StrOptions(set(OUTPUTS))],
        "lesion_aggregation": [None, StrOptions(set(LESION_AGGREGATIONS))],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "scheduler": [StrOptions({"cosine"}), None],
        "augment": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "freeze": [None, str, list, tuple],
        "early_stopping": [None, Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "memory": [None, str, os.PathLike, ContentStore, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }

    def __init__(self, *, backbone="densenet169", backbone_params=None, pretrained=None,
                 output="embedding", lesion_aggregation=None, max_epochs=20, lr=5e-4,
                 weight_decay=5e-4, batch_size=32, optimizer="adam", scheduler="cosine",
                 augment=True, class_weight=None, freeze=None, early_stopping=None,
                 device="auto", random_state=None, memory=None, verbose=0):
        self.backbone = backbone
        self.backbone_params = backbone_params
        self.pretrained = pretrained
        self.output = output
        self.lesion_aggregation = lesion_aggregation
        self.max_epochs = max_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.augment = augment
        self.class_weight = class_weight
        self.freeze = freeze
        self.early_stopping = early_stopping
        self.device = device
        self.random_state = random_state
        self.memory = memory
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        """What the parameter constraints cannot say: a buildable backbone, a patience that
        is not a bool, an optimizer class, freeze patterns; returns the freeze patterns."""
        check_backbone_name(self.backbone)
        check_backbone_params(self.backbone, self.backbone_params)
        if isinstance(self.early_stopping, (bool, np.bool_)):  # an int to the constraints
            raise ValueError("early_stopping is a patience in epochs (an int >= 1) or None, "
                             f"got {self.early_stopping!r}")
        if isinstance(self.optimizer, type) and not issubclass(self.optimizer,
                                                               torch.optim.Optimizer):
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or a "
                             f"torch.optim.Optimizer class, got {self.optimizer!r}")
        resolve_device(self.device)
        return self._freeze_patterns()

    def _check_output(self):
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {self.output!r}")

    def _freeze_patterns(self):
        if self.freeze is None:
            return ()
        patterns = (self.freeze,) if isinstance(self.freeze, str) else self.freeze
        try:
            patterns = tuple(patterns)
        except TypeError:
            patterns = None
        if not patterns or not all(isinstance(p, str) for p in patterns):
            raise ValueError("freeze must be None, a parameter-name pattern or a sequence of "
                             f"them, got {self.freeze!r}")
        return patterns

    def _inputs(self, X):
        """What the fitted net takes for ``X`` (patches, or a dict of bag arrays)."""
        return encoder_inputs(self, X).data

    # ------------------------------------------------------------------ training
    def _callbacks(self):
        callbacks = []
        if self.scheduler == "cosine":
            callbacks.append(("cosine_lr", LRScheduler(policy="CosineAnnealingLR",
                                                       T_max=self.max_epochs)))
        if self.early_stopping is not None:
            callbacks.append(("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=self.early_stopping, load_best=True)))
        if self.verbose and self.early_stopping is not None:
            # The held-out patients' AUC beside the losses, for whoever watches the training.
            callbacks.append(("valid_auc", EpochScoring("roc_auc", lower_is_better=False,
                                                        name="valid_auc")))
        if self.verbose == 1:
            callbacks.append(("epoch_progress", EpochProgress(
                description=f"{self.backbone} training")))
        elif self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _optimizer_kwargs(self):
        if self.optimizer not in OPTIMIZERS:
            return self.optimizer, {}
        # The fused kernels update all parameters in one pass: on the CPU several times
        # faster than the per-parameter loop for a ResNet18 (see benchmarks/bench_encoder.py).
        kwargs = {"optimizer__fused": True}
        if self.optimizer == "sgd":
            kwargs["optimizer__momentum"] = 0.9
        return OPTIMIZERS[self.optimizer], kwargs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fine-tune the backbone on patches ``X`` with binary labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_patients, channels, height, width) or lesion bags
            Patches (``(n_patients, channels, depth, height, width)`` for a 3D backbone);
            float64 and integer input is cast to float32. With ``lesion_aggregation``: lesion
            bags, one per patient (:func:`make_lesion_bags`).
        y : array-like of shape (n_patients,)
            Two classes; the larger label (``classes_[1]``) is the positive class.

        Returns
        -------
        self : CNNEncoder
            The fitted encoder.
        """
        freeze = self._check_params()
        X, y = validate_encoder_data(self, X, y, reset=True)
        check_classification_targets(y)
        target_type = type_of_target(y, input_name="y")
        if target_type != "binary":
            raise ValueError("Only binary classification is supported. The type of the target "
                             f"is {target_type}: CNNEncoder predicts one of two classes.")
        classes, labels = np.unique(y, return_inverse=True)
        if len(classes) != 2:
            raise ValueError(f"CNNEncoder is a binary classifier; y holds {len(classes)} "
                             f"class: {classes.tolist()}")
        inputs = check_encoder_inputs(self, X, reset=True)
        device = resolve_device(self.device)
        labels = labels.astype(np.int64)
        init_seed, loader_seed, augment_seed, split_seed = np.random.SeedSequence(
            int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        ).generate_state(4)

        n_train, train_split = len(labels), None
        if self.early_stopping is not None:
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=VALIDATION_FRACTION,
                                              random_state=int(split_seed))
            n_train = len(next(splitter.split(np.zeros(len(labels)), labels))[0])
            train_split = ValidSplit(splitter, stratified=True)
        if n_train < 2:
            raise ValueError(f"CNNEncoder needs at least 2 training patients, got {n_train}")
        weights = None
        if self.class_weight is not None:
            weights = torch.as_tensor(compute_class_weight(self.class_weight, classes=classes,
                                                           y=y), dtype=torch.float32)
        training = {
            "criterion__weight": weights,
            "iterator_train__generator": torch.Generator().manual_seed(int(loader_seed)),
            # A last batch of one patient would break BatchNorm in training.
            "iterator_train__drop_last": n_train % self.batch_size == 1,
            "train_split": train_split,
            "augmentation": PatchAugmentation(int(augment_seed)) if self.augment else None,
        }

        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(init_seed))
            net = self._trained_net(inputs, labels, device, freeze, training)
        # Fitted means ready to predict: BatchNorm and dropout in inference mode for anyone
        # who calls the module directly (Grad-CAM, a raw forward).
        net.module_.eval()
        backbone = net.module_.backbone

        self.net_ = net
        self.classes_ = classes
        self.image_size_ = inputs.image_size
        # Heads with a hidden layer (some timm models) embed at its width, others at the
        # width of the pooled features.
        self.n_embedding_features_ = int(getattr(backbone, "head_hidden_size", None)
                                         or backbone.num_features)
        self.device_ = str(device)
        return self

    def _build_net(self, n_channels, image_size, device, *, pretrained=None, freeze=(),
                   **training):
        """The untrained net for ``n_channels`` x ``image_size`` patches on ``device``.

        ``training`` holds the settings that depend on the training data (class weights,
        seeded batch order and augmentation, early-stopping split), passed to
        :class:`EncoderNet`.
        """
        backbone = create_backbone(self.backbone, in_chans=n_channels, image_size=image_size,
                                   num_classes=2, pretrained=pretrained,
                                   params=self.backbone_params)
        frozen = match_frozen_parameters(backbone, freeze)
        if self.lesion_aggregation is None:
            module = EncoderModule(backbone, frozen)
        else:
            module = LesionBagModule(backbone, frozen, aggregation=self.lesion_aggregation)
        optimizer, optimizer_kwargs = self._optimizer_kwargs()
        return EncoderNet(
            module,
            criterion=nn.CrossEntropyLoss,
            optimizer=optimizer,
            lr=float(self.lr),
            optimizer__weight_decay=float(self.weight_decay),
            max_epochs=int(self.max_epochs),
            batch_size=int(self.batch_size),
            iterator_train__shuffle=True,
            callbacks=self._callbacks(),
            device=str(device),
            # verbose=1 is one bar over the epochs (EpochProgress); 2 adds skorch's table.
            verbose=int(self.verbose >= 2),
            **optimizer_kwargs,
            **training,
        )

    def _restore_net(self, state_dict, n_channels, image_size, device, *, history=(),
                     **training):
        """A net for ``n_channels`` x ``image_size`` patches on ``device`` with trained weights.

        The one way a trained network comes back without training: a hit in the weights cache
        (``memory``) and :func:`tacelearn.estimators.load_model`. The backbone is built without
        pretrained weights, since ``state_dict`` (tensors on any device) replaces them all and
        must match it exactly. ``history`` is skorch's history as a list of epoch dicts. The
        net has no optimizer state and its module is in inference mode.
        """
        net = self._build_net(n_channels, tuple(image_size), device,
                              freeze=self._freeze_patterns(), **training)
        net.initialize()
        net.module_.load_state_dict(state_dict)
        net.history = History(list(history))
        net.module_.eval()
        return net

    def _cache_key(self, data, labels, device):
        """The weights-cache key of this fit: data, labels and every training setting."""
        settings = {name: value for name, value in self.get_params(deep=False).items()
                    if name not in ("output", "verbose", "memory", "device")}
        if isinstance(settings["optimizer"], type):
            settings["optimizer"] = f"{settings['optimizer'].__module__}." \
                                    f"{settings['optimizer'].__qualname__}"
        if settings["pretrained"] is not None:
            weights = os.stat(settings["pretrained"])
            settings["pretrained"] = (os.path.abspath(os.fspath(settings["pretrained"])),
                                      weights.st_size, weights.st_mtime_ns)
        if isinstance(settings["class_weight"], dict):
            settings["class_weight"] = sorted((str(k), float(v))
                                              for k, v in settings["class_weight"].items())
        if settings["freeze"] is not None:
            settings["freeze"] = list(self._freeze_patterns())
        if not isinstance(settings["random_state"], (int, np.integer, type(None))):
            settings["random_state"] = repr(settings["random_state"])
        return content_key(WEIGHTS_FORMAT_VERSION, data, labels, settings, device.type,
                           backbone_versions(self.backbone))

    def _trained_net(self, inputs, labels, device, freeze, training):
        """Train the net, or load it from the weights cache (``memory``) when stored there.

        Under the cache's lock, so that two processes about to train the same network (two
        grid-search candidates of a fold, two Dask workers) train it once.
        """
        store = as_store(self.memory)
        if store is None:
            return self._train(inputs, labels, device, freeze, training)
        key = self._cache_key(inputs.data, labels, device)
        # The tensor names an entry must hold, from a throwaway net whose random
        # initialisation must not shift the seeded training that may follow.
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda"
                                   else []):
            names = list(self._build_net(inputs.n_channels, inputs.image_size, device,
                                         freeze=freeze, **training).initialize()
                         .module_.state_dict())
        with store.lock("cnn-weights", key):
            stored = load_weights(store, key, names)
            if stored is None:
                net = self._train(inputs, labels, device, freeze, training)
                store_weights(store, key, net.module_.state_dict(), net.history.to_list())
                return net
        return self._restore_net(stored[0], inputs.n_channels, inputs.image_size, device,
                                 history=stored[1], **training)

    def _train(self, inputs, labels, device, freeze, training):
        net = self._build_net(inputs.n_channels, inputs.image_size, device,
                              pretrained=self.pretrained, freeze=freeze, **training)
        net.fit(inputs.data, labels)
        _check_finite_training(net)
        return net

    # ------------------------------------------------------------------ prediction
    def decision_function(self, X):
        """Compute the log-odds of the positive class, ``logit[:, 1] - logit[:, 0]``.

        Parameters
        ----------
        X : array-like of shape (n_patients, channels, height, width) or lesion bags
            Patches of the training size (or lesion bags, as in :meth:`fit`).

        Returns
        -------
        scores : ndarray of shape (n_patients,)
            Log-odds of ``classes_[1]``.
        """
        check_is_fitted(self)
        logits = self.net_.predict_outputs(self._inputs(X))
        return (logits[:, 1] - logits[:, 0]).numpy().astype(np.float64)

    def score_lesions(self, X):
        """Each lesion's own log-odds and its weight in its patient's score.

        Parameters
        ----------
        X : lesion bags, shape (n_patients,)
            As given to :meth:`fit` (``lesion_aggregation`` set).

        Returns
        -------
        scores : LesionScores
            ``log_odds``: float64 ``(n_patients, n_slots)``, the log-odds of ``classes_[1]``
            that the network gives each lesion alone (NaN in empty slots); ``weights``:
            float64 ``(n_patients, n_slots)``, each lesion's share of its patient's score
            (rows sum to 1; 0 in empty slots). :meth:`decision_function` is
            ``(weights * log_odds).sum(axis=1)`` over the lesions present.

        See Also
        --------
        tacelearn.estimators.lesion_table : The same, as a table with the patients' ids.
        """
        check_is_fitted(self)
        if self.lesion_aggregation is None:
            raise ValueError("score_lesions needs a lesion-level encoder (lesion_aggregation "
                             "set); score the patches of single lesions with "
                             "decision_function")
        scores = self.net_.predict_outputs(self._inputs(X), output="lesion_scores").numpy()
        return LesionScores(log_odds=scores[..., 0].astype(np.float64),
                            weights=scores[..., 1].astype(np.float64))

    def predict_proba(self, X):
        """Predict class probabilities (the softmax of the two logits).

        Parameters
        ----------
        X : array-like of shape (n_patients, channels, height, width) or lesion bags
            Patches of the training size (or lesion bags, as in :meth:`fit`).

        Returns
        -------
        proba : ndarray of shape (n_patients, 2)
            Columns in the order of ``classes_``; the second is the DLTR score.
        """
        scores = self.decision_function(X)
        return np.column_stack([expit(-scores), expit(scores)])

    def predict(self, X):
        """Predict the class: ``classes_[1]`` where its probability exceeds 0.5.

        Parameters
        ----------
        X : array-like of shape (n_patients, channels, height, width) or lesion bags
            Patches of the training size (or lesion bags, as in :meth:`fit`).

        Returns
        -------
        labels : ndarray of shape (n_patients,)
            Values from ``classes_``.
        """
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def transform(self, X):
        """Return the pre-logit embedding, or the score column, as chosen by ``output``.

        Parameters
        ----------
        X : array-like of shape (n_patients, channels, height, width) or lesion bags
            Patches of the training size (or lesion bags, as in :meth:`fit`).

        Returns
        -------
        features : ndarray of shape (n_patients, n_features_out)
            ``output="embedding"``: float32, ``n_embedding_features_`` columns;
            ``"logit"``: one float64 column, :meth:`decision_function`;
            ``"proba"``: one float64 column, ``predict_proba(X)[:, 1]``.
        """
        check_is_fitted(self)
        self._check_output()
        if self.output == "embedding":
            return self.net_.predict_outputs(self._inputs(X), embedding=True).numpy()
        scores = self.decision_function(X)
        return (scores if self.output == "logit" else expit(scores))[:, np.newaxis]

    def get_feature_names_out(self, input_features=None):
        """Get the names of the ``transform`` columns.

        Parameters
        ----------
        input_features : array-like of str, optional
            Ignored apart from a length check: the input columns are image channels.

        Returns
        -------
        names : ndarray of str
            ``cnn_embedding0``, ``cnn_embedding1``, ... or ``["cnn_logit"]`` or
            ``["cnn_proba"]``.
        """
        check_is_fitted(self)
        if input_features is not None and len(input_features) != self.n_features_in_:
            raise ValueError(f"input_features has {len(input_features)} names but the encoder "
                             f"was fitted on {self.n_features_in_} channels")
        self._check_output()
        if self.output == "embedding":
            names = [f"cnn_embedding{i}" for i in range(self.n_embedding_features_)]
        else:
            names = [f"cnn_{self.output}"]
        return np.asarray(names, dtype=object)

    # ------------------------------------------------------------------ persistence
    def __setstate__(self, state):
        super().__setstate__(state)
        if "net_" in self.__dict__:
            # The net was pickled from the CPU; run it where this machine allows.
            device = resolve_device(self.device, fallback_to_cpu=True)
            if device.type != "cpu":
                self.net_.place(device)
            self.device_ = str(device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # two_d_array stays True so that scikit-learn's common checks run at all; the input
        # is (n, channels, height, width) and the 2D checks are listed as expected failures.
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.poor_score = True
        # The embedding is float32 and the score columns float64, whatever the input dtype.
        tags.transformer_tags.preserves_dtype = []
        tags.target_tags.required = True
        return tags
