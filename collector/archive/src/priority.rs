//! The archive yields the CPU to ingest. On a small appliance an export competes with
//! the collector for the same cores: the archive's thread and its database session
//! (the PostgreSQL backend process serving the export query) run under Linux's
//! `SCHED_IDLE` policy (`ARCHIVE_IDLE`, default on): they get a core only when nothing
//! else wants it, so ingest keeps the machine and the archive uses the idle time. A
//! nice value (`ARCHIVE_NICE`, default 10) is set too, for when the policy is refused.
//! Lowering priority needs no privilege for one's own processes; for a backend owned by
//! another user (a system PostgreSQL) it is refused, which is logged and otherwise
//! harmless. The cost of an idle-only archive on a saturated machine is time: it
//! waits (and its read snapshot stays open) until ingest leaves a core free; the
//! console shows the partitions waiting, and warns when retention is blocked.

use tokio_postgres::Client;

/// Lowers the calling thread's priority (Linux: priorities are per thread, and
/// threads it creates inherit them).
pub fn lower_thread(nice: i32, idle: bool) {
    let tid = nix::unistd::gettid().as_raw();
    if nice > 0 {
        if let Err(e) = set(tid, nice) {
            log::debug!("archive: thread priority unchanged: {e}");
        }
    }
    if idle {
        if let Err(e) = sched_idle(tid) {
            log::debug!("archive: thread not SCHED_IDLE: {e}");
        }
    }
}

/// Sets the nice value of the database backend serving `client`, when it runs on
/// this machine under an identity that allows it.
pub async fn lower_backend(client: &Client, nice: i32, idle: bool) {
    if nice <= 0 && !idle {
        return;
    }
    let pid: Option<i32> = client.query_one("SELECT pg_backend_pid()", &[]).await.ok().map(|r| r.get(0));
    let Some(pid) = pid else { return };
    let result = (if nice > 0 { set(pid, nice) } else { Ok(()) }).and_then(|()| {
        if idle {
            sched_idle(pid)
        } else {
            Ok(())
        }
    });
    if let Err(e) = result {
        log::debug!("archive: database backend {pid} priority unchanged ({e}): remote or another user's");
    }
}

fn sched_idle(id: i32) -> Result<(), nix::Error> {
    let param = nix::libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler reads the sched_param we pass (alive for the call)
    // and nothing else of ours; errors come back as -1 with errno, read right after.
    #[allow(unsafe_code)]
    let r = unsafe { nix::libc::sched_setscheduler(id, nix::libc::SCHED_IDLE, &param) };
    if r == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
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
