//! One transaction on a shared connection: BEGIN (and its settings), the work,
//! COMMIT — and ROLLBACK when any of it fails, so a long-lived connection (the
//! maintenance thread's, a writer's) is never left inside an aborted transaction.

use std::future::Future;
use tokio_postgres::Client;

/// Runs `work` between BEGIN and COMMIT on `client`, after `setup` (e.g. `SET LOCAL`
/// statements; empty for none). `work` is a future that has not started yet: it runs
/// after BEGIN.
pub(crate) async fn transaction<T, E>(
    client: &Client,
    setup: &str,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E>
where
    E: From<tokio_postgres::Error>,
{
    client.batch_execute("BEGIN").await?;
    let result = async {
        if !setup.is_empty() {
            client.batch_execute(setup).await?;
        }
        let value = work.await?;
        client.batch_execute("COMMIT").await?;
        Ok(value)
    }
    .await;
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}
