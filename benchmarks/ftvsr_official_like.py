"""FTVSR speed: our ``ftvsr.official`` port against an emulation of the official code's op sequence.

    python benchmarks/ftvsr_official_like.py --threads 2 --repeat 3            # fp32 vs fp32
    python benchmarks/ftvsr_official_like.py --threads 2 --repeat 3 --bf16     # + our port under CPU bf16 autocast

The official implementation (researchmm/FTVSR, mmcv) cannot be installed here, so the baseline
re-creates its op sequence on OUR module's weights: NCHW tensors, token buffers re-stacked every
step, LTAM grid-sampling all four buffers (``_reference_ltam`` of tests/test_ftvsr.py), the
space-frequency attention and the shared half of each trunk input computed in both directions,
``nn.MultiheadAttention`` returning its attention map, per-frame output heads, direct 3x3
convolutions. Outputs of both are compared first (max abs difference printed), then the two are
timed alternately (A, B, A, B, ...) so that load on the shared machine hits both alike; the
speed-up is the ratio of medians measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_ftvsr import _reference_ltam, _reference_tokens, _ReferenceFTTA

from freqvsr.functional.flow import flow_warp
from freqvsr.models.ftvsr import FTVSR, pad_official


def resblocks(m, x):
    x = F.leaky_relu(m.main[0](x), 0.1)
    for b in m.main[2]:
        x = x + b.conv2(F.relu(b.conv1(x))) * 1.0
    return x


def spynet_nchw(sp, ref, supp):
    import math

    h, w = ref.shape[-2:]
    hu, wu = max(32, math.ceil(h / 32) * 32), max(32, math.ceil(w / 32) * 32)
    ref = F.interpolate(ref, size=(hu, wu), mode="bilinear", align_corners=False)
    supp = F.interpolate(supp, size=(hu, wu), mode="bilinear", align_corners=False)
    refs = [(ref - sp.mean) / sp.std]
    supps = [(supp - sp.mean) / sp.std]
    for _ in range(5):
        refs.append(F.avg_pool2d(refs[-1], 2, 2, count_include_pad=False))
        supps.append(F.avg_pool2d(supps[-1], 2, 2, count_include_pad=False))
    refs, supps = refs[::-1], supps[::-1]
    flow = ref.new_zeros(ref.shape[0], 2, hu // 32, wu // 32)
    for l in range(6):
        fu = flow if l == 0 else F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2
        flow = fu + sp.basic_module[l](
            torch.cat([refs[l], flow_warp(supps[l], fu.permute(0, 2, 3, 1), padding_mode="border"), fu], 1)
        )
    flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
    flow[:, 0] *= w / wu
    flow[:, 1] *= h / hu
    return flow


def official_forward(m, ref_ftta, lrs):
    n, t, c, h, w = lrs.shape
    s = 4
    h4, w4 = h // s, w // s
    a = lrs[:, :-1].reshape(-1, c, h, w)
    b = lrs[:, 1:].reshape(-1, c, h, w)
    fb = spynet_nchw(m.spynet, a, b).view(n, t - 1, 2, h, w)
    ff = spynet_nchw(m.spynet, b, a).view(n, t - 1, 2, h, w)
    outputs = list(torch.unbind(resblocks(m.feat_extractor, lrs.view(-1, c, h, w)).view(n, t, -1, h, w), 1))
    gy, gx = torch.meshgrid(torch.arange(h4), torch.arange(w4), indexing="ij")
    ident = torch.stack([gx, gy], 0).float().expand(n, -1, -1, -1)

    def direction(backward):
        order = range(t - 1, -1, -1) if backward else range(t)
        keys = (
            list(range(t - 1, 0, -3) if backward else range(0, t, 3))
            if m.keyframe_stride == 3
            else list(range(t - 1, 0, -1) if backward else range(t))
        )
        fp = lrs.new_zeros(n, 64, h, w)
        loc = ident
        bufs = [[], [], [], []]
        outs = [None] * t
        fbuf = []
        for step, i in enumerate(order):
            if step > 0:
                fl = fb[:, i] if backward else ff[:, i - 1]
                fp = flow_warp(fp, fl.permute(0, 2, 3, 1), padding_mode="border")
                flp = F.adaptive_avg_pool2d(fl, (h4, w4)) / s
                loc = flow_warp(loc, flp.permute(0, 2, 3, 1), padding_mode="border", interpolation="nearest")
                _ = torch.stack(fbuf, 1)
                st = [torch.stack(bb, 1) for bb in bufs]
                fp = _reference_ltam(m.LTAM.fusion, outputs[i], st[0], fp, st[1:], loc)
                if i in keys:
                    loc = torch.cat([loc, ident], 1)
            fp = resblocks(m.resblocks, torch.cat([outputs[i], fp], 1))
            fbuf.append(fp)
            outs[i] = fp
            if i in keys:
                tk = _reference_tokens(fp)
                bufs[0].append(F.unfold(outputs[i], 4, stride=4).view(n, -1, h4, w4))
                for j in range(3):
                    bufs[j + 1].append(tk[j].view(n, -1, h4, w4))
        return outs

    back = direction(True)
    fwd = direction(False)
    sr = []
    bic = []
    for i in range(t):
        x = F.leaky_relu(m.fusion(torch.cat([back[i], outputs[i], fwd[i]], 1)), 0.1)
        x = F.leaky_relu(m.upsample1(x), 0.1)
        x = F.leaky_relu(m.upsample2(x), 0.1)
        x = m.conv_last(F.leaky_relu(m.conv_hr(x), 0.1))
        bb = F.interpolate(lrs[:, i], scale_factor=4, mode="bilinear", align_corners=False)
        sr.append(x + bb)
        bic.append(bb)
    sr = torch.stack(sr, 1)
    bic = torch.stack(bic, 1)
    # stage 2
    ftt = m.FTT
    sr_p, _ = pad_official(sr)
    bic_p, _ = pad_official(bic)
    H, W = sr_p.shape[-2:]
    hb, wb = H // 8, W // 8
    a = sr_p[:, :-1].reshape(-1, 3, H, W)
    b = sr_p[:, 1:].reshape(-1, 3, H, W)
    fb = spynet_nchw(m.spynet, a, b)
    ff = spynet_nchw(m.spynet, b, a)

    def rs(f):
        f = f.clone()
        f[:, 0] *= wb / W
        f[:, 1] *= hb / H
        return F.interpolate(f, size=(hb, wb), mode="bilinear", align_corners=False).view(n, t - 1, 2, hb, wb)

    fb, ff = rs(fb), rs(ff)
    dct = lambda x: F.conv2d(x, ftt.dct.dct_conv.weight, stride=8, groups=3)
    dbic = dct(bic_p.view(-1, 3, H, W))
    dsr = dct(sr_p.view(-1, 3, H, W))
    nb = lambda d: F.normalize(d.view(n * t, 192, -1), dim=2).view(n * t, 192, hb, wb)
    ebic = resblocks(ftt.feat_extractor, ftt.conv_layer1(nb(dbic))).view(n, t, -1, hb, wb)
    esr = resblocks(ftt.feat_extractor, ftt.conv_layer1(nb(dsr))).view(n, t, -1, hb, wb)

    def att(q, k, v):
        return ref_ftta(q, k, v)

    hb_l = [None] * t
    H_ = None
    for i in range(t - 1, -1, -1):
        if i < t - 1:
            H_ = flow_warp(H_, fb[:, i].permute(0, 2, 3, 1), padding_mode="border")
            S = att(ebic[:, i], esr[:, i], esr[:, i])
            H_ = att(S, H_, H_)
        else:
            H_ = esr.new_zeros(n, 512, hb, wb)
        H_ = resblocks(ftt.resblocks, torch.cat([esr[:, i], H_], 1))
        hb_l[i] = H_
    out = []
    H_ = None
    for i in range(t):
        if i > 0:
            H_ = flow_warp(H_, ff[:, i - 1].permute(0, 2, 3, 1), padding_mode="border")
            S = att(ebic[:, i], esr[:, i], esr[:, i])
            H_ = att(S, H_, H_)
        else:
            H_ = esr.new_zeros(n, 512, hb, wb)
        H_ = resblocks(ftt.resblocks, torch.cat([esr[:, i], H_], 1))
        r = ftt.conv_layer2(ftt.fusion(torch.cat([hb_l[i], esr[:, i], H_], 1))) + dsr.view(n, t, -1, hb, wb)[:, i]
        img = F.conv_transpose2d(r, ftt.rdct.reverse_dct_conv.weight, stride=8, groups=3) + sr_p[:, i]
        out.append(img[..., : 4 * h, : 4 * w])
    return torch.stack(out, 1)


class MHAFTTA(_ReferenceFTTA):
    def forward(self, q, k, v):  # need_weights=True like the official
        n, c, h, w = q.shape

        def tok(x):
            x = F.unfold(x.reshape(n * self.g, c // self.g, h, w), self.p, stride=self.p)
            return x.view(n, self.g, self.d, -1).permute(0, 1, 3, 2).reshape(n, -1, self.d)

        qt, kt, vt = self.layer_q(tok(q)), self.layer_k(tok(k)), self.layer_v(tok(v))
        a = self.MultiheadAttention(qt.transpose(0, 1), kt.transpose(0, 1), vt.transpose(0, 1), need_weights=True)[
            0
        ].transpose(0, 1)
        z = self.norm1(a + vt)
        z = self.norm2(z + F.leaky_relu(self.linear1(z), 0.1))
        o = self.linear2(z).view(n, self.g, -1, self.d).permute(0, 1, 3, 2).reshape(n * self.g, self.d, -1)
        return F.fold(o, (h, w), self.p, stride=self.p).view(n, c, h, w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shape", type=int, nargs=5, default=[1, 5, 3, 64, 64], metavar=("B", "T", "C", "H", "W"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bf16", action="store_true", help="also time our port under torch.autocast('cpu', bfloat16)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = FTVSR().eval()
    ref = MHAFTTA(512, 64, 8, 4)
    ref.load_state_dict(model.FTT.ftta.state_dict())
    ref.eval()
    x = torch.rand(*args.shape)

    def ours_bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model(x).float()

    runs = {"official-like": lambda: official_forward(model, ref, x), "ours fp32": lambda: model(x)}
    if args.bf16:
        runs["ours bf16 autocast"] = ours_bf16
    with torch.inference_mode():
        outs = {name: f() for name, f in runs.items()}  # also the warm-up
        base = outs["ours fp32"]
        for name, y in outs.items():
            d = (y - base).abs()
            print(f"{name:20s} vs ours fp32: max abs {d.max().item():.2e}, mean abs {d.mean().item():.2e}")
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, f in runs.items():
                t0 = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - t0)
    base_t = statistics.median(times["official-like"])
    print(f"input {tuple(x.shape)}, {args.threads} threads, wall seconds per forward (median of {args.repeat}):")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"  {name:20s} {med:7.2f} s  ({', '.join(f'{t:.2f}' for t in ts)})  speed-up vs official-like {base_t / med:.2f}x"
        )


if __name__ == "__main__":
    main()
