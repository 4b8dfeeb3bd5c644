"""Device hygiene without a GPU: every registered component and pipeline runs on ``meta``.

A tensor created in a forward pass without ``device=`` (``torch.zeros(n)``, ``torch.arange(n)``,
a ``torch.tensor([...])`` constant), or kept as a plain attribute instead of a buffer, stays on
the CPU when the module moves; :class:`_MetaMode` refuses every op that mixes it with a meta
tensor, as CUDA would (CPU scalars, 0-dim tensors, mix with both). The modules run in float64,
so an output left in the default float32 shows up too.

Meta tensors hold no values, so: the ``initialized`` flags of data-dependent layers keep their
value as CPU scalars (:func:`_to_meta`); a value read (``bool(t)``, ``t.item()``) at a place
listed in :data:`_VALUE_READS` answers as for valid inputs, and anywhere else fails; a
boolean-mask index (``nonzero``, in nflows' splines) selects every element. Layers fitted from
data are fitted on CPU data before the move, and also on meta data, as ``flowkit run`` fits them
on the training device.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.fx.experimental._config as fx_config
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from flowkit import load_registry
from flowkit.testing import CHECK_FEATURES
from flowkit.testing.components import TRANSFORM_KINDS
from flowkit.testing.law_checks import _CONDITIONER_SIZES, layer_classes, layer_factories
from flowkit.testing.transform_checks import _example_data, _shaped, prepare

META = torch.device("meta")
DTYPE = torch.float64
BATCH = 5
_REGISTRY = load_registry()

#: Where the code reads a tensor's value (legitimately: checks and fits), with the boolean that
#: means "valid" there (floats read 1.0, integers 0): (path suffix, function or None) -> answer.
#: A read anywhere else fails the test (in a forward pass it would also synchronise a GPU).
_VALUE_READS: dict[tuple[str, str | None], bool] = {
    ("flowkit_builtins/images/logit.py", "forward"): True,  # ((p > 0) & (p < 1)).all()
    ("flowkit_builtins/scalings.py", "robust_std"): True,  # torch.isfinite(inputs).all()
    ("flowkit_builtins/whitenings.py", "data_moments"): True,  # torch.isfinite(inputs).all()
    # eigenvalue statistics, `variances.min() > 0`, the LAPACK info of a Cholesky factor
    ("flowkit_builtins/whitenings.py", "_initialize"): True,
    ("nflows/transforms/splines/", None): False,  # torch.min(inputs) < left or ... > right
}
#: Ops that take tensors of another device by design: copies; and indexing, whose indices
#: (argument 1) may be CPU tensors on CUDA too.
_COPIES = {"copy_", "_to_copy"}
_INDEXING = {"index", "index_put", "index_put_", "_index_put_impl_"}
_TORCH_DIR = str(Path(torch.__file__).parent)


def _caller() -> tuple[str, str, int]:
    """The file, function and line of the innermost frame outside torch and this module."""
    frame = sys._getframe(1)
    while frame.f_back is not None and (
        frame.f_code.co_filename.startswith(_TORCH_DIR) or frame.f_code.co_filename == __file__
    ):
        frame = frame.f_back
    return Path(frame.f_code.co_filename).as_posix(), frame.f_code.co_name, frame.f_lineno


class _MetaMode(TorchDispatchMode):
    """Refuses any op that mixes a meta tensor with a CPU tensor of one or more dimensions (the
    meta kernels of ``mm``, ``linear``, ``conv2d``, ``index_select``, ``gather`` or
    ``searchsorted`` do not check devices themselves) and answers the value reads of
    :data:`_VALUE_READS`."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, Tensor)]
        if func is torch.ops.aten._local_scalar_dense.default and tensors[0].device == META:
            return self._read(tensors[0])
        op = func.overloadpacket.__name__
        checked = (args[:1], args[2:], kwargs) if op in _INDEXING else (args, kwargs)
        stray = [
            t
            for t in tree_leaves(checked)
            if isinstance(t, Tensor) and t.device.type == "cpu" and t.dim() > 0
        ]
        if stray and op not in _COPIES and any(t.device == META for t in tensors):
            path, function, line = _caller()
            raise RuntimeError(
                f"{func} at {path}:{line} ({function}) mixes a CPU tensor of shape "
                f"{list(stray[0].shape)} with meta ones (CUDA: not on the same device)"
            )
        return func(*args, **(kwargs or {}))

    @staticmethod
    def _read(value: Tensor) -> bool | float | int:
        path, function, line = _caller()
        for (suffix, name), answer in _VALUE_READS.items():
            in_file = path.endswith(suffix) or (suffix.endswith("/") and suffix in path)
            if in_file and name in (None, function):
                if value.dtype == torch.bool:
                    return answer
                return 1.0 if value.is_floating_point() else 0
        raise RuntimeError(f"{path}:{line} ({function}) reads the value of a meta tensor")


