"""A PostgreSQL cluster of the tests' own (one per session): TLS only over TCP, a certificate for ``localhost``
signed by a self-signed CA, trust authentication (the tests are about TLS and privileges, not passwords).

Needs PostgreSQL's server binaries (deploy/local/bootstrap.sh installs them); the tests using it carry the marker
``postgres_cluster`` (`make test` runs them, `make check` does not)."""

from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

IS_ROOT = os.geteuid() == 0


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    assert pg_ctl, "PostgreSQL's server binaries are missing: bash deploy/local/bootstrap.sh installs them"
    return Path(pg_ctl).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, host: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Cluster:
    port: int
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA that did not

    def url(self, host: str = "localhost", user: str = "postgres", database: str = "postgres", **query: str) -> str:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"postgresql://{user}@{host}:{self.port}/{database}" + (f"?{q}" if q else "")

    def tls_url(self, user: str = "postgres", database: str = "postgres") -> str:
        """verify-full against the cluster's CA."""
        return self.url(user=user, database=database, sslmode="verify-full", sslrootcert=str(self.ca))


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    bindir = _bindir()
    top = Path(tempfile.mkdtemp(prefix="kc-pg-tls-"))
    top.chmod(0o755)  # the postgres OS user (when we are root) must reach it
    data, sock = top / "data", top / "socket"
    sock.mkdir()
    ca_key, ca = _ca("kundencenter test CA")
    _, other = _ca("somebody else's CA")
    key, cert = _server_cert(ca_key, ca, "localhost")
    (top / "ca.pem").write_bytes(_pem(ca))
    (top / "other-ca.pem").write_bytes(_pem(other))

    def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        full = ["runuser", "-u", "postgres", "--", *argv] if IS_ROOT else argv
        return subprocess.run(full, cwd="/", capture_output=True, text=True, timeout=120, **kw)  # type: ignore[call-overload,no-any-return]

    if IS_ROOT:
        owner = pwd.getpwnam("postgres")
        os.chown(sock, owner.pw_uid, owner.pw_gid)
        os.chown(top, owner.pw_uid, owner.pw_gid)
    init = run([str(bindir / "initdb"), "-D", str(data), "--auth=trust", "--username=postgres", "-E", "UTF8"])
    assert init.returncode == 0, init.stderr
    (data / "server.crt").write_bytes(_pem(cert))
    (data / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (data / "server.key").chmod(0o600)
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n"
    )
    if IS_ROOT:
        for name in ("server.crt", "server.key", "pg_hba.conf"):
            os.chown(data / name, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c ssl=on -c fsync=off -c max_connections=40"
    log = top / "postgres.log"
    start = run([str(bindir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60"])
    assert start.returncode == 0, start.stdout + start.stderr + (log.read_text() if log.exists() else "")
    try:
        yield Cluster(port=port, ca=top / "ca.pem", other_ca=top / "other-ca.pem")
    finally:
        run([str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-W"])
        shutil.rmtree(top, ignore_errors=True)
