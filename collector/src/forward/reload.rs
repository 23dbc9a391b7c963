//! Rules live in PostgreSQL (table `forward_rules`, migration 0005, read through
//! [`flowvision_filter::rules`]). A thread loads them at start and again whenever the
//! table's trigger NOTIFYs channel [`CHANNEL`], and installs them in the [`Relay`] (an
//! atomic swap). A periodic reload covers notifications lost while the connection was
//! down.

use super::relay::Relay;
use flowvision_filter::rules::{self, CHANNEL};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// Reload this often even without a notification.
const PERIODIC: Duration = Duration::from_secs(30);
/// Wait this long before reconnecting after an error.
const RETRY: Duration = Duration::from_secs(2);

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
    let (loaded, mut problems) = rules::load(client).await?;
    let n = loaded.len();
    let names: Vec<String> = loaded.iter().map(|r| r.name.clone()).collect();
    let before: Vec<String> = relay.rules().rules.iter().map(|r| r.rule.name.clone()).collect();
    problems.extend(relay.install(loaded));
    if names != before {
        log::info!("forwarding: {n} rules active ({})", names.join(", "));
    }
    for p in problems {
        log::warn!("forwarding: {p}");
    }
    Ok(())
}
