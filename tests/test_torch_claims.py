"""What the pages say about torch's own source, checked against the
installed torch (the pinned release): claims a page states with a link to
the source, where running the page shows the behaviour but not that torch
itself is written that way."""

import inspect

from torch._dynamo.backends import debugging


def recorded_outputs():
    """A dispatch mode that records (operator name, output) for every operator
    run inside it, tensor outputs copied (a later in-place operator, such as
    masked_fill_, would change the recorded tensor otherwise)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Outputs(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.outputs = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            result = func(*args, **(kwargs or {}))
            kept = result.clone() if isinstance(result, torch.Tensor) else result
            self.outputs.append((func.overloadpacket.__name__, kept))
            return result

    return Outputs()


def test_the_compile_page_states_torchs_own_aot_eager_recipes():
    """under_the_hood/plot_03 rebuilds backend="aot_eager" and
    backend="aot_eager_decomp_partition" from these options."""
    aot_eager = inspect.getsource(debugging)
    for text in (
        "partition_fn=min_cut_rematerialization_partition",
        "keep_inference_input_mutations=True",
        "select_decomp_table()",
        'min_cut_rematerialization_partition, compiler="inductor"',
    ):
        assert text in aot_eager, text


def test_the_compile_page_states_that_inductor_runs_joint_graph_passes_before_the_cut():
    """under_the_hood/plot_03, "What inductor adds": inductor's partition
    function runs _recursive_joint_graph_passes, then the min-cut partitioner."""
    from torch._inductor import compile_fx

    source = inspect.getsource(compile_fx.partition_fn)
    passes = source.index("gm = _recursive_joint_graph_passes(")
    assert passes < source.index("min_cut_rematerialization_partition(", passes)


def test_the_errors_page_lists_the_raise_statements_on_vjps_path():
    """in_practice/plot_02 names the nine raise statements torch 2.13's
    autograd.functional.vjp can reach, among all those in the helpers it
    calls. A release that adds or removes one on this path fails here, and
    the page's list is to be read again."""
    import ast

    import torch.autograd.functional as functional

    tree = ast.parse(inspect.getsource(functional))
    functions = {
        node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)
    }
    on_path, to_visit = set(), ["vjp"]
    while to_visit:
        name = to_visit.pop()
        if name not in on_path:
            on_path.add(name)
            calls = (
                n.func.id
                for n in ast.walk(functions[name])
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            )
            to_visit += [callee for callee in calls if callee in functions]
    raises = {
        name: sum(isinstance(n, ast.Raise) for n in ast.walk(functions[name]))
        for name in on_path
    }
    assert {name: count for name, count in raises.items() if count} == {
        "vjp": 1,
        "_as_tuple": 2,
        "_validate_v": 3,
        "_check_requires_grad": 6,
        "_fill_in_zeros": 7,
        "_autograd_grad": 3,
        "_tuple_postprocess": 1,
    }


def test_the_compile_page_states_that_inductor_runs_pre_grad_passes_first():
    """under_the_hood/plot_03: inductor runs pre-grad passes on Dynamo's graph
    before AOTAutograd traces it, so its joint graph can differ."""
    from torch._inductor import compile_fx

    assert "pre_grad_passes=run_pre_grad_passes" in inspect.getsource(compile_fx)


# -- jacobians/plot_05: what the coloured JVPs cost under vmap ------------------------
COLOURING_PAGE = "examples/jacobians/plot_05_structured_jacobians_by_colouring.py"


