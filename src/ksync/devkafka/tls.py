"""Certificates for test clusters: a CA and a broker certificate made per run, in PEM.

Nothing here is meant for production: keys are unencrypted and live in the cluster's
temporary folder. Needs the `cryptography` package (a test dependency).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Authority:
    """A certificate authority: its certificate (what clients trust) and key (to sign)."""

    cert_pem: str
    key_pem: str


@dataclass(frozen=True)
class BrokerTls:
    """What a broker's SSL listener needs, and the CA pem its clients must trust."""

    ca_pem: str
    keystore_path: Path  # PEM: the broker's private key, then its certificate chain


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_authority(name: str = "ksync test CA") -> Authority:
    """A self-signed CA valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Authority(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )


@dataclass(frozen=True)
class ServerTls:
    """A server certificate for 127.0.0.1 and localhost, and its key, as separate PEM files
    (what `ksync server --tls-cert --tls-key` takes), and the CA pem its clients trust."""

    ca_pem: str
    cert_path: Path  # the certificate, then the CA's
    key_path: Path


def _leaf(ca: Authority) -> tuple[bytes, bytes]:
    """A new key and a certificate for 127.0.0.1 and localhost signed by `ca`, in PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _private(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    path.chmod(0o600)
    return path


def broker_keystore(ca: Authority, folder: Path) -> BrokerTls:
    """A broker certificate for 127.0.0.1 and localhost signed by `ca`, written as one
    PEM keystore (Kafka's `ssl.keystore.type=PEM`) in `folder`."""
    key_pem, cert_pem = _leaf(ca)
    folder.mkdir(parents=True, exist_ok=True)
    path = _private(folder / "broker-keystore.pem", key_pem + cert_pem + ca.cert_pem.encode())
    return BrokerTls(ca_pem=ca.cert_pem, keystore_path=path)


def server_certificate(ca: Authority, folder: Path) -> ServerTls:
    """A certificate for an HTTPS server on 127.0.0.1 signed by `ca`, written in `folder`."""
    key_pem, cert_pem = _leaf(ca)
    folder.mkdir(parents=True, exist_ok=True)
    return ServerTls(
        ca_pem=ca.cert_pem,
        cert_path=_private(folder / "server-cert.pem", cert_pem + ca.cert_pem.encode()),
        key_path=_private(folder / "server-key.pem", key_pem),
    )
