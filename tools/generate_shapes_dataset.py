"""Generate the bundled long-tailed COCO-format detection datasets ("shapes").

Profile ``demo`` (the default, used by ``make demo``): 8 classes ({circle, square, triangle,
cross} x {red, blue}), 1-4 objects of 16-64 px per 128x128 image, allowed to overlap, over a
noisy tinted background with line and blob clutter. Class frequencies in train follow a
Zipf-like law (most frequent : rarest about 45 : 1); val is class-balanced, as in ImageNet-LT,
so that every class's AP rests on enough instances (mAP averages over classes either way).

Profile ``longtail`` (the long-tail study, ``tools/run_study.py``): 16 confusable classes
({red, blue} x {circle, square, triangle, cross} x {solid, hollow}), 12-48 px objects. Train has
fixed instance counts from 1000 down to 3 (333 : 1), which gives LVIS-like groups by the number
of training images holding a class: 6 frequent (> 100), 6 common (11-100), 4 rare (1-10); every
rare class differs from a frequent or common one in one attribute. Val holds 60 instances of
every class. Both files carry LVIS's ``frequency`` ('r'/'c'/'f'), ``image_count`` and
``instance_count`` (of train) in their categories.

Deterministic for a given seed and profile. Writes:

    OUT/annotations/{train,val}.json   COCO json (images, annotations, categories)
    OUT/{train,val}/NNNNNN.png

    python tools/generate_shapes_dataset.py --out data/shapes --seed 0
    python tools/generate_shapes_dataset.py --profile longtail --out data/shapes_longtail --seed 0
"""
import argparse
import json
import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout too
from imbalanced_losses.frequency_groups import frequency_group  # noqa: E402

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = {"red": (205, 40, 35), "blue": (35, 70, 210)}
CLASSES = tuple(f"{colour}_{shape}" for shape in SHAPES for colour in COLOURS)  # Zipf rank = order
IMAGE_SIZE = 128
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


def draw_background(rng):
    tint = rng.uniform(70, 180, size=3)
    pixels = tint + rng.normal(0, 18, size=(IMAGE_SIZE, IMAGE_SIZE, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(2, 7)):  # line clutter
        points = [tuple(rng.uniform(0, IMAGE_SIZE, 2)) for _ in range(2)]
        draw.line(points, fill=tuple(int(c) for c in rng.uniform(40, 220, 3)), width=int(rng.integers(1, 4)))
    for _ in range(rng.integers(1, 5)):  # blob clutter, muted colours
        x, y = rng.uniform(0, IMAGE_SIZE, 2)
        rx, ry = rng.uniform(4, 14, 2)
        grey = rng.uniform(60, 200)
        colour = tuple(int(np.clip(grey + d, 0, 255)) for d in rng.uniform(-25, 25, 3))
        draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=colour)
    return image


def shape_polygon(shape, cx, cy, size, rng):
    half = size / 2
    if shape == "square":
        return [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half)]
    if shape == "triangle":
        return [(cx, cy - half), (cx + half, cy + half), (cx - half, cy + half)]
    if shape == "cross":
        arm = half * rng.uniform(0.28, 0.4)
        return [(cx - arm, cy - half), (cx + arm, cy - half), (cx + arm, cy - arm), (cx + half, cy - arm),
                (cx + half, cy + arm), (cx + arm, cy + arm), (cx + arm, cy + half), (cx - arm, cy + half),
                (cx - arm, cy + arm), (cx - half, cy + arm), (cx - half, cy - arm), (cx - arm, cy - arm)]
    raise ValueError(shape)


