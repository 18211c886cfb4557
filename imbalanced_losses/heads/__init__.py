"""What the detection adapters' softmax heads share (our mmdet RetinaHead and initializer,
torchvision's RetinaNet and RoI heads): the background-first rule for their loss
(``background.py``) and the background prior of their classifier's bias (``priors.py``). The core
loss does not import this package."""
