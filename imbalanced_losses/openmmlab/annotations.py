"""Per-class statistics of a COCO/LVIS-format annotation file, in mmdet's label order.

mmdet's ``CocoDataset`` numbers the classes by the order of the file's ``categories`` (kept to
the names in ``metainfo['classes']`` when given): label i is the i-th such category. Everything
here follows that order, so the numbers line up with the labels a detector is trained on.

Annotation files are untrusted input: they are read with ``json`` (no code runs) and a file
that is not a COCO-style annotation file gives a one-line ``ValueError`` naming it.
"""
import json

from ..class_balance import class_balanced_alpha
from ..frequency_groups import FREQUENCY_GROUPS, frequency_group

COUNTS = ("instances", "images")


def load_coco(ann_file):
    """The parsed file, checked to hold ``categories`` and ``annotations`` lists."""
    try:
        with open(ann_file) as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read annotation file {ann_file}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        raise ValueError(f"{ann_file} is not a COCO-format annotation file (no 'categories' list)")
    if not isinstance(data.get("annotations", []), list):
        raise ValueError(f"{ann_file} is not a COCO-format annotation file ('annotations' is not a list)")
    for category in data["categories"]:
        if not isinstance(category, dict) or "id" not in category or "name" not in category:
            raise ValueError(f"{ann_file}: every category needs an 'id' and a 'name', got {category!r}")
    return data


def label_categories(data, ann_file, classes=None):
    """The categories in label order (file order, kept to ``classes`` when given)."""
    categories = data["categories"]
    if classes is None:
        return categories
    names = {c["name"] for c in categories}
    missing = [name for name in classes if name not in names]
    if missing:
        raise ValueError(f"{ann_file} has no categories named {missing}")
    return [c for c in categories if c["name"] in set(classes)]


def class_counts(ann_file, classes=None, count="instances"):
    """Training samples per class in label order: non-crowd ``instances`` or ``images`` holding one."""
    if count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS}, got {count!r}")
    data = load_coco(ann_file)
    return _counts(data, ann_file, label_categories(data, ann_file, classes), count)


def _counts(data, ann_file, categories, count):
    per_category = {c["id"]: set() if count == "images" else 0 for c in categories}
    for ann in data.get("annotations", []):
        if not isinstance(ann, dict) or isinstance(ann.get("category_id"), bool) or \
                not isinstance(ann.get("category_id"), int):
            raise ValueError(f"{ann_file}: every annotation needs an integer 'category_id', got {ann!r:.200}")
        if ann.get("iscrowd", 0) or ann["category_id"] not in per_category:
            continue
        if count == "images":
            per_category[ann["category_id"]].add(ann.get("image_id"))
        else:
            per_category[ann["category_id"]] += 1
    return [len(v) if count == "images" else v for v in per_category.values()]


def frequency_groups(ann_file, classes=None):
    """LVIS frequency group ('r', 'c' or 'f') per class in label order.

    Read from the categories' ``frequency`` field where every category has one (LVIS files and
    the longtail profile carry it), else computed from the file's own annotations: 1-10
    training images rare, 11-100 common, more frequent (pass the *training* file then)."""
    data = load_coco(ann_file)
    categories = label_categories(data, ann_file, classes)
    return [group for _, group in _groups(data, ann_file, categories)]


def groups_by_name(ann_file):
    """Category name -> LVIS frequency group, for every category of the file (one parse)."""
    data = load_coco(ann_file)
    return dict(_groups(data, ann_file, data["categories"]))


def _groups(data, ann_file, categories):
    if all("frequency" in c for c in categories):
        groups = [c["frequency"] for c in categories]
        bad = [g for g in groups if g not in FREQUENCY_GROUPS]
        if bad:
            raise ValueError(f"{ann_file}: category 'frequency' must be one of {FREQUENCY_GROUPS}, got {bad[0]!r}")
    else:
        groups = [frequency_group(n) for n in _counts(data, ann_file, categories, "images")]
    return [(c["name"], g) for c, g in zip(categories, groups)]


ALPHA_SPEC_KEYS = ("type", "ann_file", "beta", "mean", "background_weight", "classes", "count")
SEG_ALPHA_SPEC_KEYS = ("type", "seg_map_dir", "num_classes", "ignore_index", "beta", "mean", "count", "suffix")


