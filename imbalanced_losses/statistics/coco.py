"""Per-class statistics of a COCO/LVIS-format annotation file (plain JSON, no OpenMMLab).

mmdet's ``CocoDataset`` numbers the classes by the order of the file's ``categories`` (kept to
the names in ``metainfo['classes']`` when given): label i is the i-th such category. The
functions here follow that order, so the numbers line up with the labels a detector is trained
on; ``counts_by_category_id`` keys them by the files' category ids instead (torchvision's
detection models use the ids as labels).

Annotation files are untrusted input: they are read with ``json`` (no code runs) and a file
that is not a COCO-style annotation file gives a one-line ``ValueError`` naming it.
"""
import json

from .frequency_groups import FREQUENCY_GROUPS, frequency_group

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


def _check_count(count):
    if count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS}, got {count!r}")


def class_counts(ann_file, classes=None, count="instances"):
    """Training samples per class in label order: non-crowd ``instances`` or ``images`` holding one."""
    _check_count(count)
    data = load_coco(ann_file)
    return _counts(data, ann_file, label_categories(data, ann_file, classes), count)


def counts_by_category_id(ann_file, count="instances"):
    """Training samples per category id of the file (every category, 0 for one without any)."""
    _check_count(count)
    data = load_coco(ann_file)
    categories = data["categories"]
    ids = [c["id"] for c in categories]
    bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, int)]
    if bad or len(set(ids)) != len(ids):
        raise ValueError(f"{ann_file}: category ids must be distinct integers, got {ids!r:.200}")
    return dict(zip(ids, _counts(data, ann_file, categories, count)))


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


def class_frequency_groups(ann_file, classes=None):
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