def page_functions(path: str, *names: str) -> dict:
    """The functions NAMES of the example at PATH (with its imports), without
    running the rest of the page."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parent.parent / path).read_text())
    keep = [
        node
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        or (isinstance(node, ast.FunctionDef) and node.name in names)
    ]
    assert {node.name for node in keep if isinstance(node, ast.FunctionDef)} == set(
        names
    ), f"{path} defines {names}"
    namespace = {}
    exec(compile(ast.Module(keep, type_ignores=[]), path, "exec"), namespace)
    return namespace


def elements_written(fn) -> int:
    """The elements of the tensors returned by the ATen operations FN runs, except
    views, uninitialised allocations (empty) and tensors with no memory behind them
    (forward-mode AD's ZeroTensors, meta tensors): what the operations write."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    writes_nothing = {
        aten.empty,
        aten.empty_like,
        aten.empty_strided,
        aten.new_empty,
        aten.new_empty_strided,
    }

    class Count(TorchDispatchMode):
        elements = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if not func.is_view and func.overloadpacket not in writes_nothing:
                for tensor in out if isinstance(out, (tuple, list)) else (out,):
                    if isinstance(tensor, torch.Tensor) and not (
                        tensor.is_meta or tensor._is_zerotensor()
                    ):
                        Count.elements += tensor.numel()
            return out

    with Count():
        fn()
    return Count.elements


def colouring_page_setup(n=500):
    import torch

    page = page_functions(COLOURING_PAGE, "make_residual", "compressed_by_jvps")
    residual, _ = page["make_residual"](n)
    u = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def with_seeds(k):  # k seeds: the columns coloured j mod k
        return elements_written(
            lambda: page["compressed_by_jvps"](residual, u, torch.arange(n) % k)
        )

    return residual, u, with_seeds


def test_the_colouring_page_vmapped_jvps_write_a_fixed_part_plus_one_part_per_seed():
    """jacobians/plot_05, "Cost": under vmap, the operations on f(u) run once and
    those on the tangents once per seed, so k seeds write e_0 + e_1 k elements,
    e_0 about one evaluation of f; the dense-to-coloured ratio is below n / 3."""
    n = 500
    residual, u, with_seeds = colouring_page_setup(n)
    written = {k: with_seeds(k) for k in (2, 3, n)}
    per_seed = written[3] - written[2]
    fixed = written[2] - 2 * per_seed
    assert written[n] == fixed + per_seed * n, written
    value = elements_written(lambda: residual(u))
    assert value <= fixed < 2 * value, (fixed, value)
    assert written[n] / written[3] < n / 3


def test_the_colouring_page_jacfwd_writes_over_50_times_the_coloured_jvps():
    """jacobians/plot_05, "Cost": the dense jacfwd (n seeds, its own code) writes
    over 50 times the elements of the three coloured JVPs at n = 500."""
    import torch

    residual, u, with_seeds = colouring_page_setup(500)
    assert elements_written(lambda: torch.func.jacfwd(residual)(u)) > 50 * with_seeds(3)


def reverse_passes(route) -> int:
    """How many reverse passes ROUTE starts: calls of the one function through
    which torch.autograd.grad and torch.autograd.backward enter autograd's
    engine (torch/autograd/__init__.py, _engine_run_backward)."""
    from unittest import mock

    import torch

    engine_entry = torch.autograd.graph._engine_run_backward
    with mock.patch.object(
        torch.autograd, "_engine_run_backward", wraps=engine_entry
    ) as engine_calls:
        route()
    return engine_calls.call_count


def test_the_jvp_page_counts_the_reverse_passes_of_each_route():
    """higher_order/plot_01: torch.autograd.functional.jvp runs two reverse
    passes (the double-backward trick), a VJP one, the forward-mode routes
    none."""
    import torch
    import torch.autograd.forward_ad as fwAD

    generator = torch.Generator().manual_seed(0)
    W = torch.randn(30, 50, generator=generator, dtype=torch.float64)
    x, u = torch.randn(2, 50, generator=generator, dtype=torch.float64)
    v = torch.randn(30, generator=generator, dtype=torch.float64)

    def f(x):
        return torch.tanh(W @ x)

    def dual_numbers_jvp():
        with fwAD.dual_level():
            return fwAD.unpack_dual(f(fwAD.make_dual(x, u))).tangent

    # The wrapper sees a pass by either entry point: one each.
    x_leaf = x.clone().requires_grad_()
    assert reverse_passes(lambda: torch.autograd.grad(f(x_leaf).sum(), x_leaf)) == 1
    assert reverse_passes(lambda: f(x_leaf).sum().backward()) == 1
    assert reverse_passes(lambda: torch.autograd.functional.jvp(f, x, u)) == 2
    assert reverse_passes(lambda: torch.autograd.functional.vjp(f, x, v)) == 1
    assert reverse_passes(lambda: torch.func.jvp(f, (x,), (u,))) == 0
    assert reverse_passes(dual_numbers_jvp) == 0


