"""
rl-zoo3 commands, run as subprocesses in the environment where sb3-sarsa is installed.

These tests need the package installed (``pip install ".[tests]"``, as README.md says, or
``pip install -e .``): the start-up hook lives in site-packages, not in the source tree. They
run in a temporary folder so that the installed package, not the checkout, is imported.
"""

import importlib.metadata
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
from typing import Any

import numpy as np
import optuna
import pytest
import yaml

from sb3_sarsa import zoo
from sb3_sarsa._zoo_hook import ENV_VAR
from sb3_sarsa.hyperparameters import LinearToZero, load_config, parse_learning_rate

BIN = pathlib.Path(sys.executable).parent
STARTUP_FILES = ("_sb3_sarsa_zoo_hook.py", "sb3_sarsa_zoo.pth", "sb3_sarsa_zoo.start")
ALGO_ENV = ["--algo", "sarsa", "--env", "CartPole-v1"]
PURELIB = sysconfig.get_paths()["purelib"]


def installed_files() -> list[pathlib.Path]:
    """The files pip recorded for sb3-sarsa in site-packages (not the checkout's egg-info)."""
    found = list(importlib.metadata.distributions(name="sb3-sarsa", path=[PURELIB]))
    if not found:
        pytest.fail('sb3-sarsa is not installed in this environment: run `pip install ".[tests]"` first (README.md).')
    return [pathlib.Path(str(found[0].locate_file(file))) for file in found[0].files or []]


