"""What the pages say about torch's own source, checked against the
installed torch (the pinned release): claims a page states with a link to
the source, where running the page shows the behaviour but not that torch
itself is written that way."""

import inspect

from torch._dynamo.backends import debugging


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
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    on_path, to_visit = set(), ["vjp"]
    while to_visit:
        name = to_visit.pop()
        if name not in on_path:
            on_path.add(name)
            calls = (n.func.id for n in ast.walk(functions[name]) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name))
            to_visit += [callee for callee in calls if callee in functions]
    raises = {name: sum(isinstance(n, ast.Raise) for n in ast.walk(functions[name])) for name in on_path}
    assert {name: count for name, count in raises.items() if count} == {
        "vjp": 1, "_as_tuple": 2, "_validate_v": 3, "_check_requires_grad": 6, "_fill_in_zeros": 7,
        "_autograd_grad": 3, "_tuple_postprocess": 1,
    }


def test_the_compile_page_states_that_inductor_runs_pre_grad_passes_first():
    """under_the_hood/plot_03: inductor runs pre-grad passes on Dynamo's graph
    before AOTAutograd traces it, so its joint graph can differ."""
    from torch._inductor import compile_fx

    assert "pre_grad_passes=run_pre_grad_passes" in inspect.getsource(compile_fx)
