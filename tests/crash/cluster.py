"""Real ``procflow serve`` and ``procflow worker`` OS processes for the crash test.

Each service writes its output to its own log file (never a pipe: a full pipe would stall a
process we mean to measure) and runs in its own session, so teardown can kill exactly the
processes this test started, by pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.api.served import PROCFLOW, free_port
from tests.cli_runner import run_cli

__all__ = ["PROCFLOW", "free_port"]


@dataclass
class Service:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # What runs: ``procflow`` with ``args``, or another program (an external-task worker).
    program: tuple[str, ...] = (str(PROCFLOW),)

    @property
    def base_url(self) -> str:
        assert self.port is not None, f"{self.name} has no port"
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.starts += 1
        with self.log.open("a") as out:
            out.write(f"--- start #{self.starts} ---\n")
            out.flush()
            self.process = subprocess.Popen(
                [*self.program, *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, open transactions die with the connection."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise AssertionError(f"{self.name} exited:\n{self.tail()}")
            try:
                if httpx.get(f"{self.base_url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    """Servers and workers sharing one database and one data directory (the JWT secret)."""

    database_url: str
    data_dir: Path
    log_dir: Path
    servers: list[Service] = field(default_factory=list)
    workers: list[Service] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROCFLOW_")}
        env.update(
            PROCFLOW_DATABASE_URL=self.database_url,
            PROCFLOW_DATA_DIR=str(self.data_dir),
            PROCFLOW_EMBEDDED_WORKER="0",
        )
        env.update(extra)
        return env

    def run(self, *args: str) -> str:
        """A one-off ``procflow`` command on the cluster's database (deploy, token): in the
        test's process, since what it checks is the services, not this command."""
        result = run_cli(*args, env=self.env())
        assert result.returncode == 0, f"procflow {' '.join(args)}:\n{result.stderr}"
        return result.stdout

    def add_server(self, **extra_env: str) -> Service:
        port = free_port()
        name = f"serve-{len(self.servers)}"
        env = self.env(PROCFLOW_PORT=str(port), **extra_env)
        server = Service(name, ["serve"], env, self.log_dir / f"{name}.log", port)
        self.servers.append(server)
        return server

    def add_worker(self, *args: str, **extra_env: str) -> Service:
        name = f"worker-{len(self.workers)}"
        env = self.env(**extra_env)
        worker = Service(name, ["worker", *args], env, self.log_dir / f"{name}.log")
        self.workers.append(worker)
        return worker

    def add_program(self, name: str, program: tuple[str, ...], *args: str) -> Service:
        """A process of the test's own (not ``procflow``), killed and restarted like one."""
        service = Service(name, list(args), self.env(), self.log_dir / f"{name}.log",
                          program=program)  # fmt: skip
        self.workers.append(service)
        return service

    def stop_all(self) -> None:
        for service in [*self.servers, *self.workers]:
            service.stop()

    def logs(self) -> str:
        return "\n".join(f"=== {s.name} ===\n{s.tail()}" for s in [*self.servers, *self.workers])
