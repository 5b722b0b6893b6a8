"""An SMTP relay for tests, built on aiosmtpd: STARTTLS required before MAIL and AUTH, an
optional login, and every accepted message written as one JSON file into the output directory.

Usage: smtp_sink.py PORT CERT KEY OUT_DIR [USER PASSWORD]
Prints "ready" on stdout once it listens.
"""

import asyncio
import json
import os
import ssl
import sys
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
            "login": session.auth_data if session.authenticated else None,
        }
        name = uuid.uuid4().hex
        tmp = os.path.join(self.out_dir, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out_dir, name + ".json"))
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode())
    return check


def main():
    port, cert, key, out_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    user = sys.argv[5] if len(sys.argv) > 6 else None
    password = sys.argv[6] if len(sys.argv) > 6 else None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    kwargs = dict(
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_require_tls=True,
    )
    if user is not None:
        kwargs.update(authenticator=authenticator(user, password), auth_required=True)
    else:
        kwargs.update(auth_required=False)
    controller = Controller(Sink(out_dir), **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
