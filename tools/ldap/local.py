"""A throwaway OpenLDAP server on loopback, from Debian's `slapd`.

`LocalLdap().start()` writes a fresh cn=config (slapadd into a temp folder, checked by
slaptest), one mdb database for ``dc=example,dc=org`` loaded from an LDIF, and starts
`slapd` in the foreground on ``ldap://127.0.0.1:<free port>``; `stop()` ends it (SIGTERM,
then SIGKILL) and `destroy()` also deletes the folder. Nothing is read from or written to
/etc/ldap: the system's own slapd, if any, is untouched.

The directory (see `DIRECTORY_LDIF`): ``ou=people`` with ada, olga, vic and nog,
``ou=groups`` with the groupOfNames kafka-admins (ada), kafka-operators (olga) and
kafka-viewers (vic); nog is in no group. `LocalLdap(tls=True)` also offers StartTLS with a
certificate for 127.0.0.1 from a throwaway CA (`ca_file`), made with the openssl program. ``cn=console,ou=services`` is the read-only
service account the console searches with; ``ROOT_DN`` may change anything (tests use it
to move users between groups). Passwords are in `PASSWORDS`: test values, never real.

Standard library only: CI runs it before the virtualenv exists.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from tools.service import LocalService, port_open, run_program

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "admin-secret"
SERVICE_DN = f"cn=console,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "console-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
# user -> (full name, password, group or None)
USERS = {
    "ada": ("Ada Admin", "ada-pass-1", "kafka-admins"),
    "olga": ("Olga Operator", "olga-pass-1", "kafka-operators"),
    "vic": ("Vic Viewer", "vic-pass-1", "kafka-viewers"),
    "nog": ("Nog Nogroup", "nog-pass-1", None),
}
PASSWORDS = {uid: password for uid, (_name, password, _group) in USERS.items()}
GROUP_NAMES = ("kafka-admins", "kafka-operators", "kafka-viewers")
SCHEMAS = ("core", "cosine", "inetorgperson")
SCHEMA_DIR = Path(os.environ.get("LDAP_SCHEMA_DIR", "/etc/ldap/schema"))
MODULE_DIR = Path(os.environ.get("LDAP_MODULE_DIR", "/usr/lib/ldap"))


class LdapError(RuntimeError):
    """slapd could not be set up or did not come up; the message says what to do."""


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


def ssha(password: str) -> str:
    """An RFC 2307 {SSHA} hash, as slappasswd makes."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def config_ldif(base: Path, tls: bool = False) -> str:
    """cn=config: the mdb module, three schemas, and one database for SUFFIX."""
    schemas = "\n".join(f"include: file://{SCHEMA_DIR / (name + '.ldif')}" for name in SCHEMAS)
    tls_lines = (
        f"olcTLSCACertificateFile: {base / 'ca.pem'}\n"
        f"olcTLSCertificateFile: {base / 'server.pem'}\n"
        f"olcTLSCertificateKeyFile: {base / 'server.key'}\n"
        if tls
        else ""
    )
    return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {base / "slapd.pid"}
olcArgsFile: {base / "slapd.args"}
olcLogLevel: none
{tls_lines}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULE_DIR}
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {base / "db"}
olcSuffix: {SUFFIX}
olcRootDN: {ROOT_DN}
olcRootPW: {ssha(ROOT_PASSWORD)}
olcDbMaxSize: 67108864
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: member eq
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to * by users read by * none
"""


def directory_ldif() -> str:
    """The test directory: people, groups, and the console's service account."""
    o = SUFFIX.split(",")[0].split("=")[1]
    parts = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: {o}\no: Example",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
        f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: console\nuserPassword: {ssha(SERVICE_PASSWORD)}",
    ]
    for uid, (name, password, _group) in USERS.items():
        first, last = name.split(" ", 1)
        parts.append(
            f"dn: {user_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\n"
            f"givenName: {first}\nsn: {last}\nmail: {uid}@example.org\n"
            f"userPassword: {ssha(password)}"
        )
    for group in GROUP_NAMES:
        members = [user_dn(u) for u, (_n, _p, g) in USERS.items() if g == group]
        # groupOfNames needs at least one member: an empty group holds the root DN.
        lines = "\n".join(f"member: {m}" for m in members or [ROOT_DN])
        parts.append(f"dn: {group_dn(group)}\nobjectClass: groupOfNames\ncn: {group}\n{lines}")
    return "\n\n".join(parts) + "\n"


