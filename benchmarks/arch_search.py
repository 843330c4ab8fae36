"""Pick the default model by measured quality per second: train candidates at equal budgets.

Every candidate sees exactly the same training samples in the same order (a fixed pack of
degraded corpus crops written once by ``pack``), the same optimiser, schedule, loss and number
of iterations; then each is scored on the public evaluation clips (PSNR RGB against bicubic, the
README's protocol on the first ``--max-frames`` frames) and timed model-only at 180×320 LR in one
process, alternating, so machine noise hits all alike. Quality per second is reported as the
PSNR gain over bicubic next to frames/s; the FLOPs are counted per output frame at 180×320.

    python benchmarks/arch_search.py pack CORPUS PACK.pt --samples 2000          # once
    python benchmarks/arch_search.py train PACK.pt RUNS/ --candidate A --iterations 600
    python benchmarks/arch_search.py report RUNS/ --evalset EVALSET --max-frames 30

``train`` for several candidates can run in parallel (one thread each); ``report`` scores every
``RUNS/<candidate>.pt`` it finds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from freqvsr.models.fastrealvsr import FastRealVSR

# The candidates: FastRealVSR-family online nets within 60 GFLOPs per 180×320 frame.
CANDIDATES: dict[str, dict] = {
    # SPyNet at half LR size warps the hidden state; no HSA.
    "A": dict(
        mid_channels=48,
        num_feat_blocks=2,
        num_fuse_blocks=6,
        hsa=False,
        flow="half",
        upsampler="shuffle4",
        skip="bicubic",
        zero_init_flow=True,
    ),
    # No explicit flow: the previous LR frame enters RB_1, the trunk aligns implicitly.
    "B": dict(
        mid_channels=48,
        num_feat_blocks=2,
        num_fuse_blocks=8,
        hsa=False,
        flow="none",
        prev_input=True,
        upsampler="shuffle4",
        skip="bicubic",
    ),
    # A with Hidden State Attention (narrower to stay in budget).
    "D": dict(
        mid_channels=40,
        num_feat_blocks=2,
        num_fuse_blocks=6,
        hsa=True,
        flow="half",
        upsampler="shuffle4",
        skip="bicubic",
        zero_init_flow=True,
    ),
}


def cmd_pack(args) -> int:
    from freqvsr.data import FolderDataset

    ds = FolderDataset(
        args.corpus,
        degrade=args.preset,
        num_frames=args.frames,
        lq_patch=args.lq_patch,
        crop_candidates=args.crop_candidates,
        seed=args.seed,
        repeat=10_000,
    )
    lq, gt = [], []
    t0 = time.time()
    g = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(ds), generator=g)[: args.samples].tolist()
    for k, i in enumerate(order):
        s = ds[i]
        lq.append(s["lq"].to(torch.float16))
        gt.append((s["gt"] * 255).round().to(torch.uint8))
        if k % 200 == 0:
            print(f"{k}/{args.samples} samples, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    torch.save(
        {
            "lq": torch.stack(lq),
            "gt": torch.stack(gt),
            "meta": {
                "corpus": str(args.corpus),
                "preset": args.preset,
                "seed": args.seed,
                "frames": args.frames,
                "lq_patch": args.lq_patch,
                "crop_candidates": args.crop_candidates,
            },
        },
        args.out,
    )
    print(f"{args.out}: {args.samples} samples in {time.time() - t0:.0f} s", file=sys.stderr)
    return 0


def charbonnier(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return torch.sqrt((x - y) ** 2 + eps).mean()


def cmd_train(args) -> int:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    pack = torch.load(args.pack)
    lq_all, gt_all = pack["lq"], pack["gt"]
    n = len(lq_all)
    model = FastRealVSR(**CANDIDATES[args.candidate])
    params = [{"params": [p for k, p in model.named_parameters() if not k.startswith("spynet.")], "lr": args.lr}]
    if model.spynet is not None:
        params.append({"params": list(model.spynet.parameters()), "lr": args.lr * 0.125})
    opt = torch.optim.Adam(params, betas=(0.9, 0.99))
    base = [g["lr"] for g in opt.param_groups]
    out = Path(args.runs)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / f"{args.candidate}.log", "a")
    t0 = time.time()
    amp = torch.autocast("cpu", dtype=torch.bfloat16) if args.bf16 else torch.autocast("cpu", enabled=False)
    for it in range(args.iterations):
        idx = [(it * args.batch + j) % n for j in range(args.batch)]
        lq = lq_all[idx].float()
        gt = gt_all[idx].float() / 255
        for g, b in zip(opt.param_groups, base):
            g["lr"] = 1e-6 + (b - 1e-6) * 0.5 * (1 + math.cos(math.pi * it / args.iterations))
        with amp:
            sr = model(lq)
        loss = charbonnier(sr.float(), gt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if it % 50 == 0 or it == args.iterations - 1:
            print(
                json.dumps({"it": it, "loss": round(loss.item(), 5), "s": round(time.time() - t0, 1)}),
                file=log,
                flush=True,
            )
    torch.save(
        {
            "candidate": args.candidate,
            "args": CANDIDATES[args.candidate],
            "state": model.state_dict(),
            "iterations": args.iterations,
            "batch": args.batch,
            "seconds": time.time() - t0,
            "pack": pack["meta"],
        },
        out / f"{args.candidate}.pt",
    )
    return 0


def _eval_clip(model, lq: torch.Tensor, gt: torch.Tensor) -> tuple[float, float]:
    """PSNR RGB (BasicSR protocol, 8-bit rounded) of the model and of bicubic on one clip."""
    from freqvsr.functional.resize import bicubic_upsample
    from freqvsr.metrics.psnr_ssim import psnr

    with torch.no_grad():
        sr = model(lq[None])[0].clamp(0, 1)
    bic = bicubic_upsample(lq, 4).clamp(0, 1)
    q = lambda x: (x * 255).round() / 255  # noqa: E731
    m = sum(float(psnr(q(sr[i]), gt[i])) for i in range(len(gt))) / len(gt)
    b = sum(float(psnr(q(bic[i]), gt[i])) for i in range(len(gt))) / len(gt)
    return m, b


def cmd_report(args) -> int:
    from freqvsr.bench.speed import count_flops
    from freqvsr.data.evalset import EvalSetDataset

    torch.set_num_threads(args.threads)
    runs = sorted(p for p in Path(args.runs).glob("*.pt") if p.stem in CANDIDATES)
    models = {}
    for r in runs:
        ck = torch.load(r)
        m = FastRealVSR(**ck["args"]).eval()
        m.load_state_dict(ck["state"])
        models[ck["candidate"]] = (m, ck)
    rows = {k: {"gains": {}} for k in models}
    ds = EvalSetDataset(
        args.evalset, presets=args.presets.split(","), clips=args.clips.split(","), max_frames=args.max_frames
    )
    for item in ds:
        for k, (m, _) in models.items():
            mp, bp = _eval_clip(m, item["lq"], item["gt"])
            rows[k]["gains"][f"{item['clip']}/{item['preset']}"] = mp - bp
    x = torch.rand(1, 4, 3, 180, 320)
    times = {k: [] for k in models}
    with torch.no_grad():
        for k, (m, _) in models.items():
            m(x[:, :1])  # warm-up
        for _ in range(args.repeat):
            for k, (m, _) in models.items():
                t0 = time.perf_counter()
                m(x)
                times[k].append((time.perf_counter() - t0) / x.shape[1])
    print(
        f"| candidate | args | params (M) | GFLOPs/frame @180x320 | frames/s @180x320 ({args.threads} threads) | "
        + " | ".join(f"gain {c}" for c in next(iter(rows.values()))["gains"])
        + " | mean gain (dB) | train s |"
    )
    print("|---" * (7 + len(next(iter(rows.values()))["gains"])) + "|")
    for k, (m, ck) in models.items():
        g = rows[k]["gains"]
        fps = 1 / min(times[k])
        # per frame of a long video: a short clip's first frame needs no flow and would lower the mean
        flops = count_flops(m, 40, 180, 320) / 40
        nparam = sum(p.numel() for p in m.parameters()) / 1e6
        short = ", ".join(f"{a}={v}" for a, v in ck["args"].items())
        print(
            f"| {k} | {short} | {nparam:.2f} | {flops / 1e9:.1f} | {fps:.2f} | "
            + " | ".join(f"{v:+.2f}" for v in g.values())
            + f" | {sum(g.values()) / len(g):+.3f} | {ck['seconds']:.0f} |"
        )
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("pack")
    a.add_argument("corpus")
    a.add_argument("out")
    a.add_argument("--samples", type=int, default=2000)
    a.add_argument("--preset", default="ftvsr-mix")
    a.add_argument("--frames", type=int, default=5)
    a.add_argument("--lq-patch", type=int, default=32)
    a.add_argument("--crop-candidates", type=int, default=4)
    a.add_argument("--seed", type=int, default=0)
    a.set_defaults(func=cmd_pack)
    t = sub.add_parser("train")
    t.add_argument("pack")
    t.add_argument("runs")
    t.add_argument("--candidate", required=True, choices=sorted(CANDIDATES))
    t.add_argument("--iterations", type=int, default=600)
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--lr", type=float, default=4e-4)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--bf16", action="store_true")
    t.set_defaults(func=cmd_train)
    r = sub.add_parser("report")
    r.add_argument("runs")
    r.add_argument("--evalset", required=True)
    r.add_argument("--clips", default="bikes,carphone")
    r.add_argument("--presets", default="bi,crf25,crf35")
    r.add_argument("--max-frames", type=int, default=30)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--repeat", type=int, default=3)
    r.set_defaults(func=cmd_report)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
