#!/usr/bin/env python3
"""Independent reader of the archive's objects (pyarrow, not FlowVision's code).

Usage: read_parquet.py BUCKET_DIR

Reads every *.parquet file under BUCKET_DIR (the S3 server's backing directory, so
not even the S3 client is shared with the collector) and prints JSON Lines:
one {"object": KEY, "rows": N, "row_groups": N, "sorted_row_groups": N,
"sorting_columns": [...], "codecs": [...], "metadata": {...}, "columns": [...]} line per
object (a row group counts as sorted when its rows are in (exporter, time_received)
order as read here), then one JSON array per row with timestamps as
integer microseconds since the epoch, NULL as null, everything else as read.
"""
import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def main(root):
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if not name.endswith(".parquet"):
                continue
            path = os.path.join(dirpath, name)
            pf = pq.ParquetFile(path)
            meta = pf.metadata
            codecs = sorted({meta.row_group(g).column(c).compression
                             for g in range(meta.num_row_groups)
                             for c in range(meta.num_columns)})
            kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()
                  if k.decode().startswith("flowvision.")}
            sorted_groups = 0
            for g in range(meta.num_row_groups):
                part = pf.read_row_group(g, columns=["exporter", "time_received"])
                keys = list(zip(part.column("exporter").to_pylist(),
                                part.column("time_received").to_pylist()))
                if all(a <= b for a, b in zip(keys, keys[1:])):
                    sorted_groups += 1
            declared = []
            if meta.num_row_groups > 0:
                names = [f.name for f in pf.schema_arrow]
                declared = [names[s.column_index] for s in (meta.row_group(0).sorting_columns or ())]
            table = pf.read()
            columns = []
            for field in table.schema:
                col = table.column(field.name)
                if pa.types.is_timestamp(field.type):
                    col = col.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
                columns.append(col.to_pylist())
            print(json.dumps({
                "object": os.path.relpath(path, root),
                "rows": meta.num_rows,
                "bytes": os.path.getsize(path),
                "row_groups": meta.num_row_groups,
                "sorted_row_groups": sorted_groups,
                "sorting_columns": declared,
                "codecs": codecs,
                "metadata": kv,
                "columns": [f"{f.name}:{f.type}" for f in table.schema],
            }))
            for row in zip(*columns):
                print(json.dumps(list(row)))


if __name__ == "__main__":
    main(sys.argv[1])
