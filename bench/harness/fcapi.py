"""A Firecracker API client over its Unix socket (HTTP/1.1, JSON), and
starting vireo the way Firecracker's clients start Firecracker. For the e2e
tests and the benchmarks of the API; not the checks themselves."""
import http.client
import json
import os
import socket
import subprocess
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client on an AF_UNIX socket path instead of host:port."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Client:
    """One connection, kept open across requests (as the SDKs do)."""

    def __init__(self, sock, timeout=30):
        self.sock = sock
        self.timeout = timeout
        self.conn = UnixHTTPConnection(sock, timeout)

    def request(self, method, path, body=None, raw=None):
        """(status, parsed JSON or None, headers). body: a dict sent as
        JSON; raw: bytes sent as they are."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                              else None)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = UnixHTTPConnection(self.sock, self.timeout)
            raise
        text = r.read()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = {"raw": text.decode(errors="replace")}
        return r.status, parsed, dict(r.getheaders())

    def get(self, path):
        return self.request("GET", path)

    def put(self, path, body=None, raw=None):
        return self.request("PUT", path, body, raw)

    def patch(self, path, body=None, raw=None):
        return self.request("PATCH", path, body, raw)

    def close(self):
        self.conn.close()


def wait_socket(path, proc, timeout=10.0, poll_s=0.001):
    """Waits until the API socket answers GET / (True), the process ended,
    or the timeout passed (False); tries every poll_s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(path):
            try:
                c = Client(path, timeout=2)
                status, _, _ = c.get("/")
                c.close()
                if status == 200:
                    return True
            except OSError:
                pass
        time.sleep(poll_s)
    return False


def start(vireo, args, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
    """vireo with Firecracker's flags (no subcommand), stdin closed."""
    return subprocess.Popen([vireo] + list(args), stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=stderr)
