"""certificate mode: the server is a small CA; userids are the CN of client certificates it signed.

Registration takes a PEM PKCS#10 request (modern browsers have no <keygen>) or, for old clients, a
base64 SPKAC. The userid comes from a client certificate verified by our TLS listener, or from a
front proxy's headers when it proves it verified one (protocol.md 3.6.1).
"""
from __future__ import annotations

import base64
import binascii
import datetime
import logging
import secrets
from pathlib import Path
from typing import Any, Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..config import ConfigError
from .base import Registration, RegistrationError, RequestFacts, UsersMode

log = logging.getLogger("spreed.users")


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def repair_proxy_pem(value: str) -> str:
    """nginx's $ssl_client_cert with newlines turned into spaces, made PEM again."""
    text = value.replace(" ", "\n")
    return text.replace("BEGIN\n", "BEGIN ", 1).replace("END\n", "END ", 1)


# ---------------------------------------------------------------- SPKAC (Netscape <keygen>)

def _der_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER item at pos."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


_SIG_HASHES = {"1.2.840.113549.1.1.4": hashes.MD5, "1.2.840.113549.1.1.5": hashes.SHA1,
               "1.2.840.113549.1.1.11": hashes.SHA256, "1.2.840.113549.1.1.12": hashes.SHA384,
               "1.2.840.113549.1.1.13": hashes.SHA512}


def _oid(der: bytes) -> str:
    first = der[0]
    parts, value = [first // 40, first % 40], 0
    for byte in der[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def spkac_public_key(pubkey_b64: str) -> Any:
    """The verified public key of a SignedPublicKeyAndChallenge."""
    try:
        der = base64.b64decode("".join(pubkey_b64.split()), validate=True)
        _, start, _ = _der_item(der, 0)
        _, pkac_start, pkac_end = _der_item(der, start)
        signed = der[start:pkac_end]
        _, _, spki_end = _der_item(der, pkac_start)
        spki = der[pkac_start:spki_end]
        _, alg_start, alg_end = _der_item(der, pkac_end)
        _, oid_start, oid_end = _der_item(der, alg_start)
        _, sig_start, sig_end = _der_item(der, alg_end)
        signature = der[sig_start + 1:sig_end]  # skip the BIT STRING's unused-bits byte
        key = serialization.load_der_public_key(spki)
        algorithm = _SIG_HASHES.get(_oid(der[oid_start:oid_end]))
        if algorithm is None or not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("unsupported SPKAC signature")
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
        return key
    except (ValueError, IndexError, binascii.Error, InvalidSignature, UnsupportedAlgorithm) as exc:
        raise RegistrationError(f"invalid pubkey: {exc or 'bad signature'}") from None


def csr_public_key(pem: str) -> Any:
    try:
        request = x509.load_pem_x509_csr(pem.encode())
    except ValueError:
        raise RegistrationError("invalid certificate request") from None
    if not request.is_signature_valid:
        raise RegistrationError("certificate request signature is not valid")
    return request.public_key()


# ---------------------------------------------------------------- the mode

class CertificateMode(UsersMode):
    name = "certificate"

    def __init__(self, ca_certs: list[x509.Certificate], ca_pem_path: str, ca_key: Any | None,
                 options: Mapping[str, str]) -> None:
        self.ca_certs = ca_certs
        self.ca_pem_path = ca_pem_path
        self.ca_key = ca_key
        self.organization = options.get("certificate_organization") or "My Spreed Server"
        days = options.get("certificate_validfordays") or "365"
        self.valid_days = int(days) if days.isdigit() and int(days) > 0 else 365
        self.verified_header = options.get("certificate_verifiedheader", "")
        self.verified_value = options.get("certificate_verifiedheadervalue", "")
        self.cert_header = options.get("certificate_certificateheader", "")

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> "CertificateMode":
        cert_path = options["certificate_certificate"]
        try:
            certs = x509.load_pem_x509_certificates(Path(cert_path).read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError("users.certificate_certificate", f"cannot load {cert_path} ({exc})") from None
        key = None
        key_path = options.get("certificate_key", "")
        if key_path:
            try:
                key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
            except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
                raise ConfigError("users.certificate_key", f"cannot load {key_path} ({exc})") from None
        return cls(certs, cert_path, key, options)

    def userid_from_request(self, facts: RequestFacts) -> str:
        if self.verified_header and self.verified_value:
            if facts.headers.get(self.verified_header, "") != self.verified_value or not self.cert_header:
                return ""
            pem = facts.headers.get(self.cert_header, "")
            try:
                return common_name(x509.load_pem_x509_certificate(repair_proxy_pem(pem).encode()))
            except ValueError:
                log.info("proxy sent an unusable client certificate")
                return ""
        if facts.client_cert_der:
            try:
                return common_name(x509.load_der_x509_certificate(facts.client_cert_der))
            except ValueError:
                return ""
        return ""

    def register(self, userid: str, params: Mapping[str, Any]) -> Registration:
        if self.ca_key is None:
            raise RegistrationError("no certificate_key configured to sign with")
        csr, spkac = params.get("csr") or "", params.get("pubkey") or ""
        if not isinstance(csr, str) or not isinstance(spkac, str):
            raise RegistrationError("invalid request")
        if not csr and spkac.lstrip().startswith("-----BEGIN"):
            csr, spkac = spkac, ""
        if csr:
            public_key = csr_public_key(csr)
        elif spkac:
            public_key = spkac_public_key(spkac)
        else:
            raise RegistrationError("no csr or pubkey given")
        der = self.sign(userid, public_key)
        now = datetime.datetime.now(datetime.timezone.utc)
        return Registration(body=der, headers={
            "Content-Type": "application/x-x509-user-cert", "Accept-Ranges": "bytes",
            "Last-Modified": now.strftime("%a, %d %b %Y %H:%M:%S GMT")})

    def sign(self, userid: str, public_key: Any) -> bytes:
        issuer = self.ca_certs[0]
        now = datetime.datetime.now(datetime.timezone.utc)
        algorithm = None if isinstance(self.ca_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, userid),
                                     x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization)]))
            .issuer_name(issuer.subject)
            .public_key(public_key)
            .serial_number(secrets.randbelow(1 << 128) or 1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=self.valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.ca_key, algorithm)
        )
        return cert.public_bytes(serialization.Encoding.DER)
