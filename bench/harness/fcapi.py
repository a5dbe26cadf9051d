"""A Firecracker API client over its Unix socket (HTTP/1.1, JSON), and
starting vireo the way Firecracker's clients start Firecracker. For the e2e
tests and the benchmarks of the API; not the checks themselves."""
import http.client
import json
import os
import socket
import signal
import subprocess
import threading
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


def first_client(argv, sock, env=None, timeout=30):
    """Runs argv (a vireo serving its API on sock), sends one request as soon
    as the socket is there, and waits for the process to end: for a test
    whose API thread must die on its first client. Returns a
    subprocess.CompletedProcess (bytes out and err); killed at timeout."""
    v = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    out = err = b""
    try:
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(sock)
        c.sendall(b"GET / HTTP/1.1\r\n\r\n")
        out, err = v.communicate(timeout=timeout)
        c.close()
    finally:
        if v.poll() is None:
            v.kill()
            out, err = v.communicate()
    return subprocess.CompletedProcess(argv, v.returncode, out, err)


class Instance:
    """One vireo started with Firecracker's flags (args), its output (the
    guest's serial console) read as it comes, and its API socket (sock;
    None with --no-api) waited for. wrap(argv): the command that runs it
    (a network namespace's netns.Netns.cmd), else vireo itself."""

    def __init__(self, vireo, args, sock=None, wrap=None, boot_timeout=120):
        argv = [vireo] + list(args)
        self.proc = start(argv[0], argv[1:]) if wrap is None else subprocess.Popen(
            wrap(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.sock = sock
        self.boot_timeout = boot_timeout
        self.out = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.ok = wait_socket(sock, self.proc) if sock else self.proc.poll() is None
        self.api = Client(sock) if sock else None

    def _read(self):
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):
            self.out += chunk

    def wait_output(self, text, timeout=None):
        """True once the guest has printed text and the end of its line:
        a caller that parses what follows text never sees half a number."""
        deadline = time.monotonic() + (timeout or self.boot_timeout)
        while not self._has_line(text) and time.monotonic() < deadline:
            if self.proc.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.01)
        return self._has_line(text)

    def _has_line(self, text):
        at = self.out.find(text.encode())
        return at >= 0 and b"\n" in self.out[at + len(text):]

    def finish(self, timeout=None):
        """Waits for vireo to end (then kills it); (status, stdout, stderr)."""
        try:
            self.proc.wait(timeout=timeout or self.boot_timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(10)
        err = self.proc.stderr.read()
        if self.api:
            self.api.close()
        return (self.proc.returncode, self.out.decode(errors="replace"),
                err.decode(errors="replace"))

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM, as Kata and the go-sdk stop Firecracker; finish."""
        self.signal(signal.SIGTERM)
        return self.finish(30)
