"""Against the launcher as services.sh starts it: a cancelled transaction leaves
the table's stream as it was, and a reader's iterator stays live.

Plain moto 5.2 fails this: the reader sees the cancelled put and then
nothing more. `MOTO_SERVER=moto_server` runs the same test against it.
"""

import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.request
from pathlib import Path

import boto3

LAUNCHER = Path(__file__).with_name("moto_server.py")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CancelledTransactionTest(unittest.TestCase):
    def setUp(self):
        port = free_port()
        command = os.environ.get("MOTO_SERVER")
        argv = [command] if command else [sys.executable, str(LAUNCHER)]
        self.server = subprocess.Popen(argv + ["-H", "127.0.0.1", "-p", str(port)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.server.wait)
        self.addCleanup(self.server.terminate)
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                        region_name="us-east-1")
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.streams = session.client("dynamodbstreams", endpoint_url=endpoint)

    def test_a_cancelled_transaction_streams_nothing_and_readers_see_what_follows(self):
        dynamodb, streams = self.dynamodb, self.streams
        arn = dynamodb.create_table(
            TableName="events",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

        def put(key):
            return {"Put": {"TableName": "events", "Item": {"id": {"S": key}},
                            "ConditionExpression": "attribute_not_exists(id)"}}

        dynamodb.put_item(TableName="events", Item={"id": {"S": "taken"}})
        with self.assertRaises(dynamodb.exceptions.TransactionCanceledException):
            dynamodb.transact_write_items(TransactItems=[put("ghost"), put("taken")])
        dynamodb.put_item(TableName="events", Item={"id": {"S": "after"}})

        records = streams.get_records(ShardIterator=iterator)["Records"]
        self.assertEqual([r["dynamodb"]["Keys"]["id"]["S"] for r in records], ["taken", "after"])
        self.assertNotIn("Item", dynamodb.get_item(TableName="events", Key={"id": {"S": "ghost"}}))

    def test_a_cancelled_transaction_undoes_its_updates_too(self):
        dynamodb = self.dynamodb
        dynamodb.create_table(
            TableName="counters",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="counters", Item={"id": {"S": "a"}, "n": {"N": "1"}})
        bump = {"Update": {"TableName": "counters", "Key": {"id": {"S": "a"}},
                           "UpdateExpression": "SET n = n + :one",
                           "ExpressionAttributeValues": {":one": {"N": "1"}}}}
        refused = {"ConditionCheck": {"TableName": "counters", "Key": {"id": {"S": "b"}},
                                      "ConditionExpression": "attribute_exists(id)"}}
        with self.assertRaises(dynamodb.exceptions.TransactionCanceledException):
            dynamodb.transact_write_items(TransactItems=[bump, refused])
        item = dynamodb.get_item(TableName="counters", Key={"id": {"S": "a"}})["Item"]
        self.assertEqual(item["n"], {"N": "1"})
        dynamodb.transact_write_items(TransactItems=[bump])
        item = dynamodb.get_item(TableName="counters", Key={"id": {"S": "a"}})["Item"]
        self.assertEqual(item["n"], {"N": "2"})


if __name__ == "__main__":
    unittest.main()
