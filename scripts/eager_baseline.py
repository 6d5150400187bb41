#!/usr/bin/env python3
"""A plain eager-PyTorch RNN-RBM training loop: the yardstick of docs/BENCHMARKS.md, not part of
the product. The paper's recipe on the JSB train split: 88 visible units (MIDI 21..108), 150
hidden, 100 recurrent (tanh), CD-15, Adam at 0.001, one chunk of 100 frames per update, autograd
through the RNN, the recurrence as a Python loop. Prints frames/s of every epoch.

    .venv-python scripts/eager_baseline.py [EPOCHS] [THREADS]
    (the torch that scripts/setup.sh installed: ~/.cache/rnn-rbm/torch-*/bin/python)
"""
import json
import random
import sys
import time

import torch
import torch.nn.functional as F

EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
V, H, R, K, CHUNK, LOW = 88, 150, 100, 15, 100, 21
torch.manual_seed(1)
random.seed(1)

pieces = json.load(open("data/jsb-chorales-quarter.json"))["train"]
chunks = []
for piece in pieces:
    roll = torch.zeros(len(piece), V)
    for t, frame in enumerate(piece):
        for pitch in frame:
            roll[t, int(pitch) - LOW] = 1.0
    chunks += [roll[s : s + CHUNK] for s in range(0, len(piece), CHUNK)]


def param(*shape, std=0.0):
    return torch.nn.Parameter(torch.randn(*shape) * std)


W, bv, bh = param(V, H, std=0.01), param(V), param(H)
Wuh, Wuv = param(R, H, std=0.0001), param(R, V, std=0.0001)
Wvu, Wuu, bu, u0 = param(V, R, std=0.0001), param(R, R, std=0.0001), param(R), param(R)
params = [W, bv, bh, Wuh, Wuv, Wvu, Wuu, bu, u0]
opt = torch.optim.Adam(params, lr=0.001)


def free_energy(v, bv_t, bh_t):
    return -(v * bv_t).sum(-1) - F.softplus(v @ W + bh_t).sum(-1)


def loss_of(v):
    states, u = [], u0
    for t in range(v.shape[0]):  # u_{t-1} drives frame t's biases
        states.append(u)
        u = torch.tanh(bu + u @ Wuu + v[t] @ Wvu)
    u_prev = torch.stack(states)
    bv_t, bh_t = bv + u_prev @ Wuv, bh + u_prev @ Wuh
    with torch.no_grad():
        neg = v
        for _ in range(K):
            h = torch.bernoulli(torch.sigmoid(neg @ W + bh_t))
            neg = torch.bernoulli(torch.sigmoid(h @ W.t() + bv_t))
    return (free_energy(v, bv_t, bh_t) - free_energy(neg, bv_t, bh_t)).mean()


frames = sum(c.shape[0] for c in chunks)
for epoch in range(1, EPOCHS + 1):
    random.shuffle(chunks)
    start, total = time.perf_counter(), 0.0
    for v in chunks:
        opt.zero_grad()
        loss = loss_of(v)
        loss.backward()
        for p in params:
            if p.grad is not None:  # a one-frame chunk never uses the recurrence
                p.grad.clamp_(-10, 10)
        opt.step()
        total += loss.item() * v.shape[0]
    seconds = time.perf_counter() - start
    print(json.dumps({"epoch": epoch, "cost": total / frames, "frames": frames,
                      "seconds": seconds, "frames_per_s": frames / seconds}), flush=True)