def test_the_hessian_vector_page_counts_the_backward_passes_of_each_route():
    """higher_order/plot_02: torch.autograd.grad is called three times by
    functional.hvp, twice by functional.vhp, by double backward and by
    vjp(grad(f)), once by jvp(grad(f)); every route goes through it."""
    from unittest import mock

    import torch

    generator = torch.Generator().manual_seed(0)
    n = 20
    B = torch.randn(n, n, generator=generator, dtype=torch.float64)
    A = (B + B.T) / 2
    x, v = torch.randn(2, n, generator=generator, dtype=torch.float64)

    def f(x):
        return 0.5 * x @ A @ x + torch.cos(x).sum()

    def double_backward():
        x_leaf = x.detach().requires_grad_()
        (g,) = torch.autograd.grad(f(x_leaf), x_leaf, create_graph=True)
        return torch.autograd.grad(g, x_leaf, grad_outputs=v)

    routes = {
        "functional.hvp": (lambda: torch.autograd.functional.hvp(f, x, v), 3),
        "functional.vhp": (lambda: torch.autograd.functional.vhp(f, x, v), 2),
        "double backward": (double_backward, 2),
        "jvp of grad": (lambda: torch.func.jvp(torch.func.grad(f), (x,), (v,)), 1),
        "vjp of grad": (lambda: torch.func.vjp(torch.func.grad(f), x)[1](v), 2),
    }
    for name, (route, passes) in routes.items():
        with mock.patch.object(
            torch.autograd, "grad", wraps=torch.autograd.grad
        ) as grad_calls:
            route()
        assert grad_calls.call_count == passes, name
        # and each call is one entry into autograd's engine
        assert reverse_passes(route) == passes, name


def test_the_nan_page_states_that_sqrts_backward_divides_with_no_infinity():
    """in_practice/plot_08: the VJP of sqrt is grad / (2 * result), so the
    zeros that where sends back to an unselected 0 and -1 become 0 / 0 and
    0 / NaN; no operation of that backward pass makes an infinity (as
    grad * (1 / (2 * result)) would)."""
    import torch

    x = torch.tensor([-1.0, 0.0, 2.25, 4.0], dtype=torch.float64, requires_grad=True)
    loss = torch.where(x > 0, torch.sqrt(x), 0.0).sum()
    with recorded_outputs() as backward:
        torch.autograd.grad(loss, x)
    tensors = [
        (name, out) for name, out in backward.outputs if isinstance(out, torch.Tensor)
    ]
    assert not any(torch.isinf(out).any() for _, out in tensors)
    (quotient,) = [out for name, out in tensors if name == "div"]
    assert torch.isnan(quotient[:2]).all()


# -- under_the_hood/plot_02: what forward mode multiplies, and jacrev's FLOPs ---------
def memory_page_stack(depth=16, B=32, n=64):
    """The memory page's network: h_{l+1} = tanh(h_l W_l), fixed weights; x, u."""
    import torch

    generator = torch.Generator().manual_seed(0)
    x, u = (
        torch.randn(B, n, generator=generator, dtype=torch.float64) for _ in range(2)
    )
    weights = [
        torch.randn(n, n, generator=generator, dtype=torch.float64) / n**0.5
        for _ in range(depth)
    ]

    def network(h, depth):
        for weight in weights[:depth]:
            h = torch.tanh(h @ weight)
        return h

    def jvp_by_hand(h, tangent, depth):
        for weight in weights[:depth]:
            h = torch.tanh(h @ weight)
            tangent = (1 - h**2) * (tangent @ weight)
        return h.sum(), tangent.sum()

    return x, u, network, jvp_by_hand


