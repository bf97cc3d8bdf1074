"""parallel.held_state_mb: the memory figure that shows what sharding divides, counted by hand."""
from __future__ import annotations

import torch

from reasonrl.train.parallel import held_state_mb


def test_held_state_counts_weights_and_adam_moments_once():
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.Linear(512, 256, bias=False))
    model[1].weight = torch.nn.Parameter(model[0].weight.t().contiguous())  # a second, distinct tensor
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    n = sum(p.numel() for p in model.parameters())                           # 256*512 + 512 + 512*256
    assert held_state_mb(model.parameters(), opt) == n * 4 / 2**20                 # no AdamW state before a step
    model(torch.randn(3, 256)).sum().backward()
    opt.step()
    # weights + exp_avg + exp_avg_sq (fp32); the 0-dim `step` counters are not counted
    assert held_state_mb(model.parameters(), opt) == 3 * n * 4 / 2**20
