"""Class-balanced per-class factors from training counts (a statistic of the data, not loss math):
the effective number of samples (``class_balanced_alpha``) and median-frequency balancing
(``median_frequency_alpha``).

Cui et al., "Class-Balanced Loss Based on Effective Number of Samples" (CVPR 2019): a class with
n training samples has the effective number E_n = (1 - beta^n) / (1 - beta) and the weight

    w_k  proportional to  1 / E_{n_k} = (1 - beta) / (1 - beta^{n_k})

with beta in [0, 1): 0 weights every class alike, beta -> 1 approaches inverse frequency. The
paper normalises the weights to sum to the number of classes (mean 1); ``mean`` sets another
mean, e.g. RetinaNet's foreground factor 0.25.
"""
import math

import torch

from ..checks.scalars import check_int, check_number, finite_non_negative, is_real


def _integer_counts(name, values, what):
    """``values`` (a sequence or a tensor of per-class counts) as a list of ints; TypeError naming ``name``."""
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    if not isinstance(values, (list, tuple)) or not values:
        raise TypeError(f"{name} must be a non-empty sequence of per-class {what} counts, got {values!r}")
    for k, n in enumerate(values):
        if not is_real(n) or n != int(n):
            raise TypeError(f"{name} must be integers, got {n!r} for class {k}")
    return [int(n) for n in values]


def class_balanced_alpha(counts, beta=0.999, mean=1.0, background_class=None, background_weight=None):
    """Per-class ``alpha`` for ``SoftmaxFocalLoss`` from per-class training counts.

    Args:
        counts (Sequence[int] | Tensor): number of training samples (for detection: instances)
            of each of the K foreground classes, in label order; integers >= 1.
        beta (float): in [0, 1). 0.999 is the paper's common choice; at counts of a few thousand or
            less it is close to inverse frequency, a smaller beta (e.g. 0.99) flattens the weights.
        mean (float): the mean of the K foreground weights (1: the paper's normalisation, sum = K).
        background_class (int | None): None for K weights (classification, or a sigmoid-free setup with no
            background channel). For a softmax detector, the index of the background channel
            (0 for ``SoftmaxRetinaHead``, K for mmdet's stock heads, which put it last): a
            ``background_weight`` is inserted there and K + 1 weights are returned.
        background_weight (float | None): the background channel's factor; None means ``mean`` (background
            weighted as an average class). RetinaNet's balance is 0.75 with ``mean=0.25``.

    Returns:
        Tensor: float32, of shape (K,) or (K + 1,).

    Example: counts (1000, 10, 1), beta 0.99, mean 1: 1 / E_n = 0.01 / (1 - 0.99^n) =
    (0.0100004, 0.1045829, 1.0), normalised to sum 3: (0.02692, 0.28149, 2.69159).
    """
    counts = _integer_counts("counts", counts, "sample")
    for k, n in enumerate(counts):
        if n < 1:
            raise ValueError(f"counts must be >= 1 (a class without training samples has no effective number), "
                             f"got {n} for class {k}")
    beta = check_number("beta", beta, "a real number in [0, 1)", lambda number: 0.0 <= number < 1.0)
    mean = check_number("mean", mean, "a finite number > 0", lambda number: number > 0 and math.isfinite(number))
    num_classes = len(counts)
    if background_class is not None and not 0 <= check_int("background_class", background_class) <= num_classes:
        raise ValueError(f"background_class must be None or an int in [0, {num_classes}], got {background_class!r}")
    if background_weight is not None:
        check_number("background_weight", background_weight, "None or a finite number >= 0", finite_non_negative)
    if background_class is None and background_weight is not None:
        raise ValueError("background_weight needs background_class (the index of the background channel)")

    # 1 - beta^n as -expm1(n log beta): exact for beta close to 1; beta = 0 gives 1 for every n >= 1.
    inverse_effective = [1.0 if beta == 0 else (1.0 - beta) / -math.expm1(n * math.log(beta)) for n in counts]
    total = sum(inverse_effective)
    weights = [w * mean * num_classes / total for w in inverse_effective]
    if background_class is not None:
        weights.insert(background_class, float(mean if background_weight is None else background_weight))
    return torch.tensor(weights, dtype=torch.float32)


def median_frequency_alpha(pixel_counts, image_pixel_counts):
    """Median-frequency balancing (Eigen & Fergus, ICCV 2015; SegNet's class weights) for semantic
    segmentation: with freq_c = (pixels of class c) / (pixels of the training images that hold c),

        alpha_c = median over classes of freq / freq_c

    so the class of median frequency weighs 1, rarer ones more. Every class (the background too)
    needs a pixel. ``class_counts_from_label_maps(dir, C, count='pixels')`` and ``count='image_pixels'``
    give the two counts from label maps.

    Args:
        pixel_counts (Sequence[int]): per class, its training pixels; integers >= 1.
        image_pixel_counts (Sequence[int]): per class, all the pixels of the training images holding
            it (>= its own pixels).

    Returns:
        Tensor: float32, of shape (C,).

    Example: pixels (600, 30, 10) in images of (1000, 300, 200) pixels: freq (0.6, 0.1, 0.05),
    median 0.1, alpha (0.16667, 1.0, 2.0).
    """
    pixels = _integer_counts("pixel_counts", pixel_counts, "pixel")
    image_pixels = _integer_counts("image_pixel_counts", image_pixel_counts, "pixel")
    if len(pixels) != len(image_pixels):
        raise ValueError(f"pixel_counts and image_pixel_counts must have one entry per class, got {len(pixels)} "
                         f"and {len(image_pixels)}")
    for k, (n, total) in enumerate(zip(pixels, image_pixels)):
        if n < 1:
            raise ValueError(f"pixel_counts must be >= 1 (a class without training pixels has no frequency), got "
                             f"{n} for class {k}")
        if total < n:
            raise ValueError(f"image_pixel_counts must be >= pixel_counts (the images holding a class hold its "
                             f"pixels), got {total} < {n} for class {k}")
    frequencies = torch.tensor([n / total for n, total in zip(pixels, image_pixels)], dtype=torch.float64)
    # the median of an even count: the mean of the two middle values (numpy's and SegNet's)
    ordered = frequencies.sort().values
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return (median / frequencies).to(torch.float32)
