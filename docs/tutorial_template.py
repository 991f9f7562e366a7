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
# Always the first section. The function, its Jacobian with shapes, what
# :math:`v^\top J` is, and why the chosen :math:`v` gives what we want:
#
# .. math::
#
#    f(x) = \sin x, \qquad J = \operatorname{diag}(\cos x) \in \mathbb{R}^{N \times N},
#    \qquad \mathbf{1}^\top J = \cos x.
#
# A page with two derivations gives each a sub-section of this one
# (underlined with ``~``).

# %%
# Sections of the page's own
# --------------------------
#
# What the page computes, in sections named by their topic (as many as it
# needs): inputs drawn from a seeded ``torch.Generator`` passed as
# ``generator=`` (never a global seed), ``dtype=torch.float64`` passed
# explicitly, small cells that each print something a reader can check.

import matplotlib.pyplot as plt
import torch

generator = torch.Generator().manual_seed(0)
x = torch.randn(100, generator=generator, dtype=torch.float64)
_, vjp_x = torch.autograd.functional.vjp(torch.sin, x, v=torch.ones_like(x))
print("v^T J:", tuple(vjp_x.shape))
# The derivative by hand, the reference the checks compare against. The
# marker (a comment the page does not show) names the wrong derivative the
# site's tests write into the next line, to see this page's checks fail.
# sphinx_gallery_break = ("cos", "sin")
expected = torch.cos(x)

# %%
# The checks
# ----------
#
# The page's central result against the hand-derived reference ``expected``:
# a readable line, then the assertion that fails the build when the maths is
# wrong, with the tolerance and its reason. Other checks may stay in the
# sections they belong to. Sections of the page's own may follow this one.

print(f"max |v^T J - cos x| = {(vjp_x - expected).abs().max().item():.1e}")
# float64, the same formula evaluated by autograd and by hand: rounding only.
torch.testing.assert_close(vjp_x, expected, rtol=1e-12, atol=1e-12)

# %%
# The picture
# -----------
#
# The page's last figure, the one that shows the idea; it becomes the
# page's thumbnail. Figures drawn earlier stay in their sections.

order = x.argsort()
fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
ax.plot(x[order].numpy(), expected[order].numpy(), color="0.7", lw=4, label=r"$\cos x$")
ax.plot(x.numpy(), vjp_x.numpy(), "o", ms=3, label=r"$\mathbf{1}^\top J$")
ax.legend()
plt.show()

# %%
# What to remember
# ----------------
#
# The last section: two or three lines, then the link to the next page.
#
# * Two or three lines.
#
# Next: a ``:ref:`` to the next page. Reference:
# :func:`torch.autograd.functional.vjp`.
