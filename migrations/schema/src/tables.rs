//! Table names (see `migrations/*.sql` for their columns and what each holds). The
//! rollups are named by [`crate::Rollup::table`].

/// Raw flow records, partitioned by `time_received` (0001).
pub const FLOWS: &str = "flows";
/// Ids of committed batches: what makes storage exactly-once (0001).
pub const INGEST_BATCHES: &str = "ingest_batches";
/// Exporting devices and their cumulative counters (0003).
pub const EXPORTERS: &str = "exporters";
/// Per-minute health counters of each exporter, partitioned by day (0003).
pub const EXPORTER_STATS_1M: &str = "exporter_stats_1m";
/// Snapshots of each collector process's counters (0003).
pub const COLLECTOR_STATS: &str = "collector_stats";
/// NetFlow v9 / IPFIX templates kept across collector restarts (0003).
pub const TEMPLATES: &str = "templates";
/// Options-record state (sampling, exporter boot time) per template scope (0003).
pub const TEMPLATE_OPTIONS: &str = "template_options";
/// Relay (forwarding) rules (0005).
pub const FORWARD_RULES: &str = "forward_rules";
/// Progress of the top-N compaction and the daily builds, per rollup table (0006).
pub const ROLLUP_COMPACTION: &str = "rollup_compaction";
/// Display names and notes of exporters, set in the console (0008).
pub const EXPORTER_NAMES: &str = "exporter_names";
/// Archive state of each `flows` partition (0009).
pub const ARCHIVE_PARTITIONS: &str = "archive_partitions";
/// Verified Parquet objects of the archive, one per hour of a partition (0009).
pub const ARCHIVE_OBJECTS: &str = "archive_objects";
/// The archive store's configuration as the collector read it, no secret (0009).
pub const ARCHIVE_STORE: &str = "archive_store";
/// Restores of archived rows (0009).
pub const ARCHIVE_RESTORES: &str = "archive_restores";
/// Rows restored from the archive, beside `flows` (0009).
pub const FLOWS_RESTORED: &str = "flows_restored";
/// View: `flows` plus `flows_restored` with a `restored` column; what flow search and
/// statistics read (0009).
pub const FLOWS_SEARCHABLE: &str = "flows_searchable";
/// The migrations the runner has applied (created by `flowvision-migrations`).
pub const SCHEMA_MIGRATIONS: &str = "schema_migrations";

/// Console users (0004).
pub const WEB_USERS: &str = "web_users";
/// Named sets of exporter prefixes (0004).
pub const WEB_DEVICE_GROUPS: &str = "web_device_groups";
/// The prefixes of each device group (0004).
pub const WEB_DEVICE_GROUP_MEMBERS: &str = "web_device_group_members";
/// Exporter prefixes granted to a user directly (0004).
pub const WEB_USER_PREFIXES: &str = "web_user_prefixes";
/// Device groups granted to a user (0004).
pub const WEB_USER_GROUPS: &str = "web_user_groups";
/// Console sessions (0004).
pub const WEB_SESSIONS: &str = "web_sessions";
/// Personal API tokens (0004).
pub const WEB_API_TOKENS: &str = "web_api_tokens";
/// Login attempts, for rate limiting (0004).
pub const WEB_LOGIN_ATTEMPTS: &str = "web_login_attempts";
/// Who did what in the console (0004).
pub const WEB_AUDIT_LOG: &str = "web_audit_log";
/// Simulations run by the console: request, target, progress, labels (0007).
pub const WEB_SIM_RUNS: &str = "web_sim_runs";
/// Allowed simulation targets besides the appliance's collector (0007).
pub const WEB_SIM_TARGETS: &str = "web_sim_targets";

/// SNMP credentials per exporter or device group, secrets sealed (0011).
pub const SNMP_CREDENTIALS: &str = "snmp_credentials";
/// Last SNMP poll of each exporter and its system group (0011).
pub const EXPORTER_SNMP: &str = "exporter_snmp";
/// Interface names, aliases and speeds learned over SNMP (0011).
pub const EXPORTER_INTERFACES: &str = "exporter_interfaces";

/// Per-host 10 s feature rows, partial aggregates per batch, partitioned by day (0012).
pub const HOST_FEATURES: &str = "host_features";
/// Contacts of internal hosts with outside services at a regular interval,
/// partitioned by day (0016).
pub const HOST_BEACONS: &str = "host_beacons";
/// Detections of the insights engine (0012).
pub const INSIGHTS: &str = "insights";

/// Every table above (the rollups are in [`crate::rollup::TABLES`]).
pub const ALL: &[&str] = &[
    FLOWS,
    INGEST_BATCHES,
    EXPORTERS,
    EXPORTER_STATS_1M,
    COLLECTOR_STATS,
    TEMPLATES,
    TEMPLATE_OPTIONS,
    FORWARD_RULES,
    ROLLUP_COMPACTION,
    ARCHIVE_PARTITIONS,
    ARCHIVE_OBJECTS,
    ARCHIVE_STORE,
    ARCHIVE_RESTORES,
    FLOWS_RESTORED,
    EXPORTER_NAMES,
    SNMP_CREDENTIALS,
    EXPORTER_SNMP,
    EXPORTER_INTERFACES,
    HOST_FEATURES,
    HOST_BEACONS,
    INSIGHTS,
    WEB_USERS,
    WEB_DEVICE_GROUPS,
    WEB_DEVICE_GROUP_MEMBERS,
    WEB_USER_PREFIXES,
    WEB_USER_GROUPS,
    WEB_SESSIONS,
    WEB_API_TOKENS,
    WEB_LOGIN_ATTEMPTS,
    WEB_AUDIT_LOG,
    WEB_SIM_RUNS,
    WEB_SIM_TARGETS,
];
