"""
A throw-away PostgreSQL server on a local port, for Optuna studies shared by several workers.

    python -m benchmarks.pg_server start logs/pg      # prints the storage URL
    python -m benchmarks.pg_server stop logs/pg

``start`` creates a database cluster in the folder (once; a later ``start`` reuses it, so a study
survives a stop and goes on another day), starts the server on 127.0.0.1 (a free port, or
``--port``) with a database ``optuna`` holding Optuna's tables, and prints the URL to pass to
``rl_zoo3 train ... -optimize --storage <URL> --study-name <name>``:
``postgresql+psycopg://optuna@127.0.0.1:<port>/optuna`` (SQLAlchemy with psycopg 3, which
``pip install "sb3-sarsa[search]"`` installs). Needs the server programs of Debian's ``postgresql``
package (``initdb``, ``pg_ctl``: on ``PATH`` or in ``/usr/lib/postgresql/<version>/bin``). PostgreSQL
refuses to run as root: as root, the server runs as the ``postgres`` user, which owns the folder.
Local connections are trusted (no password): a server for one machine's workers, not a network.
"""

import argparse
import glob
import os
import pathlib
import shutil
import socket
import subprocess
import time

USER = "optuna"
DATABASE = "optuna"


def find_program(name: str) -> str | None:
    """:return: the path of a PostgreSQL server program, or ``None`` if it is not installed"""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def available() -> str | None:
    """:return: ``None`` if a server can be started here, else what is missing"""
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if find_program(name) is None]
    if missing:
        return f"PostgreSQL server programs not found: {', '.join(missing)} (Debian: apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL cannot run as root"
    return None


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def url(port: int) -> str:
    return f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}"


def start(folder: pathlib.Path, port: int | None = None) -> str:
    """
    Start (creating it the first time) the cluster in ``folder``.

    :return: the SQLAlchemy URL of the ``optuna`` database
    :raises RuntimeError: naming what is missing, or with the server's log if it did not start
    """
    problem = available()
    if problem is not None:
        raise RuntimeError(problem)
    folder = folder.resolve()
    data = folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        reach = subprocess.run(_as_server_user(["test", "-w", str(folder)]))
        if reach.returncode != 0:
            raise RuntimeError(
                f"the postgres user (the server cannot run as root) cannot reach {folder}: "
                "choose a folder whose parents it may enter, e.g. under /tmp."
            )
    port_file = folder / "port"
    port = port or (int(port_file.read_text()) if port_file.exists() else _free_port())
    created = not (data / "PG_VERSION").exists()
    if created:
        made = subprocess.run(
            _as_server_user([str(find_program("initdb")), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8"]),
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed in {data}: {made.stderr.strip()}")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    result = subprocess.run(
        _as_server_user(
            [str(find_program("pg_ctl")), "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "start"]
        ),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        log = (folder / "server.log").read_text()[-2000:] if (folder / "server.log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start in {folder}: {result.stderr.strip()}\n{log}")
    port_file.write_text(str(port))
    if created:
        createdb = find_program("createdb") or "createdb"
        for _ in range(20):
            made = subprocess.run(
                [createdb, "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE], capture_output=True, text=True
            )
            if made.returncode == 0:
                break
            time.sleep(0.25)
        else:
            raise RuntimeError(f"could not create the database {DATABASE}: {made.stderr.strip()}")
        # Optuna's tables, made once here: workers that start together on an empty database would
        # race to create them (one fails with a duplicate-type error).
        import optuna

        optuna.storages.RDBStorage(url(port)).remove_session()
    return url(port)


def running(folder: pathlib.Path) -> bool:
    """
    :return: whether the server of ``folder`` is running (``pg_ctl status``: a ``postmaster.pid`` left by a
        server that was killed, or by a machine that restarted, does not count)
    """
    data = folder.resolve() / "data"
    if not (data / "PG_VERSION").exists() or available() is not None:
        return False
    status = subprocess.run(_as_server_user([str(find_program("pg_ctl")), "-D", str(data), "status"]), capture_output=True)
    return status.returncode == 0


def stop(folder: pathlib.Path) -> None:
    """Stop the server of ``folder`` (its data stays: ``start`` goes on with the same studies)."""
    data = folder.resolve() / "data"
    subprocess.run(_as_server_user([str(find_program("pg_ctl")), "-D", str(data), "-m", "fast", "-w", "stop"]), check=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("start", "stop"))
    parser.add_argument("folder", type=pathlib.Path, help="where the cluster lives (created by the first start)")
    parser.add_argument("--port", type=int, default=None, help="default: the folder's last port, else a free one")
    args = parser.parse_args()
    if args.command == "start":
        print(start(args.folder, args.port))
    else:
        stop(args.folder)


if __name__ == "__main__":
    main()
