"""Your own NATS over TLS: a real nats-server with certificates made here (by the openssl command) and mutual TLS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.bus import STREAM, BusSetupError, connect
from shared.credentials import TlsFiles
from shared.embedded import EmbeddedNats

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)


def signed(folder: Path, name: str, ca: str, extensions: str) -> None:
    """A key and a certificate for name, signed by the CA."""
    (folder / f"{name}.ext").write_text(extensions)
    openssl(folder, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
    openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")


@dataclass(frozen=True)
class TlsServer:
    url: str
    folder: Path

    def files(self, *, ca: bool = True, client: bool = True) -> TlsFiles:
        """The client's view: the CA to trust and its own certificate."""
        folder = self.folder
        return TlsFiles(str(folder / "ca.pem") if ca else None, str(folder / "client.pem") if client else None,
                        str(folder / "client.key") if client else None)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """A nats-server that speaks only TLS and admits only clients with a certificate from the same CA."""
    folder = tmp_path_factory.mktemp("tls")
    openssl(folder, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=test-ca")
    signed(folder, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    signed(folder, "client", "ca", "extendedKeyUsage=clientAuth\n")
    config = folder / "nats.conf"
    config.write_text(
        f'tls {{\n  cert_file: "{folder}/server.pem"\n  key_file: "{folder}/server.key"\n'
        f'  ca_file: "{folder}/ca.pem"\n  verify: true\n}}\n'
    )
    server = EmbeddedNats(folder / "nats", config=config)
    url = server.start()
    yield TlsServer(url, folder)
    server.stop()


async def test_a_client_with_the_ca_and_its_certificate_connects_and_sets_up_the_streams(tls_server: TlsServer) -> None:
    bus = await connect(tls_server.url, "test/tls", tls=tls_server.files(), manage=True)
    assert (await bus.js.stream_info(STREAM)).config.name == STREAM
    await bus.close()


@pytest.mark.parametrize("missing", ["client", "ca"])
async def test_a_client_without_its_certificate_or_the_ca_does_not_get_in(tls_server: TlsServer, missing: str) -> None:
    files = tls_server.files(**{missing: False})
    with pytest.raises((ConnectionError, BusSetupError)):
        await connect(tls_server.url, "test/tls", tls=files, manage=True, wait=0.5)


async def test_half_a_client_certificate_is_a_clear_error(tls_server: TlsServer) -> None:
    files = TlsFiles(tls_server.files().ca, tls_server.files().cert, None)
    with pytest.raises(BusSetupError, match="NATS_TLS_CERT and NATS_TLS_KEY go together"):
        await connect(tls_server.url, "test/tls", tls=files, wait=0.5)


def test_the_command_line_reads_the_tls_files_from_the_environment(tls_server: TlsServer) -> None:
    files = tls_server.files()
    env = {**os.environ, "NATS_URL": tls_server.url, "NATS_TLS_CA": files.ca, "NATS_TLS_CERT": files.cert,
           "NATS_TLS_KEY": files.key}
    done = subprocess.run([sys.executable, "-m", "autoresearch", "streams", "--wait", "5"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ready on {tls_server.url}" in done.stdout
