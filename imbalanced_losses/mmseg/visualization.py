"""A segmentation visualizer whose pictures read image | ground truth | prediction.

mmseg's ``SegLocalVisualizer`` draws the ground truth and the prediction as overlays on the
image, side by side; this one puts the plain image in front, so that small or thin objects are
seen as they are. The drawing (colours, labels) and the vis backends are mmseg's.
"""
import mmcv
import numpy as np
from mmseg.registry import VISUALIZERS
from mmseg.visualization import SegLocalVisualizer


@VISUALIZERS.register_module()
class ImageGtPredVisualizer(SegLocalVisualizer):
    """``SegLocalVisualizer`` with the plain image as the first panel."""

    _capture = None

    def add_datasample(self, name, image, data_sample=None, draw_gt=True, draw_pred=True, show=False,
                       wait_time=0, out_file=None, step=0, with_labels=True):
        captured = []
        self._capture = captured  # mmseg's drawing ends in add_image: take its picture from there
        try:
            super().add_datasample(name, image, data_sample, draw_gt, draw_pred, False, wait_time, None, step,
                                   with_labels)
        finally:
            self._capture = None
        panels = np.concatenate([image] + captured, axis=1)
        if show:
            self.show(panels, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(panels), out_file)
        else:
            super().add_image(name, panels, step)

    def add_image(self, name, image, step=0):
        if self._capture is not None:
            self._capture.append(image)
            return
        super().add_image(name, image, step)
