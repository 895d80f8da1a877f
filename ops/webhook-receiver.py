#!/usr/bin/env python3
"""A tiny webhook receiver for trying Pairgate's webhooks (README, docs/webhooks.md).

It verifies every request with the independent `standardwebhooks` package from PyPI
(pip install standardwebhooks), answers 204 to authentic ones and 400 to the rest, and prints
each verified event as one line of JSON.

    ops/webhook-receiver.py --secret whsec_… [--port 9000] [--host 127.0.0.1] [--count N]

Give --secret twice during a secret rotation (each one alone must verify). --count exits after
N verified events.
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    parser = argparse.ArgumentParser(description="Print verified Pairgate webhook events.")
    parser.add_argument("--secret", action="append", required=True, help="the endpoint's whsec_… secret")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--count", type=int, default=0, help="exit after this many verified events")
    arguments = parser.parse_args()
    verifiers = [Webhook(secret) for secret in arguments.secret]
    verified = 0

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            nonlocal verified
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                for verifier in verifiers:
                    event = verifier.verify(body, headers)
            except WebhookVerificationError as error:
                print(f"refused {headers.get('webhook-id', '?')}: {error}", file=sys.stderr, flush=True)
                self.send_response(400)
                self.end_headers()
                return
            self.send_response(204)
            self.end_headers()
            print(json.dumps(event, sort_keys=True, ensure_ascii=False), flush=True)
            verified += 1

        def log_message(self, format, *args):
            pass

    server = HTTPServer((arguments.host, arguments.port), Receiver)
    print(f"listening on http://{arguments.host}:{server.server_port}/", file=sys.stderr, flush=True)
    while arguments.count == 0 or verified < arguments.count:
        server.handle_request()


if __name__ == "__main__":
    main()
