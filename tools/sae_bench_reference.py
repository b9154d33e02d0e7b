"""Plain PyTorch reference for `npm run bench:sae`: the same TopK SAE and Adam step Ocular's ONNX
training graph runs (x - b_dec, TopK through ReLU, MSE summed over features and averaged over rows,
Adam with bias correction, decoder rows renormalised to unit norm), timed on this machine.

    python tools/sae_bench_reference.py --d-in 512 --expansion 8 --k 32 --batch 1024 --steps 40

Prints one JSON line: {"steps_per_s": ..., "tokens_per_s": ..., "threads": ...}.
"""
import argparse
import json
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--d-in", type=int, default=512)
    ap.add_argument("--expansion", type=int, default=8)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    d_in, d_sae = args.d_in, args.d_in * args.expansion
    w_dec = torch.randn(d_sae, d_in)
    w_dec /= w_dec.norm(dim=1, keepdim=True)
    params = {
        "W_enc": torch.nn.Parameter(w_dec.t().clone()),
        "b_enc": torch.nn.Parameter(torch.zeros(d_sae)),
        "W_dec": torch.nn.Parameter(w_dec),
        "b_dec": torch.nn.Parameter(torch.zeros(d_in)),
    }
    opt = torch.optim.Adam(params.values(), lr=4e-4, betas=(0.9, 0.999), eps=1e-8)
    batches = [torch.randn(args.batch, d_in) for _ in range(8)]

    def step(x: torch.Tensor) -> float:
        pre = (x - params["b_dec"]) @ params["W_enc"] + params["b_enc"]
        vals, idx = pre.topk(args.k, dim=-1, sorted=False)
        z = torch.zeros_like(pre).scatter(-1, idx, vals.relu())
        x_hat = z @ params["W_dec"] + params["b_dec"]
        loss = (x_hat - x).pow(2).sum() / x.shape[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            params["W_dec"] /= params["W_dec"].norm(dim=1, keepdim=True).clamp_min(1e-8)
        return float(loss.detach())

    for i in range(args.warmup):
        step(batches[i % len(batches)])
    t0 = time.perf_counter()
    for i in range(args.steps):
        step(batches[i % len(batches)])
    seconds = time.perf_counter() - t0
    print(json.dumps({"steps_per_s": args.steps / seconds, "tokens_per_s": args.steps * args.batch / seconds, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
