//! Waiting for a crossbeam channel from async code. The writer and maintenance
//! threads each run a current-thread runtime that also drives their database
//! connection; a blocking receive there would stall the connection's task (and the
//! queue watcher) for as long as it waits. The blocking wait runs on the runtime's
//! blocking pool instead.

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

/// Like [`Receiver::recv_timeout`], without blocking the runtime's thread.
pub(crate) async fn recv_timeout<T: Send + 'static>(
    rx: &Receiver<T>,
    d: Duration,
) -> Result<T, RecvTimeoutError> {
    match rx.try_recv() {
        Ok(v) => return Ok(v),
        Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
        Err(TryRecvError::Empty) if d.is_zero() => return Err(RecvTimeoutError::Timeout),
        Err(TryRecvError::Empty) => {}
    }
    let rx = rx.clone();
    // Awaited to the end (never dropped half-way), so a message received by the
    // blocking task is always handed back.
    tokio::task::spawn_blocking(move || rx.recv_timeout(d)).await.unwrap_or(Err(RecvTimeoutError::Timeout))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::time::Instant;

    #[test]
    fn waits_without_blocking_the_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (tx, rx) = crossbeam_channel::bounded::<u32>(1);
        rt.block_on(async {
            // A task on the same thread keeps running while the receive waits.
            let ticks = tokio::spawn(async {
                let mut n = 0;
                for _ in 0..5 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    n += 1;
                }
                n
            });
            let t = Instant::now();
            assert_eq!(recv_timeout(&rx, Duration::from_millis(150)).await, Err(RecvTimeoutError::Timeout));
            assert!(t.elapsed() >= Duration::from_millis(150));
            assert!(ticks.is_finished(), "the runtime stalled during the wait");
            tx.send(7).unwrap();
            assert_eq!(recv_timeout(&rx, Duration::from_millis(10)).await, Ok(7));
            drop(tx);
            assert_eq!(
                recv_timeout(&rx, Duration::from_millis(10)).await,
                Err(RecvTimeoutError::Disconnected)
            );
        });
    }
}
