#!/usr/bin/env python3
"""Writes the sample SQS events of events/ (run from the repo root: python3 events/generate.py).

Each file is a Lambda SQS event (aws-lambda-go events.SQSEvent) whose message
bodies are CloudEvents payment events; tests and `make invoke` use them.
"""
import json

ARN = "arn:aws:sqs:us-east-1:000000000000:accrue-payments"
SENT = 1793527200000  # 2026-11-01T10:00:00Z in ms


def event(eid, pid, amount, typ="payment.succeeded", refund_of=None, member="cust-42", period="2026-11",
          time="2026-11-05T10:00:00Z", currency="RUB", partner="telco", category="telecom"):
    data = {"partner_id": partner, "member_id": member, "payment_id": pid, "amount_minor": amount,
            "currency": currency, "category": category,
            "recurring": {"subscription_id": "plan-7", "period": period, "due_date": period + "-10"},
            "refund_of": refund_of}
    if typ == "payment.refunded":
        data["recurring"] = None
    return {"specversion": "1.0", "id": eid, "source": "billing/telco-ru", "type": typ, "time": time,
            "datacontenttype": "application/json", "data": data}


def record(i, body):
    if not isinstance(body, str):
        body = json.dumps(body, separators=(",", ":"))
    return {"messageId": f"00000000-0000-4000-8000-{i:012d}", "receiptHandle": f"rh-{i}", "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(SENT + i * 1000),
                           "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": str(SENT + i * 1000)},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": ARN,
            "awsRegion": "us-east-1"}


def write(name, bodies, start=1):
    with open(f"events/{name}", "w") as f:
        json.dump({"Records": [record(start + i, b) for i, b in enumerate(bodies)]}, f, indent=2)
        f.write("\n")


pay = event("evt-8f2c", "pay-9001", 129900)
write("sqs-payment.json", [pay])
# The bare CloudEvent, for `aws sqs send-message --message-body file://events/payment.json`
# and POST /v1/events.
with open("events/payment.json", "w") as f:
    json.dump(pay, f, indent=2)
    f.write("\n")
write("sqs-partial-refund.json", [event("evt-9a01", "ref-9001-1", 50000, "payment.refunded", "pay-9001")], start=10)
write("sqs-duplicate.json", [pay, dict(pay, id="evt-8f2c-resent"), pay], start=20)

bad_currency = event("evt-bad-cur", "pay-bad-cur", 1000, currency="XYZ")
negative = event("evt-neg", "pay-neg", -500)
fractional = event("evt-frac", "pay-frac", 1000)
unknown_partner = event("evt-unk", "pay-unk", 1000, partner="nobody")
bad_category = event("evt-cat", "pay-cat", 1000, category="casino")
no_refund_of = event("evt-nref", "ref-x", 1000, "payment.refunded")
wrong_type = dict(event("evt-type", "pay-type", 1000), type="payment.pending")
no_time = {k: v for k, v in event("evt-notime", "pay-notime", 1000).items() if k != "time"}
bad_period = event("evt-period", "pay-period", 1000, period="2026-13")
write("sqs-malformed.json", [
    "{not json",
    "[1,2,3]",
    json.dumps(bad_currency),
    json.dumps(negative),
    json.dumps(fractional).replace('"amount_minor": 1000', '"amount_minor": 10.5'),
    json.dumps(unknown_partner),
    json.dumps(bad_category),
    json.dumps(no_refund_of),
    json.dumps(wrong_type),
    json.dumps(no_time),
    json.dumps(bad_period),
    json.dumps({"specversion": "1.0", "id": "evt-nodata", "source": "billing", "type": "payment.succeeded",
                "time": "2026-11-05T10:00:00Z"}),
], start=30)

# The imports queue: S3's notification of an uploaded import file (as moto
# and S3 send it: the key URL-encoded), for `make invoke FN=imports`. The
# import it names does not exist until POST /v1/imports made it: the function
# then logs and ignores it.
upload = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                       "eventTime": "2026-11-05T10:00:00.000Z", "eventName": "ObjectCreated:Put",
                       "s3": {"s3SchemaVersion": "1.0", "configurationId": "imports",
                              "bucket": {"name": "accrue-imports", "arn": "arn:aws:s3:::accrue-imports"},
                              "object": {"key": "imports%2Ftelco%2Fimp_00000000000000000000000000000001",
                                         "size": 1024, "eTag": "49f68a5c8493ec2c0bf489821c21fc3b"}}}]}
with open("events/sqs-import-upload.json", "w") as f:
    rec = record(40, upload)
    rec["eventSourceARN"] = "arn:aws:sqs:us-east-1:000000000000:accrue-imports"
    json.dump({"Records": [rec]}, f, indent=2)
    f.write("\n")
