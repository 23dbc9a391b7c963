//! Simulations' history and the allow-list of their targets (tables of migration
//! 0007). The runs themselves live in [`crate::simulations`]; this is what survives them.

use super::{ts, ts_opt, DataResult, Db};
use flowvision_schema::tables::{WEB_SIM_RUNS, WEB_SIM_TARGETS};
use serde::Serialize;
use serde_json::Value;

/// A simulation run as stored.
#[derive(Debug, Clone, Serialize)]
pub struct SimRunRow {
    /// Run id.
    pub id: i64,
    /// Bundled scenario it started from (empty: the simulator's defaults).
    pub scenario: String,
    /// The effective scenario, TOML.
    pub scenario_toml: String,
    /// Where it sent.
    pub target: String,
    /// Peak flows per second it was budgeted at.
    pub budget_rate: f64,
    /// running, finished, cancelled, failed or interrupted.
    pub state: String,
    /// Who started it.
    pub started_by: String,
    /// When, RFC 3339.
    pub started_at: String,
    /// When it ended, RFC 3339.
    pub ended_at: Option<String>,
    /// The last progress stored.
    pub progress: Value,
    /// The ground-truth labels stored.
    pub labels: Value,
    /// Why it failed.
    pub error: Option<String>,
}

/// An allowed simulation target.
#[derive(Debug, Clone, Serialize)]
pub struct SimTarget {
    /// Id.
    pub id: i64,
    /// ADDRESS:PORT.
    pub target: String,
    /// Why it is allowed.
    pub note: String,
    /// Who added it.
    pub added_by: String,
    /// When, RFC 3339.
    pub added_at: String,
}

const RUN_COLUMNS: &str =
    "id, scenario, scenario_toml, target, budget_rate, state, started_by, started_at, ended_at, progress, labels, error";

fn run_row(r: &tokio_postgres::Row) -> DataResult<SimRunRow> {
    Ok(SimRunRow {
        id: r.try_get(0)?,
        scenario: r.try_get(1)?,
        scenario_toml: r.try_get(2)?,
        target: r.try_get(3)?,
        budget_rate: r.try_get(4)?,
        state: r.try_get(5)?,
        started_by: r.try_get(6)?,
        started_at: ts(r.try_get(7)?),
        ended_at: ts_opt(r.try_get(8)?),
        progress: r.try_get(9)?,
        labels: r.try_get(10)?,
        error: r.try_get(11)?,
    })
}

impl Db {
    /// Records a run that is about to start; returns its id.
    pub async fn insert_sim_run(
        &self,
        scenario: &str,
        scenario_toml: &str,
        target: &str,
        budget_rate: f64,
        started_by: &str,
    ) -> DataResult<i64> {
        let c = self.conn().await?;
        let row = c
            .query_one(
                &format!(
                    "INSERT INTO {WEB_SIM_RUNS} (scenario, scenario_toml, target, budget_rate, state, started_by) \
                     VALUES ($1, $2, $3, $4, 'running', $5) RETURNING id"
                ),
                &[&scenario, &scenario_toml, &target, &budget_rate, &started_by],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Stores a running run's progress and labels so far.
    pub async fn update_sim_progress(&self, id: i64, progress: &Value, labels: &Value) -> DataResult<()> {
        let c = self.conn().await?;
        c.execute(
            &format!(
                "UPDATE {WEB_SIM_RUNS} SET progress = $2, labels = $3 WHERE id = $1 AND state = 'running'"
            ),
            &[&id, progress, labels],
        )
        .await?;
        Ok(())
    }

    /// Stores how a run ended.
    pub async fn finish_sim_run(
        &self,
        id: i64,
        state: &str,
        progress: &Value,
        labels: &Value,
        error: Option<&str>,
    ) -> DataResult<()> {
        let c = self.conn().await?;
        c.execute(
            &format!(
                "UPDATE {WEB_SIM_RUNS} SET state = $2, progress = $3, labels = $4, error = $5, ended_at = now() \
                 WHERE id = $1"
            ),
            &[&id, &state, progress, labels, &error],
        )
        .await?;
        Ok(())
    }

    /// Marks runs left `running` by a console that stopped as `interrupted` (their
    /// threads died with it); returns how many.
    pub async fn interrupt_sim_runs(&self) -> DataResult<u64> {
        let c = self.conn().await?;
        Ok(c.execute(
            &format!(
                "UPDATE {WEB_SIM_RUNS} SET state = 'interrupted', ended_at = now(), \
                 error = 'the console stopped while it ran' WHERE state = 'running'"
            ),
            &[],
        )
        .await?)
    }

    /// The newest `limit` runs.
    pub async fn sim_runs(&self, limit: i64) -> DataResult<Vec<SimRunRow>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!("SELECT {RUN_COLUMNS} FROM {WEB_SIM_RUNS} ORDER BY id DESC LIMIT $1"),
                &[&limit.clamp(1, 1000)],
            )
            .await?;
        rows.iter().map(run_row).collect()
    }

    /// One run.
    pub async fn sim_run(&self, id: i64) -> DataResult<Option<SimRunRow>> {
        let c = self.conn().await?;
        let row =
            c.query_opt(&format!("SELECT {RUN_COLUMNS} FROM {WEB_SIM_RUNS} WHERE id = $1"), &[&id]).await?;
        row.as_ref().map(run_row).transpose()
    }

    /// The allow-list.
    pub async fn sim_targets(&self) -> DataResult<Vec<SimTarget>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT id, target, note, added_by, added_at FROM {WEB_SIM_TARGETS} ORDER BY target"
                ),
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SimTarget {
                    id: r.try_get(0)?,
                    target: r.try_get(1)?,
                    note: r.try_get(2)?,
                    added_by: r.try_get(3)?,
                    added_at: ts(r.try_get(4)?),
                })
            })
            .collect()
    }

    /// Whether `target` (as `SocketAddr` prints it) is on the allow-list.
    pub async fn sim_target_allowed(&self, target: &str) -> DataResult<bool> {
        let c = self.conn().await?;
        let row = c
            .query_one(
                &format!("SELECT EXISTS (SELECT 1 FROM {WEB_SIM_TARGETS} WHERE target = $1)"),
                &[&target],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Adds a target; returns its id (a duplicate is a conflict).
    pub async fn add_sim_target(&self, target: &str, note: &str, added_by: &str) -> DataResult<i64> {
        let c = self.conn().await?;
        let row = c
            .query_one(
                &format!(
                    "INSERT INTO {WEB_SIM_TARGETS} (target, note, added_by) VALUES ($1, $2, $3) RETURNING id"
                ),
                &[&target, &note, &added_by],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Removes a target; returns the address it had (None: no such id).
    pub async fn remove_sim_target(&self, id: i64) -> DataResult<Option<String>> {
        let c = self.conn().await?;
        let row = c
            .query_opt(&format!("DELETE FROM {WEB_SIM_TARGETS} WHERE id = $1 RETURNING target"), &[&id])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }
}