def _named(label: str, check: Callable[[], None]) -> None:
    """Run ``check`` on meta; a failure names the component (and the underlying error)."""
    try:
        with _MetaMode(), fx_config.patch(meta_nonzero_assume_all_nonzero=True):
            check()
    except Exception as err:
        raise AssertionError(f"{label}: {type(err).__name__}: {err}") from err


def _to_meta(module: nn.Module) -> Any:
    """``module`` in float64 on meta, its ``initialized`` flags kept as CPU scalars."""
    flags = [
        (owner, bool(owner.initialized))
        for owner in module.modules()
        if isinstance(getattr(owner, "initialized", None), Tensor)
    ]
    module.to(device=META, dtype=DTYPE)
    for owner, value in flags:
        owner.initialized = torch.tensor(value)
    return module


def _check_placement(module: nn.Module) -> None:
    """No flowkit module keeps a tensor as a plain attribute (``.to()`` leaves those behind).
    nflows' modules are not scanned: its MADE keeps each masked layer's construction-time
    ``degrees`` that way, unused afterwards."""
    for prefix, owner in module.named_modules():
        if not type(owner).__module__.startswith("flowkit"):
            continue
        for key, value in vars(owner).items():
            if key in ("_parameters", "_buffers", "_modules"):
                continue
            value = list(value.values()) if isinstance(value, dict) else value
            values = value if isinstance(value, (list, tuple)) else [value]
            if any(isinstance(v, Tensor) and v.device != META for v in values):
                where = f"{type(module).__name__}.{prefix}".rstrip(".")
                raise AssertionError(f"{where}.{key} is a tensor attribute left on the CPU")


def _on_meta(what: str, *tensors: Tensor) -> None:
    for index, tensor in enumerate(tensors):
        assert tensor.device == META, f"{what}: output {index} is on {tensor.device}, not meta"
        assert tensor.dtype == DTYPE, f"{what}: output {index} is {tensor.dtype}, not {DTYPE}"


def _examples(component: type) -> list[dict[str, Any]]:
    return [dict(e) for e in getattr(component, "contract_examples", None) or [{}]]


def _label(kind: str, name: str, example: dict[str, Any]) -> str:
    return f"{kind}:{name}[{','.join(f'{k}={v}' for k, v in example.items())}]"


def _cases(kind: str) -> list[tuple[str, type, dict[str, Any]]]:
    """``(label, class, example)`` for every contract example of every component of ``kind``."""
    return [
        (_label(kind, entry.name, example), entry.component, example)
        for entry in _REGISTRY
        if entry.kind == kind and getattr(entry.component, "contract_examples", [{}]) is not None
        for example in _examples(entry.component)
    ]


def _ids(cases: list) -> list[str]:
    return [case[0] if isinstance(case, tuple) else case.label for case in cases]


# ---- transforms: every registered one, and every law in every layer type -----------------------


@dataclass(frozen=True)
class TransformCase:
    label: str
    make: Callable[[], Any]
    features: int
    shape: tuple[int, ...] | None
    domain: str = "real"
    context: int = 0  # features of a context passed to forward and inverse

    def inputs(self, rows: int = BATCH, seed: int = 0) -> Tensor:
        data = _example_data(self.features, rows, DTYPE, seed)
        return _shaped(data, self.shape, self.domain).to(META)


def _transform_cases() -> Iterator[TransformCase]:
    for kind in TRANSFORM_KINDS:
        for label, cls, example in _cases(kind):
            domain = getattr(cls, "contract_domain", "real")
            shape = tuple(example.pop("event_shape", ())) or None
            make = partial(cls, shape or CHECK_FEATURES, **example)
            yield TransformCase(label, make, math.prod(shape or (CHECK_FEATURES,)), shape, domain)
    for pairing, make, features, shape, _ in layer_factories(_REGISTRY):
        yield TransformCase(f"layer:{pairing}", make, features, shape)
    # Every layer class with each conditioner of its type, for a context (one law is enough).
    law = _REGISTRY.get("law", _REGISTRY.names("law")[0])
    for layer in layer_classes(_REGISTRY):
        example = dict(layer.law_contract_example)
        shape = tuple(example.pop("event_shape", ())) or None
        for net in (_REGISTRY.get("conditioner", n) for n in _REGISTRY.names("conditioner")):
            if net.layer == layer.law_layer:
                label = f"layer:{law.name}+{net.name}@{layer.name}[context_features=2]"
                make = partial(
                    layer,
                    shape or CHECK_FEATURES,
                    law=law(**_examples(law)[0]),
                    conditioner=net,
                    conditioner_options=_examples(net)[0],
                    context_features=2,
                    **example,
                )
                features = math.prod(shape or (CHECK_FEATURES,))
                yield TransformCase(label, make, features, shape, context=2)