def run(args: list[str], cwd: pathlib.Path, hook: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, ENV_VAR: "1" if hook else "0", "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    env.pop("PYTHONPATH", None)
    command = [str(BIN / args[0]), *args[1:]] if (BIN / args[0]).exists() else args
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return result


def check(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    )
    return result.stdout


def saved_config(log_dir: pathlib.Path) -> dict:
    (config_file,) = log_dir.glob("sarsa/CartPole-v1_*/CartPole-v1/config.yml")
    return dict(yaml.load(config_file.read_text(), Loader=yaml.UnsafeLoader))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """`rl_zoo3 train --algo sarsa --env CartPole-v1`, small."""
    installed_files()
    cwd = tmp_path_factory.mktemp("zoo")
    out = check(
        run(["rl_zoo3", "train", "--algo", "sarsa", "--env", "CartPole-v1", "-n", "2000", "-f", "logs", "--seed", "0"], cwd)
    )
    config_file = out.split("Loading hyperparameters from: ")[1].splitlines()[0]
    assert config_file.endswith("sarsa.yml") and "rl_zoo3" not in config_file
    return cwd


def test_startup_files_are_installed_at_the_top_of_site_packages() -> None:
    purelib = pathlib.Path(PURELIB).resolve()
    files = installed_files()
    for name in STARTUP_FILES:
        (path,) = (file for file in files if file.name == name)
        assert path.resolve().parent == purelib and path.is_file()
    # site.py reads .pth files in sorted order: ours must come after setuptools' editable finder.
    assert "sb3_sarsa_zoo.pth" > "__editable__.sb3_sarsa-0.1.0.pth"


def test_train_makes_a_sarsa_model_from_our_config(trained: pathlib.Path) -> None:
    from sb3_sarsa import SARSA

    (model_file,) = (trained / "logs").glob("sarsa/CartPole-v1_*/CartPole-v1.zip")
    model = SARSA.load(model_file)
    assert type(model) is SARSA
    ours = load_config()["CartPole-v1"]
    config = saved_config(trained / "logs")
    # `loss` and `target` exist only in our sarsa.yml, not in rl_zoo3's dqn.yml.
    assert config["loss"] == ours["loss"] and config["target"] == ours["target"]
    assert config["learning_rate"] == ours["learning_rate"]
    assert model.loss == ours["loss"] and model.target == ours["target"]


def test_enjoy_loads_the_trained_model(trained: pathlib.Path) -> None:
    out = check(
        run(
            ["rl_zoo3", "enjoy", *ALGO_ENV, "-f", "logs/", "--no-render", "-n", "1000"],
            trained,
        )
    )
    assert "Mean reward" in out


def test_record_video(trained: pathlib.Path) -> None:
    check(
        run(
            [
                sys.executable,
                "-m",
                "rl_zoo3.record_video",
                "--algo",
                "sarsa",
                "--env",
                "CartPole-v1",
                "-f",
                "logs/",
                "-n",
                "100",
            ],
            trained,
        )
    )
    assert list((trained / "logs").glob("sarsa/CartPole-v1_*/videos/*.mp4"))


def test_explicit_conf_file_wins(tmp_path: pathlib.Path) -> None:
    entry = {**load_config()["CartPole-v1"], "learning_rate": 0.00123, "learning_starts": 10}
    (tmp_path / "mine.yml").write_text(yaml.safe_dump({"CartPole-v1": entry}))
    args = [
        "rl_zoo3",
        "train",
        "--algo",
        "sarsa",
        "--env",
        "CartPole-v1",
        "-n",
        "300",
        "-f",
        "logs",
        "--conf-file",
        "mine.yml",
    ]
    check(run(args, tmp_path))
    assert saved_config(tmp_path / "logs")["learning_rate"] == 0.00123


def test_optimize_two_trials_in_a_shared_study_then_rerun_one(tmp_path: pathlib.Path) -> None:
    study = ["--storage", "logs/study.log", "--study-name", "sarsa_test"]
    optimize = ["rl_zoo3", "train", "--algo", "sarsa", "--env", "CartPole-v1", "-optimize", "--n-trials", "2", "--n-jobs", "2"]
    small = ["-n", "1200", "--eval-episodes", "2", "--n-evaluations", "1", "-f", "logs", "--seed", "1"]
    out = check(run([*optimize, *small, *study], tmp_path))
    assert "Number of finished trials:  2" in out
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "logs/study.log")))
    trials = optuna.load_study(study_name="sarsa_test", storage=storage).trials
    assert len(trials) == 2 and {"target", "loss", "n_steps", "softplus_head", "buffer_size"} <= set(trials[1].params)
    for trial in trials:  # every evaluation records the trial's train/next_action_agreement
        assert 0.0 <= trial.user_attrs[zoo.AGREEMENT_ATTR] <= 1.0

    out = check(
        run(
            [
                "rl_zoo3",
                "train",
                "--algo",
                "sarsa",
                "--env",
                "CartPole-v1",
                "-n",
                "300",
                "-f",
                "rerun",
                "--trial-id",
                "1",
                *study,
            ],
            tmp_path,
        )
    )
    assert "Loading from Optuna study" in out
    config = saved_config(tmp_path / "rerun")
    assert config["target"] == trials[1].params["target"] and config["n_steps"] == trials[1].params["n_steps"]
    assert config["policy_kwargs"]["softplus_head"] == trials[1].params["softplus_head"]


def test_rerun_of_a_trial_with_a_linear_learning_rate(tmp_path: pathlib.Path) -> None:
    """--trial-id of an lr_schedule=linear trial: rl-zoo3 reads lin_<rate> as written in a zoo file."""
    from sb3_sarsa.hyperparameters import model_kwargs

    params = zoo.entry_trial_params({**model_kwargs("Acrobot-v1")[0], "learning_rate": "lin_0.001"}, "Acrobot-v1")
    assert params["lr_schedule"] == "linear"
    (tmp_path / "logs").mkdir()
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "logs/study.log")))
    study = optuna.create_study(study_name="sarsa_linear", storage=storage, direction="maximize")
    choices: dict[str, optuna.distributions.BaseDistribution] = {
        key: optuna.distributions.CategoricalDistribution([value]) for key, value in params.items()
    }
    for value in (0.0, 1.0):  # rl-zoo3 2.9.2 ignores --trial-id 0 (`if ... self.trial_id:`), so trial 1 is the one
        study.add_trial(optuna.trial.create_trial(params=params, distributions=choices, value=value))
    args = ["rl_zoo3", "train", "--algo", "sarsa", "--env", "Acrobot-v1", "-n", "300", "-f", "logs", "--trial-id", "1"]
    out = check(run([*args, "--storage", "logs/study.log", "--study-name", "sarsa_linear"], tmp_path))
    assert "Loading from Optuna study" in out
    (config_file,) = (tmp_path / "logs").glob("sarsa/Acrobot-v1_*/Acrobot-v1/config.yml")
    assert dict(yaml.load(config_file.read_text(), Loader=yaml.UnsafeLoader))["learning_rate"] == "lin_0.001"
    (model_file,) = (tmp_path / "logs").glob("sarsa/Acrobot-v1_*/Acrobot-v1.zip")
    from sb3_sarsa import SARSA

    assert SARSA.load(model_file).lr_schedule(0.5) == pytest.approx(5e-4)


