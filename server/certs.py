# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal server certs`: a private CA and a server certificate for 127.0.0.1/localhost (cryptography)."""

from __future__ import annotations

import datetime
import os
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def create_certificates(out: str | pathlib.Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"), days: int = 365,
                        ca_key_path: str | pathlib.Path | None = None) -> dict[str, str]:
    """Writes ca.crt, server.crt, server.key (P-256 keys, SANs = `hosts`) into `out`.

    The CA key never lands next to the server's material (issue 16): it is discarded after signing
    (a one-certificate CA), or written to `ca_key_path`, which must lie outside `out`.

    Returns:
      Paths of the written files by name. Keys are written with mode 0600 from creation.
    """
    d = pathlib.Path(out)
    if ca_key_path is not None and pathlib.Path(ca_key_path).resolve().parent == d.resolve():
        raise ValueError(f"keep the CA key apart from the server material: {ca_key_path} is inside {out}")
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    d.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Loyal server CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = {
        "ca.crt": ca.public_bytes(serialization.Encoding.PEM),
        "server.crt": cert.public_bytes(serialization.Encoding.PEM), "server.key": _pem_key(key),
    }
    for name, data in files.items():
        if name.endswith(".key"):
            write_private(d / name, data)
        else:
            (d / name).write_bytes(data)
    paths = {name: str(d / name) for name in files}
    if ca_key_path is not None:
        write_private(ca_key_path, _pem_key(ca_key))
        paths["ca.key"] = str(ca_key_path)
    return paths


def write_private(path: str | os.PathLike, data: bytes) -> None:
    """Writes a secret file that is 0600 from its creation on (never readable by others, not even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: force it
        os.write(fd, data)
    finally:
        os.close(fd)
