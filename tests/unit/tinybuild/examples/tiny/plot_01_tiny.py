r"""
A tiny example
==============

The derivative of :math:`x^2` is :math:`2x`.
"""

# %%
# A line the page shows under the code. In code a square is ``x**2``; its
# gradient comes from :func:`torch.autograd.grad`.
import matplotlib.pyplot as plt

print("printed by the tiny example")

# %%
# A figure with maths in its title.
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([0, 1, 2], [0, 1, 4])
ax.set_title(r"$f(x) = x^2$")
