"""The per-call cost of the long-tail terms on the logits (logit offsets, Seesaw's factors), as the
median ratio of a forward+backward with the term to the same call without it, in one run.

Every variant is ``SoftmaxFocalLoss(alpha, gamma 2, label smoothing 0.1, 'mean_positive')`` on the
same inputs (mostly background, 5% ignored); interleaved rounds (each round runs every variant
once, in turn), median per variant.

    python tools/analysis_tools/benchmark_long_tail_terms.py                       # CPU, 1024x81 and 262144x81
    python tools/analysis_tools/benchmark_long_tail_terms.py --shapes 1024x81 --rounds 200 --backend compile
"""
import argparse
import statistics
import time

import torch

from imbalanced_losses import SoftmaxFocalLoss, logit_adjustment_offsets

TERMS = {
    "none": dict(),
    "logit_offsets": dict(logit_offsets="adjustment"),
    "seesaw_p": dict(seesaw_p=0.8),
    "seesaw_p_q": dict(seesaw_p=0.8, seesaw_q=2.0),
    "offsets + seesaw_p_q": dict(logit_offsets="adjustment", seesaw_p=0.8, seesaw_q=2.0),
}


def make_case(rows, num_classes, device):
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(rows, num_classes, generator=gen) * 3).to(device).requires_grad_()
    targets = torch.randint(0, num_classes, (rows,), generator=gen)
    targets[torch.rand(rows, generator=gen) < 0.8] = 0
    targets[torch.rand(rows, generator=gen) < 0.05] = -100
    counts = torch.logspace(3, 0, num_classes - 1).round()  # 1000 : 1 over the foreground
    return logits, targets.to(device), torch.cat([counts.sum(0, keepdim=True), counts])


def build(term, num_classes, counts, backend, device):
    options = dict(TERMS[term])
    if options.get("logit_offsets") == "adjustment":
        options["logit_offsets"] = logit_adjustment_offsets(counts, tau=0.5, background_class=0)
    if "seesaw_p" in options:
        options["class_counts"] = counts
    alpha = [0.75] + [0.25] * (num_classes - 1)
    return SoftmaxFocalLoss(alpha=alpha, gamma=2.0, label_smoothing=0.1, reduction="mean_positive", backend=backend,
                            **options).to(device)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["1024x81", "262144x81"])
    parser.add_argument("--rounds", type=int, default=0, help="default: 200 for small shapes, 20 for large")
    parser.add_argument("--backend", default="eager", choices=["eager", "compile", "triton", "auto"])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, backend {args.backend}, {args.device}")
    for shape in args.shapes:
        rows, num_classes = (int(n) for n in shape.split("x"))
        logits, targets, counts = make_case(rows, num_classes, args.device)
        losses = {term: build(term, num_classes, counts, args.backend, args.device) for term in TERMS}
        rounds = args.rounds or (200 if rows * num_classes < 1e6 else 20)
        times = {term: [] for term in TERMS}
        for round_index in range(rounds + 2):  # the first two rounds warm up (and compile)
            for term, loss in losses.items():
                logits.grad = None
                start = time.perf_counter()
                loss(logits, targets).backward()
                if args.device == "cuda":
                    torch.cuda.synchronize()
                if round_index >= 2:
                    times[term].append(time.perf_counter() - start)
        base = statistics.median(times["none"])
        print(f"{shape} ({rounds} rounds): without a term {base * 1e3:.3f} ms")
        for term in TERMS:
            print(f"  {term:22s} {statistics.median(times[term]) / base:5.2f}x")


if __name__ == "__main__":
    main()
