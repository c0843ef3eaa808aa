"""``Embedding``: token ids to dense vectors, and the source of padding masks.

>>> import torch
>>> from lstmkit.layers import Embedding
>>> emb = Embedding(input_dim=10000, output_dim=128, input_length=100)
>>> emb(torch.zeros(2, 100, dtype=torch.long)).shape
torch.Size([2, 100, 128])
>>> emb.count_params()
1280000
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.errors import InputValueError
from lstmkit.layers.base import Layer, Shape, check_positive_int, format_shape
from lstmkit.layers.initializers import check_initializer, initialize


class Embedding(Layer):
    """Turns token ids into vectors: ``output[n, t] = embeddings[x[n, t]]``.

    Args:
        input_dim: vocabulary size; ids must lie in ``[0, input_dim)``.
        output_dim: size of each vector.
        input_length: the fixed sequence length, if any (Keras 2); lets a model infer every shape.
        mask_zero: treat id 0 as padding: the layer emits a mask (``x != 0``) that the recurrent
            layers use to skip padded steps, wherever they are (before or after the tokens).
        embeddings_initializer: Keras name; default ``"uniform"`` (uniform in [-0.05, 0.05]).

    Inputs: ``x`` of shape ``(N, L)``, integer token ids.
    Outputs: ``(N, L, output_dim)``.
    """

    supports_masking = True

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        input_length: int | None = None,
        mask_zero: bool = False,
        embeddings_initializer: str = "uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.output_dim = check_positive_int(output_dim, "output_dim")
        self.input_length = None if input_length is None else check_positive_int(input_length, "input_length")
        if not isinstance(mask_zero, bool):
            from lstmkit.errors import ConfigError

            raise ConfigError(f"mask_zero: expected True or False, found {mask_zero!r}")
        self.mask_zero = mask_zero
        self.embeddings_initializer = check_initializer(embeddings_initializer, "embeddings_initializer")
        from lstmkit.util.memory import check_weights_fit

        # An absurd size is one clear line here, not an allocator error from torch.empty below.
        name, value = ("input_dim", self.input_dim) if self.input_dim >= self.output_dim else ("output_dim", self.output_dim)
        check_weights_fit(name, value, self.input_dim * self.output_dim)
        self.embeddings = torch.nn.Parameter(torch.empty(self.input_dim, self.output_dim))
        initialize(self.embeddings, self.embeddings_initializer, fan_in=self.input_dim, fan_out=self.output_dim)
        super().build(self.default_input_shape())

    def default_input_shape(self) -> Shape:
        if self.input_shape_arg is not None:
            return self.input_shape_arg
        return (self.input_length,)

    def build(self, input_shape: Shape) -> None:  # weights exist already; only record the shape
        super().build(input_shape)

    def generalize_shape(self, shape: Shape) -> Shape:
        return tuple(None for _ in shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.output_dim)

    def compute_mask(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        if not self.mask_zero:
            return None
        return inputs != 0

    def expected(self) -> str:
        return f"{format_shape(self.built_input_shape, batch='N')} token ids"

    def check_ids(self, x: torch.Tensor, argument: str | None = None) -> None:
        """Validate a whole tensor of ids (dtype and range); used on a dataset before training."""
        where = argument or f"Embedding '{self.name}' input"
        if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise InputValueError(
                f"{where}: expected integer token ids, found {str(x.dtype).replace('torch.', '')} values "
                f"(convert with .astype('int64') / .long())"
            )
        if x.numel() == 0:
            return
        lo, hi = torch.aminmax(x)
        if int(hi) >= self.input_dim or int(lo) < 0:
            bad = int(hi) if int(hi) >= self.input_dim else int(lo)
            raise InputValueError(
                f"{where}: token id {bad} is out of range for Embedding '{self.name}' with "
                f"input_dim={self.input_dim} (ids must be in [0, {self.input_dim - 1}])"
            )

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        expected = self.built_input_shape
        if x.dim() != len(expected) + 1 or any(e is not None and e != d for e, d in zip(expected, x.shape[1:])):
            raise self._input_error(self.expected(), x)
        if x.is_floating_point() or x.is_cuda:
            # On CUDA an out-of-range id is a device assert, not an exception: check first.
            self.check_ids(x)
        try:
            return F.embedding(x, self.embeddings)
        except (IndexError, RuntimeError):
            self.check_ids(x)
            raise

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            input_dim=self.input_dim,
            output_dim=self.output_dim,
            input_length=self.input_length,
            mask_zero=self.mask_zero,
            embeddings_initializer=self.embeddings_initializer,
        )
        return config

    def extra_repr(self) -> str:
        return f"name={self.name!r}, input_dim={self.input_dim}, output_dim={self.output_dim}, mask_zero={self.mask_zero}"
