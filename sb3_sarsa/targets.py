"""
TD targets for SARSA and Expected SARSA, as small pure functions.

All functions take batched tensors with a leading batch dimension and return a tensor of
shape ``(batch_size, 1)``, the layout used by Stable-Baselines3's replay buffer samples.
They do not touch any network: the caller computes the Q-values and passes them in, so the
math can be checked against hand-computed numbers.
"""

import math

import torch as th
from torch.nn import functional as F

#: Names accepted by the ``target`` parameter of :class:`sb3_sarsa.SARSA`.
TARGETS = ("sarsa", "expected")
#: Names accepted by the ``loss`` parameter of :class:`sb3_sarsa.SARSA`.
LOSSES = ("huber", "mse")


def check_target(target: str) -> str:
    """
    Validate the name of a TD target.

    :param target: ``"sarsa"`` or ``"expected"``
    :return: the same name
    :raises ValueError: if the name is not one of :data:`TARGETS`
    """
    if target not in TARGETS:
        raise ValueError(f"Unknown target {target!r}: valid targets are {', '.join(repr(t) for t in TARGETS)}.")
    return target


def check_loss(loss: str) -> str:
    """
    Validate the name of a TD loss.

    :param loss: ``"huber"`` or ``"mse"``
    :return: the same name
    :raises ValueError: if the name is not one of :data:`LOSSES`
    """
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}: valid losses are {', '.join(repr(name) for name in LOSSES)}.")
    return loss


def td_loss(q_values: th.Tensor, target_q_values: th.Tensor, loss: str) -> th.Tensor:
    """
    Mean TD loss of a batch.

    ``"mse"`` is minimised by the mean of the targets, which is what a sampled SARSA target
    estimates. ``"huber"`` (DQN's ``smooth_l1_loss``) clips the gradient of errors beyond 1,
    so with noisy targets its minimum moves towards their median: faster to stabilise, biased.

    :param q_values: Q-values of the actions taken, shape ``(batch_size, 1)``
    :param target_q_values: TD targets, same shape
    :param loss: ``"huber"`` or ``"mse"``
    :return: scalar loss
    """
    if check_loss(loss) == "mse":
        return F.mse_loss(q_values, target_q_values)
    return F.smooth_l1_loss(q_values, target_q_values)


def greedy_actions(q_values: th.Tensor) -> th.Tensor:
    """
    Greedy actions, with ties broken towards the lowest action index.

    This is the rule used for action selection (``argmax`` returns the first maximum),
    so the Expected SARSA target and the behaviour policy agree on ties.

    :param q_values: Q-values, shape ``(batch_size, n_actions)``
    :return: greedy action indices, shape ``(batch_size,)``
    """
    return q_values.argmax(dim=1)


def epsilon_greedy_probs(q_values: th.Tensor, epsilon: float) -> th.Tensor:
    """
    Action probabilities of the epsilon-greedy policy.

    Each action gets ``epsilon / n_actions``; the greedy action (see :func:`greedy_actions`)
    gets ``1 - epsilon`` on top.

    :param q_values: Q-values that define the greedy action, shape ``(batch_size, n_actions)``
    :param epsilon: probability of a uniformly random action, in ``[0, 1]``
    :return: probabilities, shape ``(batch_size, n_actions)``, each row sums to one
    """
    n_actions = q_values.shape[1]
    probs = th.full_like(q_values, epsilon / n_actions)
    greedy = greedy_actions(q_values).unsqueeze(1)
    return probs.scatter_add(1, greedy, th.full_like(greedy, 1.0 - epsilon, dtype=q_values.dtype))


def epsilon_greedy_actions(q_values: th.Tensor, epsilon: float, coins: th.Tensor, random_actions: th.Tensor) -> th.Tensor:
    """
    Actions of the epsilon-greedy policy, from given random numbers (so tests can fix them).

    :param q_values: Q-values that define the greedy action, shape ``(batch_size, n_actions)``
    :param epsilon: probability of a uniformly random action
    :param coins: uniform numbers in ``[0, 1)``, shape ``(batch_size,)``: a row explores where its coin is below ``epsilon``
    :param random_actions: the action of each row that explores, shape ``(batch_size,)``
    :return: actions, shape ``(batch_size, 1)``
    """
    actions = th.where(coins < epsilon, random_actions.long(), greedy_actions(q_values))
    return actions.reshape(-1, 1)


