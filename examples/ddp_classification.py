"""Long-tailed classification with SoftmaxFocalLoss under plain-PyTorch DDP (or one process).

    python examples/ddp_classification.py                        # one process
    torchrun --nproc_per_node=2 examples/ddp_classification.py   # 2 ranks (gloo on CPU)

Trains the same MLP twice on a Zipf-distributed synthetic dataset (most/rarest 100:1), once with
F.cross_entropy and once with SoftmaxFocalLoss(gamma=2, per-class alpha), and prints per-class
recall on a class-balanced test set. Each rank holds a different shard, so its batch has its own
class mix; with gather_distributed the loss is normalised over the global batch and every rank
reports the global value.
"""
import math
import os

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from imbalanced_losses import SoftmaxFocalLoss

NUM_CLASSES, NUM_FEATURES = 8, 16
TRAIN_SIZE, TEST_PER_CLASS, EPOCHS, BATCH = 16000, 250, 6, 256


def make_data(seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(NUM_CLASSES, NUM_FEATURES, generator=gen) * 1.2
    exponent = math.log(100) / math.log(NUM_CLASSES)  # Zipf-like, most/rarest = 100
    frequency = torch.tensor([1.0 / (k + 1) ** exponent for k in range(NUM_CLASSES)])
    train_labels = torch.multinomial(frequency, TRAIN_SIZE, replacement=True, generator=gen)
    test_labels = torch.arange(NUM_CLASSES).repeat_interleave(TEST_PER_CLASS)
    sample = lambda labels: centres[labels] + torch.randn(len(labels), NUM_FEATURES, generator=gen)
    return sample(train_labels), train_labels, sample(test_labels), test_labels, frequency


def train(loss_name, rank, world_size, data):
    train_x, train_y, test_x, test_y, frequency = data
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(NUM_FEATURES, 64), nn.ReLU(), nn.Linear(64, NUM_CLASSES))
    if world_size > 1:
        model = DistributedDataParallel(model)
    alpha = (frequency / frequency.sum()).pow(-0.5)
    focal = SoftmaxFocalLoss(gamma=2.0, alpha=alpha / alpha.mean(), reduction="mean", gather_distributed=True)
    loss_fn = focal if loss_name == "focal" else F.cross_entropy
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    shard_x, shard_y = train_x[rank::world_size], train_y[rank::world_size]  # this rank's shard
    gen = torch.Generator().manual_seed(1 + rank)
    for epoch in range(EPOCHS):
        order = torch.randperm(len(shard_y), generator=gen)
        for start in range(0, len(order) - BATCH // world_size + 1, BATCH // world_size):
            batch = order[start:start + BATCH // world_size]
            loss = loss_fn(model(shard_x[batch]), shard_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if rank == 0:
            print(f"[{loss_name}] epoch {epoch + 1}/{EPOCHS} last-batch loss {loss.item():.4f}")
    with torch.no_grad():
        predicted = model(test_x).argmax(1)
    return torch.stack([(predicted[test_y == k] == k).float().mean() for k in range(NUM_CLASSES)])


def main():
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    if world_size > 1:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")  # CPU example: tensors stay on CPU
    torch.set_num_threads(1 if world_size > 1 else 2)
    data = make_data()
    recall = {name: train(name, rank, world_size, data) for name in ["cross_entropy", "focal"]}
    if rank == 0:
        counts = torch.bincount(data[1], minlength=NUM_CLASSES)
        print(f"\nper-class recall on a balanced test set ({world_size} process(es))")
        print("class  train-count  cross-entropy  focal")
        for k in range(NUM_CLASSES):
            print(f"{k:5d}  {counts[k].item():11d}  {recall['cross_entropy'][k]:13.3f}  {recall['focal'][k]:5.3f}")
        print(f"mean   {'':11}  {recall['cross_entropy'].mean():13.3f}  {recall['focal'].mean():5.3f}")
    if world_size > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
