"""Building blocks of the ADM-style U-Net (Dhariwal & Nichol 2021), written for channels-last.

Feature maps stay in channels-last memory order throughout, so 1×1 projections of attention
are plain matrix products over a [B, H·W, C] view that costs no copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of (possibly fractional) timesteps, [B] → [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class Derived:
    """A tensor derived from a parameter (a oneDNN-reordered or folded weight), cached for inference.

    Rebuilt whenever the parameter changes — its version counter moves, as with optimizer steps and
    `load_state_dict`; writes through `.data` bypass the counter — or the input shape does.
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._value: torch.Tensor | None = None

    def get(self, source: torch.Tensor, shape: tuple[int, ...], make: Callable[[], torch.Tensor]) -> torch.Tensor:
        key = (source._version, source.data_ptr(), shape)
        if self._key != key:
            self._value, self._key = make(), key
        return self._value


def can_pack(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether the oneDNN path with pre-reordered weights applies: CPU float32 inference, and for
    feature maps channels-last memory (what the U-Net keeps throughout)."""
    return (
        not torch.is_grad_enabled() and x.device.type == "cpu" and x.dtype == torch.float32
        and weight.dtype == torch.float32 and torch.backends.mkldnn.is_available()
        and (x.is_contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x.is_contiguous())
    )


def packed_conv(x: torch.Tensor, cache: Derived, source: torch.Tensor, weight: Callable[[], torch.Tensor],
                bias: torch.Tensor | None, padding: int, stride: int = 1) -> torch.Tensor:
    """oneDNN convolution with the weight reordered into its blocked layout once, not per call (plain
    `F.conv2d` reorders on every call, a real share of the time at interactive batch sizes)."""
    pad, step = [padding, padding], [stride, stride]
    packed = cache.get(source, tuple(x.shape), lambda: torch.ops.mkldnn._reorder_convolution_weight(
        weight(), pad, step, [1, 1], 1, list(x.shape)))
    return torch.ops.mkldnn._convolution_pointwise(x, packed, bias, pad, step, [1, 1], 1, "none", [], "")


class Conv2d(nn.Conv2d):
    """A convolution that, in CPU float32 inference, runs oneDNN with its weight reordered once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._packed = Derived()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.groups != 1 or not can_pack(x, self.weight):
            return super().forward(x)
        return packed_conv(x, self._packed, self.weight, lambda: self.weight, self.bias,
                           self.padding[0], self.stride[0])


class Linear(nn.Linear):
    """A linear layer that, in CPU float32 inference, runs oneDNN with its weight reordered once
    (for the one-row-per-image embedding projection, several times faster than a plain GEMM)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._packed = Derived()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not can_pack(x, self.weight):
            return super().forward(x)
        rows = x.numel() // x.shape[-1]
        packed = self._packed.get(self.weight, (rows,),
                                  lambda: torch.ops.mkldnn._reorder_linear_weight(self.weight, rows))
        out = torch.ops.mkldnn._linear_pointwise(x.reshape(rows, -1), packed, self.bias, "none", [], "")
        return out.view(*x.shape[:-1], -1)


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-5)


def zero(module: nn.Module) -> nn.Module:
    """Zero-initialise a layer, so a residual branch starts as the identity (as ADM does)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, then scale-shift from the embedding, GroupNorm → SiLU → conv."""

    def __init__(self, channels: int, out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.out_channels = out
        self.norm1 = norm(channels)
        self.conv1 = Conv2d(channels, out, 3, padding=1)
        self.norm2 = norm(out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero(Conv2d(out, out, 3, padding=1))
        self.skip = nn.Identity() if channels == out else Conv2d(channels, out, 1)

    def forward(self, x: torch.Tensor, modulation: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """`modulation` is this block's (1 + scale, shift), each [B, out, 1, 1], from `EmbeddingProjection`."""
        # in-place activations when no gradient is kept: fewer large allocations (page faults on CPU)
        inplace = not torch.is_grad_enabled()
        h = self.norm2(self.conv1(F.silu(self.norm1(x), inplace=inplace)))
        scale1, shift = modulation
        h = torch.addcmul(shift, h, scale1, out=h) if inplace else torch.addcmul(shift, h, scale1)
        h = F.silu(h, inplace=inplace)
        if self.training and self.dropout.p:
            h = self.dropout(h)
        h = self.conv2(h)
        return h.add_(self.skip(x)) if inplace else h + self.skip(x)


class EmbeddingProjection(nn.Module):
    """SiLU → Linear from the embedding to every residual block's scale and shift, as one matrix
    product: ADM gives each block its own small Linear, which at small batches costs a GEMM call
    per block for no extra arithmetic."""

    def __init__(self, emb_dim: int, blocks: list[ResBlock]) -> None:
        super().__init__()
        self.sizes = [c for b in blocks for c in (b.out_channels, b.out_channels)]  # scale, shift, scale, …
        self.linear = Linear(emb_dim, sum(self.sizes))
        self._ones: torch.Tensor | None = None  # 1 on every scale entry: the 1 of (1 + scale)

    def forward(self, emb: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per block, (1 + scale, shift) shaped [B, C, 1, 1] to broadcast over a feature map."""
        out = self.linear(F.silu(emb))
        out = out.add_(self._ones_on_scales(out))[:, :, None, None].split(self.sizes, dim=1)
        return list(zip(out[0::2], out[1::2], strict=True))

    def _ones_on_scales(self, like: torch.Tensor) -> torch.Tensor:
        if self._ones is None or (self._ones.device, self._ones.dtype) != (like.device, like.dtype):
            ones = [torch.full((c,), float(i % 2 == 0)) for i, c in enumerate(self.sizes)]
            self._ones = torch.cat(ones).to(like)
        return self._ones


class Attention(nn.Module):
    """Multi-head self-attention over the pixels; text tokens, if given, join the keys and values
    (GLIDE's conditioning), masked where the prompt is padding."""

    def __init__(self, channels: int, head_channels: int, text_dim: int = 0) -> None:
        super().__init__()
        self.heads = channels // head_channels
        self.norm = norm(channels)
        self.qkv = Linear(channels, 3 * channels)
        self.text_kv = Linear(text_dim, 2 * channels) if text_dim else None
        self.proj = zero(Linear(channels, channels))

    def forward(self, x: torch.Tensor, text: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        b, c, h, w = x.shape
        tokens = self.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c)
        q, k, v = self.qkv(tokens).view(b, h * w, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn_mask = None
        if self.text_kv is not None and text is not None:
            tk, tv = self.text_kv(text).view(b, -1, 2, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            k, v = torch.cat([k, tk], dim=2), torch.cat([v, tv], dim=2)
            if mask is not None:
                keep = torch.ones(b, h * w, dtype=torch.bool, device=x.device)
                attn_mask = torch.cat([keep, mask], dim=1)[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        out = self.proj(out.transpose(1, 2).reshape(b, h * w, c)).view(b, h, w, c).permute(0, 3, 1, 2)
        return out.add_(x) if not torch.is_grad_enabled() else x + out


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


# Nearest ×2 then a 3×3 kernel: output row 2i+a sees input rows (i−1, i) for a = 0 and (i, i+1)
# for a = 1, so the kernel's three taps fold into two — [w0, w1+w2] and [w0+w1, w2].
# on the CPU explicitly: this module may first be imported while a `torch.device("meta")` context is active
_PHASE_TAPS = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]],
                           device="cpu")


class Upsample(nn.Module):
    """Nearest-neighbour ×2 followed by a 3×3 convolution, computed without the ×2 grid.

    Every output phase (a, b) of the upsampled grid is a 2×2 convolution of the small input, so one
    2×2 convolution with 4× the output channels, padded by one, computes all four phases and a
    shuffle interleaves them: the same function as ADM's upsample-then-convolve (the weight is still
    its 3×3 `conv.weight`) for about 4/9 of the multiplications.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = Conv2d(channels, channels, 3, padding=1)
        self._packed = Derived()

    def phase_weight(self) -> torch.Tensor:
        """[4·C_out, C_in, 2, 2]: the folded 2×2 kernels of phases (0,0), (0,1), (1,0), (1,1)."""
        taps = _PHASE_TAPS.to(self.conv.weight)
        w = torch.einsum("api,ocij,bqj->abocpq", taps, self.conv.weight, taps)
        return w.reshape(-1, *w.shape[3:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.conv.bias.repeat(4)
        if can_pack(x, self.conv.weight):
            phases = packed_conv(x, self._packed, self.conv.weight, self.phase_weight, bias, padding=1)
            return _interleave_channels_last(phases)
        return _interleave(F.conv2d(x, self.phase_weight(), bias, padding=1))


def _interleave(phases: torch.Tensor) -> torch.Tensor:
    """[B, 4·C, H+1, W+1] phase outputs → [B, C, 2H, 2W]; phase (a, b) is read shifted by (a, b)."""
    b, c4, h1, w1 = phases.shape
    h, w, c = h1 - 1, w1 - 1, c4 // 4
    crops = [phases[:, k * c:(k + 1) * c, a:a + h, bb:bb + w] for k, (a, bb) in enumerate(_PHASES)]
    return F.pixel_shuffle(torch.stack(crops, dim=2).flatten(1, 2), 2)


def _interleave_channels_last(phases: torch.Tensor) -> torch.Tensor:
    """`_interleave` as one strided copy: in channels-last memory, output pixel (2i+a, 2j+b) is
    phase (a, b) of input pixel (i+a, j+b), which a single as_strided view reaches."""
    b, c4, h1, w1 = phases.shape
    h, w, c = h1 - 1, w1 - 1, c4 // 4
    s_b, _, s_h, s_w = phases.stride()
    view = phases.as_strided((b, h, 2, w, 2, c), (s_b, s_h, s_h + 2 * c, s_w, s_w + c, 1))
    out = torch.empty((b, h, 2, w, 2, c), dtype=phases.dtype, device=phases.device)
    return out.copy_(view).view(b, 2 * h, 2 * w, c).permute(0, 3, 1, 2)


_PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))


class Level(nn.Module):
    """One step of either U-Net path: a residual block, optionally attention, optionally a resample."""

    def __init__(self, res: ResBlock | None, attn: Attention | None = None, resample: nn.Module | None = None):
        super().__init__()
        self.res, self.attn, self.resample = res, attn, resample

    def forward(self, x, modulation, text=None, mask=None):
        if self.res is not None:
            x = self.res(x, modulation)
        if self.attn is not None:
            x = self.attn(x, text, mask)
        if self.resample is not None:
            x = self.resample(x)
        return x
