"""The bundled "shapes" data: synthetic images of coloured shapes over cluttered backgrounds,
deterministic per seed, long-tailed by design. ``drawing`` draws backgrounds and objects (shared),
``detection`` writes the COCO-format profiles (demo, longtail), ``segmentation`` the label-map
profile; ``tools/generate_shapes_dataset.py`` is the command line."""
