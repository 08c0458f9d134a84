"""
The bootstrap values of SARSA(lambda), kept between gradient steps while they cannot change.

SARSA(lambda)'s target (:mod:`sb3_sarsa.lambda_return`) bootstraps from ``Q_target(s', a')`` at every step of
every sampled sequence: ``lambda_horizon`` times the rows of a one-step target. With SARSA's target, that value
depends only on the stored step and on the target network, which changes once every ``target_update_interval``
env steps; in between, sequences overlap and revisit the same steps many times. :class:`BootstrapCache` keeps
the value of every stored step it has computed, and computes only the steps it lacks, so a gradient step runs
the target network on the rows that are new since the last target update instead of on all of them. The targets
are the same as without it (up to float rounding: a matrix product of fewer rows may round differently).

Expected SARSA's bootstrap ``sum_a pi(a|s') Q_target(s', a)`` also depends on the online network, whose greedy
action changes at every gradient step: there the cache keeps the row ``Q_target(s', .)`` of every stored step,
and only the online network runs on every step of every sequence.

A kept value is dropped when its step is overwritten (:meth:`sb3_sarsa.buffers.NextActionStorage.added` counts
the writes) and all are dropped when the target network's key changes (:meth:`BootstrapCache.values`). Values
that also depend on observation statistics or on visit counts (``VecNormalize``, ``optimism``) change at every
step: for those, SARSA does not use the cache.
"""

import weakref
from collections.abc import Callable, Hashable

import numpy as np
import torch as th

from sb3_sarsa.buffers import NextActionStorage


class BootstrapCache:
    """
    ``Q_target(s', a')`` (or the row ``Q_target(s', .)``) of the steps stored in one replay buffer, per position
    and env, valid while the key and the step stay.

    :param buffer: the replay buffer (held by a weak reference: a buffer that replaces it needs a new cache)
    :param value_shape: the shape of one step's value: ``()`` for ``Q_target(s', a')``, ``(n_actions,)`` for the row
    """

    def __init__(self, buffer: NextActionStorage, value_shape: tuple[int, ...] = ()) -> None:
        self.buffer = weakref.ref(buffer)
        self.value_shape = value_shape
        self.kept = np.zeros((buffer.buffer_size, buffer.n_envs, *value_shape), dtype=np.float32)
        self.valid = np.zeros((buffer.buffer_size, buffer.n_envs), dtype=bool)
        self.key: Hashable = None
        self.added = buffer.added()
        #: Steps looked up and steps computed, since the cache was made (how much it saves)
        self.looked_up = 0
        self.computed = 0

    def forget_writes(self) -> None:
        """Drop the values of the steps the buffer has written since the last call (or since the cache was made)."""
        buffer = self.buffer()
        assert buffer is not None, "the cache's replay buffer is gone: make a new cache"
        added, pos = buffer.added(), buffer.pos
        new, buffer_size = added - self.added, self.kept.shape[0]
        if new < 0 or new >= buffer_size - 1:  # every position rewritten (or a count that went back)
            self.valid[:] = False
        elif new > 0:
            # The written positions, and the one before them: with optimize_memory_usage, a write at
            # position p also sets the next observation of p - 1.
            self.valid[np.arange(pos - new - 1, pos) % buffer_size] = False
        self.added = added

    def values(
        self,
        key: Hashable,
        positions: np.ndarray,
        env_indices: np.ndarray,
        needed: np.ndarray,
        compute: Callable[[np.ndarray, np.ndarray], th.Tensor],
    ) -> th.Tensor:
        """
        :param key: what the values depend on besides the stored step (the target network and its version); a new
            key drops every kept value
        :param positions: buffer positions, shape ``(batch_size, horizon)``
        :param env_indices: the env of each row, shape ``(batch_size,)``
        :param needed: which steps the caller reads, shape ``(batch_size, horizon)``; the others are left as kept
            (finite, but possibly stale or of another episode: weigh them by 0)
        :param compute: ``(positions, envs) -> values`` of the steps that are not kept, shape ``(n, *value_shape)``
        :return: the values, shape ``(batch_size, horizon, *value_shape)``
        """
        if key != self.key:
            self.valid[:] = False
            self.key = key
        envs = np.broadcast_to(env_indices[:, None], positions.shape)
        missing = needed & ~self.valid[positions, envs]
        self.looked_up += int(needed.sum())
        if missing.any():
            rows, row_envs = positions[missing], envs[missing]
            self.kept[rows, row_envs] = compute(rows, row_envs).cpu().numpy()
            self.valid[rows, row_envs] = True
            self.computed += len(rows)
        return th.as_tensor(self.kept[positions, envs])
