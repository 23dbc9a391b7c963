//! One poll of one agent: the system group with a GET, then the six interface columns
//! with GETBULK: ifTable's three and ifXTable's three, each trio walked together (one
//! request carries all three columns) and both trios at once.
//!
//! Only the columns shown are walked, not whole tables: a router's ifTable and
//! ifXTable have 41 columns, and a view may exclude some of them. A device without ifXTable (old
//! switches, some firewalls) answers the ifName walk with nothing; names then come
//! from ifDescr and [`Device::has_if_x_table`] says so.

use crate::credentials::Credentials;
use crate::device::{Device, Interface, OperStatus};
use crate::error::{PollError, PollErrorKind};
use async_snmp::{Client, Oid, Retry, UdpHandle, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Timeouts, retries and bounds of a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollOptions {
    /// Wait for one response [2 s].
    pub timeout: Duration,
    /// Retries of a request after a timeout [2].
    pub retries: u32,
    /// Rows per GETBULK at most [40] (fewer when several columns share a request).
    pub max_repetitions: u32,
    /// Interfaces kept per device [100,000]: a bound on what a broken or hostile agent
    /// can make the console hold.
    pub max_interfaces: usize,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions {
            timeout: Duration::from_secs(2),
            retries: 2,
            max_repetitions: 40,
            max_interfaces: 100_000,
        }
    }
}

const SYS_DESCR: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 1, 0];
const SYS_OBJECT_ID: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 2, 0];
const SYS_UPTIME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
const SYS_NAME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 5, 0];
const IF_DESCR: [u32; 10] = [1, 3, 6, 1, 2, 1, 2, 2, 1, 2];
const IF_SPEED: [u32; 10] = [1, 3, 6, 1, 2, 1, 2, 2, 1, 5];
const IF_OPER_STATUS: [u32; 10] = [1, 3, 6, 1, 2, 1, 2, 2, 1, 8];
const IF_NAME: [u32; 11] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1];
const IF_HIGH_SPEED: [u32; 11] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15];
const IF_ALIAS: [u32; 11] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18];

/// Polls `agent` with `credentials`: system group and interface names, speeds and
/// states. Every failure comes back as a [`PollError`] naming the agent and the cause.
pub async fn poll(
    agent: SocketAddr,
    credentials: &Credentials,
    opts: &PollOptions,
) -> Result<Device, PollError> {
    let who = agent.to_string();
    credentials
        .validate()
        .map_err(|e| PollError::new(PollErrorKind::Configuration, format!("{who}: {e}")))?;
    let auth = credentials
        .to_client()
        .map_err(|e| PollError::new(PollErrorKind::Configuration, format!("{who}: {e}")))?;
    let retry = Retry::fixed(opts.retries.min(async_snmp::MAX_RETRIES), Duration::ZERO)
        .map_err(|e| PollError::new(PollErrorKind::Configuration, format!("{who}: retries: {e}")))?;
    let client = Client::builder(agent, auth)
        .request_timeout(opts.timeout)
        .retry(retry)
        .connect()
        .await
        .map_err(|e| PollError::from_client(&who, "connecting", &e))?;

    let system = [SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME].map(|a| Oid::from_slice(&a));
    let answer = match client.get_many(&system).await {
        Ok(a) => a,
        Err(e) => {
            let err = PollError::from_client(&who, "reading the system group", &e);
            return Err(match (err.kind, credentials.user()) {
                (PollErrorKind::Timeout, Some(user)) => v3_silence(agent, user, opts).await.unwrap_or(err),
                _ => err,
            });
        }
    };
    let value_of = |oid: &Oid| answer.varbinds.iter().find(|vb| &vb.oid == oid).map(|vb| &vb.value);
    let [descr_oid, object_id_oid, uptime_oid, name_oid] = &system;
    let sys_descr = value_of(descr_oid).and_then(text);
    let sys_object_id = value_of(object_id_oid).and_then(|v| v.as_oid()).map(|o| o.to_string());
    let sys_uptime_cs = value_of(uptime_oid).and_then(|v| match v {
        Value::TimeTicks(t) => Some(*t),
        _ => None,
    });
    let sys_name = value_of(name_oid).and_then(text);
    if sys_descr.is_none() && sys_object_id.is_none() && sys_name.is_none() {
        return Err(PollError::new(
            PollErrorKind::NoSuchObject,
            format!("{who}: the system group (sysName, sysDescr, sysObjectID) is not in the view these credentials grant"),
        ));
    }

    // Two table walks at once, each asking for its three columns in every GETBULK
    // (a row per repetition): a 48-port switch answers in 4 requests, not 10.
    let if_table = [IF_DESCR, IF_SPEED, IF_OPER_STATUS].map(|c| Oid::from_slice(&c));
    let if_x_table = [IF_NAME, IF_HIGH_SPEED, IF_ALIAS].map(|c| Oid::from_slice(&c));
    let (t, x) = tokio::join!(
        table_walk(&client, &who, &if_table, opts),
        table_walk(&client, &who, &if_x_table, opts)
    );
    let (mut t, mut x) = (t?, x?);
    let take = |v: &mut Vec<Vec<(u32, Value)>>| if v.is_empty() { Vec::new() } else { v.remove(0) };
    let (descr, speed, oper) = (take(&mut t), take(&mut t), take(&mut t));
    let (name, high_speed, alias) = (take(&mut x), take(&mut x), take(&mut x));
    let has_if_x_table = !name.is_empty();

    let mut interfaces: BTreeMap<u32, Interface> = BTreeMap::new();
    let max = opts.max_interfaces;
    for (i, v) in &descr {
        if let Some(r) = row(&mut interfaces, *i, max) {
            r.descr = text(v);
        }
    }
    for (i, v) in &name {
        if let Some(r) = row(&mut interfaces, *i, max) {
            r.name = text(v);
        }
    }
    for (i, v) in &alias {
        if let Some(r) = row(&mut interfaces, *i, max) {
            r.alias = text(v);
        }
    }
    for (i, v) in &oper {
        if let Some(r) = row(&mut interfaces, *i, max) {
            r.oper_status = v.as_i32().and_then(OperStatus::from_value);
        }
    }
    for (i, v) in &speed {
        if let Some(r) = row(&mut interfaces, *i, max) {
            r.speed_bps = v.as_u32().map(u64::from).filter(|s| *s > 0);
        }
    }
    // ifHighSpeed (Mbit/s) wins: ifSpeed saturates at 4,294,967,295 for 10G and up.
    for (i, v) in &high_speed {
        if let Some(mbps) = v.as_u32().filter(|m| *m > 0) {
            if let Some(r) = row(&mut interfaces, *i, max) {
                r.speed_bps = Some(u64::from(mbps) * 1_000_000);
            }
        }
    }
    Ok(Device {
        sys_name,
        sys_descr,
        sys_object_id,
        sys_uptime_cs,
        has_if_x_table,
        interfaces: interfaces.into_values().collect(),
    })
}

