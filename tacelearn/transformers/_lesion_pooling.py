"""Lesion-level scores pooled into a patient score inside the CNN, trained end to end.

A patient is a bag of lesion patches (multiple-instance learning). The backbone scores every
lesion on its own: an embedding ``h_k`` (the pre-logit features) and class logits
``l_k = classifier(h_k)``. The patient's logits are a weighted sum of its lesions' logits,
``L = sum_k w_k l_k`` with ``sum_k w_k = 1``, so the patient's log-odds is the same weighted
mean of the lesions' log-odds, and the cross-entropy of the patient's label trains the whole
network through the pooling. The weights are the aggregation rule:

* ``"max"``: all weight on the lesion with the highest log-odds (MIL max pooling); the
  gradient reaches that lesion only;
* ``"volume_mean"``: ``w_k = v_k / sum_j v_j``, the lesions' volumes: a volume-weighted mean
  of lesion log-odds (not of probabilities): the log-odds is the scale on which the study's
  logistic models add evidence, so a lesion that holds 90 % of the tumour contributes 90 % of
  the patient's linear predictor (exactly the synthetic cohort's generative model, where a
  patient's biology is the volume-weighted mean of its lesions'), while a mean of
  probabilities would squash a confident lesion's evidence towards 1/2;
* ``"attention"``: gated attention (Ilse, Tomczak and Welling, "Attention-based deep multiple
  instance learning", ICML 2018): ``w = softmax_k(u^T (tanh(V h_k) * sigmoid(U h_k)))``,
  learned. Ilse et al. pool the embeddings, ``z = sum_k w_k h_k``, and classify ``z``; with a
  linear classifier that is the same as pooling the lesions' logits, which is what makes each
  lesion's own score and its weight readable.

With every weight of ``u`` at zero the attention is uniform (the plain mean), and as the
attention scores approach a large multiple of the lesions' log-odds it tends to the max:
the tests build both limits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._encoder_net import EncoderModule, to_device_format

__all__ = ["ATTENTION_HIDDEN", "LESION_AGGREGATIONS", "GatedAttention", "LesionBagModule"]

#: Rules that pool lesion scores into a patient score inside the network.
LESION_AGGREGATIONS = ("max", "volume_mean", "attention")
#: Width of the hidden layer of the attention (Ilse et al. used 128).
ATTENTION_HIDDEN = 128


class GatedAttention(nn.Module):
    """Gated attention weights of a bag: ``softmax_k(u^T (tanh(V h_k) * sigmoid(U h_k)))``.

    Parameters
    ----------
    n_features : int
        Width of the lesion embeddings ``h_k``.
    n_hidden : int, default=ATTENTION_HIDDEN
        Width of ``V h`` and ``U h``.
    """

    def __init__(self, n_features, n_hidden=ATTENTION_HIDDEN):
        super().__init__()
        self.tanh_branch = nn.Linear(n_features, n_hidden)
        self.gate = nn.Linear(n_features, n_hidden)
        # A bias would add the same amount to every lesion's score: softmax ignores it.
        self.score = nn.Linear(n_hidden, 1, bias=False)

    def forward(self, embeddings, present):
        """Weights ``(n, n_slots)`` of embeddings ``(n, n_slots, F)``; 0 where not ``present``."""
        scores = self.score(torch.tanh(self.tanh_branch(embeddings))
                            * torch.sigmoid(self.gate(embeddings))).squeeze(-1)
        scores = scores.float().masked_fill(~present, float("-inf"))
        return torch.softmax(scores, dim=1)


class LesionBagModule(EncoderModule):
    """A backbone that scores every lesion of a bag and pools the scores per patient.

    Parameters
    ----------
    backbone : torch.nn.Module
        A timm model or an adapted MONAI network (``forward_features``, ``forward_head``,
        ``get_classifier``).
    frozen_parameters : sequence of str, default=()
        As in :class:`~tacelearn.transformers._encoder_net.EncoderModule`.
    aggregation : {"max", "volume_mean", "attention"}, default="attention"
        The pooling rule (see the module's documentation).

    Notes
    -----
    Every method takes ``patches`` ``(n, n_slots, C, ...)`` and ``volumes`` ``(n, n_slots)``,
    0 in empty slots (see :func:`~tacelearn.transformers.make_lesion_bags`). Only the lesions
    present go through the backbone, all of a batch's lesions at once.
    """

    def __init__(self, backbone, frozen_parameters=(), *, aggregation="attention"):
        super().__init__(backbone, frozen_parameters)
        if aggregation not in LESION_AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {LESION_AGGREGATIONS}, got "
                             f"{aggregation!r}")
        self.aggregation = aggregation
        n_features = int(getattr(backbone, "head_hidden_size", None) or backbone.num_features)
        self.attention = GatedAttention(n_features) if aggregation == "attention" else None

    def lesion_outputs(self, patches, volumes):
        """``(logits (n, n_slots, 2), embeddings (n, n_slots, F), weights (n, n_slots))``.

        Empty slots hold zero logits and embeddings and weight 0; each row of weights sums
        to 1.
        """
        present = volumes > 0
        lesions = to_device_format(patches[present])
        embeddings = self.backbone.forward_head(self.backbone.forward_features(lesions),
                                                pre_logits=True)
        logits = self.backbone.get_classifier()(embeddings)
        every_embedding = embeddings.new_zeros((*present.shape, embeddings.shape[-1]))
        every_embedding[present] = embeddings
        every_logit = logits.new_zeros((*present.shape, logits.shape[-1]))
        every_logit[present] = logits
        return every_logit, every_embedding, self._weights(every_logit, every_embedding,
                                                           volumes, present)

    def _weights(self, logits, embeddings, volumes, present):
        if self.aggregation == "volume_mean":
            volumes = volumes.float() * present
            return volumes / volumes.sum(dim=1, keepdim=True)
        if self.aggregation == "max":
            log_odds = (logits[..., 1] - logits[..., 0]).float().masked_fill(~present,
                                                                             float("-inf"))
            # Ties go to the first slot: the larger lesion.
            return F.one_hot(log_odds.argmax(dim=1), present.shape[1]).float()
        return self.attention(embeddings, present)

    def forward(self, patches, volumes):
        """The patients' class logits ``(n, 2)``: the weighted sum of their lesions' logits."""
        logits, _, weights = self.lesion_outputs(patches, volumes)
        return (weights.unsqueeze(-1).to(logits.dtype) * logits).sum(dim=1)

    def embed(self, patches, volumes):
        """The patients' embeddings ``(n, F)``: the weighted sum of their lesions'."""
        _, embeddings, weights = self.lesion_outputs(patches, volumes)
        return (weights.unsqueeze(-1).to(embeddings.dtype) * embeddings).sum(dim=1)

    def lesion_scores(self, patches, volumes):
        """``(n, n_slots, 2)``: each lesion's log-odds (NaN in empty slots) and weight."""
        logits, _, weights = self.lesion_outputs(patches, volumes)
        log_odds = (logits[..., 1] - logits[..., 0]).float()
        log_odds = log_odds.masked_fill(volumes <= 0, float("nan"))
        return torch.stack([log_odds, weights.float()], dim=-1)
