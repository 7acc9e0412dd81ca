"""The sweep kernel's row stage: what it hoists, and that nothing changes."""

import jax
import jax.numpy as jnp
import numpy as np

from acajax import bounds
from acajax.sweep import _stages


def _block(shared, rows, cols):
  alpha, total = rows
  eps, xi = cols
  return bounds.feature_label(alpha, alpha_total=total, beta=0.0, xi_c=shared, xi=xi,
                              delta=0.5, eps=eps)


def _example(group=6, lanes=4):
  rng = np.random.default_rng(0)
  alpha = jnp.asarray(rng.uniform(-0.05, 0.4, (group, 1)), jnp.float32)
  total = alpha + jnp.asarray(rng.uniform(0.0, 0.7, (group, 1)), jnp.float32)
  eps = jnp.asarray(rng.uniform(-0.1, 0.6, (1, lanes)), jnp.float32)
  xi = jnp.asarray(rng.uniform(0.0, 1.0, (1, lanes)), jnp.float32)
  return jnp.float32(0.01), (alpha, total), (eps, xi)


def _staged(shared, rows, cols):
  return _stages.Staged(_block, shared, rows, cols, max_rows=rows[0].size)


def test_split_evaluation_equals_the_block_bit_for_bit():
  shared, rows, cols = _example()
  staged = _staged(shared, rows, cols)
  memo = staged.rows(shared, rows)
  got = np.asarray(staged.points(shared, rows, cols, memo))
  want = np.asarray(_block(shared, rows, cols))
  np.testing.assert_array_equal(got, want)
  assert np.isnan(want).any() and not np.isnan(want).all()


def test_row_stage_holds_row_only_values_no_larger_than_the_rows():
  shared, rows, cols = _example()
  staged = _staged(shared, rows, cols)
  row_memo = staged.rows(shared, rows)
  # Each value is at most the row vector's size (constants count as known).
  assert row_memo and max(v.size for v in row_memo.values()) <= 6
  # (1 - abar) / alpha reads the masses only: the row stage computes it.
  alpha, total = rows
  want = np.asarray((1 - total) / jnp.where(alpha > 0, alpha, 0.5))
  assert any(np.array_equal(np.asarray(v), want) for v in row_memo.values())
  # Nothing of the block's shape (reading both sides) is hoisted.
  assert all(v.shape != (6, 4) for v in row_memo.values())


def test_points_under_jit_in_a_loop_with_the_row_stage_outside():
  shared, rows, cols = _example(group=5, lanes=3)

  @jax.jit
  def run(shared, rows, cols):
    staged = _staged(shared, rows, cols)
    memo = staged.rows(shared, rows)
    return jax.lax.fori_loop(0, 2, lambda i, acc: acc + staged.points(shared, rows, cols, memo),
                             jnp.zeros((5, 3), jnp.float32))

  np.testing.assert_array_equal(np.asarray(run(shared, rows, cols)),
                                2 * np.asarray(_block(shared, rows, cols)))
