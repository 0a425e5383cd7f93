#!/usr/bin/python3
"""The finetune_eval training step written in Python PyTorch, for bench/train/run.sh.

Mirrors src/vlm (vision encoder, avgpool compressor, projector, pre-LN causal decoder, answer head)
and src/train (AdamW with decay on >= 2-d parameters, warmup + cosine schedule, global-norm
clipping) at the same batch and thread count. Data are random tensors of the task's shapes
(generating them costs about as much as the C++ task generator: well under 1 ms per step).
Prints "key value" lines: python_steps_per_s, python_phase_*_ms, python_peak_rss_mb.
"""
import argparse
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {  # name: (width, depth, heads), mlp_ratio 4 (src/config presets).
    "nano": (32, 2, 2), "micro": (48, 3, 3), "mini": (64, 4, 4),
    "small": (96, 6, 4), "base": (128, 8, 8),
}


class SelfAttention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x, mask=None):
        b, l, d = x.shape
        dh = d // self.h
        qkv = self.qkv(x).view(b, l, 3, self.h, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        s = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))
        if mask is not None:
            s = s + mask
        y = torch.matmul(torch.softmax(s, -1), v)
        return self.out(y.transpose(1, 2).reshape(b, l, d))


class Block(nn.Module):
    def __init__(self, d, h, r=4):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = SelfAttention(d, h)
        self.fc1, self.fc2 = nn.Linear(d, r * d), nn.Linear(r * d, d)

    def forward(self, x, mask=None):
        h = x + self.attn(self.ln1(x), mask)
        return h + self.fc2(F.gelu(self.fc1(self.ln2(h))))


class Encoder(nn.Module):
    def __init__(self, s=48, g=8, c=64, depth=2):
        super().__init__()
        self.stem = nn.Conv2d(3, c // 2, 3, padding=1)
        self.patchify = nn.Conv2d(c // 2, c, s // g, stride=s // g)
        self.positions = nn.Parameter(torch.randn(1, g * g, c) * 0.02)
        self.blocks = nn.ModuleList([Block(c, c // 16) for _ in range(depth)])
        self.norm = nn.LayerNorm(c)

    def forward(self, images):
        x = F.gelu(self.stem((images - 0.5) * 4.0))
        x = self.patchify(x).flatten(2).transpose(1, 2) + self.positions
        for b in self.blocks:
            x = b(x)
        return self.norm(x)


class Vlm(nn.Module):
    def __init__(self, d, depth, h, vocab, q, answers, g=8, c=64, v=16):
        super().__init__()
        self.g, self.side = g, int(math.isqrt(v))
        self.projector = nn.Sequential(nn.Linear(c, d), nn.GELU(), nn.Linear(d, d))
        self.token_embedding = nn.Embedding(vocab, d)
        self.positions = nn.Parameter(torch.randn(1, v + q, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, h) for _ in range(depth)])
        self.final_norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, answers)
        self.register_buffer("mask", torch.full((v + q, v + q), float("-inf")).triu(1))

    def forward(self, features, questions):
        b, n, c = features.shape
        grid = features.transpose(1, 2).reshape(b, c, self.g, self.g)
        tokens = F.adaptive_avg_pool2d(grid, (self.side, self.side)).flatten(2).transpose(1, 2)
        x = torch.cat([self.projector(tokens), self.token_embedding(questions)], 1) + self.positions
        for blk in self.blocks:
            x = blk(x, self.mask)
        return self.head(self.final_norm(x)[:, -1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="nano")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--vocab", type=int, default=64)
    p.add_argument("--question_tokens", type=int, default=8)
    p.add_argument("--answers", type=int, default=32)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d, depth, h = PRESETS[a.preset]
    encoder = Encoder().eval()
    for prm in encoder.parameters():
        prm.requires_grad_(False)
    model = Vlm(d, depth, h, a.vocab, a.question_tokens, a.answers)
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW([
        {"params": [q for q in params if q.dim() >= 2], "weight_decay": 0.01},
        {"params": [q for q in params if q.dim() < 2], "weight_decay": 0.0}], lr=3e-3)
    total_steps, warmup = 300, 30
    times = {"data": 0.0, "encoder": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    warm = 5
    start = None
    for step in range(warm + a.steps):
        if step == warm:
            times = {k: 0.0 for k in times}
            start = time.perf_counter()
        s = step % total_steps
        lr = 3e-3 * ((s + 1) / warmup if s < warmup else
                     0.5 * (1 + math.cos(math.pi * (s - warmup) / (total_steps - warmup))))
        for g in opt.param_groups:
            g["lr"] = lr
        t = time.perf_counter()
        images = torch.rand(a.batch, 3, 48, 48)
        questions = torch.randint(1, a.vocab, (a.batch, a.question_tokens))
        answers = torch.randint(0, a.answers, (a.batch,))
        t1 = time.perf_counter(); times["data"] += t1 - t
        with torch.no_grad():
            features = encoder(images)
        t2 = time.perf_counter(); times["encoder"] += t2 - t1
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(features, questions), answers)
        t3 = time.perf_counter(); times["forward"] += t3 - t2
        loss.backward()
        t4 = time.perf_counter(); times["backward"] += t4 - t3
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        t5 = time.perf_counter(); times["optimizer"] += t5 - t4
    elapsed = time.perf_counter() - start
    print(f"python_steps_per_s {a.steps / elapsed:.3f}")
    for k, v in times.items():
        print(f"python_phase_{k}_ms {1e3 * v / a.steps:.3f}")
    print(f"python_peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")


if __name__ == "__main__":
    main()
