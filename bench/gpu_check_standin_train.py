"""The train.py of the GPU check's stand-in for a Karpathy-style workspace: his layout, his summary, a small GPT.

Like karpathy/autoresearch's train.py it is one module-level script that takes `torch.device("cuda")`, trains
in bf16 autocast (compiled with torch.compile) for prepare.py's TIME_BUDGET after ten uncounted warm-up steps,
and prints the same summary block. It attends with scaled_dot_product_attention instead of a FlashAttention-3
kernel fetched from a hub, since the machine it checks may have no network.
"""

TRAIN_PY = '''"""
Small GPT pretraining, single GPU, single file, in the layout of karpathy/autoresearch.
Usage: python train.py
"""

import os
os.environ["PYTORCH_ALLOC_CONF"] = "expandable_segments:True"

import gc
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from prepare import MAX_SEQ_LEN, TIME_BUDGET, Tokenizer, make_dataloader, evaluate_bpb

# CUDA only, as in the original: never asks whether a GPU is there. Only the GPU check's rehearsal on a machine
# without one (--allow-cpu) sets GPU_CHECK_ALLOW_CPU=1.
device = torch.device("cpu" if os.environ.get("GPU_CHECK_ALLOW_CPU") == "1" else "cuda")

# Model architecture
ASPECT_RATIO = {aspect_ratio}       # model_dim = depth * ASPECT_RATIO
HEAD_DIM = {head_dim}           # target head dimension for attention

# Optimization
LEARNING_RATE = 0.002
WEIGHT_DECAY = 0.1
WARMDOWN_RATIO = 0.5    # fraction of time budget for LR warmdown

# Model size
DEPTH = {depth}               # number of transformer layers
DEVICE_BATCH_SIZE = {batch_size}  # per-device batch size (reduce if OOM)
compile_model = {compile_model}


def norm(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


class Block(nn.Module):
    def __init__(self, dim, n_head):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim, bias=False)
        self.fc = nn.Linear(dim, 4 * dim, bias=False)
        self.out = nn.Linear(4 * dim, dim, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(norm(x)).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(norm(q).to(v.dtype), norm(k).to(v.dtype), v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.out(F.relu(self.fc(norm(x))).square())


class GPT(nn.Module):
    def __init__(self, vocab_size, dim, n_head, depth):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, dim)
        self.wpe = nn.Embedding(MAX_SEQ_LEN, dim)
        self.blocks = nn.ModuleList(Block(dim, n_head) for _ in range(depth))
        self.lm_head = nn.Linear(dim, vocab_size, bias=False)
        for name, p in self.named_parameters():
            nn.init.normal_(p, std=0.02)
            if name.endswith(("proj.weight", "out.weight")):
                nn.init.zeros_(p)

    def forward(self, idx, targets=None, reduction="mean"):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1), device=idx.device))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(norm(x)).float()
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), reduction=reduction)


t_start = time.time()
torch.manual_seed(42)
on_cuda = device.type == "cuda"
if on_cuda:
    torch.cuda.manual_seed(42)
    torch.set_float32_matmul_precision("high")
autocast_ctx = torch.amp.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=on_cuda)

tokenizer = Tokenizer.from_directory()
vocab_size = tokenizer.get_vocab_size()
model_dim = ((DEPTH * ASPECT_RATIO + HEAD_DIM - 1) // HEAD_DIM) * HEAD_DIM
num_heads = model_dim // HEAD_DIM
model = GPT(vocab_size, model_dim, num_heads, DEPTH).to(device)
num_params = sum(p.numel() for p in model.parameters())
num_flops_per_token = 6 * (num_params - model.wte.weight.numel() - model.wpe.weight.numel()) + 12 * DEPTH * model_dim * MAX_SEQ_LEN
name = torch.cuda.get_device_name() if on_cuda else "cpu"
print(f"device: {{device.type}} ({{name}}) | vocab: {{vocab_size}} | dim: {{model_dim}} | heads: {{num_heads}} | params: {{num_params:,}}")

optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.95), weight_decay=WEIGHT_DECAY,
                              fused=on_cuda)
if compile_model:
    model = torch.compile(model, dynamic=False)

train_loader = make_dataloader(tokenizer, DEVICE_BATCH_SIZE, MAX_SEQ_LEN, "train", device)
x, y, epoch = next(train_loader)
tokens_per_step = DEVICE_BATCH_SIZE * MAX_SEQ_LEN
print(f"Time budget: {{TIME_BUDGET}}s")


def sync():
    if on_cuda:
        torch.cuda.synchronize()


t_start_training = time.time()
smooth_train_loss = 0
total_training_time = 0
step = 0
while True:
    sync()
    t0 = time.time()
    progress = min(total_training_time / TIME_BUDGET, 1.0)
    lrm = 1.0 if progress < 1.0 - WARMDOWN_RATIO else (1.0 - progress) / WARMDOWN_RATIO
    for group in optimizer.param_groups:
        group["lr"] = LEARNING_RATE * lrm
    with autocast_ctx:
        loss = model(x, y)
    loss.backward()
    x, y, epoch = next(train_loader)
    optimizer.step()
    model.zero_grad(set_to_none=True)
    train_loss_f = loss.item()
    if math.isnan(train_loss_f) or train_loss_f > 100:
        print("FAIL")
        exit(1)
    sync()
    dt = time.time() - t0
    if step > 10:
        total_training_time += dt
    smooth_train_loss = 0.9 * smooth_train_loss + 0.1 * train_loss_f
    debiased_smooth_loss = smooth_train_loss / (1 - 0.9 ** (step + 1))
    mfu = 100 * num_flops_per_token * tokens_per_step / dt / 989.5e12
    remaining = max(0, TIME_BUDGET - total_training_time)
    print(f"\\rstep {{step:05d}} ({{100 * progress:.1f}}%) | loss: {{debiased_smooth_loss:.6f}} | lrm: {{lrm:.2f}} | dt: {{dt*1000:.0f}}ms | tok/sec: {{int(tokens_per_step / dt):,}} | mfu: {{mfu:.1f}}% | epoch: {{epoch}} | remaining: {{remaining:.0f}}s    ", end="", flush=True)
    if step == 0:
        gc.collect()
        gc.freeze()
        gc.disable()
    step += 1
    if step > 10 and total_training_time >= TIME_BUDGET:
        break

print()
model.eval()
with autocast_ctx:
    val_bpb = evaluate_bpb(model, tokenizer, DEVICE_BATCH_SIZE)

t_end = time.time()
h100_bf16_peak_flops = 989.5e12
steady_state_mfu = 100 * num_flops_per_token * tokens_per_step * (step - 10) / total_training_time / h100_bf16_peak_flops if on_cuda and total_training_time > 0 else 0
if on_cuda:
    peak_vram_mb = torch.cuda.max_memory_allocated() / 1024 / 1024
else:
    peak_vram_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

print("---")
print(f"val_bpb:          {{val_bpb:.6f}}")
print(f"training_seconds: {{total_training_time:.1f}}")
print(f"total_seconds:    {{t_end - t_start:.1f}}")
print(f"peak_vram_mb:     {{peak_vram_mb:.1f}}")
print(f"mfu_percent:      {{steady_state_mfu:.2f}}")
print(f"total_tokens_M:   {{step * tokens_per_step / 1e6:.1f}}")
print(f"num_steps:        {{step}}")
print(f"num_params_M:     {{num_params / 1e6:.1f}}")
print(f"depth:            {{DEPTH}}")
'''


def train_py(*, depth: int, aspect_ratio: int, head_dim: int, batch_size: int, compile_model: bool) -> str:
    """The stand-in's train.py for a model of this size, compiled or not."""
    return TRAIN_PY.format(depth=depth, aspect_ratio=aspect_ratio, head_dim=head_dim, batch_size=batch_size,
                           compile_model=compile_model)
