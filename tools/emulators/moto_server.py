"""moto_server, with transactions that DynamoDB would recognise.

moto 5.2 runs `TransactWriteItems` item by item, writing each item (and its
stream record) as it goes, after a deep copy of every table the transaction
names; on cancellation it puts the copies back. Two things follow:

- The copy carries a new stream shard while every open shard iterator still
  points at the old one: a stream reader sees records of a transaction that
  never committed, and then never sees another record.
- Copying whole tables makes every transaction cost as much as the tables are
  large (a few per second once a test has written a thousand events).

This launcher keeps moto's transaction code and changes only its undo: the
tables stay in place, a cheap copy of their item maps is taken instead (a deep
one only of tables whose items an `Update` of the transaction changes in
place), and on cancellation the maps are put back and the stream shard is cut
back to its length before the transaction. Writes beside a transaction are
isolated by tools/latency-proxy (--isolate-writes), as moto does not isolate
them. Everything else is moto as pinned in requirements.txt.
"""

import copy
import sys
from collections import defaultdict

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.server import main


class _TablesStayInPlace:
    """`copy` as moto's DynamoDB backend sees it: a table "copied" is the table itself."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


dynamodb_models.copy = _TablesStayInPlace()
_transact_write_items = DynamoDBBackend.transact_write_items


def _changed_in_place(transact_items):
    """Names of the tables whose items an `Update` of the transaction changes in place."""
    return {op.get("TableName") for item in transact_items for op_type, op in item.items() if op_type == "Update"}


def transact_write_items(self, transact_items):
    named = {op.get("TableName") for item in transact_items for op in item.values()} & self.tables.keys()
    deep = _changed_in_place(transact_items)
    saved = {}
    for name in named:
        table = self.tables[name]
        if name in deep:
            items = copy.deepcopy(table.items)
        else:
            items = defaultdict(dict)
            for key, value in table.items.items():
                items[key] = dict(value) if isinstance(value, dict) else value
        shard = table.stream_shard
        saved[name] = (table, items, len(shard.items) if shard is not None else 0)
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for table, items, length in saved.values():
            table.items = items
            if table.stream_shard is not None:
                del table.stream_shard.items[length:]
        raise


DynamoDBBackend.transact_write_items = transact_write_items

if __name__ == "__main__":
    sys.exit(main())