_TRANSFORMS = list(_transform_cases())


def _run_transform(case: TransformCase) -> None:
    fitted = prepare(case.make, case.features, DTYPE, event_shape=case.shape, domain=case.domain)
    transform = _to_meta(fitted)
    _check_placement(transform)
    x = case.inputs()
    context = torch.empty(BATCH, case.context, device=META, dtype=DTYPE) if case.context else None
    with torch.no_grad():
        y, logabsdet = transform(x, context=context)
        _on_meta("forward", y, logabsdet)
        assert logabsdet.shape == (BATCH,), f"forward logabsdet has shape {logabsdet.shape}"
        back, logabsdet = transform.inverse(torch.empty_like(y), context=context)
        _on_meta("inverse", back, logabsdet)
        assert back.shape == x.shape, f"inverse gave {list(back.shape)}, want {list(x.shape)}"
    y, logabsdet = transform.train()(x, context=context)
    _on_meta("forward in train mode", y, logabsdet)
    if y.requires_grad:
        (y.sum() + logabsdet.sum()).backward()
        for name, parameter in transform.named_parameters():
            if parameter.grad is not None:
                _on_meta(f"gradient of {name}", parameter.grad)


@pytest.mark.parametrize("case", _TRANSFORMS, ids=_ids(_TRANSFORMS))
def test_transform_runs_on_meta(case):
    _named(case.label, partial(_run_transform, case))


_FITTED = [case for case in _TRANSFORMS if getattr(case.make(), "needs_initialization", False)]


def _initialize_on_meta(case: TransformCase) -> None:
    torch.manual_seed(0)
    transform = _to_meta(case.make())
    assert transform.needs_initialization, "asks for no initialisation on meta"
    transform.initialize(case.inputs(64, 1))
    assert not transform.needs_initialization, "still asks for initialisation"
    _check_placement(transform)
    _on_meta("forward after initialize", *transform(case.inputs()))
    if hasattr(transform, "_maybe_initialize"):  # fits itself on its first training batch
        transform = _to_meta(case.make()).train()
        _on_meta("first forward in train mode", *transform(case.inputs(64, 1)))
        assert not transform.needs_initialization, "not fitted by its first training batch"
        _check_placement(transform)


@pytest.mark.parametrize("case", _FITTED, ids=_ids(_FITTED))
def test_data_initialization_runs_on_meta(case):
    if case.label.startswith("transform:nflows.actnorm["):
        # nflows' ActNorm._initialize assigns a new CPU tensor by `initialized.data = ...`:
        # meta refuses set_data across devices, CUDA allows it (the bridge then puts the flag
        # on the inputs' device). Its forward and inverse on meta are checked above.
        pytest.skip("nflows' ActNorm._initialize cannot run on meta (set_data from the CPU)")
    _named(case.label, partial(_initialize_on_meta, case))


# ---- priors, laws, conditioners ----------------------------------------------------------------

_PRIORS, _LAWS, _CONDITIONERS = _cases("prior"), _cases("law"), _cases("conditioner")


def _run_prior(cls: type, example: dict[str, Any]) -> None:
    prior = _to_meta(cls(CHECK_FEATURES, **example))
    _check_placement(prior)
    log_prob = prior.log_prob(torch.empty(BATCH, CHECK_FEATURES, device=META, dtype=DTYPE))
    _on_meta("log_prob", log_prob)
    assert log_prob.shape == (BATCH,), f"log_prob has shape {list(log_prob.shape)}"
    _on_meta("sample", prior.sample(4))
    _on_meta("sample in batches at a temperature", prior.sample(5, batch_size=2, temperature=0.5))


@pytest.mark.parametrize(("label", "cls", "example"), _PRIORS, ids=_ids(_PRIORS))
def test_prior_runs_on_meta(label, cls, example):
    _named(label, partial(_run_prior, cls, example))


def _run_law(cls: type, example: dict[str, Any]) -> None:
    law = _to_meta(cls(**example))
    _check_placement(law)
    for shape in ((6, 5), (2, 3, 2, 2)):
        x = torch.empty(shape, device=META, dtype=DTYPE)
        params = torch.empty(*shape, law.params_per_value, device=META, dtype=DTYPE)
        _on_meta(f"forward at {list(shape)}", *law(x, params))
        _on_meta(f"inverse at {list(shape)}", *law.inverse(x, params))
        _on_meta(f"forward at zero parameters at {list(shape)}", *law(x, torch.zeros_like(params)))


