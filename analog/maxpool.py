"""Comparator-tree max-pooling: each block's maximum picked by a binary tree of comparators.

A block of ``block x block`` pixels (raster order inside the block) is reduced by
``block**2 - 1`` compare-and-select cells: level 0 compares pixels (0, 1), (2, 3), ...; each
cell passes on the input its comparator judged larger; an odd element out is passed up
unchanged. For 8x8 blocks that is 32 + 16 + 8 + 4 + 2 + 1 = 63 comparators in 6 levels.

Ideal comparators make the tree exactly ``max_pool2d``. With offsets and noise the tree can pick
a smaller input, so its output is always one of the block's inputs and never above the true max.
All tree levels are tensor operations over batch, channels and blocks.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from analog._checks import check_mode, check_nchw, check_nonnegative, standard_normal
from analog.comparator import decide, draw_offsets, effective_hardness, soft_decide


def _check_block(block: int) -> int:
    if isinstance(block, bool) or int(block) != block or int(block) < 1:
        raise ValueError(f"block: got {block!r}; allowed range: integer >= 1")
    return int(block)


def comparator_count(block: int) -> int:
    """Number of compare-and-select cells for one ``block x block`` block (block**2 - 1)."""
    return _check_block(block) ** 2 - 1


def to_blocks(x: torch.Tensor, block: int) -> torch.Tensor:
    """Rearrange NCHW into [N, C, H/block, W/block, block*block] (raster order in each block)."""
    n, c, h, w = x.shape
    if h % block or w % block:
        raise ValueError(f"x: spatial size {h}x{w} is not a multiple of block={block}; "
                         f"allowed: H and W divisible by block")
    blocks = x.reshape(n, c, h // block, block, w // block, block)
    return blocks.permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // block, w // block, block * block)


def _reduce_tree(values: torch.Tensor, select) -> torch.Tensor:
    """Reduce the last dimension pairwise, level by level, with ``select(a, b, first, count)``.

    ``first`` is the index of the level's first comparator in the block's comparator list (so
    callers can slice per-comparator offsets); returns the tensor with the last dimension gone.
    """
    first = 0
    while values.shape[-1] > 1:
        pairs = values.shape[-1] // 2
        a = values[..., 0:2 * pairs:2]
        b = values[..., 1:2 * pairs:2]
        winners = select(a, b, first, pairs)
        first += pairs
        if values.shape[-1] % 2:
            winners = torch.cat([winners, values[..., -1:]], dim=-1)
        values = winners
    return values[..., 0]


def _tree(x: torch.Tensor, block: int, offsets: "torch.Tensor | None", noise_sigma: float,
          generator: "torch.Generator | None", slope: "float | None", soft: bool) -> torch.Tensor:
    """Run the comparator tree on NCHW ``x``; offsets [C, H/b, W/b, b*b-1] or None."""
    values = to_blocks(x, block)

    def select(a, b, first, count):
        offset = 0.0 if offsets is None else offsets[..., first:first + count]
        if soft:
            p = soft_decide(a, b, offset, slope)
            return p * a + (1.0 - p) * b
        return torch.where(decide(a, b, offset, noise_sigma, generator), a, b)

    return _reduce_tree(values, select)


def comparator_tree_max(x: torch.Tensor, block: int = 8, offset_sigma: float = 0.0,
                        noise_sigma: float = 0.0,
                        generator: "torch.Generator | None" = None) -> torch.Tensor:
    """Max-pool NCHW ``x`` over non-overlapping blocks with a comparator tree.

    Parameters
    ----------
    x : torch.Tensor
        [N, C, H, W] finite floats (volts), H and W divisible by ``block``.
    block : int
        Block side in pixels (8 in the paper).
    offset_sigma : float
        Static comparator offset sigma (input units); drawn from ``generator`` on every call, one
        offset per comparator per block position per channel, shared by the batch (one chip).
    noise_sigma : float
        Comparator noise sigma per decision (input units).
    generator : torch.Generator or None
        Source of offsets and noise (torch's global generator when None).

    Returns
    -------
    torch.Tensor
        [N, C, H/block, W/block]; exactly ``max_pool2d(x, block)`` when both sigmas are 0,
        otherwise always one of each block's inputs.
    """
    check_nchw(x, "x")
    block = _check_block(block)
    offset_sigma = check_nonnegative(offset_sigma, "offset_sigma")
    noise_sigma = check_nonnegative(noise_sigma, "noise_sigma")
    offsets = None
    if offset_sigma > 0.0:
        n, c, h, w = x.shape
        shape = (c, h // block, w // block, comparator_count(block))
        offsets = offset_sigma * standard_normal(shape, x, generator)
    return _tree(x, block, offsets, noise_sigma, generator, slope=None, soft=False)


class ComparatorTreeMaxPool(nn.Module):
    """Comparator-tree max-pooling with static offsets fixed per ``seed`` (one chip).

    Parameters
    ----------
    block : int
        Block side in pixels.
    offset_sigma : float
        Static comparator offset sigma, input units (V). One offset per comparator per block
        position per channel, the same for every frame; the same seed, the same chip.
    noise_sigma : float
        Comparator noise sigma per decision, input units (V).
    seed : int
        Chip seed for the offsets.
    """

    def __init__(self, block: int = 8, offset_sigma: float = 0.0, noise_sigma: float = 0.0,
                 seed: int = 0) -> None:
        super().__init__()
        self.block = _check_block(block)
        self.offset_sigma = check_nonnegative(offset_sigma, "offset_sigma")
        self.noise_sigma = check_nonnegative(noise_sigma, "noise_sigma")
        self.seed = int(seed)
        self._offset_cache: "dict[tuple, torch.Tensor]" = {}

    def offsets(self, channels: int, rows: int, cols: int, dtype: torch.dtype = torch.float32,
                device: "torch.device | str" = "cpu") -> "torch.Tensor | None":
        """The chip's static offsets [channels, rows, cols, block**2 - 1] (None when ideal).

        ``rows`` and ``cols`` count blocks. Deterministic in (seed, shape).
        """
        if self.offset_sigma == 0.0:
            return None
        key = (channels, rows, cols)
        if key not in self._offset_cache:
            shape = (channels, rows, cols, comparator_count(self.block))
            self._offset_cache[key] = draw_offsets(shape, self.offset_sigma, self.seed)
        return self._offset_cache[key].to(dtype=dtype, device=device)

    def forward(self, x: torch.Tensor, mode: str = "hard",
                generator: "torch.Generator | None" = None,
                hardness: "float | None" = None) -> torch.Tensor:
        """Pool NCHW ``x`` to [N, C, H/block, W/block].

        ``mode="hard"``: the comparator tree with this chip's offsets and fresh noise from
        ``generator``. ``mode="soft"``: differentiable; with ``hardness=None`` it is
        ``max_pool2d`` (the ideal tree), with a hardness T (1 / input unit) each cell outputs
        ``p a + (1 - p) b`` with ``p = sigmoid(T_eff (a - b + offset))`` where T_eff folds in the
        noise (the expected selection of a noisy comparator as T grows).
        """
        check_nchw(x, "x")
        check_mode(mode)
        n, c, h, w = x.shape
        if h % self.block or w % self.block:
            raise ValueError(f"x: spatial size {h}x{w} is not a multiple of block={self.block}; "
                             f"allowed: H and W divisible by block")
        if mode == "soft" and hardness is None:
            return F.max_pool2d(x, self.block)
        offsets = self.offsets(c, h // self.block, w // self.block, x.dtype, x.device)
        if mode == "hard":
            return _tree(x, self.block, offsets, self.noise_sigma, generator, None, soft=False)
        slope = effective_hardness(hardness, self.noise_sigma)
        return _tree(x, self.block, offsets, 0.0, None, slope, soft=True)

    def extra_repr(self) -> str:
        return (f"block={self.block}, offset_sigma={self.offset_sigma}, "
                f"noise_sigma={self.noise_sigma}, seed={self.seed}")
