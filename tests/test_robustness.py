"""Bad files, bad rewards and non-finite losses: each stops with an error or warning that names the problem."""

import pathlib
import pickle
import re
import warnings
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3 import DQN

from sb3_sarsa import SARSA
from tests.helpers import CounterEnv

SMALL = dict(learning_starts=20, buffer_size=500, batch_size=8, train_freq=4, seed=0, policy_kwargs=dict(net_arch=[16]))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("saved") / "model.zip"
    SARSA("MlpPolicy", "CartPole-v1", **SMALL).learn(100).save(path)  # type: ignore[arg-type]
    return path


def test_missing_file_names_both_candidates(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"No saved file at '.*nothing' \(nor '.*nothing\.zip'\)"):
        SARSA.load(tmp_path / "nothing")
    model = SARSA("MlpPolicy", "CartPole-v1", **SMALL)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match=r"nothing\.pkl"):
        model.load_replay_buffer(tmp_path / "nothing")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_zip(saved: pathlib.Path, tmp_path: pathlib.Path, keep: float) -> None:
    data = saved.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: int(len(data) * keep)])
    message = r"cut\.zip is not a (readable|complete) SB3 model file \(truncated or corrupted\?\)"
    with pytest.raises(ValueError, match=message):
        SARSA.load(cut)


def test_corrupted_member_fails_its_crc(saved: pathlib.Path, tmp_path: pathlib.Path) -> None:
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("policy.pth")
    data = bytearray(saved.read_bytes())
    # Flip one byte inside policy.pth's data (stored or deflated alike, the CRC no longer matches).
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(
        ValueError, match=r"bad\.zip (is corrupted: member 'policy\.pth' fails its CRC check|is not a readable)"
    ):
        SARSA.load(bad)


def test_zip_missing_a_member(saved: pathlib.Path, tmp_path: pathlib.Path) -> None:
    partial = tmp_path / "partial.zip"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(partial, "w") as target:
        for item in source.infolist():
            if item.filename != "policy.pth":
                target.writestr(item, source.read(item))
    with pytest.raises(
        ValueError, match=r"partial\.zip is not a complete SB3 model file \(truncated or corrupted\?\): policy\.pth missing"
    ):
        SARSA.load(partial)


def test_file_that_is_not_a_zip(tmp_path: pathlib.Path) -> None:
    text = tmp_path / "notes.zip"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable SB3 model file"):
        SARSA.load(text)


def test_dqn_file_is_refused(tmp_path: pathlib.Path) -> None:
    DQN("MlpPolicy", "CartPole-v1").save(tmp_path / "dqn")
    with pytest.raises(ValueError, match=r"was not saved by sb3-sarsa \(its policy comes from stable_baselines3"):
        SARSA.load(tmp_path / "dqn")


def test_newer_format_is_refused(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = SARSA("MlpPolicy", "CartPole-v1", **SMALL)  # type: ignore[arg-type]
    monkeypatch.setattr(SARSA, "SAVE_FORMAT_VERSION", 99)
    model.save(tmp_path / "future")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"newer sb3-sarsa \(file format 99, this version reads up to 1\)"):
        SARSA.load(tmp_path / "future")


def test_env_with_other_spaces(saved: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="Observation spaces do not match"):
        SARSA.load(saved, env=gym.make("Acrobot-v1"))


def test_replay_buffer_without_next_actions_keeps_the_current_buffer(tmp_path: pathlib.Path) -> None:
    dqn = DQN("MlpPolicy", "CartPole-v1", learning_starts=10, buffer_size=500).learn(50)
    dqn.save_replay_buffer(tmp_path / "dqn_buffer")
    model = SARSA("MlpPolicy", "CartPole-v1", **SMALL).learn(50)  # type: ignore[arg-type]
    before = model.replay_buffer
    with pytest.raises(ValueError, match=r"it is a ReplayBuffer, which stores no next actions"):
        model.load_replay_buffer(tmp_path / "dqn_buffer")
    assert model.replay_buffer is before


def test_replay_buffer_of_another_env(tmp_path: pathlib.Path) -> None:
    SARSA("MlpPolicy", "Acrobot-v1", **SMALL).learn(50).save_replay_buffer(tmp_path / "acrobot")  # type: ignore[arg-type]
    model = SARSA("MlpPolicy", "CartPole-v1", **SMALL)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"its spaces .* differ from the model's"):
        model.load_replay_buffer(tmp_path / "acrobot")


def test_a_pickle_that_is_not_a_buffer(tmp_path: pathlib.Path) -> None:
    (tmp_path / "junk.pkl").write_bytes(pickle.dumps({"not": "a buffer"}))
    model = SARSA("MlpPolicy", "CartPole-v1", **SMALL)  # type: ignore[arg-type]
    with pytest.raises((ValueError, AssertionError), match=r"stores no next actions|ReplayBuffer"):
        model.load_replay_buffer(tmp_path / "junk.pkl")


class NegativeRewards(CounterEnv):
    def step(self, action: object) -> tuple:
        obs, _, terminated, truncated, info = super().step(action)
        return obs, -1.0, terminated, truncated, info


def test_softplus_head_warns_once_on_a_negative_reward() -> None:
    env = gym.wrappers.TimeLimit(NegativeRewards(), 50)
    model = SARSA("MlpPolicy", env, **{**SMALL, "policy_kwargs": dict(softplus_head=True)})  # type: ignore[arg-type]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.learn(60)
    messages = [str(w.message) for w in caught if "softplus_head" in str(w.message)]
    assert len(messages) == 1
    assert "gave a negative reward (-1.0)" in messages[0] and "Q-value above 0" in messages[0]
    assert messages[0].startswith("softplus_head=True but NegativeRewards")


def test_softplus_head_warning_names_a_registered_env() -> None:
    model = SARSA("MlpPolicy", "Acrobot-v1", **{**SMALL, "policy_kwargs": dict(softplus_head=True)})  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match=r"softplus_head=True but Acrobot-v1 gave a negative reward"):
        model.learn(30)


def test_no_warning_without_softplus_head_or_negative_rewards() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        SARSA("MlpPolicy", "Acrobot-v1", **SMALL).learn(30)  # type: ignore[arg-type]
        SARSA("MlpPolicy", "CartPole-v1", **{**SMALL, "policy_kwargs": dict(softplus_head=True)}).learn(30)  # type: ignore[arg-type]


class ExplodingRewards(CounterEnv):
    """Finite rewards until step 30 of the run, then inf (as the tutorial's Q-values once became)."""

    calls = 0

    def step(self, action: object) -> tuple:
        obs, _, terminated, truncated, info = super().step(action)
        ExplodingRewards.calls += 1
        return obs, (float("inf") if ExplodingRewards.calls > 30 else 1.0), terminated, truncated, info


def test_non_finite_loss_stops_training_before_the_update() -> None:
    ExplodingRewards.calls = 0
    model = SARSA("MlpPolicy", ExplodingRewards(), **{**SMALL, "buffer_size": 40, "batch_size": 32})  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match=r"Non-finite value at gradient update (\d+): loss=(inf|nan)") as error:
        model.learn(200)
    message = str(error.value)
    assert "The last finite loss was" in message and "targets finite: False" in message
    update = int(message.split("gradient update ")[1].split(":")[0])
    assert model._n_updates == update - 1  # the failing update was not counted
    last = re.search(r"The last finite loss was ([-+.e0-9]+)\. ", message)
    assert last is not None and np.isfinite(float(last.group(1)))
    with th.no_grad():
        assert all(th.isfinite(p).all() for p in model.policy.parameters())
