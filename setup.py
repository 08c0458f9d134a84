from pathlib import Path

from setuptools import setup

here = Path(__file__).parent
version: dict[str, str] = {}
exec((here / "sb3_sarsa" / "version.py").read_text(), version)

setup(
    name="sb3-sarsa",
    version=version["__version__"],
    description="Deep SARSA and Expected SARSA for Stable-Baselines3, with rl-zoo3 support",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=["sb3_sarsa", "sb3_sarsa.hyperparams"],
    package_dir={"sb3_sarsa.hyperparams": "hyperparams"},
    package_data={"sb3_sarsa": ["py.typed"], "sb3_sarsa.hyperparams": ["*.yml"]},
    install_requires=[
        "stable_baselines3>=2.9.2,<3",
        "gymnasium>=1.0",
        "numpy>=1.24",
        "pyyaml",
        # The zoo's CLI imports seaborn (the plots extra) and requests without declaring them.
        "rl_zoo3[plots]>=2.9.2,<3",
        "requests",
        "tqdm",
        "rich",
    ],
    extras_require={
        "tests": ["pytest>=7", "hypothesis>=6", "ruff", "mypy"],
        "box2d": ["box2d==2.3.10", "pygame"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
