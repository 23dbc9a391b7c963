-- FlowVision 0018: flow search by host without reading every row of the range.
--
-- A search for one address (`host X`, `src host X`, the console's address field)
-- otherwise reads every row of its time range: about 2.4 s for an hour of 10 M flows
-- on the benchmark machine (docs/benchmarks.md, flow search). A B-tree per address
-- column would cost ingest on every row; a BRIN bloom index costs nothing per row at
-- COPY (rows land in the unsummarized tail range) and is summarized in bulk by the
-- collector's maintenance thread (`brin_summarize_new_values`, every round) and by
-- VACUUM. Each range of 16 pages (about 700-850 rows of `flows`) keeps a bloom filter
-- of its source and of its destination addresses sized for 1,000 distinct values at a
-- 1 % false-positive rate (about 1.2 KB per column), so a host search reads the ranges
-- that hold the host plus about 1 % of the others. Equality only: prefixes (`net`)
-- still read the range, newest slices first (web/src/data/flows.rs).
--
-- Declared on the parent, PostgreSQL builds it on every existing partition now (an
-- upgrade with retained flows spends about 0.3 µs per row here) and creates it with
-- each new partition.
CREATE INDEX flows_addr_bloom ON flows USING brin (
    src_addr inet_bloom_ops (n_distinct_per_range = 1000, false_positive_rate = 0.01),
    dst_addr inet_bloom_ops (n_distinct_per_range = 1000, false_positive_rate = 0.01)
) WITH (pages_per_range = 16, autosummarize = off);
