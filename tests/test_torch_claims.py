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
