"""provmark keys: a local PKI whose certificates C2PA validators accept, and clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from provmark.c2pa.pki import DOCUMENT_SIGNING_OID
from provmark.cli.main import main
from provmark.keys import load_keys
from provmark.watermark.keyfile import KEY_BYTES, read_watermark_key


def test_keys_init_creates_pki_with_c2pa_extensions(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    result = CliRunner().invoke(main, ["keys", "init", "--dir", str(keys), "--org", "Acme Labs"])
    assert result.exit_code == 0, result.output
    for name in ("ca.pem", "signer.pem", "signer.key", "watermark.key"):
        assert (keys / name).is_file()
    assert stat.S_IMODE((keys / "signer.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((keys / "watermark.key").stat().st_mode) == 0o600
    assert len(read_watermark_key(keys / "watermark.key")) == KEY_BYTES

    ca = x509.load_pem_x509_certificate((keys / "ca.pem").read_bytes())
    leaf, chain_ca = x509.load_pem_x509_certificates((keys / "signer.pem").read_bytes())
    assert chain_ca == ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    eku = list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku and DOCUMENT_SIGNING_OID in eku
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey) and leaf.public_key().curve.name == "secp256r1"
    leaf.verify_directly_issued_by(ca)
    assert "Acme Labs" in leaf.subject.rfc4514_string()

    identity = load_keys(keys).identity()
    assert identity.alg == "es256"
    shown = CliRunner().invoke(main, ["keys", "show", "--dir", str(keys)])
    assert shown.exit_code == 0 and "O=Acme Labs" in shown.output and "es256" in shown.output


def test_keys_init_refuses_to_replace_keys_unless_forced(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["keys", "init", "--dir", str(tmp_path)]).exit_code == 0
    before = (tmp_path / "signer.key").read_bytes()
    again = runner.invoke(main, ["keys", "init", "--dir", str(tmp_path)])
    assert again.exit_code == 1
    assert "already holds keys" in again.stderr and "Traceback" not in again.output
    assert (tmp_path / "signer.key").read_bytes() == before
    assert runner.invoke(main, ["keys", "init", "--dir", str(tmp_path), "--force"]).exit_code == 0
    assert (tmp_path / "signer.key").read_bytes() != before


def test_keys_show_on_missing_folder_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["keys", "show", "--dir", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "no such keys folder" in result.stderr


def test_keys_init_into_unwritable_place_leaves_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["keys", "init", "--dir", str(blocker / "keys")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.count("provmark: error:") == 1 and "cannot write" in result.stderr
