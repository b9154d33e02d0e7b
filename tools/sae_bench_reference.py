"""Plain PyTorch references for `npm run bench:sae` / `bench:gpu`: the same TopK SAE and Adam step
Ocular trains (x - b_dec, TopK through ReLU, MSE summed over features and averaged over rows, Adam
with bias correction, decoder rows renormalised to unit norm), in two forms:

  dense          z scattered to [B, d_sae], x_hat = z @ W_dec: autograd's dense products (SAELens' form)
  sparse-decode  x_hat = embedding_bag(idx, W_dec, per_sample_weights=vals): decoding and the decoder
                 gradient from the k active rows; the encoder gradient stays a dense product

Runs as a persistent process so the benchmark can interleave rounds with Ocular's: one JSON command
per stdin line, one JSON answer per stdout line.

    {"cmd": "setup", "d_in": 512, "d_sae": 4096, "k": 32, "batch": 1024, "device": "cpu"}
    {"cmd": "run", "variant": "dense", "steps": 8}      -> {"seconds": ..., "loss": ...}
    {"cmd": "quit"}

The first answer is {"ready": true, "threads": N, "torch": VERSION, "cuda": bool}.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


class Reference:
    def __init__(self, d_in: int, d_sae: int, k: int, batch: int, device: str) -> None:
        torch.manual_seed(0)
        self.k = k
        self.device = torch.device(device)
        self.batches = [torch.randn(batch, d_in, device=self.device) for _ in range(4)]
        self.variants = {}
        for name in ("dense", "sparse-decode"):
            w_dec = torch.randn(d_sae, d_in, device=self.device)
            w_dec /= w_dec.norm(dim=1, keepdim=True)
            params = {
                "W_enc": torch.nn.Parameter(w_dec.t().contiguous()),
                "b_enc": torch.nn.Parameter(torch.zeros(d_sae, device=self.device)),
                "W_dec": torch.nn.Parameter(w_dec),
                "b_dec": torch.nn.Parameter(torch.zeros(d_in, device=self.device)),
            }
            # PyTorch's fastest Adam on the device: fused where supported (CPU since 2.4, CUDA), else foreach.
            try:
                opt = torch.optim.Adam(params.values(), lr=4e-4, betas=(0.9, 0.999), eps=1e-8, fused=True)
            except (RuntimeError, TypeError, ValueError):
                opt = torch.optim.Adam(params.values(), lr=4e-4, betas=(0.9, 0.999), eps=1e-8, foreach=True)
            self.variants[name] = (params, opt)
        self.i = 0

    def step(self, name: str) -> torch.Tensor:
        params, opt = self.variants[name]
        x = self.batches[self.i % len(self.batches)]
        self.i += 1
        pre = (x - params["b_dec"]) @ params["W_enc"] + params["b_enc"]
        vals, idx = pre.topk(self.k, dim=-1, sorted=False)
        vals = vals.relu()
        if name == "dense":
            z = torch.zeros_like(pre).scatter(-1, idx, vals)
            x_hat = z @ params["W_dec"] + params["b_dec"]
        else:
            x_hat = F.embedding_bag(idx, params["W_dec"], per_sample_weights=vals, mode="sum") + params["b_dec"]
        loss = (x_hat - x).pow(2).sum() / x.shape[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            params["W_dec"] /= params["W_dec"].norm(dim=1, keepdim=True).clamp_min(1e-8)
        return loss.detach()

    def run(self, name: str, steps: int) -> dict:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = None
        for _ in range(steps):
            loss = self.step(name)
        value = float(loss)  # waits for the device
        return {"seconds": time.perf_counter() - t0, "loss": value}


def main() -> None:
    print(json.dumps({"ready": True, "threads": torch.get_num_threads(), "torch": torch.__version__, "cuda": torch.cuda.is_available()}), flush=True)
    ref = None
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        if cmd["cmd"] == "setup":
            ref = None
            ref = Reference(cmd["d_in"], cmd["d_sae"], cmd["k"], cmd["batch"], cmd.get("device", "cpu"))
            for name in ref.variants:  # warm up: allocator, kernels, optimiser state
                ref.run(name, 2)
            out = {"ok": True}
        else:
            out = ref.run(cmd["variant"], cmd["steps"])
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