def iou(a, b):
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def draw_object(image, class_name, rng, boxes, sizes=(16, 64), masks=None):
    """Draw one object that overlaps earlier ones by IoU <= 0.3; return its COCO bbox and area
    (and append its mask, a boolean array, to ``masks`` when given).

    ``class_name`` is ``colour_shape`` (solid) or ``fill_colour_shape`` (fill: solid or hollow)."""
    *fill, colour_name, shape = class_name.split("_")
    hollow = fill == ["hollow"]
    for _ in range(20):
        size = rng.uniform(*sizes)
        cx, cy = rng.uniform(size / 2, IMAGE_SIZE - size / 2, 2)
        mask = Image.new("L", image.size, 0)
        mask_draw = ImageDraw.Draw(mask)
        style = dict(outline=255, width=max(2, round(size * 0.12))) if hollow else dict(fill=255)
        if shape == "circle":
            mask_draw.ellipse([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2], **style)
        else:
            mask_draw.polygon(shape_polygon(shape, cx, cy, size, rng), **style)
        left, top, right, bottom = mask.getbbox()
        box = [float(left), float(top), float(right - left), float(bottom - top)]
        if all(iou(box, other) <= 0.3 for other in boxes):
            break
    base = np.array(COLOURS[colour_name], dtype=float)
    colour = tuple(int(c) for c in np.clip(base + rng.normal(0, 15, 3), 0, 255))
    image.paste(Image.new("RGB", image.size, colour), mask=mask)
    if masks is not None:
        masks.append(np.asarray(mask) > 0)
    return box, float((np.asarray(mask) > 0).sum())


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


def pack_into_images(class_indices, rng):
    """Shuffle the instances and deal them out to images of 1-4 objects each."""
    order = [int(i) for i in rng.permutation(class_indices)]
    images = []
    while order:
        count = int(rng.integers(1, 5))
        images.append(order[:count])
        order = order[count:]
    return images


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["demo", "longtail", "segmentation"], default="demo",
                        help="demo: 8 classes, 45:1 (default); longtail: 16 classes, 333:1, LVIS-like groups; "
                             "segmentation: 13 classes (background + 12), label maps for mmseg")
    parser.add_argument("--out", default="data/shapes", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-train", type=int, default=800, help="demo profile: train images")
    parser.add_argument("--num-val", type=int, default=200, help="demo profile: val images")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="longtail profile: multiply every instance count (tests use a small one)")
    args = parser.parse_args()
    if args.profile == "segmentation":
        if not 0 < args.scale <= 1:
            parser.error(f"--scale must be in (0, 1], got {args.scale}")
        from shapes_segmentation import generate_segmentation
        stats = generate_segmentation(args.out, args.seed, args.scale)
        for split in ("train", "val"):
            print(f"{split}: {stats[split]['images']} images; images per class: "
                  + ", ".join(f"{n} {c}" for n, c in zip(stats["classes"], stats[split]["image_count"])))
        print("train pixel share: " + ", ".join(f"{n} {s:.2%}" for n, s in zip(stats["classes"],
                                                                                stats["train"]["pixel_share"])))
        return
    if args.profile == "longtail":
        if not 0 < args.scale <= 1:
            parser.error(f"--scale must be in (0, 1], got {args.scale}")
        annotations, categories = generate_longtail(args.out, args.seed, args.scale)
        for split in ("train", "val"):
            images = len({a["image_id"] for a in annotations[split]})
            print(f"{split}: {images} images, {len(annotations[split])} objects")
        for group, name in (("f", "frequent"), ("c", "common"), ("r", "rare")):
            print(f"{name}: " + ", ".join(f"{c['name']} ({c['image_count']} images)" for c in categories
                                         if c["frequency"] == group))
        return
    for split, count, offset in (("train", args.num_train, 0), ("val", args.num_val, 1)):
        annotations = generate_split(args.out, split, count, seed=args.seed * 2 + offset)
        per_class = np.bincount([a["category_id"] - 1 for a in annotations], minlength=len(CLASSES))
        print(f"{split}: {count} images, {len(annotations)} objects, per class "
              + ", ".join(f"{name} {n}" for name, n in zip(CLASSES, per_class)))


if __name__ == "__main__":
    main()
