"""Per-class statistics of a folder of segmentation label maps (PNG, one uint8/uint16 label per
pixel, as mmseg's ``BaseSegDataset`` reads them): the number of maps (training images) holding
each class, or its pixels. Needs numpy and Pillow only.

Label maps are untrusted input: they are decoded as images (no code runs); a file that is not
one, or labels outside [0, num_classes) other than ``ignore_index``, give a one-line
``ValueError`` naming the file.
"""
import os

import numpy as np

COUNTS = ("images", "pixels", "image_pixels")


def class_counts_from_label_maps(seg_map_dir, num_classes, count="images", ignore_index=255, suffix=".png"):
    """Per class (0..num_classes-1): label maps under ``seg_map_dir`` (subfolders included, e.g.
    Cityscapes' cities, with ``suffix='_gtFine_labelTrainIds.png'``) holding it ('images'), its
    pixels ('pixels'), or all the pixels of the maps holding it, ignored ones included
    ('image_pixels': the denominator of median-frequency balancing)."""
    from PIL import Image, UnidentifiedImageError
    if count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS}, got {count!r}")
    if not os.path.isdir(seg_map_dir):
        raise ValueError(f"cannot read label map folder {seg_map_dir}: not a folder")
    names = sorted(os.path.relpath(os.path.join(root, n), seg_map_dir)
                   for root, _, files in os.walk(seg_map_dir) for n in files if n.endswith(suffix))
    if not names:
        raise ValueError(f"{seg_map_dir} holds no label maps ending in {suffix!r}")
    totals = np.zeros(num_classes, np.int64)
    for name in names:
        path = os.path.join(seg_map_dir, name)
        try:
            with Image.open(path) as image:
                labels = np.asarray(image)
        except (OSError, UnidentifiedImageError) as error:
            raise ValueError(f"cannot read label map {path}: {error}") from None
        if labels.ndim != 2:
            raise ValueError(f"label map {path} must have one channel, got shape {labels.shape}")
        map_pixels = labels.size
        labels = labels[labels != ignore_index].astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            bad = labels[(labels < 0) | (labels >= num_classes)][0]
            raise ValueError(f"label map {path} holds label {bad}: labels must be in [0, {num_classes}) or "
                             f"{ignore_index} (ignore)")
        per_class = np.bincount(labels, minlength=num_classes)
        totals += dict(pixels=per_class, images=per_class > 0, image_pixels=(per_class > 0) * map_pixels)[count]
    return totals.tolist()
