"""
A compact byte-level GPT, trained for a fixed wall-clock budget, then scored
in validation bits per byte. This is the file experiments edit.

Runs on CUDA when available (bf16 autocast where the GPU has bf16, TF32 for the
matmuls left in fp32), else on the CPU in fp32.
"""

import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from prepare import MAX_SEQ_LEN, TIME_BUDGET, VOCAB_SIZE, evaluate_bpb, make_dataloader

# Model
DEPTH = 4  # transformer blocks
MODEL_DIM = 128  # rounded up to a multiple of HEAD_DIM
HEAD_DIM = 32
MLP_RATIO = 4

# Optimisation
BATCH_SIZE = 16  # sequences of MAX_SEQ_LEN bytes per step
LEARNING_RATE = 0.0004
WEIGHT_DECAY = 0.1
BETA1 = 0.9
BETA2 = 0.95
GRAD_CLIP = 1.0
WARMUP_RATIO = 0.05  # share of the time budget spent warming up
WARMDOWN_RATIO = 0.3  # share of the time budget spent decaying to zero
SEED = 42


def norm(x):
    """RMS normalisation over the last dim, without a learned scale."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


def rotate(x):
    """Rotary position embedding over the last two dims (T, head_dim) of x."""
    T, D = x.size(-2), x.size(-1)
    inv_freq = 1.0 / (10000 ** (torch.arange(0, D // 2, device=x.device).float() / (D // 2)))
    angles = torch.outer(torch.arange(T, device=x.device).float(), inv_freq)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., : D // 2], x[..., D // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class CausalSelfAttention(nn.Module):
    def __init__(self, dim, n_head):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        # RMS-normalised queries and keys keep attention logits bounded; rotary gives relative positions.
        q, k = rotate(norm(q)), rotate(norm(k))
        # Under autocast the norms may return fp32 while v is bf16; attention needs one dtype.
        y = F.scaled_dot_product_attention(q.to(v.dtype), k.to(v.dtype), v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, MLP_RATIO * dim, bias=False)
        self.proj = nn.Linear(MLP_RATIO * dim, dim, bias=False)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, dim, n_head):
        super().__init__()
        self.attn = CausalSelfAttention(dim, n_head)
        self.mlp = MLP(dim)

    def forward(self, x):
        x = x + self.attn(norm(x))
        return x + self.mlp(norm(x))


class GPT(nn.Module):
    def __init__(self, dim, n_head, depth):
        super().__init__()
        self.tok_emb = nn.Embedding(VOCAB_SIZE, dim)
        self.blocks = nn.ModuleList(Block(dim, n_head) for _ in range(depth))
        self.lm_head = nn.Linear(dim, VOCAB_SIZE, bias=False)
        for name, p in self.named_parameters():
            nn.init.normal_(p, std=0.02)
            # Residual outputs start at zero so each block begins as the identity.
            if name.endswith("proj.weight"):
                nn.init.zeros_(p)

    def forward(self, idx, targets=None, reduction="mean"):
        x = self.tok_emb(idx)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(norm(x)).float()
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, VOCAB_SIZE), targets.reshape(-1), reduction=reduction)


def lr_multiplier(progress):
    """Linear warmup, flat, then linear warmdown to zero, over the time budget."""
    if progress < WARMUP_RATIO:
        return (progress + 1e-3) / WARMUP_RATIO
    if progress > 1.0 - WARMDOWN_RATIO:
        return max(0.0, (1.0 - progress) / WARMDOWN_RATIO)
    return 1.0


def peak_memory_mb(device):
    """Peak GPU memory on CUDA, else the process's peak resident memory."""
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 1024**2
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024**2 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KB on Linux


def synchronize(device):
    """Wait for the GPU's queued work, so the wall clock measures work done, not work queued."""
    if device == "cuda":
        torch.cuda.synchronize()


def main():
    t_start = time.time()
    torch.manual_seed(SEED)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for the fp32 matmuls autocast leaves alone
        # bf16 is native from compute capability 8.0 (Ampere); older GPUs would emulate it slowly or refuse.
        use_bf16 = torch.cuda.get_device_capability() >= (8, 0)
    else:
        torch.set_num_threads(min(8, os.cpu_count() or 1))
        use_bf16 = False
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=use_bf16)

    n_head = max(1, math.ceil(MODEL_DIM / HEAD_DIM))
    dim = n_head * HEAD_DIM
    model = GPT(dim, n_head, DEPTH).to(device)
    num_params = sum(p.numel() for p in model.parameters())
    # Weight decay on the matrices only; decaying embeddings hurts rare bytes.
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "emb" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
        lr=LEARNING_RATE,
        betas=(BETA1, BETA2),
    )
    batches = make_dataloader(BATCH_SIZE, "train", device, seed=SEED)
    tokens_per_step = BATCH_SIZE * MAX_SEQ_LEN
    flops_per_token = 6 * (num_params - model.tok_emb.weight.numel()) + 12 * DEPTH * dim * MAX_SEQ_LEN
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    precision = "bf16" if use_bf16 else "fp32"
    print(f"device: {device} ({name}, {precision}) | params: {num_params / 1e6:.2f}M | dim: {dim} | heads: {n_head}",
          flush=True)

    step, training_time, smooth_loss = 0, 0.0, 0.0
    while training_time < TIME_BUDGET:
        t0 = time.time()
        progress = training_time / TIME_BUDGET
        lr = LEARNING_RATE * lr_multiplier(progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = next(batches)
        with autocast:
            loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_value = loss.item()
        if not math.isfinite(loss_value) or loss_value > 3 * math.log(VOCAB_SIZE):
            print(f"\nFAIL: loss diverged to {loss_value} at step {step}", flush=True)
            sys.exit(1)
        # Timing must not hinge on reading the loss each step: a change that logs less often would time queued work.
        synchronize(device)
        dt = time.time() - t0
        if step > 0:  # the first step pays for warm-up, not training
            training_time += dt
        smooth_loss = 0.9 * smooth_loss + 0.1 * loss_value
        debiased = smooth_loss / (1 - 0.9 ** (step + 1))
        remaining = max(0.0, TIME_BUDGET - training_time)
        print(
            f"\rstep {step:05d} ({100 * progress:.1f}%) | loss: {debiased:.6f} | lr: {lr:.2e} "
            f"| dt: {dt * 1000:.0f}ms | tok/sec: {tokens_per_step / dt:,.0f} | remaining: {remaining:.0f}s    ",
            end="",
            flush=True,
        )
        step += 1
    print()

    model.eval()
    with autocast:
        val_bpb = evaluate_bpb(model, BATCH_SIZE)
    # MFU against the H100's bf16 dense peak; a CPU has no comparable nominal peak, so 0.
    mfu = 100 * flops_per_token * tokens_per_step * (step - 1) / training_time / 989.5e12 if device == "cuda" else 0.0
    print("---")
    print(f"val_bpb: {val_bpb:.6f}")
    print(f"training_seconds: {training_time:.1f}")
    print(f"total_seconds: {time.time() - t_start:.1f}")
    print(f"peak_vram_mb: {peak_memory_mb(device):.1f}")
    print(f"mfu_percent: {mfu:.2f}")
    print(f"total_tokens_M: {step * tokens_per_step / 1e6:.2f}")
    print(f"num_steps: {step}")
    print(f"num_params_M: {num_params / 1e6:.1f}")
    print(f"depth: {DEPTH}")


if __name__ == "__main__":
    main()
