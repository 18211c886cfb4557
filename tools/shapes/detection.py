"""The COCO-format detection profiles.

Profile ``demo`` (the default, used by ``make demo``): 8 classes ({circle, square, triangle,
cross} x {red, blue}), 1-4 objects of 16-64 px per 128x128 image, allowed to overlap, over a
noisy tinted background with line and blob clutter. Class frequencies in train follow a
Zipf-like law (most frequent : rarest about 45 : 1); val is class-balanced, as in ImageNet-LT,
so that every class's AP rests on enough instances (mAP averages over classes either way).

Profile ``longtail`` (the long-tail study): 16 confusable classes ({red, blue} x {circle, square,
triangle, cross} x {solid, hollow}), 12-48 px objects. Train has fixed instance counts from 1000
down to 3 (333 : 1), which gives LVIS-like groups by the number of training images holding a
class: 6 frequent (> 100), 6 common (11-100), 4 rare (1-10); every rare class differs from a
frequent or common one in one attribute. Val holds 60 instances of every class. Both files carry
LVIS's ``frequency`` ('r'/'c'/'f'), ``image_count`` and ``instance_count`` (of train) in their
categories.

Writes ``OUT/annotations/{train,val}.json`` (COCO json) and ``OUT/{train,val}/NNNNNN.png``.
"""
import json
import math
import os

import numpy as np

from imbalanced_losses.statistics.frequency_groups import frequency_group

from .drawing import COLOURS, IMAGE_SIZE, draw_background, draw_object, pack_into_images

SHAPES = ("circle", "square", "triangle", "cross")
CLASSES = tuple(f"{colour}_{shape}" for shape in SHAPES for colour in COLOURS)  # Zipf rank = order
ZIPF_EXPONENT = math.log(45) / math.log(len(CLASSES))  # frequency of rank k ~ 1 / k^s

# Longtail profile: (fill, colour, shape) in frequency-rank order, and train instances per rank.
LONGTAIL_CLASSES = tuple(f"{fill}_{colour}_{shape}" for fill, colour, shape in (
    ("solid", "red", "circle"), ("solid", "blue", "square"), ("hollow", "red", "triangle"),
    ("solid", "red", "cross"), ("hollow", "blue", "circle"), ("solid", "blue", "triangle"),  # frequent
    ("solid", "red", "square"), ("hollow", "blue", "square"), ("solid", "red", "triangle"),
    ("hollow", "red", "cross"), ("solid", "blue", "circle"), ("hollow", "red", "circle"),  # common
    ("hollow", "red", "square"), ("hollow", "blue", "triangle"), ("solid", "blue", "cross"),
    ("hollow", "blue", "cross")))  # rare
LONGTAIL_TRAIN_INSTANCES = (1000, 700, 480, 330, 230, 160, 80, 56, 40, 28, 20, 15, 8, 6, 4, 3)
LONGTAIL_VAL_INSTANCES = 60
LONGTAIL_SIZES = (12, 48)


def class_probabilities(long_tailed):
    exponent = ZIPF_EXPONENT if long_tailed else 0.0
    weights = np.array([1.0 / (rank + 1) ** exponent for rank in range(len(CLASSES))])
    return weights / weights.sum()


def generate_split(out_dir, split, num_images, seed):
    """The demo profile: Zipf-like class draws per image in train, uniform in val."""
    rng = np.random.default_rng(seed)
    probabilities = class_probabilities(long_tailed=split == "train")

    def pick_classes(_):
        return [int(k) for k in rng.choice(len(CLASSES), size=int(rng.integers(1, 5)), p=probabilities)]

    images, annotations = draw_split(out_dir, split, num_images, pick_classes, CLASSES, rng, sizes=(16, 64))
    categories = [dict(id=i + 1, name=name, supercategory="shape") for i, name in enumerate(CLASSES)]
    write_annotations(out_dir, split, images, annotations, categories)
    return annotations


def generate_longtail(out_dir, seed, scale=1.0):
    """The longtail profile; ``scale`` < 1 shrinks every count (tests), keeping at least 1."""
    train_counts = [max(1, round(n * scale)) for n in LONGTAIL_TRAIN_INSTANCES]
    val_count = max(1, round(LONGTAIL_VAL_INSTANCES * scale))
    splits = {}
    for split, counts, offset in (("train", train_counts, 0), ("val", [val_count] * len(LONGTAIL_CLASSES), 1)):
        rng = np.random.default_rng(seed * 2 + offset)
        plan = pack_into_images(np.repeat(np.arange(len(LONGTAIL_CLASSES)), counts), rng)
        splits[split] = draw_split(out_dir, split, len(plan), plan.__getitem__, LONGTAIL_CLASSES, rng,
                                   sizes=LONGTAIL_SIZES)
    train_images, train_annotations = splits["train"]
    image_count = [len({a["image_id"] for a in train_annotations if a["category_id"] == k + 1})
                   for k in range(len(LONGTAIL_CLASSES))]
    categories = [dict(id=k + 1, name=name, supercategory="shape", frequency=frequency_group(image_count[k]),
                       image_count=image_count[k], instance_count=train_counts[k])
                  for k, name in enumerate(LONGTAIL_CLASSES)]
    for split, (images, annotations) in splits.items():
        write_annotations(out_dir, split, images, annotations, categories)
    return {split: annotations for split, (_, annotations) in splits.items()}, categories


def draw_split(out_dir, split, num_images, pick_classes, class_names, rng, sizes):
    """Draw ``num_images`` images; ``pick_classes(i)`` gives the class indices of image i (0-based),
    called after its background is drawn."""
    os.makedirs(os.path.join(out_dir, split), exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        image = draw_background(rng)
        boxes = []
        for class_index in pick_classes(image_id - 1):
            box, area = draw_object(image, class_names[class_index], rng, boxes, sizes)
            boxes.append(box)
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, category_id=class_index + 1,
                                    bbox=box, area=area, iscrowd=0))
        file_name = f"{image_id:06d}.png"
        image.save(os.path.join(out_dir, split, file_name))
        images.append(dict(id=image_id, file_name=file_name, width=IMAGE_SIZE, height=IMAGE_SIZE))
    return images, annotations


def write_annotations(out_dir, split, images, annotations, categories):
    os.makedirs(os.path.join(out_dir, "annotations"), exist_ok=True)
    with open(os.path.join(out_dir, "annotations", f"{split}.json"), "w") as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
