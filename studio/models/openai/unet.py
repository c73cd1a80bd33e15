"""OpenAI's U-Net and noisy classifier, one module each, configured by `OpenAINetConfig`.

`OpenAIUNet` covers UNetModel (ADM and improved-diffusion), SuperResModel, and GLIDE's Text2ImUNet with
its upsampling and inpainting variants: the config's `kind` says which inputs are concatenated to x_t,
`text` whether the GLIDE transformer is there. `OpenAIClassifier` is the EncoderUNetModel of classifier
guidance (Dhariwal & Nichol 2021).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.core.enums import NetKind, Pooling
from studio.models.config import OpenAINetConfig
from studio.models.openai.blocks import (
    AttentionBlock,
    AttentionPool2d,
    Downsample,
    GroupNorm32,
    ResBlock,
    Upsample,
    heads_of,
    timestep_embedding,
)
from studio.models.openai.text import GlideText


class _Step(nn.ModuleList):
    """One entry of input_blocks / middle_block / output_blocks: layers that take what they need."""

    def forward(self, h: torch.Tensor, emb: torch.Tensor, tokens: torch.Tensor | None) -> torch.Tensor:
        for layer in self:
            if isinstance(layer, ResBlock):
                h = layer(h, emb)
            elif isinstance(layer, AttentionBlock):
                h = layer(h, tokens)
            else:
                h = layer(h)
        return h


class _Encoder(nn.Module):
    """The downward half and the middle block, shared by the U-Net and the classifier."""

    def __init__(self, c: OpenAINetConfig, in_channels: int, encoder_channels: int | None) -> None:
        super().__init__()
        self.model_channels = c.model_channels
        emb = c.model_channels * 4
        self.time_embed = nn.Sequential(nn.Linear(c.model_channels, emb), nn.SiLU(), nn.Linear(emb, emb))
        ch = int(c.channel_mult[0] * c.model_channels)
        self.input_blocks = nn.ModuleList([_Step([nn.Conv2d(in_channels, ch, 3, padding=1)])])
        self.skip_channels, ds = [ch], 1

        def attention(width: int, num_heads: int) -> AttentionBlock:
            return AttentionBlock(width, heads_of(width, num_heads, c.num_head_channels), encoder_channels)

        self.attention = attention
        for level, mult in enumerate(c.channel_mult):
            for _ in range(c.num_res_blocks):
                width = int(mult * c.model_channels)
                layers: list[nn.Module] = [ResBlock(ch, emb, width, scale_shift=c.use_scale_shift_norm,
                                                    dropout=c.dropout)]
                ch = width
                if ds in c.attention_ds:
                    layers.append(attention(ch, c.num_heads))
                self.input_blocks.append(_Step(layers))
                self.skip_channels.append(ch)
            if level != len(c.channel_mult) - 1:
                down = (ResBlock(ch, emb, ch, scale_shift=c.use_scale_shift_norm, dropout=c.dropout, down=True)
                        if c.resblock_updown else Downsample(ch, c.conv_resample))
                self.input_blocks.append(_Step([down]))
                self.skip_channels.append(ch)
                ds *= 2
        self.middle_block = _Step([
            ResBlock(ch, emb, ch, scale_shift=c.use_scale_shift_norm, dropout=c.dropout),
            attention(ch, c.num_heads),
            ResBlock(ch, emb, ch, scale_shift=c.use_scale_shift_norm, dropout=c.dropout),
        ])
        self.channels, self.ds = ch, ds

    def embed(self, timesteps: torch.Tensor) -> torch.Tensor:
        weight = self.time_embed[0].weight
        return self.time_embed(timestep_embedding(timesteps, self.model_channels).to(weight.dtype))


class OpenAIUNet(nn.Module):
    def __init__(self, config: OpenAINetConfig) -> None:
        super().__init__()
        c = self.config = config
        encoder_channels = c.text.width if c.text is not None else None
        enc = _Encoder(c, c.input_channels, encoder_channels)
        # the reference keeps these at the top level of the module; so do the checkpoints' names
        self.time_embed, self.input_blocks, self.middle_block = enc.time_embed, enc.input_blocks, enc.middle_block
        self._embed = enc.embed
        emb = c.model_channels * 4
        if c.num_classes:
            self.label_emb = nn.Embedding(c.num_classes, emb)
        self.output_blocks = nn.ModuleList()
        skips, ch, ds = list(enc.skip_channels), enc.channels, enc.ds
        up_heads = c.num_heads_upsample if c.num_heads_upsample != -1 else c.num_heads
        for level, mult in list(enumerate(c.channel_mult))[::-1]:
            for i in range(c.num_res_blocks + 1):
                width = int(c.model_channels * mult)
                layers: list[nn.Module] = [ResBlock(ch + skips.pop(), emb, width,
                                                    scale_shift=c.use_scale_shift_norm, dropout=c.dropout)]
                ch = width
                if ds in c.attention_ds:
                    layers.append(enc.attention(ch, up_heads))
                if level and i == c.num_res_blocks:
                    layers.append(ResBlock(ch, emb, ch, scale_shift=c.use_scale_shift_norm, dropout=c.dropout,
                                           up=True) if c.resblock_updown else Upsample(ch, c.conv_resample))
                    ds //= 2
                self.output_blocks.append(_Step(layers))
        first = int(c.channel_mult[0] * c.model_channels)
        self.out = nn.Sequential(GroupNorm32(ch), nn.SiLU(), nn.Conv2d(first, c.out_channels, 3, padding=1))
        self.text = GlideText(c.text, emb) if c.text is not None else None

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, *, y: torch.Tensor | None = None,
                tokens: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                low_res: torch.Tensor | None = None, inpaint_image: torch.Tensor | None = None,
                inpaint_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The raw output for x_t at the timesteps the network receives (see `network_timesteps`)."""
        h = self._inputs(x, low_res, inpaint_image, inpaint_mask)
        emb = self._embed(timesteps)
        if self.config.num_classes:
            if y is None:
                raise ValueError("this model is class-conditional: pass y (class indices)")
            emb = emb + self.label_emb(y)
        token_states = None
        if self.text is not None:
            if tokens is None:
                raise ValueError("this model is text-conditioned: pass tokens and mask")
            pooled, token_states = self.text(tokens, mask)
            emb = emb + pooled.to(emb.dtype)
        skips = []
        for block in self.input_blocks:
            h = block(h, emb, token_states)
            skips.append(h)
        h = self.middle_block(h, emb, token_states)
        for block in self.output_blocks:
            h = block(torch.cat([h, skips.pop()], dim=1), emb, token_states)
        return self.out(h)

    def _inputs(self, x: torch.Tensor, low_res: torch.Tensor | None, image: torch.Tensor | None,
                mask: torch.Tensor | None) -> torch.Tensor:
        kind, parts = self.config.kind, [x]
        if kind in (NetKind.INPAINT, NetKind.SUPER_RES_INPAINT):
            image = torch.zeros_like(x) if image is None else image
            mask = torch.zeros_like(x[:, :1]) if mask is None else mask  # 1 = known pixel
            parts += [image * mask, mask]
        if kind in (NetKind.SUPER_RES, NetKind.SUPER_RES_INPAINT):
            if low_res is None:
                raise ValueError("an upsampler needs low_res")
            parts.append(F.interpolate(low_res.to(x.dtype), x.shape[-2:], mode="bilinear", align_corners=False))
        return torch.cat(parts, dim=1) if len(parts) > 1 else x


class OpenAIClassifier(nn.Module):
    """The U-Net's encoder half, its middle block and a pooled head: logits of p(y | x_t, t)."""

    def __init__(self, config: OpenAINetConfig) -> None:
        super().__init__()
        c = self.config = config
        enc = _Encoder(c, c.in_channels, None)
        self.time_embed, self.input_blocks, self.middle_block = enc.time_embed, enc.input_blocks, enc.middle_block
        self._embed = enc.embed
        ch = enc.channels
        if c.pool is Pooling.ATTENTION:
            head: nn.Module = AttentionPool2d(c.image_size // enc.ds, ch, c.num_head_channels, c.out_channels)
            self.out = nn.Sequential(GroupNorm32(ch), nn.SiLU(), head)
        else:
            self.out = nn.Sequential(GroupNorm32(ch), nn.SiLU(), nn.AdaptiveAvgPool2d(1),
                                     nn.Conv2d(ch, c.out_channels, 1), nn.Flatten())

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        emb = self._embed(timesteps)
        h = x
        for block in self.input_blocks:
            h = block(h, emb, None)
        return self.out(self.middle_block(h, emb, None))