def test_opt_out_variable_disables_the_hook(tmp_path: pathlib.Path) -> None:
    result = run(["rl_zoo3", "train", "--algo", "sarsa", "--env", "CartPole-v1", "-n", "100"], tmp_path, hook=False)
    assert result.returncode == 2 and "invalid choice: 'sarsa'" in result.stderr


def test_fallback_entry_points_work_without_the_hook(tmp_path: pathlib.Path) -> None:
    args = ["train", "--algo", "sarsa", "--env", "CartPole-v1", "-n", "300", "-f", "logs"]
    check(run([sys.executable, "-m", "sb3_sarsa.zoo", *args], tmp_path, hook=False))
    assert saved_config(tmp_path / "logs")["loss"] == load_config()["CartPole-v1"]["loss"]
    enjoy = ["enjoy", "--algo", "sarsa", "--env", "CartPole-v1", "-f", "logs/", "--no-render", "-n", "50"]
    check(run(["sb3-sarsa-zoo", *enjoy], tmp_path, hook=False))
    usage = run(["sb3-sarsa-zoo"], tmp_path, hook=False)
    assert usage.returncode == 2 and "usage: python -m sb3_sarsa.zoo" in usage.stderr


def test_hook_imports_nothing_heavy_at_startup(tmp_path: pathlib.Path) -> None:
    modules = ("torch", "typing", "rl_zoo3", "sb3_sarsa", "_sb3_sarsa_zoo_hook")
    code = f"import sys; print(sorted(m for m in {modules} if m in sys.modules))"
    assert check(run([sys.executable, "-c", code], tmp_path)).strip() == "['_sb3_sarsa_zoo_hook']"


def test_installed_hook_is_a_copy_of_the_source(tmp_path: pathlib.Path) -> None:
    (hook,) = (file for file in installed_files() if file.name == "_sb3_sarsa_zoo_hook.py")
    source = pathlib.Path(__file__).parent.parent / "sb3_sarsa" / "_zoo_hook.py"
    assert hook.read_text() == source.read_text(), "reinstall sb3-sarsa: the installed start-up hook is stale"


def test_a_failing_hook_warns_and_rl_zoo3_still_imports(tmp_path: pathlib.Path) -> None:
    code = (
        "import sb3_sarsa.zoo as z\n"
        "def boom(module): raise RuntimeError('boom')\n"
        "z.on_zoo_module_loaded = boom\n"
        "import rl_zoo3.utils\n"
        "print('sarsa' in rl_zoo3.utils.ALGOS)\n"
    )
    result = run([sys.executable, "-c", code], tmp_path)
    assert check(result).strip() == "False"
    assert "could not register SARSA with rl_zoo3 (RuntimeError('boom'))" in result.stderr


def test_leftover_pth_file_is_silent(tmp_path: pathlib.Path) -> None:
    """The .pth line of a package that is gone must not print anything (run without site-packages)."""
    (pth,) = (file for file in installed_files() if file.name == "sb3_sarsa_zoo.pth")
    code = f"import sys; exec(open({str(pth)!r}).read())"
    result = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "" and result.stdout == ""


