"""Class-balanced alpha from an OpenMMLab config's ``dict(type='class_balanced', ...)`` (the counts
from the training annotation file, ``statistics.coco``, or the label maps, ``statistics.label_maps``)
or ``dict(type='median_frequency', seg_map_dir=..., num_classes=...)`` (label maps)."""
from ..statistics.class_balance import class_balanced_alpha, median_frequency_alpha
from ..statistics.coco import class_counts

ALPHA_SPEC_KEYS = ("type", "ann_file", "beta", "mean", "background_weight", "classes", "count")
SEG_ALPHA_SPEC_KEYS = ("type", "seg_map_dir", "num_classes", "ignore_index", "beta", "mean", "count", "suffix")
MEDIAN_FREQUENCY_KEYS = ("type", "seg_map_dir", "num_classes", "ignore_index", "suffix")


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

    ``dict(type='median_frequency', seg_map_dir=..., num_classes=..., ignore_index=..., suffix=...)``:
    ``median_frequency_alpha`` of the label maps' pixel counts (every class, background included).
    """
    if spec.get("type") == "median_frequency":
        unknown = sorted(set(spec) - set(MEDIAN_FREQUENCY_KEYS))
        if unknown or "seg_map_dir" not in spec or "num_classes" not in spec:
            raise ValueError("median-frequency alpha must be dict(type='median_frequency', seg_map_dir=..., "
                             f"num_classes=..., ignore_index=..., suffix=...), got {dict(spec)!r}")
        from ..statistics.label_maps import class_counts_from_label_maps
        reading = {key: spec[key] for key in ("ignore_index", "suffix") if key in spec}
        pixels, image_pixels = (class_counts_from_label_maps(spec["seg_map_dir"], spec["num_classes"], count=count,
                                                             **reading) for count in ("pixels", "image_pixels"))
        return median_frequency_alpha(pixels, image_pixels)
    weighting = {key: spec[key] for key in ("beta", "mean") if key in spec}
    if spec.get("type") == "class_balanced" and "seg_map_dir" in spec:
        unknown = sorted(set(spec) - set(SEG_ALPHA_SPEC_KEYS))
        if unknown or "num_classes" not in spec:
            raise ValueError("alpha from label maps must be dict(type='class_balanced', seg_map_dir=..., "
                             f"num_classes=..., ignore_index=..., beta=..., mean=..., count=...), got {dict(spec)!r}")
        from ..statistics.label_maps import class_counts_from_label_maps
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
