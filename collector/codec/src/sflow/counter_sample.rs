//! Counter samples (formats 2 and 4): periodic interface counters. Only the generic
//! interface record feeds dashboards; Ethernet, host and vendor records are skipped.

use super::{xdr, Agent, COUNTERS_GENERIC_INTERFACE};
use crate::cursor::Cursor;
use crate::error::Result;
use crate::output::DecodeOutput;
use crate::record::InterfaceCounters;

/// Decodes the body of a counter sample (`expanded`: format 4) into `out.counters`.
/// A sample with a bad record adds nothing.
pub(super) fn decode(agent: &Agent, body: &[u8], expanded: bool, out: &mut DecodeOutput) -> Result<()> {
    let start = out.counters.len();
    let result = records(agent, body, expanded, out);
    if result.is_err() {
        out.counters.truncate(start);
    }
    result
}

fn records(agent: &Agent, body: &[u8], expanded: bool, out: &mut DecodeOutput) -> Result<()> {
    let mut cur =
        Cursor::new(body, if expanded { "sflow expanded counter sample" } else { "sflow counter sample" });
    let _sample_sequence = cur.u32()?;
    cur.skip(if expanded { 8 } else { 4 })?; // data source
    let count = cur.u32()?;
    for _ in 0..count {
        cur.context("sflow counter record header");
        let format = cur.u32()?;
        let data = xdr::opaque(&mut cur, "counter record length overruns its sample")?;
        if format == COUNTERS_GENERIC_INTERFACE {
            out.counters.push(generic_interface(agent, data)?);
        }
    }
    Ok(())
}

/// The generic interface counters record (88 bytes, ifTable/ifXTable order).
fn generic_interface(agent: &Agent, data: &[u8]) -> Result<InterfaceCounters> {
    let mut c = Cursor::new(data, "sflow generic interface counters");
    let if_index = c.u32()?;
    let _if_type = c.u32()?;
    let if_speed = c.u64()?;
    let _direction = c.u32()?;
    let _status = c.u32()?;
    let in_octets = c.u64()?;
    let in_ucast_pkts = c.u32()?;
    let _in_multicast = c.u32()?;
    let _in_broadcast = c.u32()?;
    let in_discards = c.u32()?;
    let in_errors = c.u32()?;
    let _in_unknown_protos = c.u32()?;
    let out_octets = c.u64()?;
    let out_ucast_pkts = c.u32()?;
    let _out_multicast = c.u32()?;
    let _out_broadcast = c.u32()?;
    let out_discards = c.u32()?;
    let out_errors = c.u32()?;
    let _promiscuous = c.u32()?;
    Ok(InterfaceCounters {
        agent: Some(agent.address),
        sub_agent: agent.sub_agent,
        if_index,
        if_speed,
        in_octets,
        in_ucast_pkts,
        in_errors,
        in_discards,
        out_octets,
        out_ucast_pkts,
        out_errors,
        out_discards,
    })
}
