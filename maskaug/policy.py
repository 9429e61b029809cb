"""``MSCNMask``: the whole MSCN masking policy as one module.

Optional high-pass, then per sample: a focal mask with probability ``focal_prob``, otherwise a
grid mask; channel-independent with probability ``channel_independent_prob``; left unmasked with
probability ``1 - p``; then the fill. Every decision is drawn for all samples at once on the
input's device, with no host synchronization, so the module works on one sample in a DataLoader
worker and on a whole batch on the GPU alike.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from maskaug import _cellfill, _draw, _random, _triton, _triton_draw
from maskaug._checks import (
    Range,
    check_bool,
    check_floating,
    check_generator,
    check_nonnegative,
    check_positive,
    check_probability,
    check_range,
)
from maskaug._layout import Layout
from maskaug.highpass import _kernel_size, highpass
from maskaug.masks import (
    Cell,
    _check_fill_value,
    _Drawn,
    _fill,
    _Geometry,
    _grid_sizes,
    _per_axis_cells,
    _render,
)

#: Defaults where the paper is silent, for the reproduction to test. A focal box covering 30-60%
#: of each axis (9-36% of an image, 21% on average) masks a little more than the 15% grid (7 of
#: 49 cells at 224 pixels, 14.3%); a high channel-independence probability, as the paper's Table 5d favours;
#: noise of std 0.2, close to the spread of high-passed, ImageNet-normalized photographs
#: (0.2-0.6 for sigma 5), so the fill does not stand out from the signal.
DEFAULT_FOCAL_SCALE = (0.3, 0.6)
DEFAULT_CHANNEL_INDEPENDENT_PROB = 0.8
DEFAULT_NOISE_STD = 0.2
#: The most plans (`_Plan`) a module keeps; more shapes, dtypes or devices start over.
MAX_PLANS = 16


@dataclass(frozen=True)
class _Plan:
    """How `MSCNMask` handles tensors of one shape, dtype and device, worked out (and checked) on the
    first call with them and kept until a setting of the module changes.

    ``width``: uniforms per sample (`maskaug._draw`); ``draw_kernel``: the masks come from the
    Triton draw; ``fused``: 0 for the torch path, 1 for the fused kernel reading the element mask,
    2 for the fused kernel computing it from the drawn cells and boxes.
    """

    geo: _Geometry
    cells: tuple[int, ...]
    width: int
    policy: _draw.Policy
    draw_kernel: bool
    fused: int


@dataclass(frozen=True)
class _Settings:
    """The numbers a call of `MSCNMask` reads, checked when they were set."""

    policy: _draw.Policy
    fill: str
    noise_std: float
    value: float
    sigma: float | None
    kernel_size: int | None


#: The settings of live modules by ``repr``: under ``torch.compile`` a call reads its module's
#: settings from here, as a constant (`_constant_settings`), so that its numbers are never traced
#: as symbols (which a second module with other numbers would make them, and which the checks and
#: kernels cannot take). Modules with equal settings share one entry.
_SETTINGS: weakref.WeakValueDictionary[str, _Settings] = weakref.WeakValueDictionary()


@torch.compiler.assume_constant_result
def _constant_settings(key: str) -> _Settings:
    return _SETTINGS[key]


class MSCNMask(nn.Module):
    """Masked Siamese ConvNets masking policy for tensors of any layout.

    Args:
        layout: axis names, einops style: ``"c h w"`` for one image in a DataLoader worker,
            ``"b c h w"`` for a GPU batch, ``"b c t h w"`` for video, ``"b c f t"`` for
            spectrograms. ``b`` is the batch axis, ``c`` the channel axis (both optional).
        mask_axes: the axes to mask (names from ``layout``); default every axis but ``b`` and
            ``c``. Axes left out become sample axes: ``mask_axes="h w"`` on ``"b c t h w"`` gives
            per-frame masks.
        cell: grid cell size (paper: 32 on 224-pixel images): an int for every masked axis, a
            mapping from axis name to size, or a sequence in the order ``mask_axes`` names the
            masked axes (layout order by default).
            ``None`` for an axis makes cells span it (``cell={"t": None, "h": 16, "w": 16}``
            gives tube masks).
        ratio: grid masking ratio (paper: 0.15), or a ``(low, high)`` range drawn per sample.
        focal_prob: probability that a sample gets a focal mask instead of a grid (paper: 0.4).
        focal_scale: focal box extent as a fraction of each masked axis, or a range.
        focal_invert: keep the focal box and mask everything outside it.
        channel_independent_prob: probability that a sample gets a separate mask per channel
            (the paper favours a high probability). Ignored when ``layout`` has no ``c``.
        fill: ``"noise"`` (Gaussian, std ``noise_std``) or ``"constant"`` (``value``).
        noise_std: standard deviation of the noise fill.
        value: the constant fill; 0 is "no information" after the high-pass.
        highpass_sigma: sigma of the high-pass applied first (paper: 5); ``None`` turns it off.
        highpass_kernel_size: odd number of taps, ``None`` for the full Gaussian.
        highpass_axes: the filtered axes; default the masked axes.
        p: probability that a sample is masked at all.
        return_mask: return ``(x_masked, mask)`` instead of ``x_masked``.
        generator: source of randomness kept by the module (a Dataset can't pass one to forward);
            ``None`` uses torch's default generator, which a DataLoader seeds per worker. A call
            advances it by the uniforms of its masks alone (two of them seed the noise), so a
            sequence of calls draws the same masks on the fused and the torch path, with noise or
            a constant (in eager mode, on the CPU and CUDA, outside a CUDA graph capture).

    Shape:
        - input: one axis per name of ``layout``; floating dtype.
        - output: same shape, dtype and device. The mask (with ``return_mask``) is bool, with
          the input's sizes except the channel axis, which has size ``C`` when
          ``channel_independent_prob > 0`` and 1 otherwise.

    Settings may be changed after construction (``module.ratio = 0.3``): each is checked when it
    is set, as in ``__init__``, and the axes (``layout``, ``mask_dims``, ``highpass_dims``) are
    fixed. The first call with a shape, dtype and device checks the input and works out how to
    handle it; later calls with the same reuse that (up to `MAX_PLANS` of them), until a setting
    changes. Under ``torch.compile`` the settings are constants of the compiled code, which a
    changed setting recompiles.

    Example:
        ```python
        import torch
        from maskaug import MSCNMask

        mask = MSCNMask(layout="b c h w", return_mask=True, generator=torch.Generator().manual_seed(0))
        views, masks = mask(torch.randn(8, 3, 224, 224))
        assert views.shape == (8, 3, 224, 224) and masks.shape == (8, 3, 224, 224)
        ```
    """

    def __init__(
        self,
        *,
        layout: str = "c h w",
        mask_axes: str | Sequence[str] | None = None,
        cell: int | None | Mapping[str, int | None] | Sequence[int | None] = 32,
        ratio: Range = 0.15,
        focal_prob: float = 0.4,
        focal_scale: Range = DEFAULT_FOCAL_SCALE,
        focal_invert: bool = False,
        channel_independent_prob: float = DEFAULT_CHANNEL_INDEPENDENT_PROB,
        fill: str = "noise",
        noise_std: float = DEFAULT_NOISE_STD,
        value: float = 0.0,
        highpass_sigma: float | None = 5.0,
        highpass_kernel_size: int | None = None,
        highpass_axes: str | Sequence[str] | None = None,
        p: float = 1.0,
        return_mask: bool = False,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self._plans: dict[tuple, _Plan] = {}
        self.layout = Layout.parse(layout)
        self.mask_dims = self.layout.indices("mask_axes", mask_axes)
        # the masked axes in the order mask_axes names them, which a sequence of cells follows
        self._mask_names = self.layout.named(mask_axes)
        self.highpass_dims = self.mask_dims if highpass_axes is None else self.layout.indices("highpass_axes", highpass_axes)
        self.cell = cell
        self.ratio = ratio
        self.focal_prob = focal_prob
        self.focal_scale = focal_scale
        self.focal_invert = focal_invert
        self.channel_independent_prob = channel_independent_prob
        self.fill = fill
        self.noise_std = noise_std
        self.value = value
        self.highpass_sigma = highpass_sigma
        self.highpass_kernel_size = highpass_kernel_size
        self.p = p
        self.return_mask = return_mask
        self.generator = generator
        self._refresh()

    def __setattr__(self, name: str, value: object) -> None:
        if name in _FIXED and name in self.__dict__:
            raise AttributeError(f"{name} is fixed when an MSCNMask is made: make a new one for another {name}")
        check = _CHECKS.get(name)
        super().__setattr__(name, value if check is None else check(self, value))
        if check is not None and "_settings" in self.__dict__:
            self._refresh()

    def _refresh(self) -> None:
        """Gather the checked settings a call reads, and forget the plans made with the old ones."""
        policy = _draw.Policy(self.ratio, self.focal_prob, self.focal_scale, self.focal_invert,
                              self.channel_independent_prob, self.p)
        settings = _Settings(policy, self.fill, self.noise_std, self.value, self.highpass_sigma,
                             self.highpass_kernel_size)
        key = repr(settings)
        self.__dict__.update(_settings=_SETTINGS.setdefault(key, settings), _key=key)
        self._plans.clear()

    def _checked(self) -> _Settings:
        """The settings a call reads: a constant under ``torch.compile`` (see `_SETTINGS`)."""
        return _constant_settings(self._key) if torch.compiler.is_compiling() else self._settings

    def __getstate__(self) -> dict:
        # copies (pickled, deep or shallow) start without plans: never one shared with this module
        return {**self.__dict__, "_plans": {}}

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("_plans", {})
        self.__dict__.setdefault("_mask_names", tuple(self.layout.names[d] for d in self.mask_dims))
        for name, check in _CHECKS.items():  # as set (modules saved by earlier versions kept raw values)
            self.__dict__[name] = check(self, self.__dict__[name])
        self._refresh()  # this process's entry of the settings

    def _layout_cells(self) -> tuple[int | None, ...]:
        """``cell`` (kept in the order ``mask_axes`` names the axes) in layout order."""
        names = self.layout.names
        return tuple(self.cell[self._mask_names.index(names[d])] for d in self.mask_dims)

    def _independent(self, settings: _Settings) -> bool:
        return self.layout.channel is not None and settings.policy.channel_independent_prob > 0

    def sample_mask(self, shape: Sequence[int], *, device: torch.device | str | None = None) -> torch.Tensor:
        """Draw the policy's mask for a tensor of ``shape`` without touching any pixels.

        Useful to share one mask between inputs (RGB and depth) or to log it.

        Shape:
            - shape: one size per layout name.
            - output: bool, broadcastable to ``shape``.
        """
        if len(shape) != len(self.layout.names):
            raise ValueError(f"layout '{self.layout}' expects a {len(self.layout.names)}-d shape, got {tuple(shape)}")
        device = torch.device("cpu") if device is None else torch.device(device)
        return _render(self._draw(shape, device))

    def _draw(self, shape: Sequence[int], device: torch.device) -> _Drawn:
        """Draw the cells, boxes and per-sample choices of the policy for a tensor of ``shape``."""
        return self._drawn(self._draw_plan(shape, device, self._checked()), device)[0]

    def _draw_plan(self, shape: Sequence[int], device: torch.device, settings: _Settings) -> _Plan:
        """The plan of a draw for a tensor of ``shape`` on ``device``, for the torch path (``fused`` 0)."""
        geo = _Geometry.of(shape, self.mask_dims, self.layout.channel, self._independent(settings))
        cells = _per_axis_cells(self._layout_cells(), geo.masked_sizes)
        kernel = _triton_draw.usable(geo, cells, device)
        return _Plan(geo, cells, _draw.width(geo, cells), settings.policy, kernel, 0)

    def _drawn(self, plan: _Plan, device: torch.device) -> tuple[_Drawn, torch.Tensor]:
        """The drawn masks of ``plan`` and the uniforms they come from.

        One uniform tensor holds every random number of the call (`maskaug._draw`); a Triton
        kernel turns it into the masks where it can, torch operations elsewhere, with the same result.
        """
        u = _draw.uniforms(plan.geo, plan.width, generator=self.generator, device=device)
        if plan.draw_kernel:
            return _triton_draw.draw(u, plan.geo, plan.cells, plan.policy), u
        return _draw.from_uniforms(u, plan.geo, plan.cells, plan.policy), u

    def _plan(self, x: torch.Tensor, settings: _Settings) -> _Plan:
        """The plan for ``x``'s shape, dtype and device: kept from an earlier call where there is one."""
        key = (x.shape, x.dtype, x.device, x.requires_grad and torch.is_grad_enabled(), _triton.runs_on(x.device))
        compiling = torch.compiler.is_compiling()
        plan = None if compiling else self._plans.get(key)
        if plan is None:
            plan = self._make_plan(x, settings)
            if not compiling:
                if len(self._plans) >= MAX_PLANS:
                    self._plans.clear()
                self._plans[key] = plan
        return plan

    def _make_plan(self, x: torch.Tensor, settings: _Settings) -> _Plan:
        self.layout.check(x)
        if settings.fill == "constant":
            _check_fill_value(settings.value, x.dtype)
        plan = self._draw_plan(x.shape, x.device, settings)
        n_cells = math.prod(_grid_sizes(plan.geo, plan.cells))
        policy = settings.policy
        if policy.p > 0 and policy.focal_prob < 1 and 0 == round(policy.ratio[1] * n_cells) < policy.ratio[1]:
            if not torch.compiler.is_compiling():
                warnings.warn(  # at the module's caller: forward, nn.Module's two call wrappers, _plan, here
                    f"MSCNMask: cell={self.cell} cuts the masked axes ({' '.join(self._mask_names)}: "
                    f"{tuple(x.shape[self.layout.names.index(n)] for n in self._mask_names)}) into {n_cells} cell(s), "
                    f"too few for ratio={_show(self.ratio)} to mask any: its grid masks mask nothing; use smaller cells",
                    stacklevel=6,
                )
        sigma, size = settings.sigma, settings.kernel_size
        radius = 0 if sigma is None else _kernel_size(sigma, size) // 2
        short = [self.layout.names[d] for d in self.highpass_dims if x.shape[d] <= radius]
        if short:
            raise ValueError(
                f"the high-pass (highpass_sigma={sigma}, highpass_kernel_size={size}) needs every filtered axis "
                f"longer than {radius} (its radius); {', '.join(short)} of shape {tuple(x.shape)} (layout "
                f"'{self.layout}') {'is' if len(short) == 1 else 'are'} not: lower highpass_sigma, set "
                "highpass_kernel_size, or highpass_sigma=None to skip it"
            )
        last_two = self.highpass_dims == (x.ndim - 2, x.ndim - 1)
        if (sigma is None or last_two) and _triton.usable(x, radius):
            plan = replace(plan, fused=2 if _triton.packs(plan.geo, x) else 1)
        return plan

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        check_floating("x", x, "for MSCNMask")
        settings = self._checked()
        plan = self._plan(x, settings)
        drawn, u = self._drawn(plan, x.device)
        mask = _render(drawn) if self.return_mask else None
        sigma, size = settings.sigma, settings.kernel_size
        fill = dict(fill=settings.fill, noise_std=settings.noise_std, value=settings.value, generator=self.generator)
        if plan.fused:
            # one kernel: high-pass, the mask computed from the drawn cells and boxes (or read), and
            # the fill, with the noise seeded by the uniforms' seed columns
            if plan.fused == 2:
                out = _triton.fused(x, sigma=sigma, kernel_size=size, drawn=drawn, seed=u, **fill)
            else:
                dense = _render(drawn) if mask is None else mask
                out = _triton.fused(x, sigma=sigma, kernel_size=size, mask=dense, seed=u, **fill)
            return (out, mask) if self.return_mask else out
        if sigma is not None:
            x = highpass(x, sigma, dims=self.highpass_dims, kernel_size=size)
        # the high-passed tensor is ours to overwrite; the caller's input is not. The noise comes
        # from a generator spawned after the uniforms, as the fused kernel's comes from them: the
        # module's generator advances by the uniforms alone, so the next call's masks are the same
        # on every path
        if _cellfill.usable(x, drawn):
            if settings.fill == "noise":
                fill["generator"] = _random.spawn(self.generator, x.device)
            out = _cellfill.fill_(x if sigma is not None else x.clone(), drawn, **fill)
        else:
            out = _fill(x, _render(drawn) if mask is None else mask, **fill, overwrite=sigma is not None, seed=u)
        return (out, mask) if self.return_mask else out

    def extra_repr(self) -> str:
        names = self.layout.names
        fill = f"fill='noise', noise_std={self.noise_std}" if self.fill == "noise" else f"fill='constant', value={self.value}"
        return (
            f"layout='{self.layout}', mask_axes='{' '.join(self._mask_names)}', cell={self.cell}, "
            f"ratio={_show(self.ratio)}, focal_prob={self.focal_prob}, focal_scale={_show(self.focal_scale)}, "
            f"focal_invert={self.focal_invert}, channel_independent_prob={self.channel_independent_prob}, {fill}, "
            f"highpass_sigma={self.highpass_sigma}, highpass_kernel_size={self.highpass_kernel_size}, "
            f"highpass_axes='{' '.join(names[d] for d in self.highpass_dims)}', p={self.p}"
        )


def _show(pair: Range) -> Range:
    """A range as its one value where both ends agree (a setting changed after ``__init__`` may be a number)."""
    if isinstance(pair, Sequence) and len(pair) == 2 and pair[0] == pair[1]:
        return pair[0]
    return pair


def _cells_in_order(module: MSCNMask, cell: Cell | Mapping[str, int | None]) -> tuple[int | None, ...]:
    """Resolve ``cell`` into one entry per masked axis, in the order ``mask_axes`` names them (as a
    sequence gives them)."""
    masked_names = module._mask_names
    if isinstance(cell, Mapping):
        unknown = sorted(set(cell) - set(masked_names))
        missing = [n for n in masked_names if n not in cell]
        if unknown or missing:
            raise ValueError(f"cell={dict(cell)!r} must give exactly the masked axes {list(masked_names)}")
        values = tuple(cell[n] for n in masked_names)
    elif cell is None or (isinstance(cell, int) and not isinstance(cell, bool)):
        values = (cell,) * len(masked_names)
    elif isinstance(cell, Sequence) and not isinstance(cell, str):
        if len(cell) != len(masked_names):
            raise ValueError(f"cell={cell!r} gives {len(cell)} sizes for the masked axes {list(masked_names)}")
        values = tuple(cell)
    else:
        raise TypeError(f"cell must be an int, None, a mapping or a sequence, got {cell!r}")
    for v in values:
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise TypeError(f"cell sizes must be ints or None, got cell={cell!r}")
        if v is not None and v < 1:
            raise ValueError(f"cell sizes must be >= 1, got cell={cell!r}")
    return values


def _fill_kind(_: MSCNMask, fill: object) -> str:
    if fill not in ("noise", "constant"):
        raise ValueError(f"fill must be 'noise' or 'constant', got {fill!r}")
    return fill


def _fill_value(_: MSCNMask, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"value must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value!r}")
    return float(value)


def _sigma(_: MSCNMask, sigma: object) -> float | None:
    if sigma is None:
        return None
    sigma = check_positive("highpass_sigma", sigma)
    _kernel_size(sigma, None, _HIGHPASS)  # a size it can have
    return sigma


def _taps(_: MSCNMask, size: object) -> int | None:
    return None if size is None else _kernel_size(1.0, size, _HIGHPASS)


_HIGHPASS = ("highpass_sigma", "highpass_kernel_size")
#: The public settings a module checks whenever they are set (in ``__init__`` and later), each
#: with its check, which returns the value kept.
_CHECKS: dict[str, Callable[[MSCNMask, object], object]] = {
    "cell": _cells_in_order,
    "ratio": lambda _, v: check_range("ratio", v, low=0.0, high=1.0),
    "focal_prob": lambda _, v: check_probability("focal_prob", v),
    "focal_scale": lambda _, v: check_range("focal_scale", v, low=0.0, high=1.0, low_open=True),
    "focal_invert": lambda _, v: check_bool("focal_invert", v),
    "channel_independent_prob": lambda _, v: check_probability("channel_independent_prob", v),
    "fill": _fill_kind,
    "noise_std": lambda _, v: check_nonnegative("noise_std", v),
    "value": _fill_value,
    "highpass_sigma": _sigma,
    "highpass_kernel_size": _taps,
    "p": lambda _, v: check_probability("p", v),
    "return_mask": lambda _, v: check_bool("return_mask", v),
    "generator": lambda _, v: check_generator(v),
}
#: The axes a module is made for, set once.
_FIXED = ("layout", "mask_dims", "highpass_dims")
