"""Optimizers by Keras name, with Keras's default hyper-parameters, built on ``torch.optim``.

An :class:`Optimizer` is a small config object (``get_config()`` round-trips, so a compiled model can be
saved); ``build(params)`` creates the ``torch.optim`` optimizer. ``learning_rate`` reads and writes the
live value, which is what the learning-rate callbacks use.

>>> from lstmkit.models.optimizers import get_optimizer
>>> opt = get_optimizer("adam")
>>> opt.get_config()["learning_rate"]
0.001
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable

import torch

from lstmkit.errors import ConfigError


def _positive(value: Any, argument: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (value < 0 if allow_zero else value <= 0):
        raise ConfigError(f"{argument}: expected a {'non-negative' if allow_zero else 'positive'} number, found {value!r}")
    return float(value)


class Optimizer:
    """Base config object. ``clipnorm`` clips each weight's gradient norm (Keras), ``global_clipnorm``
    the norm of all gradients together, ``clipvalue`` each gradient element."""

    torch_class: type[torch.optim.Optimizer] | None = None

    def __init__(
        self,
        learning_rate: float,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
    ) -> None:
        self._learning_rate = _positive(learning_rate, "learning_rate")
        self.clipnorm = None if clipnorm is None else _positive(clipnorm, "clipnorm")
        self.clipvalue = None if clipvalue is None else _positive(clipvalue, "clipvalue")
        self.global_clipnorm = None if global_clipnorm is None else _positive(global_clipnorm, "global_clipnorm")
        self.torch_optimizer: torch.optim.Optimizer | None = None

    # -- the live learning rate
    @property
    def learning_rate(self) -> float:
        if self.torch_optimizer is not None:
            return float(self.torch_optimizer.param_groups[0]["lr"])
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        value = _positive(value, "learning_rate")
        self._learning_rate = value
        if self.torch_optimizer is not None:
            for group in self.torch_optimizer.param_groups:
                group["lr"] = value

    lr = learning_rate

    def torch_kwargs(self) -> dict[str, Any]:
        return {}

    def build(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        params = list(params)
        kwargs = self.torch_kwargs()
        if self.torch_class in _FUSABLE and _fusable(params):
            # torch's fused kernel: the same update in one pass over each tensor, about 3x faster than the
            # default per-op (foreach) form on CPU; for the article's model it is a fifth of a training step.
            kwargs["fused"] = True
        self.torch_optimizer = self.torch_class(params, lr=self._learning_rate, **kwargs)
        return self.torch_optimizer

    def clip_gradients(self, params: list[torch.nn.Parameter], global_norm: bool = True) -> None:
        """Clip the gradients of ``params`` in place: ``clipvalue``, then ``clipnorm``, then ``global_clipnorm``.

        ``global_norm=False`` leaves out ``global_clipnorm``: ``Model.fit`` hands that one to the
        training engine (its ``clip_norm``) and calls this, just before each update, for the per-weight
        clipping the engine has no option for.
        """
        use_global = global_norm and self.global_clipnorm is not None
        if self.clipnorm is None and self.clipvalue is None and not use_global:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if self.clipvalue is not None:
            for g in grads:
                g.clamp_(-self.clipvalue, self.clipvalue)
        if self.clipnorm is not None:
            for g in grads:  # no host sync: scale by min(1, clipnorm / norm)
                g.mul_(torch.clamp(self.clipnorm / (g.norm() + 1e-6), max=1.0))
        if use_global:
            torch.nn.utils.clip_grad_norm_(params, self.global_clipnorm)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"learning_rate": self._learning_rate}
        for key in ("clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Optimizer":
        return cls(**config)


#: torch optimizers with a fused CPU/CUDA kernel that ``build`` uses when the parameters allow
_FUSABLE = (torch.optim.Adam, torch.optim.AdamW)


def _fusable(params: list[torch.nn.Parameter]) -> bool:
    if not params:
        return False
    devices = {p.device.type for p in params}
    return (len(devices) == 1 and devices <= {"cpu", "cuda"}
            and all(p.dtype in (torch.float32, torch.float64) and not p.is_sparse for p in params))


class Adam(Optimizer):
    torch_class = torch.optim.Adam

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon, self.amsgrad = _positive(epsilon, "epsilon"), bool(amsgrad)

    def torch_kwargs(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "amsgrad": self.amsgrad}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    torch_class = torch.optim.AdamW

    def __init__(self, learning_rate: float = 0.001, weight_decay: float = 0.004, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.weight_decay = _positive(weight_decay, "weight_decay", allow_zero=True)

    def torch_kwargs(self) -> dict[str, Any]:
        return {**super().torch_kwargs(), "weight_decay": self.weight_decay}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}


class SGD(Optimizer):
    torch_class = torch.optim.SGD

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.momentum, self.nesterov = _positive(momentum, "momentum", allow_zero=True), bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ConfigError("nesterov: requires momentum > 0, found momentum=0")

    def torch_kwargs(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    torch_class = torch.optim.RMSprop

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum = float(rho), _positive(momentum, "momentum", allow_zero=True)
        self.epsilon, self.centered = _positive(epsilon, "epsilon"), bool(centered)

    def torch_kwargs(self) -> dict[str, Any]:
        return {"alpha": self.rho, "momentum": self.momentum, "eps": self.epsilon, "centered": self.centered}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    torch_class = torch.optim.Adagrad

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _positive(initial_accumulator_value, "initial_accumulator_value", allow_zero=True)
        self.epsilon = _positive(epsilon, "epsilon")

    def torch_kwargs(self) -> dict[str, Any]:
        return {"initial_accumulator_value": self.initial_accumulator_value, "eps": self.epsilon}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class TorchOptimizer(Optimizer):
    """Wraps a ``torch.optim`` class (built with its own defaults), or a factory ``params -> optimizer``.
    Not saved with the model (only named optimizers are)."""

    def __init__(self, factory: Callable[..., torch.optim.Optimizer], **kwargs: Any) -> None:
        self.factory = factory
        lr = kwargs.pop("learning_rate", 0.001)
        super().__init__(lr, **kwargs)

    def build(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        opt = self.factory(list(params))
        if not isinstance(opt, torch.optim.Optimizer):
            raise ConfigError(
                f"optimizer: the factory {self.factory!r:.60} must return a torch.optim.Optimizer, "
                f"found {type(opt).__name__}"
            )
        self.torch_optimizer = opt
        return opt


OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": Adam, "adamw": AdamW, "sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad}
_CLASS_NAMES = {cls.__name__: cls for cls in OPTIMIZERS.values()}


def get_optimizer(spec: Any, **clip: Any) -> Optimizer:
    """An :class:`Optimizer` from a name (Keras defaults), an Optimizer, a ``torch.optim`` class or a
    factory ``params -> torch.optim.Optimizer``; ``clip`` (``clipnorm``, ``clipvalue``, ``global_clipnorm``)
    overrides the optimizer's clipping."""
    clip = {k: v for k, v in clip.items() if v is not None}
    if isinstance(spec, str):
        cls = OPTIMIZERS.get(spec.lower())
        if cls is None:
            raise ConfigError(f"optimizer: expected one of {sorted(OPTIMIZERS)}, an Optimizer or a torch.optim class, found {spec!r}")
        return cls(**clip)
    if isinstance(spec, Optimizer):
        for k, v in clip.items():
            setattr(spec, k, _positive(v, k))
        return spec
    if isinstance(spec, torch.optim.Optimizer):
        raise ConfigError(
            "optimizer: expected a name, an Optimizer, a torch.optim class or a factory params -> optimizer, "
            "found a torch.optim instance (pass e.g. functools.partial(torch.optim.Adam, lr=1e-3) instead)"
        )
    if inspect.isclass(spec) and issubclass(spec, torch.optim.Optimizer) or callable(spec):
        return TorchOptimizer(spec, **clip)
    raise ConfigError(f"optimizer: expected one of {sorted(OPTIMIZERS)}, an Optimizer or a torch.optim class, found {spec!r}")


def optimizer_to_config(opt: Optimizer) -> Any:
    if isinstance(opt, TorchOptimizer):
        return None
    return {"class_name": type(opt).__name__, "config": opt.get_config()}


def optimizer_from_config(config: Any) -> Optimizer:
    cls = _CLASS_NAMES.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ConfigError(f"optimizer config: unknown optimizer {config!r:.80}")
    return cls.from_config(config.get("config", {}))
