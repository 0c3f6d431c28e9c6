"""A real S3-compatible server for tests: moto's server (it checks SigV4 signatures) on a free loopback port.

moto needs boto3, which cannot live in the project's venv, so ``scripts/bootstrap --test`` installs it in
``.venv/moto``. The server starts with IAM authentication on: the first three requests (unauthenticated, by
design of moto's ``INITIAL_NO_AUTH_ACTION_COUNT``) create a user, its S3 policy and its access key; every request
after that must carry a valid signature made with that key.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MOTO_SERVER = Path(__file__).resolve().parents[2] / ".venv" / "moto" / "bin" / "moto_server"
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS variables a client process reads its credentials from."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _iam(endpoint: str, **params: str) -> str:
    """One unauthenticated IAM query (allowed only while moto's no-auth allowance lasts)."""
    body = urllib.parse.urlencode({**params, "Version": "2010-05-08"}).encode()
    scope = "AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/aws4_request"
    request = urllib.request.Request(endpoint + "/", data=body, headers={
        "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0",
        "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


@contextmanager
def run_s3_server() -> Iterator[S3Server]:
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(var, None)
    proc = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, "moto_server exited"
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.1)
        _iam(endpoint, Action="CreateUser", UserName="auditor")
        _iam(endpoint, Action="PutUserPolicy", UserName="auditor", PolicyName="s3", PolicyDocument=POLICY)
        created = _iam(endpoint, Action="CreateAccessKey", UserName="auditor")
        keys = [re.search(f"<{tag}>(.*?)</{tag}>", created) for tag in ("AccessKeyId", "SecretAccessKey")]
        assert keys[0] and keys[1], created
        yield S3Server(endpoint, keys[0][1], keys[1][1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
