"""Grad-CAM heatmaps laid over the MRI channels of tumour patches (2D, or a slice of 3D)."""

from __future__ import annotations

import numpy as np

__all__ = ["GradCamDisplay"]

# The public training code stacks [T1C, T1C, T2]; two channels are [T1C, T2].
_DEFAULT_CHANNEL_NAMES = {2: ("T1C", "T2"), 3: ("T1C", "T1C", "T2")}


def _check_patches_and_heatmaps(patches, heatmaps, axial_slice=None):
    """Patches ``(n, C, H, W)`` and heatmaps ``(n, H, W)``; of 3D ones, the slice shown."""
    patches = np.asarray(patches, dtype=float)
    heatmaps = np.asarray(heatmaps, dtype=float)
    if patches.ndim not in (4, 5):
        raise ValueError(f"patches must have shape (n, C, H, W) or (n, C, D, H, W), got "
                         f"{patches.shape}")
    names = "(n, H, W)" if patches.ndim == 4 else "(n, D, H, W)"
    if heatmaps.shape != (patches.shape[0], *patches.shape[2:]):
        raise ValueError(f"heatmaps must have shape {names} = "
                         f"{(patches.shape[0], *patches.shape[2:])} to match the patches, got "
                         f"{heatmaps.shape}")
    if patches.ndim == 5:
        depth = patches.shape[2]
        index = depth // 2 if axial_slice is None else axial_slice
        if not isinstance(index, (int, np.integer)) or not 0 <= index < depth:
            raise ValueError(f"axial_slice must be an int in [0, {depth - 1}], got "
                             f"{axial_slice!r}")
        patches, heatmaps = patches[:, :, index], heatmaps[:, index]
    for name, values in (("patches", patches), ("heatmaps", heatmaps)):
        bad = ~np.isfinite(values).reshape(len(values), -1).all(axis=1)
        if bad.any():
            raise ValueError(f"{name} hold NaN or infinite values in patch(es) "
                             f"{np.flatnonzero(bad)[:8].tolist()}")
    return patches, heatmaps


def _channel_names(channel_names, n_channels):
    if channel_names is None:
        return _DEFAULT_CHANNEL_NAMES.get(n_channels,
                                          tuple(f"channel {c}" for c in range(n_channels)))
    names = tuple(str(name) for name in channel_names)
    if len(names) != n_channels:
        raise ValueError(f"channel_names has {len(names)} names for {n_channels} channels")
    return names


def _shown_channels(names, channels):
    """Indices of the channels to draw: the named ones, or the first of each distinct name."""
    if channels is None:
        return [names.index(name) for name in dict.fromkeys(names)]
    indices = []
    for channel in channels:
        if isinstance(channel, (int, np.integer)):
            if not 0 <= channel < len(names):
                raise ValueError(f"channel index {channel} is out of range for {len(names)} "
                                 "channels")
            indices.append(int(channel))
        elif str(channel) in names:
            indices.append(names.index(str(channel)))
        else:
            raise ValueError(f"channel {channel!r} is not one of the channel names {names}")
    return indices