def live_tensor_bytes():
    """A dispatch mode that follows the storages the operations return: the peak
    of their live bytes, and, of that peak, the bytes returned by matrix products
    with a broadcast (stride-0) all-zero factor, whose (strides, bytes) it lists."""
    import torch
    from torch.multiprocessing.reductions import StorageWeakRef
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    def key(tensor):
        return tensor.untyped_storage().data_ptr()

    class LiveTensorBytes(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.live, self.peak, self.zero_product_bytes_at_peak, self.zero_factors = (
                {},
                0,
                0,
                [],
            )

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            zero = [
                a
                for a in args
                if func is torch.ops.aten.mm.default and 0 in a.stride() and not a.any()
            ]
            self.zero_factors += [
                (a.stride(), a.untyped_storage().nbytes()) for a in zero
            ]
            self.live = {k: v for k, v in self.live.items() if not v[0].expired()}
            inputs = {
                key(t)
                for t in tree_leaves((args, kwargs))
                if isinstance(t, torch.Tensor)
            }
            for tensor in tree_leaves(out):
                if isinstance(tensor, torch.Tensor) and not tensor._is_zerotensor():
                    if key(tensor) not in inputs | self.live.keys():
                        storage = tensor.untyped_storage()
                        self.live[key(tensor)] = (
                            StorageWeakRef(storage),
                            storage.nbytes(),
                            bool(zero),
                        )
            total = sum(size for _, size, _ in self.live.values())
            if total > self.peak:
                self.peak = total
                self.zero_product_bytes_at_peak = sum(
                    size for _, size, z in self.live.values() if z
                )
            return out

    return LiveTensorBytes()


def test_the_memory_page_forward_mode_multiplies_by_a_broadcast_zero_tangent_per_layer():
    """under_the_hood/plot_02: torch.func.jvp and torch.autograd.forward_ad both
    compute h_l times the weight's zero tangent in every layer, the zero tangent
    materialised as one 8-byte scalar with strides (0, 0); the hand JVP has no
    such product."""
    import torch
    import torch.autograd.forward_ad as fwAD

    x, u, network, jvp_by_hand = memory_page_stack()
    for depth in (1, 4, 16):
        with live_tensor_bytes() as func_jvp:
            torch.func.jvp(lambda h: network(h, depth).sum(), (x,), (u,))
        with live_tensor_bytes() as dual_numbers, fwAD.dual_level():
            fwAD.unpack_dual(network(fwAD.make_dual(x, u), depth).sum())
        with live_tensor_bytes() as by_hand:
            jvp_by_hand(x, u, depth)
        assert (
            func_jvp.zero_factors == dual_numbers.zero_factors == [((0, 0), 8)] * depth
        )
        assert by_hand.zero_factors == []


def test_the_memory_page_jacrev_does_the_same_matrix_product_flops_for_every_chunk_size():
    """under_the_hood/plot_02: torch.func.jacrev of the wide network (16 -> 256 ->
    256 -> 256 -> 16) counts, with FlopCounterMode, the matrix-product FLOPs of
    one forward pass and m = 16 VJPs, whatever chunk_size."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    generator = torch.Generator().manual_seed(0)
    shapes = [(16, 256), (256, 256), (256, 256), (256, 16)]
    weights = [
        torch.randn(*shape, generator=generator, dtype=torch.float64)
        for shape in shapes
    ]
    sample = torch.randn(16, generator=generator, dtype=torch.float64)

    def wide_network(h):
        for weight in weights:
            h = torch.tanh(h @ weight)
        return h

    forward_flops = 2 * sum(rows * columns for rows, columns in shapes)
    for chunk_size in (16, 8, 4, 2, 1):
        with FlopCounterMode(display=False) as flops:
            torch.func.jacrev(wide_network, chunk_size=chunk_size)(sample)
        assert flops.get_total_flops() == (1 + 16) * forward_flops, chunk_size


def test_the_memory_page_cpu_mm_copies_the_broadcast_zero_tangent_into_a_dense_matrix():
    """under_the_hood/plot_02: the CPU mm kernel copies forward mode's broadcast
    zero tangent of a weight into a dense matrix (a clone inside mm), once per
    layer: n x n under func.jvp, the weight's shape under jacfwd of the wide
    network (256 x 256 for the middle two: the page finds one such float64
    matrix to be the largest block jacfwd allocates). The hand JVP copies nothing."""
    import torch

    def copies_inside_mm(run):
        with torch.profiler.profile(record_shapes=True) as profiled:
            run()
        return [
            event.input_shapes[0]
            for event in profiled.events()
            if event.name == "aten::clone"
            and event.cpu_parent is not None
            and event.cpu_parent.name == "aten::mm"
        ]

    x, u, network, jvp_by_hand = memory_page_stack()
    for depth in (1, 4):
        assert (
            copies_inside_mm(
                lambda: torch.func.jvp(lambda h: network(h, depth).sum(), (x,), (u,))
            )
            == [[64, 64]] * depth
        )
        assert copies_inside_mm(lambda: jvp_by_hand(x, u, depth)) == []

    generator = torch.Generator().manual_seed(0)
    shapes = [(16, 256), (256, 256), (256, 256), (256, 16)]
    weights = [
        torch.randn(*shape, generator=generator, dtype=torch.float64)
        for shape in shapes
    ]

    def wide_network(h):
        for weight in weights:
            h = torch.tanh(h @ weight)
        return h

    sample = torch.randn(16, generator=generator, dtype=torch.float64)
    assert copies_inside_mm(lambda: torch.func.jacfwd(wide_network)(sample)) == [
        list(shape) for shape in shapes
    ]


def test_the_memory_page_mm_has_no_kernel_for_zero_tensors():
    """under_the_hood/plot_02: mm has no ZeroTensor kernel (so the fallback
    materialises the zero factor), where add and mul have one."""
    import torch

    def has_kernel(op):
        return torch._C._dispatch_has_kernel_for_dispatch_key(op, "ZeroTensor")

    assert not has_kernel("aten::mm")
    assert has_kernel("aten::add.Tensor") and has_kernel("aten::mul.Tensor")


def test_the_parameters_page_grouped_convolution_backward_runs_a_kernel_per_group():
    """in_practice/plot_05: on a CPU in float64, the backward of a grouped
    convolution (vmap's per-sample weight gradients, groups = batch) runs its
    kernel once per group inside one aten::convolution_backward."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(0)
    for groups in (4, 32):
        images = torch.randn(
            1, groups * 8, 10, 10, generator=generator, dtype=torch.float64
        )
        weight = torch.randn(
            groups * 16,
            8,
            3,
            3,
            generator=generator,
            dtype=torch.float64,
            requires_grad=True,
        )
        output = F.conv2d(images, weight, groups=groups)
        with torch.profiler.profile() as profiled:
            torch.autograd.grad(output.sum(), weight)
        backward = [
            event
            for event in profiled.events()
            if event.name == "aten::convolution_backward"
        ]
        assert len(backward) == 1
        kernels = [
            event
            for event in profiled.events()
            if event.name == "aten::_slow_conv2d_backward"
        ]
        assert len(kernels) == groups
        assert all(
            kernel.cpu_parent.name == "aten::convolution_backward" for kernel in kernels
        )


def test_the_api_page_functional_jvp_calls_autograd_grad_twice():
    """docs/api.md, torch.autograd.functional.jvp: its two reverse passes are two
    calls of torch.autograd.grad (the page shows the backward functions each
    pass evaluates)."""
    from unittest import mock

    import torch

    x = torch.linspace(0.1, 1.0, 4, dtype=torch.float64)
    u = torch.ones(4, dtype=torch.float64)
    with mock.patch.object(
        torch.autograd, "grad", wraps=torch.autograd.grad
    ) as grad_calls:
        torch.autograd.functional.jvp(torch.sin, x, u)
    assert grad_calls.call_count == 2


def test_the_nan_page_states_that_vector_norms_backward_divides_by_the_norm():
    """in_practice/plot_08: vector_norm's backward divides x by the norm (0 / 0
    at a zero norm) and then puts 0 where the norm is 0, so its gradient at 0 is
    finite while a second backward through that division gives NaN."""
    import torch

    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    norm = torch.linalg.vector_norm(x)
    with recorded_outputs() as backward:
        (gradient,) = torch.autograd.grad(norm, x, create_graph=True)
    names = [name for name, _ in backward.outputs]
    (quotient,) = [out for name, out in backward.outputs if name == "div"]
    assert torch.isnan(quotient).all()
    assert names.index("div") < names.index("masked_fill_")
    assert torch.equal(gradient, torch.zeros(3, dtype=torch.float64))
    (second,) = torch.autograd.grad(gradient.sum(), x)
    assert torch.isnan(second).all()


def test_the_compile_page_states_that_inductor_runs_post_grad_passes_before_codegen():
    """under_the_hood/plot_03: inductor runs its post-grad passes on each graph
    after the cut, before it lowers the graph to generate code."""
    from torch._inductor import compile_fx

    source = inspect.getsource(compile_fx._InProcessFxCompile.codegen_and_compile)
    assert source.index("_recursive_post_grad_passes(") < source.index("GraphLowering(")


def test_the_compile_page_states_that_min_cut_counts_static_lifetime_inputs_as_free():
    """under_the_hood/plot_03: with treat_parameters_as_free_to_save (on by
    default), the min-cut partitioner gives the static-lifetime inputs a weight
    of 0, free to save."""
    from torch._functorch import config, partitioners

    assert config.treat_parameters_as_free_to_save
    source = inspect.getsource(partitioners)
    rule = source[source.index("config.treat_parameters_as_free_to_save") :][:200]
    assert "node in static_lifetime_input_nodes" in rule and "return 0" in rule


# -- in_practice/plot_09: vmap's limits -----------------------------------------------
def test_the_vmap_page_states_that_eager_cond_compiles_with_fullgraph():
    """in_practice/plot_09: an eager torch.cond calls _hop_compile_and_call
    (in utils.py), which runs torch.compile(..., fullgraph=True)."""
    import importlib

    from torch._higher_order_ops import utils

    # the module, which its own function cond shadows as an attribute of the package
    cond = importlib.import_module("torch._higher_order_ops.cond")
    assert "_hop_compile_and_call(_cond_op_wrapper" in inspect.getsource(cond.cond)
    helper = inspect.getsource(utils._hop_compile_and_call)
    assert "torch.compile(" in helper and "fullgraph=True" in helper


def test_the_vmap_page_states_that_conds_batching_rule_tests_whether_pred_is_batched():
    """in_practice/plot_09: cond_batch_rule decides on whether the predicate
    is a batched tensor, not on its values, and then runs both branches and
    selects with torch.where."""
    import importlib

    cond = importlib.import_module("torch._higher_order_ops.cond")
    rule = inspect.getsource(cond.cond_batch_rule)
    assert (
        "pred_is_batched = isinstance(pred, torch.Tensor) and is_batchedtensor(pred)"
        in rule
    )
    both = rule[rule.index("def fn(p, *args):") :][:200]
    assert "true_fn(*args)" in both and "false_fn(*args)" in both
    assert "torch.where(p," in both


def test_the_vmap_page_states_that_chunks_restore_only_the_cpu_generator():
    """in_practice/plot_09: with randomness="same", _chunked_vmap saves
    torch.get_rng_state() (the default CPU generator) and sets it back before
    each chunk; no other generator is saved."""
    from torch._functorch import vmap

    source = inspect.getsource(vmap._chunked_vmap)
    assert 'rs = torch.get_rng_state() if randomness == "same" else None' in source
    assert "torch.set_rng_state(rs)" in source
    assert "cuda" not in source and "Generator" not in source


def test_the_vmap_page_states_that_quantile_has_no_derivative_formula_of_its_own():
    """in_practice/plot_09: quantile is CompositeImplicitAutograd (autograd
    sees the operations it is made of), and vmap has no batching rule for it."""
    import warnings

    import torch

    assert torch._C._dispatch_has_kernel_for_dispatch_key(
        "aten::quantile.scalar", "CompositeImplicitAutograd"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.func.vmap(lambda x: torch.quantile(x, 0.5))(torch.rand(3, 4))
    assert any("aten::quantile" in str(warning.message) for warning in caught)


def test_the_ghost_norm_page_states_that_expanded_weights_fill_grad_sample_not_grad():
    """in_practice/plot_13: torch.nn.utils._per_sample_grad.call_for_per_sample_grads
    runs a module with each trainable parameter wrapped in an ExpandedWeight; the
    backward pass fills each parameter's grad_sample with one row per sample and
    leaves .grad None."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.func import functional_call, grad, vmap
    from torch.nn.utils._expanded_weights import ExpandedWeight
    from torch.nn.utils._per_sample_grad import call_for_per_sample_grads

    generator = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    samples = torch.randn(6, 4, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 3, (6,), generator=generator)
    wrapped = []
    hook = model[0].register_forward_pre_hook(
        lambda layer, args: wrapped.append(isinstance(layer.weight, ExpandedWeight))
    )
    logits = call_for_per_sample_grads(model)(samples)
    hook.remove()
    assert wrapped == [True]
    F.cross_entropy(logits, labels, reduction="sum").backward()

    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss(params, sample, label):
        out = functional_call(model, params, (sample.unsqueeze(0),))
        return F.cross_entropy(out, label.unsqueeze(0))

    rows = vmap(grad(loss), in_dims=(None, 0, 0))(params, samples, labels)
    for name, p in model.named_parameters():
        assert p.grad is None
        assert p.grad_sample.shape == (6, *p.shape)
        torch.testing.assert_close(p.grad_sample, rows[name])


def test_the_ensembles_page_states_that_functorchs_module_api_is_deprecated_but_runs():
    """in_practice/plot_12: in the pinned release functorch's make_functional,
    make_functional_with_buffers and combine_state_for_ensemble still run, each
    with a FutureWarning (deprecated as of 2.0) that names its torch.func
    replacement; make_functional's parameters are not the module's own (they
    belong to a deep copy)."""
    import warnings

    import functorch
    import torch

    model = torch.nn.Linear(3, 2)
    calls = {
        "make_functional": (model, "torch.func.functional_call"),
        "make_functional_with_buffers": (model, "torch.func.functional_call"),
        "combine_state_for_ensemble": ([model, model], "torch.func.stack_module_state"),
    }
    for name, (argument, replacement) in calls.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = getattr(functorch, name)(argument)
        messages = [str(w.message) for w in caught if w.category is FutureWarning]
        assert len(messages) == 1, (name, messages)
        assert "deprecated as of PyTorch 2.0" in messages[0], messages[0]
        assert replacement in messages[0], messages[0]
        if name == "make_functional":
            _, params = result
            own = {p.data_ptr() for p in model.parameters()}
            assert params and not own & {p.data_ptr() for p in params}


def test_the_stopping_page_states_torchs_no_grad_and_module_hook_sources():
    """in_practice/plot_11: no_grad's reference notes that it does not apply
    to forward-mode AD; grad's and vjp's say they respect a no_grad inside
    the function and not one around the call; hessian is jacfwd over jacrev;
    full backward hooks go through BackwardHookFunction, whose forward takes
    ctx (no setup_context), and only when a tensor requires grad with grad
    mode on."""
    import torch
    from torch._functorch import eager_transforms
    from torch.nn.modules._functions import BackwardHookFunction
    from torch.utils import hooks

    def words(text):
        return " ".join(text.replace("``", "").split())

    no_grad_note = "This API does not apply to :ref:`forward-mode AD"
    assert no_grad_note in words(torch.no_grad.__doc__)
    for transform in (torch.func.grad, torch.func.vjp):
        doc = words(transform.__doc__)
        assert "respect the inner torch.no_grad, but not the outer one" in doc, (
            transform
        )
    hessian_source = inspect.getsource(eager_transforms.hessian)
    assert "return jacfwd(jacrev(func, argnums), argnums)" in hessian_source
    forward = inspect.signature(BackwardHookFunction.forward)
    assert list(forward.parameters)[0] == "ctx"
    assert "setup_context" not in vars(BackwardHookFunction)
    wrap = inspect.getsource(hooks.BackwardHook._apply_on_tensors)
    early = wrap.index("if not (requires_grad and torch.is_grad_enabled()):")
    assert early < wrap.index("BackwardHookFunction.apply(")
