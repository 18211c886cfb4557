"""Generate the bundled long-tailed COCO-format detection dataset ("shapes").

8 classes ({circle, square, triangle, cross} x {red, blue}), 1-4 objects of 16-64 px per 128x128
image, allowed to overlap, over a noisy tinted background with line and blob clutter. Class
frequencies in train follow a Zipf-like law (most frequent : rarest about 45 : 1); val is
class-balanced, as in ImageNet-LT, so that every class's AP rests on enough instances (mAP
averages over classes either way). Deterministic for a given seed. Writes:

    OUT/annotations/{train,val}.json   COCO json (images, annotations, categories)
    OUT/{train,val}/NNNNNN.png

    python tools/generate_shapes_dataset.py --out data/shapes --seed 0
"""
import argparse
import json
import math
import os

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = {"red": (205, 40, 35), "blue": (35, 70, 210)}
CLASSES = tuple(f"{colour}_{shape}" for shape in SHAPES for colour in COLOURS)  # Zipf rank = order
IMAGE_SIZE = 128
ZIPF_EXPONENT = math.log(45) / math.log(len(CLASSES))  # frequency of rank k ~ 1 / k^s


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


def draw_object(image, class_index, rng, boxes):
    """Draw one object that overlaps earlier ones by IoU <= 0.3; return its COCO bbox and area."""
    colour_name, shape = CLASSES[class_index].split("_")
    for _ in range(20):
        size = rng.uniform(16, 64)
        cx, cy = rng.uniform(size / 2, IMAGE_SIZE - size / 2, 2)
        mask = Image.new("L", image.size, 0)
        mask_draw = ImageDraw.Draw(mask)
        if shape == "circle":
            mask_draw.ellipse([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2], fill=255)
        else:
            mask_draw.polygon(shape_polygon(shape, cx, cy, size, rng), fill=255)
        left, top, right, bottom = mask.getbbox()
        box = [float(left), float(top), float(right - left), float(bottom - top)]
        if all(iou(box, other) <= 0.3 for other in boxes):
            break
    base = np.array(COLOURS[colour_name], dtype=float)
    colour = tuple(int(c) for c in np.clip(base + rng.normal(0, 15, 3), 0, 255))
    image.paste(Image.new("RGB", image.size, colour), mask=mask)
    return box, float((np.asarray(mask) > 0).sum())


def generate_split(out_dir, split, num_images, seed):
    rng = np.random.default_rng(seed)
    probabilities = class_probabilities(long_tailed=split == "train")
    os.makedirs(os.path.join(out_dir, split), exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        image = draw_background(rng)
        boxes = []
        for class_index in rng.choice(len(CLASSES), size=int(rng.integers(1, 5)), p=probabilities):
            box, area = draw_object(image, int(class_index), rng, boxes)
            boxes.append(box)
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, category_id=int(class_index) + 1,
                                    bbox=box, area=area, iscrowd=0))
        file_name = f"{image_id:06d}.png"
        image.save(os.path.join(out_dir, split, file_name))
        images.append(dict(id=image_id, file_name=file_name, width=IMAGE_SIZE, height=IMAGE_SIZE))
    categories = [dict(id=i + 1, name=name, supercategory="shape") for i, name in enumerate(CLASSES)]
    os.makedirs(os.path.join(out_dir, "annotations"), exist_ok=True)
    with open(os.path.join(out_dir, "annotations", f"{split}.json"), "w") as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return annotations


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/shapes", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-train", type=int, default=800)
    parser.add_argument("--num-val", type=int, default=200)
    args = parser.parse_args()
    for split, count, offset in (("train", args.num_train, 0), ("val", args.num_val, 1)):
        annotations = generate_split(args.out, split, count, seed=args.seed * 2 + offset)
        per_class = np.bincount([a["category_id"] - 1 for a in annotations], minlength=len(CLASSES))
        print(f"{split}: {count} images, {len(annotations)} objects, per class "
              + ", ".join(f"{name} {n}" for name, n in zip(CLASSES, per_class)))


if __name__ == "__main__":
    main()
