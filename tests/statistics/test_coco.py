"""The COCO-format statistics (``imbalanced_losses.statistics.coco``): counts by category id and by
label, LVIS frequency groups, and one-line errors naming a malformed file."""
import json

import pytest

from imbalanced_losses.statistics.coco import class_counts, class_frequency_groups, counts_by_category_id


def write_coco(path, categories, annotations):
    path.write_text(json.dumps(dict(images=[dict(id=i, file_name=f"{i}.png", width=8, height=8) for i in range(1, 5)],
                                    categories=categories, annotations=annotations)))
    return str(path)


def test_counts_by_category_id_reads_every_category_of_a_coco_file(tmp_path):
    """Keyed by id (torchvision's labels), gaps kept out, crowd boxes and other categories not counted."""
    categories = [dict(id=7, name="c"), dict(id=1, name="a"), dict(id=3, name="b")]
    annotations = [dict(id=k, image_id=1 + k % 2, category_id=1, bbox=[0, 0, 2, 2]) for k in range(5)]
    annotations += [dict(id=10, image_id=3, category_id=3, bbox=[0, 0, 2, 2]),
                    dict(id=11, image_id=3, category_id=3, bbox=[0, 0, 2, 2], iscrowd=1)]
    ann_file = write_coco(tmp_path / "train.json", categories, annotations)
    assert counts_by_category_id(ann_file) == {7: 0, 1: 5, 3: 1}
    assert counts_by_category_id(ann_file, count="images") == {7: 0, 1: 2, 3: 1}


@pytest.mark.parametrize("categories, match", [
    ([dict(id=1, name="a"), dict(id=1, name="b")], "category ids must be distinct integers"),
    ([dict(id="1", name="a")], "category ids must be distinct integers"),
])
def test_counts_by_category_id_rejects_bad_ids_naming_the_file(tmp_path, categories, match):
    ann_file = write_coco(tmp_path / "bad.json", categories, [])
    with pytest.raises(ValueError, match=f"bad.json: {match}"):
        counts_by_category_id(ann_file)
    (tmp_path / "not.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not.json is not a COCO-format annotation file"):
        counts_by_category_id(str(tmp_path / "not.json"))


def test_frequency_groups_follow_lvis_rule_on_training_images(tmp_path):
    """Without a 'frequency' field: 1-10 training images rare, 11-100 common, more frequent."""
    categories = [dict(id=k, name=f"c{k}") for k in range(1, 6)]
    annotations = []
    for category_id, num_images in ((1, 101), (2, 100), (3, 11), (4, 10), (5, 1)):
        annotations += [dict(id=len(annotations) + 1, image_id=i, category_id=category_id, bbox=[0, 0, 2, 2])
                        for i in range(1, num_images + 1)]
    ann_file = write_coco(tmp_path / "train.json", categories, annotations)
    assert class_frequency_groups(ann_file) == ["f", "c", "c", "r", "r"]
    assert class_counts(ann_file, count="images") == [101, 100, 11, 10, 1]


def test_annotation_helpers_reject_malformed_files(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(dict(categories=[dict(id=1, name="a")], annotations=[dict(id=1, category_id=[1])])))
    with pytest.raises(ValueError, match=f"{path}: every annotation needs an integer 'category_id'"):
        class_counts(str(path))
    path.write_text(json.dumps(dict(categories=[dict(id=1)], annotations=[])))
    with pytest.raises(ValueError, match=f"{path}: every category needs an 'id' and a 'name'"):
        class_counts(str(path))
    path.write_text(json.dumps(dict(categories=[dict(id=1, name="a", frequency="x")], annotations=[])))
    with pytest.raises(ValueError, match="category 'frequency' must be one of"):
        class_frequency_groups(str(path))
    with pytest.raises(ValueError, match="count must be one of"):
        class_counts(str(path), count="boxes")