/// Why an agent stayed silent to an authenticated SNMPv3 request. Agents answer a
/// wrong digest with an unauthenticated report that a careful client must not trust
/// (anyone on the path could forge it), so the request just times out. A second,
/// unauthenticated request for the same user tells the cases apart without trusting
/// anything: a report that the user is unknown, or any answer at all (the agent is
/// there and knows the user, so the keys are wrong); silence again means unreachable
/// (`None`: keep the timeout). Messages do not name the user: viewers read them,
/// and the user is part of the credentials only admins see.
async fn v3_silence(agent: SocketAddr, user: &str, opts: &PollOptions) -> Option<PollError> {
    let who = agent.to_string();
    let client = Client::builder(agent, async_snmp::Auth::usm(user.as_bytes()))
        .request_timeout(opts.timeout)
        .retry(Retry::none())
        .connect()
        .await
        .ok()?;
    let outcome = client.get(&Oid::from_slice(&SYS_UPTIME)).await;
    let unknown_user = match &outcome {
        Err(e) if e.kind() == async_snmp::ErrorKind::Timeout => return None,
        Err(e) => matches!(&**e, async_snmp::Error::Report { status, .. }
            if matches!(**status, async_snmp::v3::ReportStatus::UnknownUserName { .. })),
        Ok(_) => false,
    };
    let message = if unknown_user {
        format!("{who}: the agent does not know this SNMPv3 user")
    } else {
        format!("{who}: the agent answers but not to these keys: wrong authentication or privacy password or protocol")
    };
    Some(PollError::new(PollErrorKind::Authentication, message))
}

/// The row of `index`, created unless that would pass `max` rows.
fn row(rows: &mut BTreeMap<u32, Interface>, index: u32, max: usize) -> Option<&mut Interface> {
    if !rows.contains_key(&index) && rows.len() >= max {
        return None;
    }
    Some(rows.entry(index).or_insert_with(|| Interface {
        if_index: index,
        name: None,
        alias: None,
        descr: None,
        speed_bps: None,
        oper_status: None,
    }))
}

/// Varbinds asked for per GETBULK (spread over the columns still being walked): about
/// 6 KB of answer with 64-character aliases, which every agent we know sends whole.
const VARBINDS_PER_REQUEST: u32 = 60;

