"""Train and evaluate a torchvision detector on a COCO-format dataset, as torchvision's
``references/detection/train.py`` does (its flags, torchrun for several processes), with our
softmax heads or torchvision's stock ones, sized for CPU; COCO mAP with pycocotools.

    python tools/torchvision_detection/train.py --data-path data/shapes --model retinanet_r18_fpn_softmax \\
        --epochs 24 -b 16 --lr 1e-3 --output-dir work_dirs/tv_retina
    python tools/torchvision_detection/train.py ... --resume work_dirs/tv_retina/checkpoint.pth --test-only
    torchrun --nproc_per_node 2 tools/torchvision_detection/train.py ...      # DDP (gloo on CPU)

Data: ``--dataset shapes`` (the bundled layout: ``annotations/{train,val}.json``, ``{train,val}/``)
or ``coco`` (``annotations/instances_{train,val}2017.json``, ``{train,val}2017/``). Labels are the
files' category ids, the background 0, as torchvision's detection models count them.
Models (``--model``): ``retinanet_r18_fpn`` / ``fasterrcnn_r18_fpn`` (torchvision's heads and
losses) and their ``_softmax`` variants (``softmax_retinanet`` with alpha 0.75 for the background
and 0.25 for the classes; ``softmax_focal_roi_heads``; ``--gamma``; ``--class-balanced-beta`` for
class-balanced alpha from the training file): a ResNet-18 from scratch with
a 64-channel FPN on strides 8-64 and anchors of 16-128 px, for 128 px images. Writes
``metrics.json`` (COCO AP, AP50, AP75) and checkpoints (state dicts only: ``--resume`` loads them
weights-only) to ``--output-dir``.
"""
import argparse
import datetime
import json
import math
import os
import time

import torch
import torch.distributed as dist
import torchvision
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torchvision.datasets import CocoDetection, wrap_dataset_for_transforms_v2
from torchvision.models import resnet18
from torchvision.models.detection import FasterRCNN, RetinaNet
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.transforms import v2

from imbalanced_losses.torchvision import coco_class_balanced_alpha, softmax_focal_roi_heads, softmax_retinanet

MODELS = ("retinanet_r18_fpn", "retinanet_r18_fpn_softmax", "fasterrcnn_r18_fpn", "fasterrcnn_r18_fpn_softmax")
LAYOUTS = {"shapes": ("annotations/{}.json", "{}"), "coco": ("annotations/instances_{}2017.json", "{}2017")}


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-path", default="data/shapes", help="dataset root")
    parser.add_argument("--dataset", default="shapes", choices=sorted(LAYOUTS), help="the folder layout")
    parser.add_argument("--model", default="retinanet_r18_fpn_softmax", choices=MODELS)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("-b", "--batch-size", default=16, type=int, help="images per process")
    parser.add_argument("--epochs", default=24, type=int)
    parser.add_argument("-j", "--workers", default=2, type=int, help="data loading workers per process")
    parser.add_argument("--lr", default=1e-3, type=float, help="AdamW learning rate")
    parser.add_argument("--wd", "--weight-decay", default=0.05, type=float, dest="weight_decay")
    parser.add_argument("--lr-steps", default=[16, 22], nargs="+", type=int, help="epochs where lr drops")
    parser.add_argument("--lr-gamma", default=0.1, type=float)
    parser.add_argument("--warmup-iters", default=1000, type=int,
                        help="linear warm-up from lr / 1000 over this many iterations of the first epoch (at most "
                             "the epoch), as torchvision's references")
    parser.add_argument("--gamma", default=2.0, type=float, help="the softmax focal loss's gamma (_softmax models)")
    parser.add_argument("--class-balanced-beta", default=None, type=float,
                        help="_softmax models: class-balanced alpha from the training file with this beta (RetinaNet: "
                             "mean 0.25 over the classes, 0.75 for the background; Faster R-CNN: mean 1)")
    parser.add_argument("--size", default=128, type=int, help="images are resized to this (min and max) size")
    parser.add_argument("--print-freq", default=20, type=int)
    parser.add_argument("--output-dir", default=".", help="checkpoints and metrics.json")
    parser.add_argument("--resume", default="", help="a checkpoint of this tool to go on from")
    parser.add_argument("--test-only", action="store_true", help="evaluate only (with --resume)")
    parser.add_argument("--seed", default=0, type=int)
    return parser


