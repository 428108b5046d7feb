"""Training throughput (images/s) per network configuration on this machine.

Measures forward + backward + Adam step at batch 8 on random inputs of each stage's size, after a
warm-up, with the thread count given. Prints a table; the first row (ResNet-18, width 64) is the
baseline the others are compared with, in the same process.

    .venv/bin/python experiments/train_speed/train_speed.py [--threads 2] [--seconds 8]
"""

from __future__ import annotations

import argparse
import time

import torch

from mvtrack.models.network import NetworkConfig, build_network

CONFIGS = [
    ("ResNet-18 w64 (baseline)", dict(depth=18, width=64, max_width=512)),
    ("ResNet-50 w64 (paper)", dict(depth=50, width=64, max_width=512)),
    ("ResNet-18 w32 cap128", dict(depth=18, width=32, max_width=128)),
    ("ResNet-10 w32 cap128", dict(depth=10, width=32, max_width=128)),
    ("ResNet-10 w32 cap128 soft-argmax (shipped)", dict(depth=10, width=32, max_width=128, head="softargmax")),
]


def images_per_second(config: NetworkConfig, seconds: float, batch: int = 8, channels_last: bool = True) -> float:
    model = build_network(config)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 1, *config.input_shape)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randn(batch, 4)

    def step():
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        count += 1
    return count * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name, kwargs in CONFIGS:
        for stage in (1, 2):
            config = NetworkConfig(stage=stage, **kwargs)
            params = sum(p.numel() for p in build_network(config).parameters())
            rows.append((name, stage, params, images_per_second(config, args.seconds)))
    baseline = {stage: ips for name, stage, _, ips in rows if name.startswith("ResNet-18 w64")}
    print(f"threads={args.threads}, batch 8, channels_last")
    print(f"{'configuration':44s} {'stage':>5s} {'params':>10s} {'images/s':>9s} {'x baseline':>10s}")
    for name, stage, params, ips in rows:
        print(f"{name:44s} {stage:5d} {params / 1e6:9.2f}M {ips:9.1f} {ips / baseline[stage]:10.2f}")


if __name__ == "__main__":
    main()