def relabelled_next_actions(next_actions: th.Tensor, relabelled: th.Tensor, policy_next_actions: th.Tensor) -> th.Tensor:
    """
    The ``a'`` that SARSA's target bootstraps from when HER relabels goals.

    A stored ``a'`` was drawn by the epsilon-greedy policy for the goal of its episode. For a row whose
    goal HER replaced, the on-policy ``a'`` is the one the current epsilon-greedy policy would draw for
    the *new* goal at ``s'``: those rows take ``policy_next_actions``; real rows keep the stored ``a'``.

    :param next_actions: stored next actions, shape ``(batch_size, 1)``
    :param relabelled: ``True`` where the row's goal was relabelled, shape ``(batch_size, 1)``
    :param policy_next_actions: actions of the current epsilon-greedy policy at ``s'`` (with the row's
        goal), shape ``(batch_size, 1)``, e.g. from :func:`epsilon_greedy_actions`
    :return: next actions, shape ``(batch_size, 1)``
    """
    return th.where(relabelled.bool(), policy_next_actions.long(), next_actions.long())


def action_values(q_values: th.Tensor, actions: th.Tensor) -> th.Tensor:
    """
    :param q_values: Q-values, shape ``(batch_size, n_actions)``
    :param actions: one action per row (any shape with ``batch_size`` elements), integer
    :return: ``Q(s, a)`` of each row's action, shape ``(batch_size, 1)``
    """
    return th.gather(q_values, dim=1, index=actions.reshape(-1, 1).long())


def sarsa_target(
    rewards: th.Tensor,
    dones: th.Tensor,
    discounts: th.Tensor | float,
    next_q_values: th.Tensor,
    next_actions: th.Tensor,
) -> th.Tensor:
    """
    SARSA target ``r + discount * Q(s', a') * (1 - done)`` with the stored next action ``a'``.

    :param rewards: (n-step discounted) rewards, shape ``(batch_size, 1)``
    :param dones: 1.0 where the episode terminated (not truncated), shape ``(batch_size, 1)``
    :param discounts: ``gamma`` or, for n-step returns, ``gamma ** k`` per sample, shape ``(batch_size, 1)``
    :param next_q_values: Q-values at ``s'`` (usually from the target network), shape ``(batch_size, n_actions)``
    :param next_actions: the action ``a'`` executed at ``s'``, shape ``(batch_size, 1)``, integer
    :return: TD targets, shape ``(batch_size, 1)``
    """
    return rewards + (1.0 - dones) * discounts * action_values(next_q_values, next_actions)


def expected_values(next_q_values: th.Tensor, policy_q_values: th.Tensor, epsilon: float) -> th.Tensor:
    """
    ``sum_a pi(a|s') Q(s', a)``, ``pi`` epsilon-greedy in ``policy_q_values``: the value Expected SARSA bootstraps from.

    :param next_q_values: Q-values at ``s'`` to average, shape ``(batch_size, n_actions)``
    :param policy_q_values: Q-values at ``s'`` that define the greedy action, shape ``(batch_size, n_actions)``
    :param epsilon: exploration rate of the epsilon-greedy policy
    :return: the expected values, shape ``(batch_size, 1)``
    """
    return (epsilon_greedy_probs(policy_q_values, epsilon) * next_q_values).sum(dim=1, keepdim=True)


def expected_sarsa_target(
    rewards: th.Tensor,
    dones: th.Tensor,
    discounts: th.Tensor | float,
    next_q_values: th.Tensor,
    policy_q_values: th.Tensor,
    epsilon: float,
) -> th.Tensor:
    """
    Expected SARSA target ``r + discount * sum_a pi(a|s') Q(s', a) * (1 - done)``.

    ``pi`` is the epsilon-greedy policy whose greedy action is the argmax of ``policy_q_values``
    (the online network, i.e. the policy that acts), and the values come from ``next_q_values``
    (usually the target network).

    :param rewards: (n-step discounted) rewards, shape ``(batch_size, 1)``
    :param dones: 1.0 where the episode terminated (not truncated), shape ``(batch_size, 1)``
    :param discounts: ``gamma`` or ``gamma ** k`` per sample, shape ``(batch_size, 1)``
    :param next_q_values: Q-values at ``s'`` to average, shape ``(batch_size, n_actions)``
    :param policy_q_values: Q-values at ``s'`` that define the greedy action, shape ``(batch_size, n_actions)``
    :param epsilon: exploration rate of the epsilon-greedy policy
    :return: TD targets, shape ``(batch_size, 1)``
    """
    return rewards + (1.0 - dones) * discounts * expected_values(next_q_values, policy_q_values, epsilon)


def sequence_mask(lengths: th.Tensor, horizon: int) -> th.Tensor:
    """
    :param lengths: steps of each sequence, in ``[1, horizon]``, shape ``(batch_size,)``
    :param horizon: the steps sampled per sequence
    :return: ``True`` at the steps that belong to their sequence (step ``j < lengths[i]``), shape ``(batch_size, horizon)``
    """
    return th.arange(horizon, device=lengths.device) < lengths.reshape(-1, 1)


