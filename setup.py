import re
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

here = Path(__file__).parent
version = re.search(r'^__version__ = "(.+)"$', (here / "sb3_sarsa" / "__init__.py").read_text(), re.MULTILINE)
assert version is not None, "sb3_sarsa/__init__.py must set __version__"

# Start-up files that make `rl_zoo3 train --algo sarsa` work (see sb3_sarsa/_zoo_hook.py).
# The hook is installed as a top-level module, a copy of sb3_sarsa/_zoo_hook.py, so that start-up
# does not import the sb3_sarsa package (which would then shadow a checkout in the working folder).
# The .pth name sorts after setuptools' `__editable__*.pth`, whose finder must exist first.
# Its import is guarded: a file left behind without the package stays silent. Python >= 3.15
# (PEP 829) runs the matching .start entry point instead of the .pth import line.
STARTUP_FILES = {
    "_sb3_sarsa_zoo_hook.py": (here / "sb3_sarsa" / "_zoo_hook.py").read_text(encoding="utf-8"),
    "sb3_sarsa_zoo.pth": (
        "import sys; exec('try:\\n import _sb3_sarsa_zoo_hook as h\\nexcept ImportError:\\n pass\\nelse:\\n h.install()')\n"
    ),
    "sb3_sarsa_zoo.start": "_sb3_sarsa_zoo_hook:install\n",
}


class build_py_with_startup_files(build_py):
    """Also put the start-up files at the top of the wheel (they land in site-packages)."""

    def run(self) -> None:
        super().run()
        for name, content in STARTUP_FILES.items():
            (Path(self.build_lib) / name).write_text(content, encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), *(str(Path(self.build_lib) / name) for name in STARTUP_FILES)]


class _WithStartupFiles:
    """An editable-install strategy that also writes the start-up files into the wheel."""

    def __init__(self, strategy):
        self.strategy = strategy

    def __enter__(self):
        self.strategy.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self.strategy.__exit__(*exc_info)

    def __call__(self, wheel, files, mapping):
        self.strategy(wheel, files, mapping)
        for name, content in STARTUP_FILES.items():
            wheel.writestr(name, content.encode("utf-8"))


class editable_wheel_with_startup_files(editable_wheel):
    """`pip install -e .` (PEP 660) builds its own wheel, without build_py's outputs: add the files."""

    def _select_strategy(self, *args, **kwargs):
        return _WithStartupFiles(super()._select_strategy(*args, **kwargs))


setup(
    name="sb3-sarsa",
    version=version.group(1),
    description="Deep SARSA and Expected SARSA for Stable-Baselines3, with rl-zoo3 support",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=["sb3_sarsa", "sb3_sarsa.hyperparams"],
    package_dir={"sb3_sarsa.hyperparams": "hyperparams"},
    package_data={"sb3_sarsa": ["py.typed"], "sb3_sarsa.hyperparams": ["*.yml"]},
    cmdclass={"build_py": build_py_with_startup_files, "editable_wheel": editable_wheel_with_startup_files},
    entry_points={"console_scripts": ["sb3-sarsa-zoo = sb3_sarsa.zoo:main"]},
    install_requires=[
        "stable_baselines3>=2.9.2,<3",
        "gymnasium>=1.0",
        "numpy>=1.24",
        "pyyaml",
        "rl_zoo3>=2.9.2,<3",
        # rl_zoo3 2.9.2's CLI imports these at start-up without declaring them (rl_zoo3.load_from_hub,
        # rl_zoo3.plots): without them `rl_zoo3 train` crashes. Its other plotting packages are optional there.
        "requests",
        "seaborn",
        "scipy",
        # SB3's progress_bar=True.
        "tqdm",
        "rich",
    ],
    extras_require={
        # pygame: rendering the classic-control envs, which `python -m rl_zoo3.record_video` needs.
        "render": ["gymnasium[classic-control]>=1.0"],
        # The documentation site: sphinx-build -W docs docs/_build/html.
        "docs": ["sphinx>=7", "myst-parser>=2", "sphinx-rtd-theme>=2"],
        # The benchmark reports: IQM with bootstrap intervals (rliable), plots.
        "plots": ["rl_zoo3[plots]>=2.9.2,<3"],
        # The tests use the real Atari and Box2D envs (ale-py ships the Atari ROMs) and a real PostgreSQL server.
        "tests": [
            "pytest>=7",
            "hypothesis>=6",
            "ruff",
            "mypy",
            "ale-py>=0.9",
            "opencv-python-headless",
            "box2d==2.3.10",
            "tensorboard",
            "psycopg[binary]",  # the PostgreSQL study test
            "scikit-learn",  # Optuna's fANOVA parameter importances (benchmarks.search's report)
            "gymnasium[classic-control]>=1.0",  # the record_video test
            "rl_zoo3[plots]>=2.9.2,<3",  # the benchmark tests (rliable)
        ],
        "box2d": ["box2d==2.3.10", "pygame"],
        # AtariWrapper resizes frames with OpenCV.
        "atari": ["ale-py>=0.9", "opencv-python-headless"],
        # Optuna studies on PostgreSQL: --storage postgresql+psycopg://... (benchmarks/pg_server.py);
        # scikit-learn for Optuna's fANOVA parameter importances (benchmarks/search.py).
        "search": ["psycopg[binary]", "scikit-learn"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
