"""A cluster's librdkafka connection settings for the console's pure-Python Kafka connections:
kafka-python's admin clients (log dir sizes, committed offsets) and the fast scan's own
broker connections (console/kafka/fetch.py).

Understood: PLAINTEXT, SSL and SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 over either; the
CA, client certificate and key as files (ssl.*.location) or as PEM text (ssl.*.pem, as a
deployment passes them from its secrets store), the key's password, host name and
certificate checks. Anything else among the security settings (GSSAPI, OAUTHBEARER, key
stores, ...) raises Unsupported with the settings at fault: the caller then uses librdkafka.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass, field

MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_TLS = (
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "enable.ssl.certificate.verification",
)
_UNDERSTOOD = {
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    *_TLS,
}
_SECURITY_PREFIXES = ("ssl.", "sasl.", "security.", "enable.ssl.")


class Unsupported(Exception):
    """The cluster's connection settings cannot be spoken here (the message says which)."""


@dataclass(frozen=True)
class Security:
    protocol: str  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    mechanism: str = ""  # for SASL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    username: str = ""
    password: str = field(default="", repr=False)  # secrets stay out of logs and tracebacks
    # The TLS settings given, as librdkafka names them (a key's PEM text or password too).
    tls: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext:
        return ssl_context(dict(self.tls))


def security(conf: dict) -> Security:
    """The connection settings in `conf` (a cluster's librdkafka configuration)."""
    unknown = sorted(
        k
        for k in conf
        if k not in _UNDERSTOOD and k.lower().replace("_", ".").startswith(_SECURITY_PREFIXES)
    )
    if unknown:
        raise Unsupported(f"unsupported connection settings: {', '.join(unknown)}")
    protocol = str(conf.get("security.protocol", "plaintext")).upper()
    if protocol not in PROTOCOLS:
        raise Unsupported(f"security.protocol {protocol}")
    mechanism = ""
    if protocol.startswith("SASL"):
        # librdkafka's default mechanism is GSSAPI (Kerberos).
        mechanism = str(conf.get("sasl.mechanism", conf.get("sasl.mechanisms", "GSSAPI"))).upper()
        if mechanism not in MECHANISMS:
            raise Unsupported(f"SASL mechanism {mechanism}")
    return Security(
        protocol=protocol,
        mechanism=mechanism,
        username=str(conf.get("sasl.username", "")),
        password=str(conf.get("sasl.password", "")),
        tls=tuple((k, str(conf[k])) for k in _TLS if conf.get(k)),
    )


def ssl_context(conf: dict) -> ssl.SSLContext:
    """librdkafka's TLS settings in `conf` as an SSLContext."""
    ca = conf.get("ssl.ca.location", "")
    if ca and ca != "probe":
        ctx = ssl.create_default_context(
            cafile=None if os.path.isdir(ca) else ca, capath=ca if os.path.isdir(ca) else None
        )
    else:
        ctx = ssl.create_default_context()
    if conf.get("ssl.ca.pem"):
        ctx.load_verify_locations(cadata=conf["ssl.ca.pem"])
    password = conf.get("ssl.key.password") or None
    if conf.get("ssl.certificate.pem"):
        _load_pem_chain(ctx, conf["ssl.certificate.pem"], conf.get("ssl.key.pem", ""), password)
    elif conf.get("ssl.certificate.location"):
        ctx.load_cert_chain(
            conf["ssl.certificate.location"], conf.get("ssl.key.location") or None, password
        )
    verify = str(conf.get("enable.ssl.certificate.verification", "true")).lower()
    hostname = str(conf.get("ssl.endpoint.identification.algorithm", "https")).lower()
    ctx.check_hostname = hostname != "none" and verify not in ("false", "0")
    if verify in ("false", "0"):
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _load_pem_chain(ctx: ssl.SSLContext, cert: str, key: str, password: str | None) -> None:
    """A client certificate and key given as PEM text: Python's ssl loads a chain only from
    files, so they are written to a file only this process's user can read, in a directory
    of its own, loaded, and removed at once."""
    with tempfile.TemporaryDirectory(prefix="kafka-console-tls-") as d:
        path = os.path.join(d, "client.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(cert.strip() + "\n" + (key.strip() + "\n" if key else ""))
        ctx.load_cert_chain(path, None, password)
