//! The archive yields the CPU to ingest. On a small appliance an export competes with
//! the collector for the same cores: the archive's thread and its database session
//! (the PostgreSQL backend process serving the export query) run at a lower CPU
//! priority (`ARCHIVE_NICE`, default 10), so the scheduler gives ingest the cores
//! when both want them and the archive the idle time. Lowering priority needs no
//! privilege for one's own processes; for a backend owned by another user (a system
//! PostgreSQL) it is refused, which is logged once and otherwise harmless.

use tokio_postgres::Client;

/// Sets the nice value of the calling thread (Linux: priorities are per thread).
pub fn lower_thread(nice: i32) {
    if nice <= 0 {
        return;
    }
    let tid = nix::unistd::gettid().as_raw();
    if let Err(e) = set(tid, nice) {
        log::debug!("archive: thread priority unchanged: {e}");
    }
}

/// Sets the nice value of the database backend serving `client`, when it runs on
/// this machine under an identity that allows it.
pub async fn lower_backend(client: &Client, nice: i32) {
    if nice <= 0 {
        return;
    }
    let pid: Option<i32> = client.query_one("SELECT pg_backend_pid()", &[]).await.ok().map(|r| r.get(0));
    if let Some(pid) = pid {
        if let Err(e) = set(pid, nice) {
            log::debug!("archive: database backend {pid} priority unchanged ({e}): remote or another user's");
        }
    }
}

fn set(id: i32, nice: i32) -> Result<(), nix::Error> {
    let who = nix::libc::id_t::try_from(id).map_err(|_| nix::Error::EINVAL)?;
    // SAFETY: setpriority takes plain integers and touches no memory of ours; errors
    // come back as -1 with errno, read right after.
    #[allow(unsafe_code)]
    let r = unsafe { nix::libc::setpriority(nix::libc::PRIO_PROCESS, who, nice) };
    if r == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
    }
}
