"""The segmentation profiles of the bundled shapes data (``tools/generate_shapes_dataset.py
--profile segmentation`` and ``segmentation-counts``): images and PNG label maps in mmseg's
``BaseSegDataset`` layout.

13 classes: 0 is the background ("stuff": the tinted, cluttered background), 1-12 are shapes
({solid, hollow} x {red, blue} x {circle, square, triangle}), in frequency-rank order. Train holds
fixed instance counts from 400 down to 4 (100 : 1), and the rare shapes are also drawn smaller,
so they are rare both by the number of training images holding them (LVIS's groups: 3 frequent,
6 common, 3 rare) and by pixel share (the most frequent shape covers ~200x the pixels of the
rarest, the background ~20,000x). Objects may occlude each other. As in Pascal VOC, a thin
band around every object is labelled 255 (ignore). Val holds 40 instances of every shape, so
that every class appears in at least 30 val images. Deterministic per seed.

``segmentation-counts`` (the second twin, issue 44): the same 12 shapes, background and ignore
band, but every shape drawn at 20-40 px, so that rarity comes from counts alone: 300 down to 6
training instances (50 : 1; 3 frequent, 5 common, 4 rare), 60 val instances per shape. In the
first twin each rare shape was also small and differed from a more frequent sibling by its shape
only, and its pixels went to that sibling; here a rare shape is as large as a frequent one.
``segmentation-counts-rare10``: the same with the 4 rare shapes at 10 instances each (a
calibration candidate).

Layout (``out``): ``img_dir/{train,val}/NNNNNN.png``, ``ann_dir/{train,val}/NNNNNN.png`` (uint8
labels 0-12 and 255) and ``class_stats.json`` (per split: images, images holding each class,
pixels per class; train groups).
"""
import json
import os
from typing import Callable, NamedTuple, Tuple

import numpy as np
from PIL import Image

from imbalanced_losses.statistics.frequency_groups import frequency_group

from .drawing import IMAGE_SIZE, draw_background, draw_object, pack_into_images

SEG_SHAPES = tuple(f"{fill}_{colour}_{shape}" for fill, colour, shape in (
    ("solid", "red", "circle"), ("solid", "blue", "square"), ("hollow", "red", "triangle"),  # frequent
    ("solid", "blue", "circle"), ("hollow", "blue", "square"), ("solid", "red", "triangle"),
    ("hollow", "red", "circle"), ("solid", "red", "square"), ("hollow", "blue", "triangle"),  # common
    ("hollow", "blue", "circle"), ("hollow", "red", "square"), ("solid", "blue", "triangle")))  # rare
SEG_CLASSES = ("background",) + SEG_SHAPES
IGNORE = 255


def rank_scaled_sizes(rank):
    """Frequent shapes large (28-56 px), rare ones small (12-24 px): rare by pixel share too."""
    t = rank / (len(SEG_SHAPES) - 1)
    return 28 - 16 * t, 56 - 32 * t


def equal_sizes(rank):
    """Every shape 20-40 px: rare by counts only."""
    return 20, 40


class Profile(NamedTuple):
    train_instances: Tuple[int, ...]  # per shape, in frequency-rank order
    val_instances: int  # per shape
    sizes: Callable[[int], Tuple[float, float]]  # (min, max) object size in px of a shape rank
    stream: int  # offset of the random streams, so that profiles do not share draws


PROFILES = {
    "segmentation": Profile((400, 280, 190, 130, 90, 60, 40, 26, 16, 9, 6, 4), 40, rank_scaled_sizes, 100),
    "segmentation-counts": Profile((300, 200, 130, 90, 60, 40, 28, 20, 10, 8, 8, 6), 60, equal_sizes, 200),
    "segmentation-counts-rare10": Profile((300, 200, 130, 90, 60, 40, 28, 20, 10, 10, 10, 10), 60, equal_sizes, 200),
}
TRAIN_INSTANCES = PROFILES["segmentation"].train_instances
VAL_INSTANCES = PROFILES["segmentation"].val_instances


def ignore_boundaries(labels):
    """Label 255 on the background pixels that touch an object (4-neighbourhood): a 1 px band
    around every object (and inside hollow ones) whose pixels are all kept, thin outlines too."""
    touches = np.zeros(labels.shape, bool)
    objects = labels > 0
    touches[1:] |= objects[:-1]
    touches[:-1] |= objects[1:]
    touches[:, 1:] |= objects[:, :-1]
    touches[:, :-1] |= objects[:, 1:]
    labels[touches & ~objects] = IGNORE
    return labels


def draw_segmentation_split(out_dir, split, plan, rng, sizes=rank_scaled_sizes):
    """Draw one image per entry of ``plan`` (shape ranks); return per-class image and pixel counts."""
    for folder in ("img_dir", "ann_dir"):
        os.makedirs(os.path.join(out_dir, folder, split), exist_ok=True)
    images_with = np.zeros(len(SEG_CLASSES), int)
    pixels = np.zeros(len(SEG_CLASSES), int)
    for index, ranks in enumerate(plan):
        image = draw_background(rng)
        labels = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
        boxes, masks = [], []
        for rank in ranks:
            box, _ = draw_object(image, SEG_SHAPES[rank], rng, boxes, sizes(rank), masks)
            boxes.append(box)
            labels[masks[-1]] = rank + 1  # later objects occlude earlier ones
        labels = ignore_boundaries(labels)
        present = np.bincount(labels[labels != IGNORE], minlength=len(SEG_CLASSES))
        images_with += present > 0
        pixels += present
        name = f"{index + 1:06d}.png"
        image.save(os.path.join(out_dir, "img_dir", split, name))
        Image.fromarray(labels, mode="L").save(os.path.join(out_dir, "ann_dir", split, name))
    return images_with, pixels


def generate_segmentation(out_dir, seed, scale=1.0, profile="segmentation"):
    """Write both splits and ``class_stats.json``; ``scale`` < 1 shrinks every count (tests)."""
    spec = PROFILES[profile]
    train_counts = [max(1, round(n * scale)) for n in spec.train_instances]
    val_count = max(1, round(spec.val_instances * scale))
    stats = dict(classes=list(SEG_CLASSES), ignore_index=IGNORE, train_instances=train_counts,
                 val_instances=val_count, profile=profile)
    for split, counts, offset in (("train", train_counts, 0), ("val", [val_count] * len(SEG_SHAPES), 1)):
        rng = np.random.default_rng(seed * 2 + offset + spec.stream)  # other streams than the detection profiles
        plan = pack_into_images(np.repeat(np.arange(len(SEG_SHAPES)), counts), rng)
        images_with, pixels = draw_segmentation_split(out_dir, split, plan, rng, spec.sizes)
        stats[split] = dict(images=len(plan), image_count=images_with.tolist(), pixel_count=pixels.tolist(),
                            pixel_share=(pixels / pixels.sum()).tolist())
    stats["train"]["groups"] = [frequency_group(n) for n in stats["train"]["image_count"]]
    with open(os.path.join(out_dir, "class_stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    return stats
