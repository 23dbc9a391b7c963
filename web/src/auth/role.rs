//! Roles and what each may do (the permission table of docs/web.md).

use serde::Serialize;

/// A user's role. Roles are ordered: each has every permission of the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Dashboards, exporters and interfaces within the device scope.
    Viewer,
    /// + raw flow search and CSV export within the device scope.
    Analyst,
    /// + collector statistics (appliance health), simulations.
    Operator,
    /// + users, roles, device scopes and groups, sessions, audit log; sees every exporter.
    Admin,
}

/// Something a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Overview, top talkers/services/protocols/AS, exporters, interfaces.
    ViewDashboards,
    /// Raw flow search and CSV export.
    SearchFlows,
    /// Acknowledge an insight of an exporter in the caller's scope (and take the
    /// acknowledgement back): the analyst who looked at it says so.
    AcknowledgeInsights,
    /// The collector statistics page and API.
    ViewCollectorStats,
    /// Users, roles, device scopes and groups, other users' sessions.
    ManageUsers,
    /// The audit log.
    ViewAudit,
    /// Start, watch and stop simulations (docs/simulations.md).
    RunSimulations,
    /// Edit the allow-list of simulation targets.
    ManageSimTargets,
    /// Forwarding rules: read with their counters, add, edit, enable/disable, delete
    /// (changes also need an all-exporter scope: a rule sees every exporter's flows).
    ManageRules,
    /// Display names and notes of the exporters in the caller's scope.
    NameExporters,
    /// The flow archive: its status and configuration, restores (docs/archive.md).
    ManageArchive,
    /// Browse MIB modules, the OID tree, objects and search (docs/mib.md).
    BrowseMibs,
    /// Upload and delete MIB modules.
    ManageMibs,
    /// Poll an exporter's SNMP agent now ("refresh"); see docs/snmp.md.
    PollSnmp,
    /// Set and remove SNMP credentials (communities, v3 users): secrets, so admins only.
    ManageSnmp,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Analyst, Role::Operator, Role::Admin];

    /// The name used in the database, forms and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The lowest role holding `p`.
    pub fn minimum_for(p: Permission) -> Role {
        match p {
            Permission::ViewDashboards | Permission::BrowseMibs => Role::Viewer,
            Permission::SearchFlows | Permission::AcknowledgeInsights => Role::Analyst,
            Permission::ViewCollectorStats
            | Permission::RunSimulations
            | Permission::ManageRules
            | Permission::NameExporters
            | Permission::ManageMibs
            | Permission::PollSnmp => Role::Operator,
            Permission::ManageUsers
            | Permission::ViewAudit
            | Permission::ManageSimTargets
            | Permission::ManageArchive
            | Permission::ManageSnmp => Role::Admin,
        }
    }

    /// True when the role holds `p`.
    pub fn allows(self, p: Permission) -> bool {
        self >= Role::minimum_for(p)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn table() {
        assert!(Role::Viewer.allows(Permission::ViewDashboards));
        assert!(!Role::Viewer.allows(Permission::SearchFlows));
        assert!(Role::Analyst.allows(Permission::SearchFlows));
        assert!(!Role::Viewer.allows(Permission::AcknowledgeInsights));
        assert!(Role::Analyst.allows(Permission::AcknowledgeInsights));
        assert!(!Role::Analyst.allows(Permission::ViewCollectorStats));
        assert!(Role::Operator.allows(Permission::ViewCollectorStats));
        assert!(!Role::Operator.allows(Permission::ManageUsers));
        assert!(Role::Admin.allows(Permission::ViewAudit));
        assert!(!Role::Analyst.allows(Permission::RunSimulations));
        assert!(Role::Operator.allows(Permission::RunSimulations));
        assert!(!Role::Operator.allows(Permission::ManageSimTargets));
        assert!(!Role::Analyst.allows(Permission::ManageRules));
        assert!(Role::Operator.allows(Permission::ManageRules));
        assert!(!Role::Analyst.allows(Permission::NameExporters));
        assert!(Role::Operator.allows(Permission::NameExporters));
        assert!(!Role::Operator.allows(Permission::ManageArchive));
        assert!(Role::Admin.allows(Permission::ManageArchive));
        assert!(Role::Viewer.allows(Permission::BrowseMibs));
        assert!(!Role::Analyst.allows(Permission::ManageMibs));
        assert!(Role::Operator.allows(Permission::ManageMibs));
        assert!(!Role::Analyst.allows(Permission::PollSnmp));
        assert!(Role::Operator.allows(Permission::PollSnmp));
        assert!(!Role::Operator.allows(Permission::ManageSnmp));
        assert!(Role::Admin.allows(Permission::ManageSnmp));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}
