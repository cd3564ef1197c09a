"""``make redrive``: replay the table stream's dead-letter queue through the projection
engine (chalicelib/services/flows/streamdlq.py). Run with the stage's environment
(``TABLE_NAME``, region and credentials; for the local stack its endpoint):

    TABLE_NAME=fieldsales-prod-Data... make redrive QUEUE_URL=https://sqs.../StreamFailureDlq...

Prints the report as JSON; exits 1 when a batch failed again or is past the stream's 24 h
(those messages stay on the queue).
"""

from __future__ import annotations

import argparse
import json
import sys

from chalicelib.services.flows import streamdlq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue-url", required=True, help="the stream DLQ (StreamFailureDlq) URL")
    args = parser.parse_args(argv)
    report = streamdlq.redrive(args.queue_url)
    print(json.dumps(vars(report), indent=2))
    return 1 if report.failed or report.expired else 0


if __name__ == "__main__":
    sys.exit(main())
