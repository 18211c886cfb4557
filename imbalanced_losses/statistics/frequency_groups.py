"""LVIS's frequency groups, defined once: a class is rare, common or frequent by the number of
*training images* that contain it (1-10, 11-100, more)."""
FREQUENCY_GROUPS = ("r", "c", "f")
RARE_MAX_IMAGES = 10
COMMON_MAX_IMAGES = 100


def frequency_group(image_count):
    """'r', 'c' or 'f' for a class contained in ``image_count`` training images."""
    return "r" if image_count <= RARE_MAX_IMAGES else "c" if image_count <= COMMON_MAX_IMAGES else "f"