def alpha_from_spec(spec, background_class):
    """Resolve ``alpha=dict(type='class_balanced', ...)`` from an OpenMMLab config.

    Detection: ``ann_file`` (the training annotation file), ``beta`` and ``mean`` (defaults:
    ``class_balanced_alpha``'s), ``background_weight`` (default ``mean``), ``classes`` (the config's class
    names, to keep and order the categories as the dataset does; default all), ``count``
    ('instances' (default) or 'images'). The background weight goes to ``background_class``.

    Segmentation: ``seg_map_dir`` (the training label maps), ``num_classes``, ``ignore_index``,
    ``count`` ('images': maps holding the class, or 'pixels') and ``suffix`` (defaults:
    ``class_counts_from_label_maps``'s), ``beta``, ``mean``. Every class, background included, gets
    its weight from its own count. A key left out takes the default of the function it goes to.
    """
    weighting = {key: spec[key] for key in ("beta", "mean") if key in spec}
    if spec.get("type") == "class_balanced" and "seg_map_dir" in spec:
        unknown = sorted(set(spec) - set(SEG_ALPHA_SPEC_KEYS))
        if unknown or "num_classes" not in spec:
            raise ValueError("alpha from label maps must be dict(type='class_balanced', seg_map_dir=..., "
                             f"num_classes=..., ignore_index=..., beta=..., mean=..., count=...), got {dict(spec)!r}")
        from .label_maps import class_counts_from_label_maps
        counting = {key: spec[key] for key in ("count", "ignore_index", "suffix") if key in spec}
        counts = class_counts_from_label_maps(spec["seg_map_dir"], spec["num_classes"], **counting)
        return class_balanced_alpha(counts, **weighting)
    unknown = sorted(set(spec) - set(ALPHA_SPEC_KEYS))
    if spec.get("type") != "class_balanced" or unknown or "ann_file" not in spec:
        raise ValueError("alpha as a dict must be dict(type='class_balanced', ann_file=..., beta=..., mean=..., "
                         f"background_weight=..., classes=..., count=...) or dict(type='class_balanced', "
                         f"seg_map_dir=..., num_classes=..., ...), got {dict(spec)!r}")
    counts = class_counts(spec["ann_file"], **{key: spec[key] for key in ("classes", "count") if key in spec})
    return class_balanced_alpha(counts, **weighting, background_class=background_class,
                                background_weight=spec.get("background_weight"))


COUNTS_SPEC_KEYS = ("type", "ann_file", "classes", "count", "tau")
SEG_COUNTS_SPEC_KEYS = ("type", "seg_map_dir", "num_classes", "ignore_index", "count", "suffix", "tau")


def counts_from_spec(spec, background_class, name):
    """Per-class training counts for the loss's C columns from an OpenMMLab config:
    ``dict(ann_file=..., classes=..., count='instances')`` (the K classes of a COCO-format file,
    with a 0 inserted at ``background_class`` unless it is None) or
    ``dict(seg_map_dir=..., num_classes=..., ignore_index=..., count='pixels', suffix=...)`` (every
    class of the label maps). ``name`` (the config key) and ``type`` name the form in errors;
    returns (counts, whether they hold a background placeholder)."""
    if "seg_map_dir" in spec:
        unknown = sorted(set(spec) - set(SEG_COUNTS_SPEC_KEYS))
        if unknown or "num_classes" not in spec:
            raise ValueError(f"{name} from label maps must be dict(type=..., seg_map_dir=..., num_classes=..., "
                             f"ignore_index=..., count=..., suffix=...), got {dict(spec)!r}")
        from .label_maps import class_counts_from_label_maps
        counting = {key: spec[key] for key in ("ignore_index", "suffix") if key in spec}
        return class_counts_from_label_maps(spec["seg_map_dir"], spec["num_classes"],
                                            count=spec.get("count", "pixels"), **counting), False
    unknown = sorted(set(spec) - set(COUNTS_SPEC_KEYS))
    if unknown or "ann_file" not in spec:
        raise ValueError(f"{name} as a dict must be dict(type=..., ann_file=..., classes=..., count=...) or "
                         f"dict(type=..., seg_map_dir=..., num_classes=..., ...), got {dict(spec)!r}")
    counts = class_counts(spec["ann_file"], **{key: spec[key] for key in ("classes", "count") if key in spec})
    if background_class is None:
        return counts, False
    if not 0 <= background_class <= len(counts):
        raise ValueError(f"background_class={background_class} must be in [0, {len(counts)}] to place the "
                         f"background among the {len(counts)} classes of {spec['ann_file']}")
    return counts[:background_class] + [0] + counts[background_class:], True