class GradCamDisplay:
    """Grad-CAM heatmaps over the T1C and T2 channels of tumour patches.

    One row per patch, one column per channel shown: the channel in grey with the heatmap
    (0 = no evidence, 1 = the strongest) laid over it in colour, as in the paper's Grad-CAM
    figure. Build it from computed heatmaps with the constructor and :meth:`plot`, or from a
    fitted :class:`~tacelearn.transformers.CNNEncoder` with :meth:`from_estimator`, which calls
    :func:`tacelearn.explain.grad_cam`. 3D patches and maps are shown on one axial slice,
    by default the middle one: the lesion's largest slice, where the 2D patch is cut.

    Parameters
    ----------
    patches : array-like of shape (n, C, H, W) or (n, C, D, H, W)
        Tumour patches as fed to the encoder.
    heatmaps : array-like of shape (n, H, W) or (n, D, H, W)
        Grad-CAM maps at the patches' resolution, in [0, 1].
    channel_names : sequence of str, optional
        Name of each of the C channels, e.g. a ``TumourPatchExtractor``'s
        ``get_feature_names_out()``. Default: ``("T1C", "T2")`` for two channels and the
        paper's ``("T1C", "T1C", "T2")`` for three.
    patient_labels : sequence of str, optional
        Row labels, e.g. patient ids with their scores.

    Attributes
    ----------
    channels_ : list of int
        Indices of the channels drawn, in column order.
    images_ : numpy.ndarray of matplotlib.image.AxesImage of shape (n, n_columns)
        The grey channel images.
    overlays_ : numpy.ndarray of matplotlib.image.AxesImage of shape (n, n_columns)
        The heatmaps over them.
    axes_ : numpy.ndarray of matplotlib.axes.Axes of shape (n, n_columns)
    figure_ : matplotlib.figure.Figure

    See Also
    --------
    tacelearn.explain.grad_cam : Computes the heatmaps.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.plotting import GradCamDisplay
    >>> rng = np.random.default_rng(0)
    >>> patches = rng.normal(size=(2, 3, 16, 16))
    >>> heatmaps = rng.random((2, 16, 16))
    >>> display = GradCamDisplay(patches=patches, heatmaps=heatmaps).plot()
    >>> display.axes_.shape, [ax.get_title() for ax in display.axes_[0]]
    ((2, 2), ['T1C', 'T2'])
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, patches, heatmaps, channel_names=None, patient_labels=None):
        self.patches = patches
        self.heatmaps = heatmaps
        self.channel_names = channel_names
        self.patient_labels = patient_labels

    def plot(self, ax=None, *, channels=None, alpha=0.4, cmap="jet", axial_slice=None,
             **kwargs):
        """Draw the overlays.

        Parameters
        ----------
        ax : array-like of matplotlib.axes.Axes of shape (n, n_columns), optional
            Axes to draw on (one for each patch and channel shown, as for scikit-learn's
            ``PartialDependenceDisplay``); a new figure otherwise (2.2 inches per panel).
        channels : sequence of str or int, optional
            Channels to show, by name or index. Default: the first channel of each distinct
            name (T1C and T2 for the paper's three channels).
        alpha : float, default=0.4
            Opacity of the heatmap.
        cmap : str or matplotlib.colors.Colormap, default="jet"
            Colour map of the heatmap, on the fixed range [0, 1].
        axial_slice : int, optional
            For 3D patches, the slice shown (index along the depth axis); default the middle
            one, ``D // 2``, the lesion's largest axial slice.
        **kwargs : dict
            Passed to ``Axes.imshow`` for the heatmaps.

        Returns
        -------
        display : GradCamDisplay
            This display, with ``channels_``, ``images_``, ``overlays_``, ``axes_`` and
            ``figure_`` set.
        """
        patches, heatmaps = _check_patches_and_heatmaps(self.patches, self.heatmaps,
                                                        axial_slice)
        names = _channel_names(self.channel_names, patches.shape[1])
        self.channels_ = _shown_channels(names, channels)
        n_rows, n_columns = patches.shape[0], len(self.channels_)
        if self.patient_labels is not None and len(self.patient_labels) != n_rows:
            raise ValueError(f"patient_labels has {len(self.patient_labels)} labels for "
                             f"{n_rows} patches")
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(n_rows, n_columns, figsize=(2.2 * n_columns, 2.2 * n_rows),
                                 squeeze=False)
        axes = np.asarray(ax, dtype=object)
        if axes.size != n_rows * n_columns:
            raise ValueError(f"ax holds {axes.size} axes for {n_rows} patches x {n_columns} "
                             "channels")
        axes = axes.reshape(n_rows, n_columns)
        self.images_ = np.empty((n_rows, n_columns), dtype=object)
        self.overlays_ = np.empty((n_rows, n_columns), dtype=object)
        style = {"cmap": cmap, "alpha": alpha, "vmin": 0.0, "vmax": 1.0, **kwargs}
        for row in range(n_rows):
            for column, channel in enumerate(self.channels_):
                ax = axes[row, column]
                self.images_[row, column] = ax.imshow(patches[row, channel], cmap="gray")
                self.overlays_[row, column] = ax.imshow(heatmaps[row], **style)
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(names[channel], fontsize=10)
            if self.patient_labels is not None:
                axes[row, 0].set_ylabel(str(self.patient_labels[row]), fontsize=9)
        self.axes_ = axes
        self.figure_ = axes[0, 0].figure
        return self

    @classmethod
    def from_estimator(cls, encoder, X, *, target=1, layer=None, channel_names=None,
                       patient_labels=None, ax=None, channels=None, alpha=0.4, cmap="jet",
                       axial_slice=None, **kwargs):
        """Compute Grad-CAM maps of a fitted encoder and draw them over the patches.

        Parameters
        ----------
        encoder : tacelearn.transformers.CNNEncoder or torch.nn.Module
            Fitted encoder, or a torch classifier of patches (then name ``layer``), as
            :func:`tacelearn.explain.grad_cam` takes.
        X : array-like of shape (n, C, H, W) or (n, C, D, H, W), or lesion bags
            Tumour patches (a few: one row of panels each). Lesion bags of a lesion-level
            encoder show each patient's lesion of largest weight
            (:func:`tacelearn.explain.dominant_lesion_patches`).
        target : int, default=1
            Class whose evidence is mapped (1: objective response).
        layer : str or torch.nn.Module, optional
            Layer to take the activations from; default the backbone family's last
            convolutional stage (see :func:`tacelearn.explain.grad_cam`).
        channel_names : sequence of str, optional
            Name of each channel of the patches, as in the constructor. Default:
            ``("T1C", "T2")`` for two channels, ``("T1C", "T1C", "T2")`` for three.
        patient_labels : sequence of str, optional
            Row labels, one per patch (per patient for lesion bags), as in the constructor.
        ax : array-like of matplotlib.axes.Axes of shape (n, n_columns), optional
            Axes to draw on, one for each patch and channel shown; a new figure otherwise
            (see :meth:`plot`).
        channels : sequence of str or int, optional
            Channels to show, by name or index; default the first channel of each distinct
            name (see :meth:`plot`).
        alpha : float, default=0.4
            Opacity of the heatmap.
        cmap : str or matplotlib.colors.Colormap, default="jet"
            Colour map of the heatmap, on the fixed range [0, 1].
        axial_slice : int, optional
            For 3D patches, the slice shown (index along the depth axis); default the middle
            one, ``D // 2``.
        **kwargs : dict
            Passed to ``Axes.imshow`` for the heatmaps.

        Returns
        -------
        display : GradCamDisplay
            The display, drawn: its ``channels_``, ``images_``, ``overlays_``, ``axes_`` and
            ``figure_`` are set.
        """
        # Imported here so that the other Displays never load torch.
        from ..explain import dominant_lesion_patches, grad_cam
        from ..transformers import is_lesion_bags

        if is_lesion_bags(X):
            X = dominant_lesion_patches(encoder, X).patches
        heatmaps = grad_cam(encoder, X, target=target, layer=layer)
        display = cls(patches=X, heatmaps=heatmaps, channel_names=channel_names,
                      patient_labels=patient_labels)
        return display.plot(ax=ax, channels=channels, alpha=alpha, cmap=cmap,
                            axial_slice=axial_slice, **kwargs)
