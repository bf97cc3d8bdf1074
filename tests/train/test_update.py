"""The update's loss assembly against a slow reference: micro-batches of shared-prompt forwards, divided by the
GLOBAL counts, with one group dropped, must give the gradient and metrics of the whole batch's loss written
out sample by sample."""
from __future__ import annotations

import pytest
import torch

from reasonrl.config import load_config
from reasonrl.model import load_model
from reasonrl.rollout.base import Rollouts
from reasonrl.rollout.batch import pack
from reasonrl.train.distributed import Dist
from reasonrl.train.forward import completion_logprobs
from reasonrl.train.loop import Trainer
from reasonrl.train.parallel.single import Single
from reasonrl.train.update import update

G = 3
PROMPTS = [[11, 12, 13], [21, 22], [31, 32, 33, 34]]
COMPLETIONS = [[5, 6, 7, 8], [9], [10, 11, 12], [1, 2], [3], [4, 5], [7, 7, 7, 7, 7], [8, 9], [6]]   # [B*G]
ADVANTAGES = torch.tensor([1.0, -0.5, -0.5, 0.0, 0.0, 0.0, 0.8, -1.2, 0.4])
KEEP = [0, 1, 2, 6, 7, 8]   # group 1 (samples 3-5) dropped: equal rewards


class RecordingStep(Single):
    """The single-process strategy, except that `step` records the summed gradient instead of applying it."""

    def step(self) -> float:
        self.grads = {n: p.grad.detach().clone() for n, p in self.model.named_parameters()}
        return 0.0


def _slow_reference(model, agg: str, temperature: float, max_tokens: int):
    """The same loss, one sample per forward, written from the definitions: ratio = exp(lp - lp.detach()) (= 1,
    gradient d lp), per-token loss -A * ratio, aggregated over the kept samples only."""
    num_seqs = len(KEEP)
    num_tokens = sum(len(COMPLETIONS[i]) for i in KEEP)
    loss, entropy_sum = 0.0, 0.0
    for i in KEEP:
        batch = pack([PROMPTS[i // G]], [COMPLETIONS[i]], pad_id=0)
        lp, ent = completion_logprobs(model, batch, temperature=temperature, with_entropy=True)   # [1, T_i]
        per_token = -ADVANTAGES[i] * torch.exp(lp - lp.detach())
        if agg == "token_mean":
            loss = loss + per_token.sum() / num_tokens
        elif agg == "seq_mean_token_mean":
            loss = loss + per_token.mean() / num_seqs
        else:   # seq_mean_token_sum_norm
            loss = loss + per_token.sum() / max_tokens / num_seqs
        entropy_sum += ent.sum().item()
    model.zero_grad()
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return loss.item(), grads, entropy_sum / num_tokens


@pytest.mark.parametrize("agg", ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"])
def test_update_equals_the_whole_batch_loss_written_out_per_sample(tiny_model_dir, agg):
    cfg = load_config(None, [f"rollout.num_generations={G}", "rollout.temperature=0.7", "rollout.max_new_tokens=6",
                             "optim.micro_batch_size=2", f"algo.loss_agg={agg}"])
    model, tok, _ = load_model(str(tiny_model_dir))
    strategy = RecordingStep(Dist(), max_grad_norm=1.0)
    strategy.model, strategy.optimizer = model, torch.optim.SGD(model.parameters(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(strategy.optimizer, lambda s: 1.0)
    t = Trainer(cfg, Dist(), strategy, model, tok, None, scheduler, None, None, False)
    rollouts = Rollouts([PROMPTS[i // G] for i in range(len(COMPLETIONS))], COMPLETIONS, [""] * 9, [False] * 9, 1.0)

    out = update(t, rollouts, ADVANTAGES, KEEP)
    ref_loss, ref_grads, ref_entropy = _slow_reference(model, agg, 0.7, 6)

    assert abs(out["loss/pg"] - ref_loss) < 1e-6
    assert abs(out["entropy/mean"] - ref_entropy) < 1e-4                # token-weighted = the whole batch's mean
    assert out["train/num_seqs"] == 6 and out["train/completion_tokens"] == 4 + 1 + 3 + 5 + 2 + 1
    # 4 micro-batches: group 0 as [0, 1] + [2], group 2 as [6, 7] + [8]; each runs its prompt once
    assert out["train/model_tokens"] == (3 + 5) + (3 + 3) + (4 + 7) + (4 + 1)
    assert out["clip/frac"] == 0.0 and abs(out["ratio/mean"] - 1.0) < 1e-6
    assert any(g.abs().max() > 0 for g in ref_grads.values())
    for name, g in ref_grads.items():
        torch.testing.assert_close(strategy.grads[name], g, rtol=1e-4, atol=1e-6)


def test_a_dropped_group_changes_nothing_but_its_absence(tiny_model_dir):
    """The reference above would also pass if `keep` were ignored and group 1 had zero advantage; here group 1
    gets a large advantage: if its samples entered the loss the gradient would move."""
    cfg = load_config(None, [f"rollout.num_generations={G}", "optim.micro_batch_size=2"])
    model, tok, _ = load_model(str(tiny_model_dir))
    grads = []
    for adv_group1 in (0.0, 5.0):
        strategy = RecordingStep(Dist(), max_grad_norm=1.0)
        strategy.model, strategy.optimizer = model, torch.optim.SGD(model.parameters(), lr=0.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(strategy.optimizer, lambda s: 1.0)
        t = Trainer(cfg, Dist(), strategy, model, tok, None, scheduler, None, None, False)
        rollouts = Rollouts([PROMPTS[i // G] for i in range(9)], COMPLETIONS, [""] * 9, [False] * 9, 1.0)
        adv = ADVANTAGES.clone()
        adv[3:6] = adv_group1
        update(t, rollouts, adv, KEEP)
        grads.append(strategy.grads)
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=0, atol=0)
