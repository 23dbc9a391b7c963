//! What a poll learns about a device: the system group and its interfaces.

use serde::Serialize;

/// `ifOperStatus` (IF-MIB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperStatus {
    /// up(1)
    Up,
    /// down(2)
    Down,
    /// testing(3)
    Testing,
    /// unknown(4)
    Unknown,
    /// dormant(5)
    Dormant,
    /// notPresent(6)
    NotPresent,
    /// lowerLayerDown(7)
    LowerLayerDown,
}

impl OperStatus {
    /// From the INTEGER value; `None` for values outside the enumeration.
    pub fn from_value(v: i32) -> Option<OperStatus> {
        Some(match v {
            1 => OperStatus::Up,
            2 => OperStatus::Down,
            3 => OperStatus::Testing,
            4 => OperStatus::Unknown,
            5 => OperStatus::Dormant,
            6 => OperStatus::NotPresent,
            7 => OperStatus::LowerLayerDown,
            _ => return None,
        })
    }

    /// The IF-MIB label.
    pub fn as_str(self) -> &'static str {
        match self {
            OperStatus::Up => "up",
            OperStatus::Down => "down",
            OperStatus::Testing => "testing",
            OperStatus::Unknown => "unknown",
            OperStatus::Dormant => "dormant",
            OperStatus::NotPresent => "notPresent",
            OperStatus::LowerLayerDown => "lowerLayerDown",
        }
    }
}

/// One row of the interface table, as the flows' ifIndex refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// `ifIndex`.
    pub if_index: u32,
    /// `ifName` (ifXTable), e.g. `Te0/0/1`; `None` without ifXTable or when empty.
    pub name: Option<String>,
    /// `ifAlias` (ifXTable): the description an operator configured.
    pub alias: Option<String>,
    /// `ifDescr` (ifTable), e.g. `TenGigabitEthernet0/0/1`.
    pub descr: Option<String>,
    /// Speed in bit/s: `ifHighSpeed` × 10⁶ when known, else `ifSpeed` (which saturates
    /// at 4.29 Gbit/s).
    pub speed_bps: Option<u64>,
    /// `ifOperStatus`.
    pub oper_status: Option<OperStatus>,
}

impl Interface {
    /// How the console names it: `ifName (ifAlias)`, falling back to `ifDescr`, then
    /// to the index.
    pub fn label(&self) -> String {
        label(self.if_index, self.name.as_deref(), self.alias.as_deref(), self.descr.as_deref())
    }
}

/// The console's interface label from its parts (see [`Interface::label`]).
pub fn label(if_index: u32, name: Option<&str>, alias: Option<&str>, descr: Option<&str>) -> String {
    let base = name.filter(|n| !n.is_empty()).or(descr.filter(|d| !d.is_empty()));
    match (base, alias.filter(|a| !a.is_empty())) {
        (Some(b), Some(a)) => format!("{b} ({a})"),
        (Some(b), None) => b.to_string(),
        (None, Some(a)) => format!("{if_index} ({a})"),
        (None, None) => if_index.to_string(),
    }
}

/// Everything one poll learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// `sysName.0`.
    pub sys_name: Option<String>,
    /// `sysDescr.0`.
    pub sys_descr: Option<String>,
    /// `sysObjectID.0`, dotted.
    pub sys_object_id: Option<String>,
    /// `sysUpTime.0` in hundredths of a second.
    pub sys_uptime_cs: Option<u32>,
    /// Whether the agent serves ifXTable (`ifName`); without it names come from `ifDescr`.
    pub has_if_x_table: bool,
    /// The interfaces by ifIndex.
    pub interfaces: Vec<Interface>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fall_back() {
        assert_eq!(
            label(3, Some("Te0/0/1"), Some("transit AS3356"), Some("TenGig")),
            "Te0/0/1 (transit AS3356)"
        );
        assert_eq!(label(3, Some("Te0/0/1"), Some(""), None), "Te0/0/1");
        assert_eq!(label(3, None, None, Some("eth0")), "eth0");
        assert_eq!(label(3, Some(""), None, Some("eth0")), "eth0");
        assert_eq!(label(3, None, None, None), "3");
        assert_eq!(label(3, None, Some("uplink"), None), "3 (uplink)");
    }
}
