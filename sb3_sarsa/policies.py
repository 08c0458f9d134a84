"""
Q-network policies for SARSA: SB3's DQN policies with an optional softplus head and an optional
dueling head.

With ``softplus_head=True`` the Q-network ends in ``softplus(x) = log(1 + exp(x))``, so every
Q-value is positive. That is right when no reward is negative (CartPole: +1 a step), as in the
tutorial this package comes from; it is wrong, and off by default, where rewards can be negative.

With ``dueling=True`` the last layer is split into a state value and per-action advantages
(Wang et al. 2016, "Dueling Network Architectures for Deep Reinforcement Learning"):
``Q(s, a) = V(s) + A(s, a) - mean_b A(s, b)``. The Q-values are still those SARSA learns; only how
the network represents them changes. Off by default, as in SB3's DQN.
"""

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
    create_mlp,
)
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch import nn
from torch.optim import Adam, Optimizer


class DuelingLayer(nn.Module):
    """
    The last layer of a dueling Q-network: ``Q = V + A - mean(A)`` from two linear heads.

    :param in_features: Size of the hidden layer it reads
    :param n_actions: Number of actions
    """

    def __init__(self, in_features: int, n_actions: int) -> None:
        super().__init__()
        self.value = nn.Linear(in_features, 1)
        self.advantage = nn.Linear(in_features, n_actions)

    def forward(self, hidden: th.Tensor) -> th.Tensor:
        advantage = self.advantage(hidden)
        return self.value(hidden) + advantage - advantage.mean(dim=-1, keepdim=True)


class SarsaQNetwork(QNetwork):
    """
    Action-value network; with ``softplus_head=True`` its outputs pass through a softplus.

    :param softplus_head: Whether Q-values are made non-negative by a final softplus
    :param dueling: Whether the last layer is a :class:`DuelingLayer` (the hidden layers, ``net_arch``,
        are shared by the value and the advantages)
    :param kwargs: the arguments of :class:`stable_baselines3.dqn.policies.QNetwork`
    """

    def __init__(self, *args: Any, softplus_head: bool = False, dueling: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.softplus_head = softplus_head
        self.dueling = dueling
        if dueling:
            hidden = create_mlp(self.features_dim, 0, self.net_arch, self.activation_fn)
            last = self.net_arch[-1] if self.net_arch else self.features_dim
            self.q_net = nn.Sequential(*hidden, DuelingLayer(last, int(self.action_space.n)))
        if softplus_head:
            # Softplus has no parameters: the state dict keys stay those of DQN's QNetwork.
            self.q_net.append(nn.Softplus())

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["softplus_head"] = self.softplus_head
        data["dueling"] = self.dueling
        return data


class SarsaPolicy(DQNPolicy):
    """
    Policy class with a Q-network and a target Q-network for SARSA.

    :param observation_space: Observation space
    :param action_space: Action space
    :param lr_schedule: Learning rate schedule (could be constant)
    :param net_arch: The sizes of the hidden layers of the Q-network
    :param activation_fn: Activation function
    :param features_extractor_class: Features extractor to use.
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor.
    :param normalize_images: Whether to normalize images or not, dividing by 255.0 (True by default)
    :param optimizer_class: The optimizer to use, ``th.optim.Adam`` by default
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate, to pass to the optimizer
    :param softplus_head: Whether the Q-network ends in a softplus, making every Q-value
        non-negative. Only correct when no reward is negative. Off by default.
    :param dueling: Whether the Q-network's last layer is split into a state value and advantages
        (:class:`DuelingLayer`). Off by default.
    """

    q_net: SarsaQNetwork
    q_net_target: SarsaQNetwork

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[Optimizer] = Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        softplus_head: bool = False,
        dueling: bool = False,
    ) -> None:
        # Read by make_q_net(), which DQNPolicy.__init__ calls.
        self.softplus_head = softplus_head
        self.dueling = dueling
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=net_arch,
            activation_fn=activation_fn,
            features_extractor_class=features_extractor_class,
            features_extractor_kwargs=features_extractor_kwargs,
            normalize_images=normalize_images,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
        )

    def make_q_net(self) -> SarsaQNetwork:
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return SarsaQNetwork(**net_args, softplus_head=self.softplus_head, dueling=self.dueling).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["softplus_head"] = self.softplus_head
        data["dueling"] = self.dueling
        return data


MlpPolicy = SarsaPolicy


class CnnPolicy(SarsaPolicy):
    """
    SARSA policy for image observations: :class:`SarsaPolicy` with the Nature CNN features extractor.

    :param kwargs: the arguments of :class:`SarsaPolicy`
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            observation_space, action_space, lr_schedule, features_extractor_class=features_extractor_class, **kwargs
        )


class MultiInputPolicy(SarsaPolicy):
    """
    SARSA policy for dict observations: :class:`SarsaPolicy` with the combined features extractor.

    :param kwargs: the arguments of :class:`SarsaPolicy`
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            observation_space, action_space, lr_schedule, features_extractor_class=features_extractor_class, **kwargs
        )