def init_distributed():
    """torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) or one process."""
    if "RANK" not in os.environ:
        return 0, 1
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", timeout=datetime.timedelta(minutes=10))
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    return dist.get_rank(), dist.get_world_size()


def dataset(args, split, train):
    annotations, images = (pattern.format(split) for pattern in LAYOUTS[args.dataset])
    transforms = [v2.ToImage()] + ([v2.RandomHorizontalFlip(0.5)] if train else []) + [
        v2.ToDtype(torch.float32, scale=True), v2.SanitizeBoundingBoxes()]
    coco = CocoDetection(os.path.join(args.data_path, images), os.path.join(args.data_path, annotations),
                         transforms=v2.Compose(transforms))
    return wrap_dataset_for_transforms_v2(coco, target_keys=("boxes", "labels", "image_id"))


def build_model(name, num_classes, size, gamma, train_ann_file=None, class_balanced_beta=None):
    """A ResNet-18 (from scratch) with a 64-channel FPN on strides 8, 16, 32 (+ 64 by max-pool)."""
    backbone = BackboneWithFPN(resnet18(weights=None), return_layers={"layer2": "0", "layer3": "1", "layer4": "2"},
                               in_channels_list=[128, 256, 512], out_channels=64)
    sizes = tuple((s, round(s * 2 ** (1 / 3)), round(s * 2 ** (2 / 3))) for s in (16, 32, 64, 128))
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    common = dict(min_size=size, max_size=size)
    if name.startswith("retinanet"):
        model = RetinaNet(backbone, num_classes, anchor_generator=anchors, **common)
        if not name.endswith("_softmax"):
            return model
        # RetinaNet's balance (sigmoid focal's alpha 0.25), as our mmdet configs set it: background 0.75
        alpha = [0.75] + [0.25] * (num_classes - 1) if class_balanced_beta is None else coco_class_balanced_alpha(
            train_ann_file, class_balanced_beta, mean=0.25, background_weight=0.75, num_classes=num_classes)
        return softmax_retinanet(model, gamma=gamma, alpha=alpha)
    model = FasterRCNN(backbone, num_classes, rpn_anchor_generator=AnchorGenerator(
        tuple((s,) for s in (16, 32, 64, 128)), ((0.5, 1.0, 2.0),) * 4), **common)
    if not name.endswith("_softmax"):
        return model
    alpha = None if class_balanced_beta is None else coco_class_balanced_alpha(
        train_ann_file, class_balanced_beta, num_classes=num_classes)
    return softmax_focal_roi_heads(model, gamma=gamma, alpha=alpha)


def collate(batch):
    return tuple(zip(*batch))


def train_one_epoch(model, optimizer, loader, device, epoch, print_freq, rank, warmup_iters):
    model.train()
    start = time.time()
    warmup = None
    if epoch == 0 and warmup_iters > 0:  # as torchvision's references: a linear warm-up from lr / 1000
        warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1e-3,
                                                   total_iters=min(warmup_iters, len(loader) - 1))
    for step, (images, targets) in enumerate(loader):
        images = [image.to(device) for image in images]
        targets = [{k: v.to(device) for k, v in t.items() if k in ("boxes", "labels")} for t in targets]
        losses = model(images, targets)
        loss = sum(losses.values())
        if not math.isfinite(loss.item()):
            raise RuntimeError(f"epoch {epoch} step {step}: the loss is {loss.item()} ({losses})")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if warmup is not None:
            warmup.step()
        if rank == 0 and step % print_freq == 0:
            parts = ", ".join(f"{k} {v.item():.4f}" for k, v in losses.items())
            print(f"epoch {epoch} [{step}/{len(loader)}] loss {loss.item():.4f} ({parts}) "
                  f"{(time.time() - start) / (step + 1):.3f} s/iter", flush=True)


