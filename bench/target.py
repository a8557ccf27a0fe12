"""The benchmark target: nginx on 127.0.0.1, pinned to core 1, and its request counter."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent
PORT = 18080
URL = f"http://127.0.0.1:{PORT}"
H2PORT = 18081  # the same server over HTTP/2 by prior knowledge (h2c): the get-h2 workload
H2URL = f"http://127.0.0.1:{H2PORT}"


class Nginx:
    """Starts nginx from bench/nginx.conf (daemonised, its own pid file) and stops it."""

    def __init__(self, workdir: Path, port: int = PORT) -> None:
        self.workdir = workdir
        self.port = port

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        text = (HERE / "nginx.conf").read_text()
        text = text.replace("@DIR@", str(self.workdir)).replace("@PORT@", str(self.port))
        text = text.replace("@H2PORT@", str(self.port + H2PORT - PORT))
        conf = self.workdir / "nginx.conf"
        conf.write_text(text)
        self.stop()
        cmd = ["taskset", "-c", "1", "nginx", "-c", str(conf), "-p", str(self.workdir)]
        subprocess.run(cmd, check=True, timeout=10)
        for _ in range(50):
            try:
                requests_served(self.port)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not answer")

    def stop(self) -> None:
        pid_file = self.workdir / "nginx.pid"
        if pid_file.exists():
            conf = self.workdir / "nginx.conf"
            subprocess.run(
                ["nginx", "-c", str(conf), "-p", str(self.workdir), "-s", "quit"],
                timeout=10,
                check=False,
                capture_output=True,
            )
            for _ in range(50):
                if not pid_file.exists():
                    break
                time.sleep(0.1)


def requests_served(port: int = PORT) -> int:
    """nginx's own count of requests (stub_status), the probe itself included."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/nginx_status", timeout=5) as r:
        lines = r.read().decode().splitlines()
    return int(lines[2].split()[2])
