"""A local test PKI for C2PA signing: an ES256 CA and an end-entity signing certificate.

The end-entity certificate carries what C2PA validators demand: a non-CA P-256 key,
``digitalSignature`` key usage and the extended key usages ``emailProtection`` and
``documentSigning`` (c2pa-python 0.38 accepts emailProtection by default; documentSigning
alone needs the trust configuration to list it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provmark.errors import KeyMaterialError

#: id-kp-documentSigning (RFC 9336); cryptography names it only from version 44 on.
DOCUMENT_SIGNING_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")

CA_YEARS = 10
SIGNER_YEARS = 2


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
        ]
    )


def _key_usage(ca: bool) -> x509.KeyUsage:
    """keyCertSign and cRLSign for a CA; digitalSignature only for the end entity."""
    return x509.KeyUsage(
        digital_signature=not ca, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
    )


def make_ca(org: str, now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Create a self-signed P-256 CA certificate for ``org``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{org} C2PA Test Root CA", org)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def make_signer(
    org: str, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, now: dt.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Create a P-256 end-entity certificate for C2PA claim signing, issued by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{org} C2PA Signer", org))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * SIGNER_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_OID]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class PkiFiles:
    """The PEM files of a new test PKI: trust anchor, signing chain, private key (PKCS#8)."""

    ca: bytes
    chain: bytes
    key: bytes = field(repr=False)


def new_pki(org: str) -> PkiFiles:
    """Create a CA and a signing certificate for ``org``, as PEM bytes (nothing is written)."""
    if not org.strip():
        raise KeyMaterialError("the organisation name (--org) must not be empty")
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, ca_cert = make_ca(org, now)
    ee_key, ee_cert = make_signer(org, ca_key, ca_cert, now)
    key_pem = ee_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return PkiFiles(ca=_pem(ca_cert), chain=_pem(ee_cert) + _pem(ca_cert), key=key_pem)
