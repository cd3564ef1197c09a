"""The local AWS stand-in keeps HTTP/1.1 connections alive: one TCP connection serves an
app thread's successive AWS calls (moto's own werkzeug server closed every one, so each
call paid a connect and a new server thread)."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from pathlib import Path

from local.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_successive_calls_share_one_kept_alive_connection() -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "local.motoserver", "--port", str(port)], cwd=ROOT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.time() < deadline, "the stand-in did not start"
                time.sleep(0.1)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261201/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        }
        sockets = []
        for _ in range(3):
            connection.request("POST", "/", body=b"{}", headers=headers)
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b'{"TableNames": []}')
            assert response.version == 11 and not response.will_close, response.getheaders()
            sockets.append(connection.sock)
        assert sockets[0] is not None and sockets.count(sockets[0]) == 3  # one TCP connection throughout
    finally:
        server.terminate()
        server.wait(timeout=15)