@torch.no_grad()
def evaluate(model, loader, ann_file, device, world_size):
    """COCO bbox AP of every process's detections, gathered to all (pycocotools on the gathered list)."""
    model.eval()
    results = []
    for images, targets in loader:
        outputs = model([image.to(device) for image in images])
        for target, output in zip(targets, outputs):
            boxes = output["boxes"].cpu()
            boxes[:, 2:] -= boxes[:, :2]  # xyxy -> xywh
            results += [dict(image_id=int(target["image_id"]), category_id=int(label), bbox=box.tolist(),
                             score=float(score))
                        for box, label, score in zip(boxes, output["labels"], output["scores"])]
    if world_size > 1:
        gathered = [None] * world_size
        dist.all_gather_object(gathered, results)
        results = [r for part in gathered for r in part]
    coco = COCO(ann_file)
    if not results:
        return dict(AP=0.0, AP50=0.0, AP75=0.0, detections=0)
    evaluation = COCOeval(coco, coco.loadRes(results), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    stats = evaluation.stats
    return dict(AP=float(stats[0]), AP50=float(stats[1]), AP75=float(stats[2]), detections=len(results))


def main(args):
    rank, world_size = init_distributed()
    torch.manual_seed(args.seed + rank)
    device = torch.device(args.device)
    os.makedirs(args.output_dir, exist_ok=True)
    train_set, val_set = dataset(args, "train", True), dataset(args, "val", False)
    num_classes = max(train_set.coco.getCatIds()) + 1  # category ids are the labels; 0 the background
    train_ann_file = os.path.join(args.data_path, LAYOUTS[args.dataset][0].format("train"))
    model = build_model(args.model, num_classes, args.size, args.gamma, train_ann_file,
                        args.class_balanced_beta).to(device)
    if world_size > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    core = model.module if world_size > 1 else model
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr,
                                  weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=args.lr_steps, gamma=args.lr_gamma)
    first_epoch = 0
    if args.resume:
        checkpoint = torch.load(args.resume, map_location="cpu", weights_only=True)  # never runs code
        core.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["lr_scheduler"])
        first_epoch = checkpoint["epoch"] + 1
    sampler = torch.utils.data.DistributedSampler(train_set, seed=args.seed) if world_size > 1 else \
        torch.utils.data.RandomSampler(train_set, generator=torch.Generator().manual_seed(args.seed))
    val_sampler = torch.utils.data.DistributedSampler(val_set, shuffle=False) if world_size > 1 else None
    loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, sampler=sampler,
                                         num_workers=args.workers, collate_fn=collate, drop_last=True)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=8, sampler=val_sampler, num_workers=args.workers,
                                             collate_fn=collate)
    ann_file = os.path.join(args.data_path, LAYOUTS[args.dataset][0].format("val"))
    if not args.test_only:
        start = time.time()
        for epoch in range(first_epoch, args.epochs):
            if world_size > 1:
                sampler.set_epoch(epoch)
            train_one_epoch(model, optimizer, loader, device, epoch, args.print_freq, rank, args.warmup_iters)
            scheduler.step()
            if rank == 0:
                state = dict(model=core.state_dict(), optimizer=optimizer.state_dict(),
                             lr_scheduler=scheduler.state_dict(), epoch=epoch, args=vars(args))
                torch.save(state, os.path.join(args.output_dir, "checkpoint.pth"))
        if rank == 0:
            print(f"training took {datetime.timedelta(seconds=int(time.time() - start))}", flush=True)
    metrics = evaluate(model, val_loader, ann_file, device, world_size)
    if rank == 0:
        metrics.update(model=args.model, seed=args.seed, epochs=args.epochs, world_size=world_size,
                       torch=torch.__version__, torchvision=torchvision.__version__)
        with open(os.path.join(args.output_dir, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=1)
        print("metrics:", json.dumps(metrics), flush=True)
    if world_size > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    parser = get_args_parser()
    arguments = parser.parse_args()
    if arguments.class_balanced_beta is not None and not arguments.model.endswith("_softmax"):
        # a flag conflict: refused with the usage, before any process group or data is set up
        parser.error(f"--class-balanced-beta is an option of the _softmax models, not of {arguments.model}")
    main(arguments)
