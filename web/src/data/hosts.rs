//! One host's flows, as its behaviour profile needs them, within the caller's scope.

use super::{DataResult, Db, Scope};
use flowvision_insights::profile::FlowView;
use flowvision_schema::tables::FLOWS_SEARCHABLE;
use std::net::IpAddr;
use time::OffsetDateTime;

impl Db {
    /// Up to `limit` flows from or to `host` received in `[from, to)` by exporters in
    /// `scope`, newest first, counters multiplied by their sampling rate; and whether
    /// there were more.
    pub async fn host_flows(
        &self,
        scope: &Scope,
        host: IpAddr,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: i64,
    ) -> DataResult<(Vec<FlowView>, bool)> {
        let c = self.conn().await?;
        let sql = format!(
            "SELECT src_addr, dst_addr, src_port, dst_port, proto, tcp_flags, \
                    packets * GREATEST(sampling_rate, 1), bytes * GREATEST(sampling_rate, 1), \
                    (EXTRACT(EPOCH FROM COALESCE(flow_start, time_received)) * 1000)::int8 \
             FROM {FLOWS_SEARCHABLE} \
             WHERE time_received >= $1 AND time_received < $2 AND exporter <<= ANY($3::text[]::inet[]) \
               AND (src_addr = $4 OR dst_addr = $4) \
             ORDER BY time_received DESC LIMIT $5"
        );
        let rows = c.query(&sql, &[&from, &to, &scope.sql_param(), &host, &(limit + 1)]).await?;
        let more = rows.len() as i64 > limit;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows.iter().take(usize::try_from(limit).unwrap_or(0)) {
            let (Some(src), Some(dst)) =
                (r.try_get::<_, Option<IpAddr>>(0)?, r.try_get::<_, Option<IpAddr>>(1)?)
            else {
                continue;
            };
            let port =
                |i: usize| -> DataResult<u16> { Ok(u16::try_from(r.try_get::<_, i32>(i)?).unwrap_or(0)) };
            let count =
                |i: usize| -> DataResult<u64> { Ok(u64::try_from(r.try_get::<_, i64>(i)?).unwrap_or(0)) };
            out.push(FlowView {
                src,
                dst,
                src_port: port(2)?,
                dst_port: port(3)?,
                proto: u8::try_from(r.try_get::<_, i16>(4)?).unwrap_or(0),
                tcp_flags: u16::try_from(r.try_get::<_, i32>(5)?).unwrap_or(0),
                packets: count(6)?,
                bytes: count(7)?,
                start_ms: r.try_get(8)?,
            });
        }
        Ok((out, more))
    }
}