def test_sampler_and_converter_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """What -optimize trains is what --trial-id rebuilds from the stored params."""
    for env_id, has_softplus in (("CartPole-v1", True), ("Acrobot-v1", False)):
        monkeypatch.setitem(zoo._context, "env_id", env_id)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(5):
            trial = study.ask()
            sampled = zoo.sample_sarsa_params(trial, n_actions=2, n_envs=1, additional_args={})
            converted = zoo.convert_sarsa_params(trial.params)  # a linear rate as rl-zoo3 reads it, "lin_<rate>"
            assert {**converted, "learning_rate": parse_learning_rate(converted["learning_rate"])} == sampled
            assert sampled["target"] in ("sarsa", "expected") and sampled["n_steps"] in (1, 3, 5)
            assert sampled["buffer_size"] in zoo.BUFFER_SIZES and sampled["recent_eta"] in zoo.RECENT_ETAS
            assert isinstance(sampled["learning_rate"], float if trial.params["lr_schedule"] == "constant" else LinearToZero)
            assert ("softplus_head" in sampled["policy_kwargs"]) == has_softplus
            study.tell(trial, 0.0)


def test_fallback_usage_without_a_command(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        zoo.main([])
    assert exit_info.value.code == 2 and "usage: python -m sb3_sarsa.zoo" in capsys.readouterr().err


def test_rl_zoo3_executable_is_in_this_environment() -> None:
    assert (BIN / "rl_zoo3").exists() or shutil.which("rl_zoo3")


def test_cliff_walking_entry_trains_with_its_time_limit_and_plays_back(tmp_path: pathlib.Path) -> None:
    cliff = ["--algo", "sarsa", "--env", "CliffWalking-v1"]
    # With evaluations during training: an evaluation that cannot see the time limit never ends.
    evaluations = ["--eval-freq", "500", "--eval-episodes", "2"]
    check(run(["rl_zoo3", "train", *cliff, "-n", "1500", "-f", "logs", "--seed", "0", *evaluations], tmp_path, timeout=300))
    (config_file,) = (tmp_path / "logs").glob("sarsa/CliffWalking-v1_*/CliffWalking-v1/config.yml")
    config = dict(yaml.load(config_file.read_text(), Loader=yaml.UnsafeLoader))
    assert config["env_wrapper"] == [
        {"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 100}},
        "stable_baselines3.common.monitor.Monitor",
    ]
    (evaluations_file,) = (tmp_path / "logs").glob("sarsa/CliffWalking-v1_*/evaluations.npz")
    assert len(np.load(evaluations_file)["timesteps"]) == 3
    assert config["loss"] == "mse" and config["target"] == "sarsa"
    # An untrained greedy policy may walk into a wall forever: the time limit ends its episodes.
    out = check(run(["rl_zoo3", "enjoy", *cliff, "-f", "logs/", "--no-render", "-n", "300"], tmp_path, timeout=300))
    lengths = [int(line.split()[-1]) for line in out.splitlines() if line.startswith("Episode Length")]
    assert lengths and max(lengths) <= 100, out[-2000:]


def test_acrobot_entry_trains_expected_sarsa_and_params_switch_it_back(tmp_path: pathlib.Path) -> None:
    # The README: Acrobot-v1's entry is Expected SARSA; -params target:"'sarsa'" trains SARSA there.
    from sb3_sarsa import SARSA

    assert load_config()["Acrobot-v1"]["target"] == "expected"
    acrobot = ["rl_zoo3", "train", "--algo", "sarsa", "--env", "Acrobot-v1", "-n", "300", "-f", "logs", "--seed", "0"]
    check(run(acrobot, tmp_path))
    check(run([*acrobot, "-params", "target:'sarsa'"], tmp_path))
    models = sorted((tmp_path / "logs").glob("sarsa/Acrobot-v1_*/Acrobot-v1.zip"))
    assert [model.parent.name for model in models] == ["Acrobot-v1_1", "Acrobot-v1_2"]
    assert [SARSA.load(model).target for model in models] == ["expected", "sarsa"]


def test_atari_entry_trains_saves_and_plays_back(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("ale_py", reason='Atari needs ale-py: pip install "sb3-sarsa[atari]"')
    pong = ["--algo", "sarsa", "--env", "PongNoFrameskip-v4"]
    small = ["--hyperparams", "buffer_size:2000", "learning_starts:500"]
    check(run(["rl_zoo3", "train", *pong, "-n", "1000", "-f", "logs", "--seed", "0", *small], tmp_path))
    (config_file,) = (tmp_path / "logs").glob("sarsa/PongNoFrameskip-v4_*/PongNoFrameskip-v4/config.yml")
    config = dict(yaml.load(config_file.read_text(), Loader=yaml.UnsafeLoader))
    assert config["policy"] == "CnnPolicy" and config["frame_stack"] == 4 and config["buffer_size"] == 2000
    assert config["env_wrapper"] == ["stable_baselines3.common.atari_wrappers.AtariWrapper"]
    from sb3_sarsa import SARSA

    (model_file,) = (tmp_path / "logs").glob("sarsa/PongNoFrameskip-v4_*/PongNoFrameskip-v4.zip")
    model = SARSA.load(model_file)
    assert model.observation_space.shape == (4, 84, 84) and model._n_updates > 0  # channel-first, as SB3 stores it
    # 300 steps of play (a Pong episode is longer: no score is printed), with the saved frame stack.
    out = check(run(["rl_zoo3", "enjoy", *pong, "-f", "logs/", "--no-render", "-n", "300"], tmp_path))
    assert "PongNoFrameskip-v4.zip" in out and "Stacking 4 frames" in out, out[-2000:]


@pytest.fixture
def study_storage() -> Any:
    """A real PostgreSQL server (`benchmarks.pg_server`) when one can start here, else a journal file."""
    import tempfile

    from benchmarks import pg_server

    problem = pg_server.available()
    if problem is not None:
        print(f"no PostgreSQL server ({problem}): the study uses a journal file")
        yield "logs/study.log"
        return
    folder = pathlib.Path(tempfile.mkdtemp(prefix="sb3_sarsa_pg_", dir="/tmp"))
    folder.chmod(0o755)  # the server runs as the postgres user when the tests run as root
    try:
        yield pg_server.start(folder / "cluster")
        pg_server.stop(folder / "cluster")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_stale_pid_file_does_not_count_as_a_running_server() -> None:
    """A server killed with its machine leaves ``postmaster.pid``: the search starts the server again."""
    import tempfile

    from benchmarks import pg_server, search

    problem = pg_server.available()
    if problem is not None:
        pytest.skip(problem)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="sb3_sarsa_pg_", dir="/tmp"))
    folder.chmod(0o755)
    cluster = folder / "cluster"
    try:
        url = pg_server.start(cluster)
        assert pg_server.running(cluster)
        pid_file = cluster / "data" / "postmaster.pid"
        saved = pid_file.read_text()
        pg_server.stop(cluster)
        assert not pg_server.running(cluster)
        dead = subprocess.Popen(["true"])
        dead.wait()  # a process id that no process has now
        pid_file.write_text(f"{dead.pid}\n" + saved.split("\n", 1)[1])
        if os.geteuid() == 0:
            shutil.chown(pid_file, "postgres", "postgres")
        assert not pg_server.running(cluster)
        assert search.server_url(cluster) == url  # started again, on its port
        assert pg_server.running(cluster)
        optuna.create_study(storage=url, study_name="after_restart")  # and it answers
    finally:
        if pg_server.running(cluster):  # also when an assertion failed: no server left behind
            pg_server.stop(cluster)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_share_one_study(tmp_path: pathlib.Path, study_storage: str) -> None:
    study = ["--storage", study_storage, "--study-name", "sarsa_two_workers"]
    optimize = ["rl_zoo3", "train", "--algo", "sarsa", "--env", "CartPole-v1", "-optimize", "--n-trials", "2", "--n-jobs", "1"]
    small = ["-n", "600", "--eval-episodes", "2", "--n-evaluations", "2", "-f", "logs", "--pruner", "median"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    env.pop("PYTHONPATH", None)
    workers = [
        subprocess.Popen(
            [str(BIN / optimize[0]), *optimize[1:], *small, *study, "--seed", str(seed)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, f"stdout:\n{out[-2000:]}\nstderr:\n{err[-2000:]}"
    storage: Any = study_storage
    if not study_storage.startswith("postgresql"):
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / study_storage)))
    trials = optuna.load_study(study_name="sarsa_two_workers", storage=storage).trials
    assert sorted(trial.number for trial in trials) == [0, 1, 2, 3]  # 2 trials of each worker, one study
    assert all(trial.state.is_finished() for trial in trials)
