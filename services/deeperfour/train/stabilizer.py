"""Train the stabilizer (Lai et al. 2018 TransformNet + ConvLSTM) with the paper's objective.

For a window of T frames of one shot: O_1 = P_1; for t = 2..T, O_t = P_t + up(net(down(cat(P_t, O_{t-1}, I_t,
I_{t-1})), state)), exactly the inference path of deeperfour.models.stabilizer.stabilize_step (the net runs at
the preset's work_scale, its residual is upsampled). O_{t-1} and the ConvLSTM state are detached between steps,
as in Lai et al.'s training, and the window's losses are summed before one backward:

    L = λp Lp + λst Lst + λlt Llt
    Lp  = perceptual distance between O_t and P_t (ImageNet MobileNetV2 features, see train/features.py)
    Lst = mean M_{t⇒t−1} · |O_t − warp(O_{t−1}, F_{t⇒t−1})|₁        (short-term)
    Llt = mean M_{t⇒1}   · |O_t − warp(O_1,     F_{t⇒1})|₁          (long-term, t ≥ 3)

F_{t⇒s} is the DIS optical flow on the *input* frames from I_t to I_s (pixel x of frame t is at x + F(x) in frame
s; warp samples frame s there, so it lands on frame t's grid); M_{t⇒s} = 1 − occlusion, with the occlusion test of
deeperfour.metrics.temporal (forward-backward check ∪ motion boundaries ∪ outside the frame), times Lai et al.'s
exp(−α‖I_t − warp(I_s)‖²) when `occlusion_alpha` is set (α = 50 in the paper). No learned flow weights exist
here, so a classical flow replaces Lai's FlowNet2.

The shipped configs take Lai et al.'s weights as they are: λp = 10, λst = λlt = 100. With the stride-8 MobileNetV2
features a uniform colour error of mean |O − P| = m costs Lp ≈ 215 m² (measured on four Kodak crops), so the
gradient of λp·Lp matches that of λst·Lst + λlt·Llt at m* = 200 / (2 · 215 · λp) ≈ 0.047 for λp = 10: the net
absorbs flicker below about that deviation from P and follows P beyond it, a balance near the one the paper's
settings strike with an ImageNet VGG.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from deeperfour.errors import WeightsError
from deeperfour.metrics.temporal import FlowEstimator, grey, occlusion_mask
from deeperfour.models.stabilizer import working_size
from deeperfour.train import data, processors
from deeperfour.train.common import DATA_ROOT, adam
from deeperfour.train.features import PerceptualLoss
from deeperfour.train.loop import Trainer


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample x (B,C,H,W) at pixel + flow (B,2,H,W) (bilinear, border), i.e. bring frame s onto frame t's grid."""
    B, _, H, W = x.shape
    ys, xs = torch.meshgrid(torch.arange(H, device=x.device), torch.arange(W, device=x.device), indexing="ij")
    gx = (xs + flow[:, 0]) * (2 / max(W - 1, 1)) - 1
    gy = (ys + flow[:, 1]) * (2 / max(H - 1, 1)) - 1
    return F.grid_sample(x, torch.stack([gx, gy], dim=-1), mode="bilinear", padding_mode="border", align_corners=True)


