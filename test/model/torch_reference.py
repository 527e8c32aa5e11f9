"""Independent PyTorch implementation of the built-in policy model (tests and benchmark).

Written from the contract, not from the native code: padded batches with an
explicit causal + key-padding mask (the native engine packs sequences instead),
rotate-half RoPE, GQA by repeat_interleave, autograd for every gradient.

  python3 torch_reference.py check  < request.json > answer.json   (float64 reference)
  python3 torch_reference.py bench  < request.json > answer.json   (float32 timings; "device": "cuda" for the GPU)
"""
import json
import math
import struct
import sys
import time

import numpy as np
import torch


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(info["shape"]).copy()
    return out


class Ref:
    def __init__(self, cfg, params, dtype, device="cpu"):
        self.c = cfg
        self.dev = torch.device(device)
        self.p = {k: torch.tensor(v, dtype=dtype, device=self.dev, requires_grad=True) for k, v in params.items()}
        self.dtype = dtype
        hd = cfg["dModel"] // cfg["nHeads"]
        inv = cfg["ropeTheta"] ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        ang = torch.arange(cfg["maxSeqLen"], dtype=torch.float64)[:, None] * inv[None, :]
        ang = torch.cat([ang, ang], dim=-1)
        self.cos, self.sin = ang.cos().to(dtype).to(self.dev), ang.sin().to(dtype).to(self.dev)

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.c["normEps"]) * w

    @staticmethod
    def rot(x):
        h = x.shape[-1] // 2
        return torch.cat([-x[..., h:], x[..., :h]], dim=-1)

    def embed(self, item):
        c, p = self.c, self.p
        parts = []
        if item.get("image") is not None:
            S, P = c["imageSize"], c["patchSize"]
            G = S // P
            img = torch.tensor(item["image"], dtype=self.dtype, device=self.dev).reshape(G, P, G, P, 3)
            patches = img.permute(0, 2, 1, 3, 4).reshape(G * G, 3 * P * P)
            pos = (p["model.vision.row_embed.weight"][:, None, :] + p["model.vision.col_embed.weight"][None, :, :]).reshape(G * G, -1)
            parts.append(patches @ p["model.vision.patch_embed.weight"].T + p["model.vision.patch_embed.bias"] + pos)
        ids = torch.tensor(item["text"], dtype=torch.long, device=self.dev)
        parts.append(p["model.embed_tokens.weight"][ids])
        return torch.cat(parts, 0)

    def logits(self, items):
        c, p = self.c, self.p
        embs = [self.embed(it) for it in items]
        lens = [e.shape[0] for e in embs]
        B, L, d = len(items), max(lens), c["dModel"]
        H, KV = c["nHeads"], c["nKvHeads"]
        hd = d // H
        x = torch.stack([torch.cat([e, torch.zeros(L - e.shape[0], d, dtype=self.dtype, device=self.dev)]) for e in embs])
        ar = torch.arange(L, device=self.dev)
        lens_t = torch.tensor(lens, device=self.dev)
        keep = (ar[None, :] <= ar[:, None])[None, None] & (ar[None, None, None, :] < lens_t[:, None, None, None])
        # Rotary positions per item: sequence order, or (imagePositions 'before-response') the image's tokens take
        # the positions between the prompt and the response, or ('shared') all of them the last of those.
        pos = ar[None, :].repeat(B, 1)
        nP = (c["imageSize"] // c["patchSize"]) ** 2
        for b, it in enumerate(items):
            mode = c.get("imagePositions", "first")
            if mode != "first" and it.get("image") is not None:
                lead = len(it["text"]) - it["respLen"]
                pos[b, :nP] = torch.arange(lead, lead + nP) if mode == "before-response" else lead + nP - 1
                pos[b, nP : nP + lead] = torch.arange(lead)
        cos, sin = self.cos[pos][:, None], self.sin[pos][:, None]
        for l in range(c["nLayers"]):
            pre = f"model.layers.{l}."
            h = self.rms(x, p[pre + "input_layernorm.weight"])
            q = (h @ p[pre + "self_attn.q_proj.weight"].T).view(B, L, H, hd).transpose(1, 2)
            k = (h @ p[pre + "self_attn.k_proj.weight"].T).view(B, L, KV, hd).transpose(1, 2)
            v = (h @ p[pre + "self_attn.v_proj.weight"].T).view(B, L, KV, hd).transpose(1, 2)
            q = q * cos + self.rot(q) * sin
            k = k * cos + self.rot(k) * sin
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            s = s.masked_fill(~keep, float("-inf"))
            a = torch.softmax(s, dim=-1) @ v
            x = x + a.transpose(1, 2).reshape(B, L, H * hd) @ p[pre + "self_attn.o_proj.weight"].T
            h = self.rms(x, p[pre + "post_attention_layernorm.weight"])
            g = h @ p[pre + "mlp.gate_proj.weight"].T
            u = h @ p[pre + "mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(g) * u) @ p[pre + "mlp.down_proj.weight"].T
        x = self.rms(x, p["model.norm.weight"])
        return x @ p["lm_head.weight"].T, lens


def check(req):
    cfg = req["config"]
    params = load_safetensors(req["weights"])
    ref = Ref(cfg, params, torch.float64)
    items = req["items"]
    logits, lens = ref.logits(items)
    tau = req.get("temperature", 1.0)
    logp = torch.log_softmax(logits / tau, dim=-1)
    prob = torch.softmax(logits / tau, dim=-1)
    ent_all = -(prob * logp).sum(-1)
    T = max(it["respLen"] for it in items)
    lp = torch.zeros(len(items), T, dtype=torch.float64)
    ent = torch.zeros(len(items), T, dtype=torch.float64)
    for b, it in enumerate(items):
        R = it["respLen"]
        for j in range(R):
            s = lens[b] - R + j
            tok = it["text"][len(it["text"]) - R + j]
            lp[b, j] = logp[b, s - 1, tok]
            ent[b, j] = ent_all[b, s - 1]
    grad = torch.tensor(req["grad"], dtype=torch.float64).reshape(len(items), T)
    loss = (lp * grad).sum()
    if req.get("gradEntropy") is not None:  # the gradient of sum(gradEntropy * entropy) too
        loss = loss + (ent * torch.tensor(req["gradEntropy"], dtype=torch.float64).reshape(len(items), T)).sum()
    loss.backward()
    out = {
        "logits": [logits[b, : lens[b]].detach().reshape(-1).tolist() for b in range(len(items))],
        "logprobs": lp.detach().reshape(-1).tolist(),
        "entropy": ent.detach().reshape(-1).tolist(),
        "grads": {k: v.grad.reshape(-1).tolist() if v.grad is not None else None for k, v in ref.p.items()},
    }
    json.dump(out, sys.stdout)


def random_params(cfg, seed):
    g = np.random.default_rng(seed)
    d, V, G = cfg["dModel"], 260, cfg["imageSize"] // cfg["patchSize"]
    hd = d // cfg["nHeads"]
    P = {
        "model.vision.patch_embed.weight": (d, 3 * cfg["patchSize"] ** 2),
        "model.vision.patch_embed.bias": (d,),
        "model.vision.row_embed.weight": (G, d),
        "model.vision.col_embed.weight": (G, d),
        "model.embed_tokens.weight": (V, d),
        "model.norm.weight": (d,),
        "lm_head.weight": (V, d),
    }
    for l in range(cfg["nLayers"]):
        pre = f"model.layers.{l}."
        P[pre + "input_layernorm.weight"] = (d,)
        P[pre + "post_attention_layernorm.weight"] = (d,)
        P[pre + "self_attn.q_proj.weight"] = (cfg["nHeads"] * hd, d)
        P[pre + "self_attn.k_proj.weight"] = (cfg["nKvHeads"] * hd, d)
        P[pre + "self_attn.v_proj.weight"] = (cfg["nKvHeads"] * hd, d)
        P[pre + "self_attn.o_proj.weight"] = (d, cfg["nHeads"] * hd)
        P[pre + "mlp.gate_proj.weight"] = (cfg["dFF"], d)
        P[pre + "mlp.up_proj.weight"] = (cfg["dFF"], d)
        P[pre + "mlp.down_proj.weight"] = (d, cfg["dFF"])
    return {k: (np.ones(s) if "norm" in k else g.normal(0, 0.02, s)).astype(np.float32) for k, s in P.items()}


def bench(req):
    """Training step (fwd + bwd + AdamW) and KV-cached generation, float32, same shapes as the native run."""
    torch.set_num_threads(req["threads"])
    device = req.get("device", "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("this PyTorch has no usable CUDA")

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    cfg = req["config"]
    ref = Ref(cfg, random_params(cfg, 0), torch.float32, device)
    params = list(ref.p.values())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    B, L = req["batch"], req["seqLen"]
    nimg = (cfg["imageSize"] // cfg["patchSize"]) ** 2
    rng = np.random.default_rng(1)
    items = []
    for _ in range(B):
        img = rng.uniform(-1, 1, cfg["imageSize"] ** 2 * 3).tolist()
        text = [256] + rng.integers(0, 256, L - nimg - 1).tolist()
        items.append({"image": img, "text": text})
    resp = L - nimg - 1 - req["promptLen"]

    def train_step():
        logits, _ = ref.logits(items)
        s = L - resp
        logp = torch.log_softmax(logits[:, s - 1 : L - 1], dim=-1)
        tgt = torch.tensor([it["text"][-resp:] for it in items], device=ref.dev)
        loss = -logp.gather(-1, tgt[..., None]).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    train_step()
    sync()
    t0 = time.perf_counter()
    for _ in range(req["steps"]):
        train_step()
    sync()
    train_s = (time.perf_counter() - t0) / req["steps"]

    # Generation with a KV cache (greedy, fixed length), batch of gen prompts.
    c, p = cfg, ref.p
    H, KV, d = c["nHeads"], c["nKvHeads"], c["dModel"]
    hd = d // H
    gb, new = req["genBatch"], req["genTokens"]
    prompt_items = [{"image": items[i % B]["image"], "text": items[i % B]["text"][: 1 + req["promptLen"]]} for i in range(gb)]

    @torch.no_grad()
    def generate():
        embs = torch.stack([ref.embed(it) for it in prompt_items])
        Lp = embs.shape[1]
        cache = []
        x = embs
        pos = torch.arange(Lp, device=ref.dev)
        mask = torch.ones(Lp, Lp, dtype=torch.bool, device=ref.dev).tril()
        def layer(x, l, pos, mask, kc=None, vc=None):
            pre = f"model.layers.{l}."
            n = x.shape[1]
            h = ref.rms(x, p[pre + "input_layernorm.weight"])
            q = (h @ p[pre + "self_attn.q_proj.weight"].T).view(gb, n, H, hd).transpose(1, 2)
            k = (h @ p[pre + "self_attn.k_proj.weight"].T).view(gb, n, KV, hd).transpose(1, 2)
            v = (h @ p[pre + "self_attn.v_proj.weight"].T).view(gb, n, KV, hd).transpose(1, 2)
            cos, sin = ref.cos[pos], ref.sin[pos]
            q = q * cos + ref.rot(q) * sin
            k = k * cos + ref.rot(k) * sin
            if kc is not None:
                k = torch.cat([kc, k], 2)
                v = torch.cat([vc, v], 2)
            kk, vv = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)
            s = (q @ kk.transpose(-1, -2)) / math.sqrt(hd)
            if mask is not None:
                s = s.masked_fill(~mask, float("-inf"))
            a = torch.softmax(s, -1) @ vv
            x = x + a.transpose(1, 2).reshape(gb, n, H * hd) @ p[pre + "self_attn.o_proj.weight"].T
            h = ref.rms(x, p[pre + "post_attention_layernorm.weight"])
            x = x + (torch.nn.functional.silu(h @ p[pre + "mlp.gate_proj.weight"].T) * (h @ p[pre + "mlp.up_proj.weight"].T)) @ p[pre + "mlp.down_proj.weight"].T
            return x, k, v
        for l in range(c["nLayers"]):
            x, k, v = layer(x, l, pos, mask)
            cache.append([k, v])
        tok = (ref.rms(x[:, -1], p["model.norm.weight"]) @ p["lm_head.weight"].T).argmax(-1)
        for t in range(new - 1):
            x = p["model.embed_tokens.weight"][tok][:, None, :]
            pos = torch.tensor([Lp + t], device=ref.dev)
            for l in range(c["nLayers"]):
                x, k, v = layer(x, l, pos, None, *cache[l])
                cache[l] = [k, v]
            tok = (ref.rms(x[:, -1], p["model.norm.weight"]) @ p["lm_head.weight"].T).argmax(-1)

    generate()
    sync()
    t0 = time.perf_counter()
    generate()
    sync()
    gen_s = time.perf_counter() - t0
    json.dump({"trainStepSeconds": train_s, "trainTokens": B * L, "genSeconds": gen_s, "genTokens": gb * new,
               "torch": torch.__version__, "threads": torch.get_num_threads(), "device": device}, sys.stdout)


if __name__ == "__main__":
    req = json.load(sys.stdin)
    {"check": check, "bench": bench}[sys.argv[1]](req)
