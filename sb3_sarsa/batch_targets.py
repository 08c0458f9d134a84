"""
The targets of one gradient step of :class:`sb3_sarsa.SARSA`: the one-step SARSA or Expected SARSA target of a
sampled batch (HER's relabelled rows included), or the lambda-return of sampled sequences (SARSA(lambda)).
"""

from typing import Any, cast

import numpy as np
import torch as th

from sb3_sarsa.behaviour import SarsaBehaviour
from sb3_sarsa.bootstrap_cache import BootstrapCache
from sb3_sarsa.buffers import SarsaReplayBuffer, SarsaSequenceSamples
from sb3_sarsa.lambda_return import bootstrap_values, lambda_targets
from sb3_sarsa.targets import action_values, expected_sarsa_target, next_action_agreement, sarsa_target, sequence_mask


class SarsaTargets(SarsaBehaviour):
    """The learning half's targets, apart from the update itself (:meth:`sb3_sarsa.SARSA.train`)."""

    target: str
    target_epsilon: float | None
    td_lambda: float
    lambda_horizon: int
    #: SARSA(lambda)'s kept bootstrap values (not saved)
    _bootstrap_cache: BootstrapCache | None = None

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_bootstrap_cache"]

    @property
    def _target_policy_epsilon(self) -> float:
        """The epsilon of the policy whose value Expected SARSA's target takes: ``target_epsilon``, else the behaviour's."""
        return self.exploration_rate if self.target_epsilon is None else self.target_epsilon

    def _one_step_targets(self, replay_data: Any, measure: bool, agreements: list[float]) -> th.Tensor:
        """
        :param replay_data: a batch of transitions (:class:`sb3_sarsa.buffers.SarsaReplayBufferSamples` or the dict one)
        :param measure: whether to measure ``train/next_action_agreement`` on this batch (into ``agreements``)
        :return: the TD targets, shape ``(batch_size, 1)``
        """
        discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma

        with th.no_grad():
            next_q_values = self.q_net_target(replay_data.next_observations)
            if self._visits is not None:
                next_q_values += self._visits.bootstrap_bonus(cast(th.Tensor, replay_data.next_observations))
            relabelled = getattr(replay_data, "relabelled", None)
            redraw = self.target == "sarsa" and relabelled is not None and bool(relabelled.any())
            policy_q_values = self._online_q_values(replay_data.next_observations) if measure or redraw else None
            if self.target == "expected":
                assert policy_q_values is not None
                target_q_values = expected_sarsa_target(
                    replay_data.rewards,
                    replay_data.dones,
                    discounts,
                    next_q_values,
                    policy_q_values,
                    self._target_policy_epsilon,
                )
            else:
                next_actions = replay_data.next_actions
                if redraw:
                    assert policy_q_values is not None and relabelled is not None
                    next_actions = self._relabelled_next_actions(policy_q_values, next_actions, relabelled)
                target_q_values = sarsa_target(replay_data.rewards, replay_data.dones, discounts, next_q_values, next_actions)
            if measure and policy_q_values is not None:
                agreement = next_action_agreement(policy_q_values, replay_data.next_actions, replay_data.dones)
                if agreement is not None:
                    agreements.append(agreement)

        return target_q_values

    def _lambda_batch(self, batch_size: int, measure: bool, agreements: list[float]) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """
        :param measure: whether to measure ``train/next_action_agreement`` on the first step of each sequence (into
            ``agreements``)
        :return: the SARSA(lambda) targets of ``batch_size`` sampled sequences (:mod:`sb3_sarsa.lambda_return`),
            with their first observations and actions
        """
        buffer = cast(SarsaReplayBuffer, self.replay_buffer)
        cache = self._usable_bootstrap_cache()
        expected = self.target == "expected"
        sequences = buffer.sample_sequences(
            batch_size, self.lambda_horizon, env=self._vec_normalize_env, next_observations=cache is None or expected
        )
        with th.no_grad():
            if measure:  # the first step's s' of each sequence
                if sequences.next_observations is None:
                    first_next = buffer.next_observations_at(
                        sequences.positions[:, 0], sequences.env_indices, self._vec_normalize_env
                    )
                else:
                    first_next = sequences.next_observations[:: self.lambda_horizon]
                first = self._online_q_values(first_next)
                agreement = next_action_agreement(first, sequences.next_actions[:, :1], sequences.terminations[:, :1])
                if agreement is not None:
                    agreements.append(agreement)
            next_values = None
            if cache is not None:
                next_values = self._kept_bootstrap_values(cache, sequences)
            target_q_values = lambda_targets(
                sequences,
                self.q_net_target,
                self.gamma,
                self.td_lambda,
                self.target,
                self._online_q_values,
                self._target_policy_epsilon,
                None if self._visits is None else self._visits.bootstrap_bonus,
                next_values=next_values,
            )
        return target_q_values, sequences.observations, sequences.actions

    def _kept_bootstrap_values(self, cache: BootstrapCache, sequences: SarsaSequenceSamples) -> th.Tensor:
        """
        :return: the bootstrap value of every step of the sequences, shape ``(batch_size, horizon)``, from the
            target network's kept values: ``Q_target(s', a')``, or with Expected SARSA the kept rows
            ``Q_target(s', .)`` averaged under the epsilon-greedy policy of the online network
        """
        buffer = cast(SarsaReplayBuffer, self.replay_buffer)
        expected = self.target == "expected"
        next_actions = buffer.next_actions[..., 0]

        def compute(positions: np.ndarray, envs: np.ndarray) -> th.Tensor:
            q_values = self.q_net_target(buffer.next_observations_at(positions, envs))
            if expected:
                return q_values
            return action_values(q_values, th.as_tensor(next_actions[positions, envs], device=self.device)).reshape(-1)

        needed = sequence_mask(sequences.lengths, self.lambda_horizon).cpu().numpy()
        kept = cache.values(self._target_key(), sequences.positions, sequences.env_indices, needed, compute).to(self.device)
        if not expected:
            return kept
        return bootstrap_values(
            sequences,
            self.q_net_target,
            self.target,
            self._online_q_values,
            self._target_policy_epsilon,
            next_q_values=kept.reshape(-1, kept.shape[-1]),
        )

    def _usable_bootstrap_cache(self) -> BootstrapCache | None:
        """
        :return: the bootstrap cache, brought up to date with the buffer's writes, or ``None`` where a bootstrap
            value changes at every step (``VecNormalize``, ``optimism``)
        """
        if self._vec_normalize_env is not None or self._visits is not None:
            return None
        buffer = cast(SarsaReplayBuffer, self.replay_buffer)
        value_shape = (int(self.action_space.n),) if self.target == "expected" else ()  # type: ignore[attr-defined]
        cache = self._bootstrap_cache
        # A new or loaded buffer, or a target that keeps values of another shape
        if cache is None or cache.buffer() is not buffer or cache.value_shape != value_shape:
            cache = self._bootstrap_cache = BootstrapCache(buffer, value_shape)
        cache.forget_writes()
        return cache

    def _target_key(self) -> tuple[int, ...]:
        """
        :return: what identifies the target network's weights: the network object, how many target updates
            ``_on_step`` has made (one every ``target_update_interval // n_envs`` calls), the version counters of
            its tensors, which ``load_state_dict`` and other in-place writes outside ``polyak_update`` increase,
            and where their storage lies, which an assignment to ``param.data`` changes
        """
        interval = max(self.target_update_interval // self.n_envs, 1)
        tensors = [*self.q_net_target.parameters(), *self.q_net_target.buffers()]
        versions = sum(t._version for t in tensors)
        return (id(self.q_net_target), interval, self._n_calls // interval, versions, *(t.data_ptr() for t in tensors))
