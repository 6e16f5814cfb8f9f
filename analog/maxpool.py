"""Comparator-tree max-pooling: each block's maximum picked by a binary tree of comparators.

A ``block x block`` block is reduced by ``block**2 - 1`` compare-and-select cells: first a
binary tree along each block row (pairs of neighbouring columns (0, 1), (2, 3), ...; an odd
element out passes up unchanged), then a binary tree over the row winners along the columns.
Each cell passes on the input its comparator judged larger. For 8x8 blocks that is 6 levels:
32 + 16 + 8 cells along the rows, 4 + 2 + 1 along the column, 63 in all.

Ideal comparators make the tree exactly ``max_pool2d``. With offsets and noise the tree can pick
a smaller input, so its output is always one of the block's inputs and never above the true max.
All tree levels are tensor operations over batch, channels and blocks, in the image layout.
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


def _reduce_last_dim(values: torch.Tensor, select) -> torch.Tensor:
    """Reduce the last dimension pairwise, level by level: (0, 1), (2, 3), ...; an odd last
    element passes up unchanged. ``select(a, b)`` returns the winners of one level.
    """
    while values.shape[-1] > 1:
        pairs = values.shape[-1] // 2
        winners = select(values[..., 0:2 * pairs:2], values[..., 1:2 * pairs:2])
        if values.shape[-1] % 2:
            winners = torch.cat([winners, values[..., -1:]], dim=-1)
        values = winners
    return values[..., 0]


def _check_range(extremes: "tuple[float, float]", dtype: torch.dtype) -> None:
    """Keep ``a - b`` finite: |x| at most half the dtype's largest value."""
    bound = torch.finfo(dtype).max / 2
    if max(abs(extremes[0]), abs(extremes[1])) > bound:
        raise ValueError(f"x: values beyond +-{bound:.3g}; allowed range: |x| <= {bound:.3g} "
                         f"(half the largest {dtype})")


def _tree(x: torch.Tensor, block: int, offsets: "torch.Tensor | None", noise_sigma: float,
          generator: "torch.Generator | None", slope: "float | None", soft: bool) -> torch.Tensor:
    """Run the comparator tree on NCHW ``x``; offsets [C, H/b, W/b, b*b - 1] or None.

    The tree works in place in the image layout (no block copy): first each block row is
    reduced by a tree along W (block * (block - 1) comparators), then the block's row winners
    by a tree along H (block - 1 comparators), together block**2 - 1 compare-and-select cells.
    Each comparator takes the next unused offset of its block, in this order. A cell outputs
    ``lerp(b, a, w)`` with w in {0, 1} (hard; exactly a or b) or a probability (soft).
    """
    n, c, h, w = x.shape
    rows, cols = h // block, w // block
    used = 0

    def take(count: int) -> "torch.Tensor | float":
        """The next ``count`` offsets of every block, [C, rows, cols, count] (0.0 when ideal)."""
        nonlocal used
        used += count
        return 0.0 if offsets is None else offsets[..., used - count:used]

    def select(a: torch.Tensor, b: torch.Tensor, offset) -> torch.Tensor:
        if soft:
            weight = soft_decide(a, b, offset, slope)
        else:
            weight = decide(a, b, offset, noise_sigma, generator).to(a.dtype)
        return torch.lerp(b, a, weight)

    def along_w(a, b):
        pairs = a.shape[-1]
        offset = take(block * pairs)
        if not isinstance(offset, float):   # [C, rows, cols, block*pairs] -> [C, H, cols, pairs]
            offset = (offset.reshape(c, rows, cols, block, pairs).permute(0, 1, 3, 2, 4)
                      .reshape(c, h, cols, pairs))
        return select(a, b, offset)

    def along_h(a, b):
        return select(a, b, take(a.shape[-1]))

    row_winners = _reduce_last_dim(x.reshape(n, c, h, cols, block), along_w)   # [N, C, H, cols]
    by_column = row_winners.reshape(n, c, rows, block, cols).movedim(3, -1)
    return _reduce_last_dim(by_column, along_h)


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
    extremes = check_nchw(x, "x")
    block = _check_block(block)
    offset_sigma = check_nonnegative(offset_sigma, "offset_sigma")
    noise_sigma = check_nonnegative(noise_sigma, "noise_sigma")
    n, c, h, w = x.shape
    if h % block or w % block:
        raise ValueError(f"x: spatial size {h}x{w} is not a multiple of block={block}; "
                         f"allowed: H and W divisible by block")
    _check_range(extremes, x.dtype)
    offsets = None
    if offset_sigma > 0.0:
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
        extremes = check_nchw(x, "x")
        check_mode(mode)
        n, c, h, w = x.shape
        if h % self.block or w % self.block:
            raise ValueError(f"x: spatial size {h}x{w} is not a multiple of block={self.block}; "
                             f"allowed: H and W divisible by block")
        if mode == "soft" and hardness is None:
            return F.max_pool2d(x, self.block)
        _check_range(extremes, x.dtype)
        offsets = self.offsets(c, h // self.block, w // self.block, x.dtype, x.device)
        if mode == "hard" and offsets is None and self.noise_sigma == 0.0:
            # the ideal tree outputs exactly the block max (tests: comparator_tree_max is
            # bit-for-bit max_pool2d), and max_pool2d is about 10x faster
            return F.max_pool2d(x, self.block)
        if mode == "hard":
            return _tree(x, self.block, offsets, self.noise_sigma, generator, None, soft=False)
        slope = effective_hardness(hardness, self.noise_sigma)
        return _tree(x, self.block, offsets, 0.0, None, slope, soft=True)

    def extra_repr(self) -> str:
        return (f"block={self.block}, offset_sigma={self.offset_sigma}, "
                f"noise_sigma={self.noise_sigma}, seed={self.seed}")
