"""Generate the bundled "shapes" datasets (the ``shapes`` package beside this file): COCO-format
detection (profiles ``demo`` and ``longtail``) or mmseg label maps (profile ``segmentation``).

Profile ``demo`` (the default, used by ``make demo``): 8 classes ({circle, square, triangle,
cross} x {red, blue}), 1-4 objects of 16-64 px per 128x128 image, allowed to overlap, over a
noisy tinted background with line and blob clutter. Class frequencies in train follow a
Zipf-like law (most frequent : rarest about 45 : 1); val is class-balanced, as in ImageNet-LT,
so that every class's AP rests on enough instances (mAP averages over classes either way).

Profile ``longtail`` (the long-tail study, ``projects/longtail_study/run_study.py``): 16 confusable classes
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
    python tools/generate_shapes_dataset.py --profile segmentation --out data/shapes_seg --seed 0
"""
import argparse

import numpy as np

from shapes.detection import CLASSES, generate_longtail, generate_split
from shapes.segmentation import PROFILES as SEGMENTATION_PROFILES
from shapes.segmentation import generate_segmentation


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["demo", "longtail", *SEGMENTATION_PROFILES], default="demo",
                        help="demo: 8 classes, 45:1 (default); longtail: 16 classes, 333:1, LVIS-like groups; "
                             "segmentation: 13 classes (background + 12), label maps for mmseg, rare shapes also "
                             "small; segmentation-counts: the same shapes all at 20-40 px, 50:1 by counts only "
                             "(segmentation-counts-rare10: its rare shapes at 10 instances)")
    parser.add_argument("--out", default="data/shapes", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-train", type=int, default=800, help="demo profile: train images")
    parser.add_argument("--num-val", type=int, default=200, help="demo profile: val images")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="longtail profile: multiply every instance count (tests use a small one)")
    args = parser.parse_args()
    if args.profile in SEGMENTATION_PROFILES:
        if not 0 < args.scale <= 1:
            parser.error(f"--scale must be in (0, 1], got {args.scale}")
        stats = generate_segmentation(args.out, args.seed, args.scale, args.profile)
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
