"""Signing identities: a certificate chain plus a private key, or plus a signing callback.

A callback identity keeps the key out of this process (KMS, HSM): the callback gets the
bytes to sign and returns the signature (DER or raw r|s for ECDSA).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from provmark.errors import KeyMaterialError

_CURVE_ALGS = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


@dataclass(frozen=True)
class SigningIdentity:
    """A PEM certificate chain (signer first) and either a PEM private key or a sign callback."""

    chain_pem: bytes
    alg: str
    key_pem: bytes | None = field(default=None, repr=False)
    sign: Callable[[bytes], bytes] | None = field(default=None, repr=False)

    @property
    def certificate(self) -> x509.Certificate:
        """The end-entity (first) certificate of the chain."""
        return x509.load_pem_x509_certificates(self.chain_pem)[0]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyMaterialError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise KeyMaterialError(f"{path}: cannot read {what}: {exc.strerror or exc}") from exc


def _load_chain(path: Path) -> tuple[bytes, list[x509.Certificate]]:
    data = _read(path, "certificate")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise KeyMaterialError(f"{path}: not a PEM certificate chain") from None
    now = dt.datetime.now(dt.timezone.utc)
    leaf = certs[0]
    if leaf.not_valid_after_utc < now:
        raise KeyMaterialError(f"{path}: the signing certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
    if leaf.not_valid_before_utc > now:
        raise KeyMaterialError(f"{path}: the signing certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d}")
    return data, certs


def alg_for_public_key(key: object) -> str:
    """C2PA signing algorithm name for a public or private key."""
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        alg = _CURVE_ALGS.get(key.curve.name)
        if alg:
            return alg
        raise KeyMaterialError(f"unsupported elliptic curve {key.curve.name} (use P-256, P-384 or P-521)")
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return "ps256"
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "ed25519"
    raise KeyMaterialError(f"unsupported key type {type(key).__name__} (use EC, RSA or Ed25519)")


def load_identity(
    cert: str | os.PathLike[str], key: str | os.PathLike[str], password: str | bytes | None = None
) -> SigningIdentity:
    """Load a PEM chain and a PEM private key (optionally password-protected), checking they match.

    >>> identity = load_identity("chain.pem", "signer.key", password="secret")  # doctest: +SKIP
    >>> identity.alg  # doctest: +SKIP
    'es256'
    """
    cert_path, key_path = Path(cert), Path(key)
    chain_pem, certs = _load_chain(cert_path)
    key_data = _read(key_path, "private key")
    secret = password.encode("utf-8") if isinstance(password, str) else password
    try:
        private = serialization.load_pem_private_key(key_data, password=secret or None)
    except TypeError:
        if secret:
            raise KeyMaterialError(f"{key_path}: the key is not encrypted, but a password was given") from None
        raise KeyMaterialError(f"{key_path}: the key is encrypted: give its password (--key-password)") from None
    except ValueError:
        if secret:
            raise KeyMaterialError(f"{key_path}: wrong password, or not a PEM private key") from None
        raise KeyMaterialError(f"{key_path}: not a PEM private key") from None
    except UnsupportedAlgorithm as exc:
        raise KeyMaterialError(f"{key_path}: unsupported private key: {exc}") from None
    if private.public_key() != certs[0].public_key():
        raise KeyMaterialError(f"{key_path} does not match the certificate in {cert_path}")
    plain = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningIdentity(chain_pem=chain_pem, alg=alg_for_public_key(private), key_pem=plain)


def callback_identity(
    chain_pem: bytes | str, sign: Callable[[bytes], bytes], alg: str | None = None
) -> SigningIdentity:
    """An identity whose signatures come from ``sign`` (e.g. a KMS or HSM call).

    ``alg`` defaults to the one matching the certificate's public key.

    >>> identity = callback_identity(open("chain.pem").read(), kms_client.sign_es256)  # doctest: +SKIP
    >>> Signer("keys", identity=identity)  # signatures come from the KMS  # doctest: +SKIP
    """
    data = chain_pem.encode("ascii") if isinstance(chain_pem, str) else chain_pem
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise KeyMaterialError("the signer's certificate chain is not PEM") from None
    return SigningIdentity(chain_pem=data, alg=alg or alg_for_public_key(certs[0].public_key()), sign=sign)