/// Walks `columns` of one table together: each GETBULK carries the next OID of every
/// column not finished yet, with repetitions chosen so a response holds about
/// [`VARBINDS_PER_REQUEST`] values (never more rows than `max_repetitions`). A column
/// ends at the first OID outside it, an `endOfMibView`, or an OID that does not
/// increase (a broken agent must not make us loop). Rows by their single-arc index
/// (ifIndex); exception values and longer indexes are skipped. One `Vec` per column.
async fn table_walk(
    client: &Client<UdpHandle>,
    who: &str,
    columns: &[Oid],
    opts: &PollOptions,
) -> Result<Vec<Vec<(u32, Value)>>, PollError> {
    let mut rows: Vec<Vec<(u32, Value)>> = columns.iter().map(|_| Vec::new()).collect();
    let mut cursor: Vec<Option<Oid>> = columns.iter().map(|c| Some(c.clone())).collect();
    let what = format!("walking {}", columns.first().map(|c| c.to_string()).unwrap_or_default());
    // Each round makes progress on every active column or ends it; bounded anyway.
    for _ in 0..=opts.max_interfaces.saturating_add(1) {
        let active: Vec<usize> =
            (0..columns.len()).filter(|i| cursor.get(*i).is_some_and(Option::is_some)).collect();
        if active.is_empty() {
            break;
        }
        let oids: Vec<Oid> = active.iter().filter_map(|i| cursor.get(*i).cloned().flatten()).collect();
        let n = u32::try_from(oids.len()).unwrap_or(1).max(1);
        let reps = (VARBINDS_PER_REQUEST / n).clamp(1, opts.max_repetitions.max(1));
        let answer =
            client.get_bulk(&oids, 0, reps).await.map_err(|e| PollError::from_client(who, &what, &e))?;
        if answer.is_empty() {
            break;
        }
        let mut progressed = false;
        for (k, vb) in answer.into_iter().enumerate() {
            let Some(&col) = active.get(k % active.len()) else { continue };
            let (Some(column), Some(Some(at))) = (columns.get(col), cursor.get(col)) else { continue };
            progressed = true;
            let ends =
                matches!(vb.value, Value::EndOfMibView) || !vb.oid.starts_with(column) || vb.oid <= *at;
            if ends {
                if let Some(c) = cursor.get_mut(col) {
                    *c = None;
                }
                continue;
            }
            if let (Some(suffix), false) = (vb.oid.strip_prefix(column), vb.value.is_exception()) {
                if let ([index], Some(r)) = (suffix.arcs(), rows.get_mut(col)) {
                    r.push((*index, vb.value.clone()));
                }
            }
            let full = rows.get(col).is_some_and(|r| r.len() >= opts.max_interfaces);
            if let Some(c) = cursor.get_mut(col) {
                *c = if full { None } else { Some(vb.oid) };
            }
        }
        // Columns the agent left out of a truncated answer are asked again from where
        // they stood; an answer that moves nothing ends the walk.
        if !progressed {
            break;
        }
    }
    Ok(rows)
}

/// An OCTET STRING as text: UTF-8 when it is, else Latin-1 (what old agents send);
/// trailing NULs and blanks trimmed; `None` when empty.
fn text(v: &Value) -> Option<String> {
    let bytes = v.as_bytes()?;
    let s = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
    };
    let s = s.trim_end_matches(['\0', ' ', '\r', '\n', '\t']).trim_start();
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    #[test]
    fn text_of_octet_strings() {
        let v = |b: &[u8]| Value::OctetString(b.to_vec().into());
        assert_eq!(text(&v(b"edge1.fra\0")), Some("edge1.fra".into()));
        assert_eq!(text(&v(b"  ")), None);
        assert_eq!(text(&v(b"caf\xe9")), Some("caf\u{e9}".into()));
        assert_eq!(text(&Value::Integer(3)), None);
    }

    #[tokio::test]
    async fn unreachable_agent_is_a_timeout() {
        // Nothing listens on this socket's port once it is dropped: the poll must end
        // with a typed timeout (or network error), not hang.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .unwrap_or(9);
        let opts = PollOptions { timeout: Duration::from_millis(200), retries: 1, ..PollOptions::default() };
        let creds = Credentials::V2c { community: "public".into() };
        let err = match poll(SocketAddr::from(([127, 0, 0, 1], port)), &creds, &opts).await {
            Err(e) => e,
            Ok(d) => panic!("no agent, yet {d:?}"),
        };
        assert!(matches!(err.kind, PollErrorKind::Timeout | PollErrorKind::Network), "{err:?}");
        assert!(err.message.contains("127.0.0.1"), "{}", err.message);
    }
}
