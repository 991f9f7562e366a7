r"""
What the page computes, as a title
==================================

One paragraph: the question this page answers, and the answer in a sentence.
Copy this file to ``examples/<section>/plot_NN_short_name.py`` and replace
every part. The docstring is raw (``r\"\"\"``) so that TeX such as
:math:`v^\top J` keeps its backslashes.
"""

# %%
# The maths
# ---------
#
# The function, its Jacobian with shapes, what :math:`v^\top J` is, and why
# the chosen :math:`v` gives what we want:
#
# .. math::
#
#    f(x) = \sin x, \qquad J = \operatorname{diag}(\cos x) \in \mathbb{R}^{N \times N},
#    \qquad \mathbf{1}^\top J = \cos x.

# %%
# The computation
# ---------------
#
# Seeded inputs, ``dtype=torch.float64`` passed explicitly, small cells that
# each print something a reader can check.

import matplotlib.pyplot as plt
import torch

generator = torch.Generator().manual_seed(0)
x = torch.randn(100, generator=generator, dtype=torch.float64)
_, vjp_x = torch.autograd.functional.vjp(torch.sin, x, v=torch.ones_like(x))
print("v^T J:", tuple(vjp_x.shape))

# %%
# The check
# ---------
#
# A readable line, then the assertion that fails the build when the maths is
# wrong, with the tolerance and its reason.

print(f"max |v^T J - cos x| = {(vjp_x - torch.cos(x)).abs().max().item():.1e}")
# float64, the same formula evaluated by autograd and by hand: rounding only.
torch.testing.assert_close(vjp_x, torch.cos(x), rtol=1e-12, atol=1e-12)

# %%
# The picture
# -----------
#
# One figure that shows the idea; it becomes the page's thumbnail.

order = x.argsort()
fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
ax.plot(
    x[order].numpy(), torch.cos(x[order]).numpy(), color="0.7", lw=4, label=r"$\cos x$"
)
ax.plot(x.numpy(), vjp_x.numpy(), "o", ms=3, label=r"$\mathbf{1}^\top J$")
ax.legend()
plt.show()

# %%
# What to remember
# ----------------
#
# * Two or three lines.
#
# Next: a ``:ref:`` to the next page. Reference:
# :func:`torch.autograd.functional.vjp`.
