"""Data-parallel training across processes (DDP semantics), launched by accelerate:

    reasonrl train --launcher accelerate --num-processes 2 [CONFIG.yaml] [key=value ...]
    accelerate launch --config_file configs/accelerate/cpu_ddp.yaml -m reasonrl.cli train ...   # the same

How a step is split, and why the result equals one process with the same global batch:
- every rank draws the same B prompts from the same `Cursor`, then keeps a contiguous share of them
  (`shard`); a prompt's G samples stay on one rank, because its group advantage needs all G rewards;
- sampling is seeded per prompt (`rollout.seed_per_prompt`), so a prompt's samples do not depend on
  the rank it lands on;
- rollouts and rewards are all-gathered (token ids and floats: small), so every rank sees the whole
  batch: advantages, dropped groups, metrics and the global counts N / num_tokens of the loss are what
  one process computes;
- each rank back-propagates its own groups' loss (already divided by the global counts), then ONE
  all-reduce sums the gradients (parallel/ddp.py): the 1-process gradient, up to float summation order;
- weights, optimizer state and cursor stay identical on every rank, so only rank 0 writes (checkpoints,
  metrics, samples, report), and a checkpoint resumes on any number of processes.
The process group comes from accelerate's `PartialState` (gloo on CPU, NCCL on GPU). An accelerate FSDP or
DeepSpeed config shards the model instead of replicating it (parallel/: one class per mode).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from reasonrl.rewards.runner import RewardResult, concat_results
from reasonrl.rollout.base import Rollouts, concat_rollouts


@dataclass(frozen=True)
class Dist:
    """This process's place in the job: rank `rank` of `world`, computing on `device`."""

    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        """Rank 0: the only one that writes files."""
        return self.rank == 0

    def bounds(self, n: int) -> tuple[int, int]:
        """[lo, hi) of this rank's contiguous share of n items (sizes differ by at most one).

        >>> Dist(0, 2).bounds(3), Dist(1, 2).bounds(3)
        ((0, 1), (1, 3))
        """
        return n * self.rank // self.world, n * (self.rank + 1) // self.world

    def shard(self, items: list) -> list:
        lo, hi = self.bounds(len(items))
        return items[lo:hi]

    def gather(self, obj) -> list:
        """Every rank's `obj`, in rank order (pickled: for small Python objects only)."""
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out

    def max(self, values: list[float]) -> list[float]:
        """Element-wise max over ranks: every rank takes the same decision (stop, time budget)."""
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self._comm_device())
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return t.tolist()

    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")  # NCCL needs CUDA tensors

    def close(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def init_dist() -> Dist:
    """The job this process belongs to, from the launcher's environment (WORLD_SIZE, RANK, LOCAL_RANK...).

    A plain `reasonrl train` (no launcher) is rank 0 of 1: no process group, no collective, nothing added.
    """
    cuda = torch.cuda.is_available()
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Dist(device=torch.device("cuda") if cuda else torch.device("cpu"))
    from accelerate import PartialState
    from accelerate.utils import DistributedType

    state = PartialState(cpu=not cuda)  # cpu=True: gloo, even under a launcher that says "multi_gpu"
    if state.distributed_type not in (DistributedType.MULTI_CPU, DistributedType.MULTI_GPU, DistributedType.DEEPSPEED):
        raise SystemExit(f"reasonrl: accelerate distributed_type {state.distributed_type.value} is not supported by "
                         "the trainer; use a DDP or FSDP config from configs/accelerate/")
    device = torch.device("cuda", state.local_process_index) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    return Dist(rank=state.process_index, world=state.num_processes, device=device)


class NullLogger:
    """What ranks other than 0 log to: nothing (rank 0 logs the whole, gathered batch)."""

    def log(self, record: dict) -> None: ...

    def samples(self, rows: list[dict]) -> None: ...

    def close(self) -> None: ...


def sampling_seeds(seed: int, step: int, prompt_indices: list[int]) -> list[int]:
    """One sampling seed per prompt from (run seed, step, the prompt's index in the train split).

    >>> sampling_seeds(0, 3, [5, 7]) == sampling_seeds(0, 3, [5, 7]) != sampling_seeds(0, 4, [5, 7])
    True
    """
    return [((seed * 1_000_003 + step) * 1_000_033 + i) % (2**63) for i in prompt_indices]


def gather_step(dist: Dist, ro: Rollouts, rew: RewardResult) -> tuple[Rollouts, RewardResult]:
    """Every rank's rollouts and rewards, concatenated in rank order = the global prompt order (shards are
    contiguous). One all_gather of token ids, texts and floats per step; nothing when world == 1."""
    if dist.world == 1:
        return ro, rew
    ros, rews = zip(*dist.gather((ro, rew)))
    merged = concat_rollouts(list(ros), max(r.seconds for r in ros))  # the ranks generated in parallel
    return merged, concat_results(list(rews))


def sum_metrics(dist: Dist, sums: dict[str, float]) -> dict[str, float]:
    """Per-key sums over ranks (a rank that trained on no group has no keys)."""
    if dist.world == 1:
        return sums
    out: dict[str, float] = {}
    for part in dist.gather(sums):
        for k, v in part.items():
            out[k] = out.get(k, 0.0) + v
    return out