def lambda_returns(
    rewards: th.Tensor,
    next_values: th.Tensor,
    terminations: th.Tensor,
    lengths: th.Tensor,
    gamma: float,
    td_lambda: float,
) -> th.Tensor:
    """
    Truncated lambda-return of each sequence (Sutton & Barto, 2018, section 12.3), the target of SARSA(lambda).

    With ``k`` the last step of a sequence of length ``lengths[i]``, the recursion runs backwards:
    ``G_k = r_k + gamma * (1 - term_k) * V_k`` and, for ``j < k``,
    ``G_j = r_j + gamma * (1 - term_j) * ((1 - lambda) * V_j + lambda * G_{j+1})``, where ``V_j`` is the value
    bootstrapped from the step's next state (``Q_target(s_{j+1}, a_{j+1})`` with the stored next action, or the
    epsilon-greedy expectation). A sequence ends at its episode's end (a termination zeroes the bootstrap, a
    truncation bootstraps from the terminal observation), at the newest stored step, or at the horizon.
    ``td_lambda=0`` gives the one-step target; ``td_lambda=1`` over a whole terminated episode, its return.

    :param rewards: rewards of each step, shape ``(batch_size, horizon)``
    :param next_values: ``V_j``, shape ``(batch_size, horizon)``
    :param terminations: 1.0 where the step terminated its episode (not truncated), shape ``(batch_size, horizon)``
    :param lengths: steps of each sequence, in ``[1, horizon]``, shape ``(batch_size,)``; later steps are ignored
    :param gamma: discount factor
    :param td_lambda: lambda, in ``[0, 1]``
    :return: ``G_0`` of each sequence, shape ``(batch_size, 1)``
    """
    # Unrolled: G_0 = sum_{j <= k} w_j * (r_j + gamma * (1 - term_j) * u_j * V_j), with w_0 = 1,
    # w_{j+1} = w_j * gamma * lambda * (1 - term_j), u_j = 1 - lambda before the last step and 1 at it.
    lengths = lengths.to(rewards.device)
    steps = th.arange(rewards.shape[1], device=rewards.device)
    discounts = gamma * (1.0 - terminations)
    weights = th.nn.functional.pad(td_lambda * discounts[:, :-1], (1, 0), value=1.0).cumprod(dim=1)
    weights = weights * sequence_mask(lengths, rewards.shape[1])
    tails = th.where(steps == lengths.reshape(-1, 1).long() - 1, 1.0, 1.0 - td_lambda)
    return (weights * (rewards + discounts * tails * next_values)).sum(dim=1, keepdim=True)


def next_action_agreement(policy_q_values: th.Tensor, next_actions: th.Tensor, dones: th.Tensor) -> float | None:
    """
    Share of stored next actions that equal the current greedy action at ``s'``.

    Replayed ``a'`` were drawn by older, more exploratory policies; this measures how stale
    they are. Only transitions whose target uses ``a'`` (not terminated) count.

    :param policy_q_values: Q-values of the acting network at ``s'``, shape ``(batch_size, n_actions)``
    :param next_actions: stored next actions, shape ``(batch_size, 1)``
    :param dones: 1.0 where the episode terminated, shape ``(batch_size, 1)``
    :return: the share in ``[0, 1]``, or ``None`` if every transition terminated
    """
    used = dones.reshape(-1) == 0
    if not used.any():
        return None
    agree = greedy_actions(policy_q_values) == next_actions.reshape(-1).long()
    return agree[used].float().mean().item()


def check_finite(
    loss_value: float, q_values: th.Tensor, target_q_values: th.Tensor, update: int, last_finite_loss: float | None
) -> None:
    """
    Stop before a non-finite loss reaches the parameters.

    :param loss_value: the batch's loss
    :param q_values: the batch's Q-values
    :param target_q_values: the batch's TD targets
    :param update: the number of this gradient update (from 1)
    :param last_finite_loss: the loss of the last update that was finite, for the message
    :raises RuntimeError: naming what is not finite, if anything is not
    """
    if math.isfinite(loss_value) and th.isfinite(q_values).all() and th.isfinite(target_q_values).all():
        return
    raise RuntimeError(
        f"Non-finite value at gradient update {update}: loss={loss_value}, "
        f"Q-values finite: {bool(th.isfinite(q_values).all())}, "
        f"targets finite: {bool(th.isfinite(target_q_values).all())}. "
        f"The last finite loss was {last_finite_loss}. The parameters were not updated with it; "
        "try a lower learning_rate, a smaller max_grad_norm or scaled rewards."
    )
