"""Statistics of a dataset, computed from its annotations: class-balanced factors
(``class_balance``), class counts and LVIS frequency groups from COCO-format files (``coco``,
plain JSON), class counts from segmentation label maps (``label_maps``: numpy and Pillow,
imported only when used), and LVIS's rare/common/frequent rule (``frequency_groups``)."""
