"""Drawing shared by every profile: a noisy, tinted, cluttered 128 x 128 background, one object
({solid, hollow} x {red, blue} x {circle, square, triangle, cross}) placed to overlap earlier
ones by IoU <= 0.3, and instances dealt out to images of 1-4 objects."""
import numpy as np
from PIL import Image, ImageDraw

COLOURS = {"red": (205, 40, 35), "blue": (35, 70, 210)}
IMAGE_SIZE = 128


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


def pack_into_images(class_indices, rng):
    """Shuffle the instances and deal them out to images of 1-4 objects each."""
    order = [int(i) for i in rng.permutation(class_indices)]
    images = []
    while order:
        count = int(rng.integers(1, 5))
        images.append(order[:count])
        order = order[count:]
    return images
