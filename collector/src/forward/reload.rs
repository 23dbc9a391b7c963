//! Rules live in PostgreSQL (table `forward_rules`, migration 0005). A thread loads
//! them at start and again whenever the table's trigger NOTIFYs channel
//! `forward_rules`, and installs them in the [`Relay`] (an atomic swap). A periodic
//! reload covers notifications lost while the connection was down.

use super::relay::Relay;
use super::rules::Rule;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// The NOTIFY channel.
pub const CHANNEL: &str = "forward_rules";
/// Reload this often even without a notification.
const PERIODIC: Duration = Duration::from_secs(30);
/// Wait this long before reconnecting after an error.
const RETRY: Duration = Duration::from_secs(2);

/// One stored rule, as the CLI lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRule {
    /// Name.
    pub name: String,
    /// Filter text.
    pub filter: String,
    /// host:port.
    pub destination: Option<String>,
    /// raw, reencode or drop.
    pub action: String,
    /// Re-encode protocol.
    pub protocol: Option<String>,
    /// Transparent raw forwarding.
    pub transparent: bool,
    /// Evaluation order.
    pub position: i32,
    /// Active.
    pub enabled: bool,
}

/// Reads every stored rule, in evaluation order.
pub async fn stored(client: &Client) -> Result<Vec<StoredRule>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT name, filter, destination, action, protocol, transparent, position, enabled \
             FROM forward_rules ORDER BY position, name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| StoredRule {
            name: r.get(0),
            filter: r.get(1),
            destination: r.get(2),
            action: r.get(3),
            protocol: r.get(4),
            transparent: r.get(5),
            position: r.get(6),
            enabled: r.get(7),
        })
        .collect())
}

/// Loads the enabled rules; rows that do not compile are skipped and described in
/// the second list (a bad row must not stop the others from forwarding).
pub async fn load(client: &Client) -> Result<(Vec<Rule>, Vec<String>), tokio_postgres::Error> {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for s in stored(client).await?.into_iter().filter(|s| s.enabled) {
        match Rule::from_columns(
            &s.name,
            &s.filter,
            s.destination.as_deref(),
            &s.action,
            s.protocol.as_deref(),
            s.transparent,
        ) {
            Ok(r) => rules.push(r),
            Err(e) => problems.push(format!("rule {} skipped: {e}", s.name)),
        }
    }
    Ok((rules, problems))
}

/// Starts the reload thread; it stops when `stop` is set.
pub fn spawn(
    database_url: String,
    relay: Arc<Relay>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("forward-reload".into()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                log::error!("forwarding rules: no runtime: {e}");
                return;
            }
        };
        rt.block_on(async move {
            while !stop.load(Ordering::Acquire) {
                if let Err(e) = session(&database_url, &relay, &stop).await {
                    log::warn!("forwarding rules: {e} (retrying; the current rules stay active)");
                    tokio::time::sleep(RETRY).await;
                }
            }
        });
    })
}

async fn session(url: &str, relay: &Relay, stop: &AtomicBool) -> Result<(), tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.application_name("flowvision-collector forward-reload");
    config.connect_timeout(Duration::from_secs(10));
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    let _ = tx.send(n.channel().to_string());
                }
                Ok(_) => {}
                Err(e) => {
                    log::debug!("forwarding rules connection: {e}");
                    break;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    reload(&client, relay).await?;
    let mut last = tokio::time::Instant::now();
    let result = loop {
        if stop.load(Ordering::Acquire) {
            break Ok(());
        }
        tokio::select! {
            n = rx.recv() => {
                if n.is_none() {
                    // The connection ended: reconnect (after reporting through an error).
                    break client.simple_query("SELECT 1").await.map(|_| ());
                }
                // Several changes in a burst make one reload.
                while rx.try_recv().is_ok() {}
                if let Err(e) = reload(&client, relay).await { break Err(e) }
                last = tokio::time::Instant::now();
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if last.elapsed() >= PERIODIC {
                    if let Err(e) = reload(&client, relay).await { break Err(e) }
                    last = tokio::time::Instant::now();
                }
            }
        }
    };
    driver.abort();
    result
}

async fn reload(client: &Client, relay: &Relay) -> Result<(), tokio_postgres::Error> {
    let (rules, mut problems) = load(client).await?;
    let n = rules.len();
    let names: Vec<String> = rules.iter().map(|r| r.name.clone()).collect();
    let before: Vec<String> = relay.rules().rules.iter().map(|r| r.rule.name.clone()).collect();
    problems.extend(relay.install(rules));
    if names != before {
        log::info!("forwarding: {n} rules active ({})", names.join(", "));
    }
    for p in problems {
        log::warn!("forwarding: {p}");
    }
    Ok(())
}