@pytest.mark.parametrize(("label", "cls", "example"), _LAWS, ids=_ids(_LAWS))
def test_law_runs_on_meta(label, cls, example):
    _named(label, partial(_run_law, cls, example))


def _run_conditioner(cls: Any, example: dict[str, Any]) -> None:
    sizes, shape = _CONDITIONER_SIZES[cls.layer]
    layouts: list[dict[str, Any]] = [{}]
    if cls.layer == "autoregressive":
        layouts = [{"params_layout": "grouped"}, {"params_layout": "interleaved"}]
    x = torch.empty(shape, device=META, dtype=DTYPE)
    context = torch.empty(shape[0], 2, device=META, dtype=DTYPE)
    for layout in layouts:
        for zero_init in (True, False):
            net = _to_meta(cls(*sizes, zero_init=zero_init, **layout, **example))
            _check_placement(net)
            _on_meta(f"output {layout}", net(x))
            net = cls(*sizes, context_features=2, zero_init=zero_init, **layout, **example)
            _on_meta(f"output with a context {layout}", _to_meta(net)(x, context))


@pytest.mark.parametrize(("label", "cls", "example"), _CONDITIONERS, ids=_ids(_CONDITIONERS))
def test_conditioner_runs_on_meta(label, cls, example):
    _named(label, partial(_run_conditioner, cls, example))


# ---- pipelines: one training step and sampling -------------------------------------------------

_PIPELINES = _cases("pipeline")


def _train_pipeline(cls: type, example: dict[str, Any], fit_on: str) -> None:
    options = dict(example)
    shape = options.pop("event_shape", None)
    pipeline, domain = cls(), getattr(cls, "contract_domain", "real")
    config = pipeline.resolve(**options)
    torch.manual_seed(0)
    if shape is None:
        flow, features = pipeline.build(_REGISTRY, CHECK_FEATURES, config), CHECK_FEATURES
    else:
        flow, features = pipeline.build_for(_REGISTRY, tuple(shape), config), math.prod(shape)
    data, flow = _shaped(_example_data(features, 64, DTYPE, 1), None, domain), flow.to(DTYPE)
    if fit_on == "cpu" and flow.transform.needs_initialization:
        flow.transform.initialize(data)
    flow = _to_meta(flow).train()
    if fit_on == "meta" and flow.transform.needs_initialization:
        flow.transform.initialize(data.to(META))
    assert not flow.transform.needs_initialization, "still asks for initialisation"
    _check_placement(flow)
    optimizer = torch.optim.SGD(flow.parameters(), lr=1e-3)
    x = data[:8].to(META)
    loss = -flow.log_prob(x).mean()
    _on_meta("loss", loss)
    loss.backward()
    grads = [p.grad for p in flow.parameters() if p.grad is not None]
    assert grads, "no parameter got a gradient"
    _on_meta("gradients", *grads)
    optimizer.step()
    _on_meta("parameters after an SGD step", *flow.parameters())
    with torch.no_grad():
        samples = flow.eval().sample(4)
        _on_meta("sample(4)", samples)
        assert samples.shape == (4, features), f"sample(4) has shape {list(samples.shape)}"
        _on_meta(
            "sample in batches, at a temperature", flow.sample(5, batch_size=2, temperature=0.7)
        )
        _on_meta("encode and decode", flow.encode(x), flow.decode(flow.encode(x)))


@pytest.mark.parametrize("fit_on", ["cpu", "meta"])
@pytest.mark.parametrize(("label", "cls", "example"), _PIPELINES, ids=_ids(_PIPELINES))
@pytest.mark.filterwarnings("ignore::flowkit.FlowkitWarning")  # the 2-layer NICE example
def test_pipeline_trains_and_samples_on_meta(label, cls, example, fit_on):
    _named(f"{label} fitted on {fit_on}", partial(_train_pipeline, cls, example, fit_on))


def test_every_component_and_pipeline_is_covered():
    assert {"nice", "realnvp", "glow", "maf"} <= set(_REGISTRY.names("pipeline"))
    kinds = ("prior", "law", "conditioner", "pipeline")
    labels = _ids(_TRANSFORMS) + [label for kind in kinds for label, _, _ in _cases(kind)]
    for entry in _REGISTRY:
        examples = getattr(entry.component, "contract_examples", [{}])
        if entry.kind in (*TRANSFORM_KINDS, *kinds) and examples is not None:
            prefix = f"{entry.kind}:{entry.name}["
            assert any(label.startswith(prefix) for label in labels), prefix