class LocalLdap(LocalService):
    name = "slapd"
    error = LdapError
    tmp_prefix = "slapd-"
    log_name = "slapd.log"
    poll_interval = 0.05
    stop_timeout = 10.0

    def __init__(
        self, base: Path | str | None = None, *, port: int | None = None, tls: bool = False
    ) -> None:
        super().__init__(base, port=port)
        self.tls = tls

    @property
    def base(self) -> Path:
        return self.base_dir

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.process

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def config_dir(self) -> Path:
        return self.base / "slapd.d"

    @property
    def ca_file(self) -> Path:
        """The CA that signed the server's certificate (with tls=True)."""
        return self.base / "ca.pem"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def settings(self) -> dict[str, str]:
        """The console's environment for this server (CONSOLE_LDAP_*)."""
        return {
            "CONSOLE_LDAP_SERVER_URI": self.uri,
            "CONSOLE_LDAP_BIND_DN": SERVICE_DN,
            "CONSOLE_LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
            "CONSOLE_LDAP_USER_SEARCH_BASE": PEOPLE,
            "CONSOLE_LDAP_GROUP_SEARCH_BASE": GROUPS,
        }

    def _run(self, *args: str, stdin: str | None = None) -> str:
        program = shutil.which(args[0]) or f"/usr/sbin/{args[0]}"
        if not Path(program).exists():
            raise LdapError(
                f"{args[0]} was not found: apt-get install slapd ldap-utils "
                "(tools/system-deps.sh does)"
            )
        return run_program([program, *args[1:]], LdapError, shown=args, input=stdin)

    def _prepare(self) -> None:
        if (self.config_dir / "cn=config.ldif").exists():
            return
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.base / "db").mkdir(exist_ok=True)
        if self.tls:
            self._make_certificates()
        config = self.base / "config.ldif"
        config.write_text(config_ldif(self.base, tls=self.tls))
        self._run("slapadd", "-n0", "-F", str(self.config_dir), "-l", str(config))
        data = self.base / "directory.ldif"
        data.write_text(directory_ldif())
        self._run("slapadd", "-q", "-F", str(self.config_dir), "-b", SUFFIX, "-l", str(data))
        self._run("slaptest", "-u", "-F", str(self.config_dir))

    def _make_certificates(self) -> None:
        """A CA, and a server certificate for 127.0.0.1 and localhost signed by it."""
        b = self.base
        ext = b / "server.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        self._run(
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(b / "ca.key"), "-out", str(b / "ca.pem"),
            "-subj", "/CN=tools.ldap test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        self._run(
            "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", str(b / "server.key"), "-out", str(b / "server.csr"),
        )  # fmt: skip
        self._run(
            "openssl", "x509", "-req", "-days", "2", "-in", str(b / "server.csr"),
            "-CA", str(b / "ca.pem"), "-CAkey", str(b / "ca.key"), "-CAcreateserial",
            "-out", str(b / "server.pem"), "-extfile", str(ext),
        )  # fmt: skip

    def start(self, timeout: float = 20.0) -> LocalLdap:
        """Create the config and data on first use, start slapd, wait until it listens."""
        self._prepare()
        # -d 0: stay in the foreground (our child, so stop() can end it), log nothing extra.
        cmd = ["slapd", "-d", "0", "-h", f"{self.uri}/", "-F", str(self.config_dir)]
        self.launch(cmd, timeout)
        return self

    def ready(self) -> bool:
        return port_open(self.port)

    def exited_error(self, code: int) -> Exception:
        return LdapError(
            f"slapd exited with {code}: {self.log_file.read_text(errors='replace')[-2000:]}"
        )

    def not_ready_error(self, timeout: float) -> Exception:
        return LdapError(f"slapd did not listen on {self.uri} within {timeout:.0f}s")

    def pause(self) -> None:
        """SIGSTOP: slapd keeps its socket (connections are accepted) but answers nothing."""
        if self.proc:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc:
            os.kill(self.proc.pid, signal.SIGCONT)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(LdapError):
            self.destroy()