def flow_and_mask(flow: FlowEstimator, a_grey: np.ndarray, b_grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F_{a⇒b} (H,W,2) and M_{a⇒b} (H,W) float32 (1 where pixel x of a has a reliable match in b)."""
    fw, bw = flow(a_grey, b_grey), flow(b_grey, a_grey)
    return fw, (~occlusion_mask(fw, bw)).astype(np.float32)


def step_forward(model, p, o_prev, i, i_prev, state):
    """The differentiable twin of deeperfour.models.stabilizer.stabilize_step (same resizes, same residual)."""
    H, W = p.shape[-2:]
    size = working_size(H, W, model.config.work_scale)
    x = torch.cat([p, o_prev, i, i_prev], dim=1)
    if size != (H, W):
        x = F.interpolate(x, size, mode="bilinear", align_corners=False, antialias=True)
    y, state = model(x, state)
    if size != (H, W):
        y = F.interpolate(y, (H, W), mode="bilinear", align_corners=False)
    return p + y, state


class StabilizerData:
    """Windows (I, P, flows, masks) from colour clips and photos with synthetic camera motion."""

    def __init__(self, cfg: dict, rng: np.random.Generator, say=print):
        root = cfg.get("data_root", DATA_ROOT)
        short = int(cfg.get("load_short_side", 256))
        self.clips = data.load_clips(
            root, cfg.get("clips", []), short, int(cfg.get("clip_frames", 200)), cfg.get("holdout", ())
        )
        self.photo_p = float(cfg.get("photo_p", 0.4)) if self.clips else 1.0
        self.photos = []
        if self.photo_p > 0:
            self.photos = data.load_images(
                root, cfg.get("photos", ["photos/*/*"]), int(cfg.get("photo_short_side", 400)), cfg.get("max_photos")
            )
        self.frames, self.size, self.batch = (
            int(cfg.get("frames", 7)),
            int(cfg.get("crop", 192)),
            int(cfg.get("batch_size", 4)),
        )
        # processor: relative frequency (a list gives them all the same)
        kinds = cfg.get("processors", ["colorizer", "jitter", "tone", "stylize", "tint"])
        self.kinds = dict(kinds) if isinstance(kinds, dict) else dict.fromkeys(kinds, 1.0)
        self.strength = float(cfg.get("flicker_strength", 1.0))
        self.colorizer = None
        if "colorizer" in self.kinds:
            try:
                self.colorizer = processors.ColorizerProcessor(
                    cfg.get("colorizer_weights"), cfg.get("colorizer_preset", "lite")
                )
            except WeightsError as e:
                say(f"no usable colorizer weights ({e}): training without the 'colorizer' processor")
                del self.kinds["colorizer"]
        self.flow = FlowEstimator()
        self.rng = rng

    def sequence(self) -> np.ndarray:
        if self.rng.random() < self.photo_p:
            img = self.photos[self.rng.integers(len(self.photos))]
            return data.camera_motion(img, self.frames, self.size, self.rng)
        clip = self.clips[self.rng.integers(len(self.clips))]
        return data.clip_window(clip, self.frames, self.size, self.rng)

    def sample(self) -> dict:
        """I, P: (B,T,3,H,W) float [0,1]; fst, flt: (B,T,2,H,W) flows t⇒t−1 and t⇒1; mst, mlt: (B,T,1,H,W)."""
        items: dict[str, list] = {k: [] for k in ("I", "P", "fst", "mst", "flt", "mlt")}
        for _ in range(self.batch):
            colour = self.sequence()
            p = np.array(list(self.kinds.values()), dtype=float)
            kind = list(self.kinds)[self.rng.choice(len(p), p=p / p.sum())]
            inp, proc = processors.make_pair(colour, kind, self.rng, self.strength, self.colorizer)
            g = [grey(f) for f in inp]
            zf, zm = np.zeros(g[0].shape + (2,), np.float32), np.zeros(g[0].shape, np.float32)
            fst, mst, flt, mlt = [zf], [zm], [zf], [zm]
            for t in range(1, self.frames):
                f, m = flow_and_mask(self.flow, g[t], g[t - 1])
                fst.append(f)
                mst.append(m)
                f, m = flow_and_mask(self.flow, g[t], g[0]) if t > 1 else (f, m)
                flt.append(f)
                mlt.append(m)
            for k, v in (("I", inp), ("P", proc), ("fst", fst), ("mst", mst), ("flt", flt), ("mlt", mlt)):
                items[k].append(np.stack(v))
        out = {k: torch.from_numpy(np.stack(v)) for k, v in items.items()}
        for k in ("I", "P"):
            out[k] = out[k].permute(0, 1, 4, 2, 3).float() / 255
        for k in ("fst", "flt"):
            out[k] = out[k].permute(0, 1, 4, 2, 3)
        for k in ("mst", "mlt"):
            out[k] = out[k][:, :, None]
        return out


class StabilizerTrainer(Trainer):
    stage = "stabilize"

    def __init__(self, cfg: dict, out_dir, *, quiet: bool = False):
        super().__init__(cfg, out_dir, quiet=quiet)
        self.nets = {"model": self.model}
        self.opts = {"model": adam(self.model.parameters(), cfg)}
        self.perceptual = PerceptualLoss(
            cfg.get("features", "mobilenet_v2"),
            cfg.get("feature_layer", "stride8"),
            weights=cfg.get("features_weights"),
            data_root=cfg.get("data_root"),
        ).to(self.device)
        self.alpha = cfg.get("occlusion_alpha")
        self.lam = {
            k: float(cfg.get(k, d)) for k, d in (("lambda_p", 10.0), ("lambda_st", 100.0), ("lambda_lt", 100.0))
        }
        self.data = StabilizerData(cfg, self.rng, say=self.say)

    def _visible(self, mask, i_t, i_s, flow):
        """The occlusion mask, times Lai et al.'s exp(-α‖I_t − warp(I_s)‖²) when `occlusion_alpha` is set: pixels
        whose input does not match its flow-warped counterpart (occlusions, flow errors, light changes) count less."""
        if self.alpha is None:
            return mask
        err = ((i_t - warp(i_s, flow)) ** 2).sum(1, keepdim=True)
        return mask * torch.exp(-float(self.alpha) * err)

    def export_meta(self) -> dict:
        return {"processors": ",".join(self.data.kinds), "features": self.perceptual.kind}

    def step(self, i: int) -> dict:
        b = {k: v.to(self.device) for k, v in self.data.sample().items()}
        I, P = b["I"], b["P"]
        T = I.shape[1]
        o_first = P[:, 0]
        o_prev, state = o_first, None
        sums = {"p": 0.0, "st": 0.0, "lt": 0.0}
        for t in range(1, T):
            with self.autocast():
                o, state = step_forward(self.model, P[:, t], o_prev.detach(), I[:, t], I[:, t - 1], state)
                o = o.float()
                sums["p"] = sums["p"] + self.perceptual(o, P[:, t]).float()
            mst = self._visible(b["mst"][:, t], I[:, t], I[:, t - 1], b["fst"][:, t])
            sums["st"] = sums["st"] + (mst * (o - warp(o_prev.detach(), b["fst"][:, t])).abs()).mean()
            if t > 1:
                mlt = self._visible(b["mlt"][:, t], I[:, t], I[:, 0], b["flt"][:, t])
                sums["lt"] = sums["lt"] + (mlt * (o - warp(o_first, b["flt"][:, t])).abs()).mean()
            o_prev, state = o, (state[0].detach(), state[1].detach())
        n = T - 1
        terms = {
            "Lp": self.lam["lambda_p"] * sums["p"] / n,
            "Lst": self.lam["lambda_st"] * sums["st"] / n,
            "Llt": self.lam["lambda_lt"] * sums["lt"] / max(n - 1, 1),
        }
        loss = terms["Lp"] + terms["Lst"] + terms["Llt"]
        opt = self.opts["model"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():  # how far the output moved from the per-frame frames, and how steady it is
            mse = F.mse_loss(o.clamp(0, 1), P[:, -1]).clamp_min(1e-10)
        return {
            "loss": loss.item(),
            **{k: float(v.detach()) for k, v in terms.items()},
            "psnr_vs_P": float(10 * torch.log10(1 / mse)),
        }
