//! The resolved model: named OID nodes and the modules that define them.
//!
//! Owned plain data, independent of the parser crate, so the console can keep it,
//! render object pages from it and swap the parser without touching its pages.

use crate::oid::Oid;

/// What defines a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// `name OBJECT IDENTIFIER ::= { … }`, or an arc named inside another OID value.
    ValueAssignment,
    /// MODULE-IDENTITY.
    ModuleIdentity,
    /// OBJECT-IDENTITY.
    ObjectIdentity,
    /// OBJECT-TYPE of a scalar.
    Scalar,
    /// OBJECT-TYPE of a table (`SEQUENCE OF`).
    Table,
    /// OBJECT-TYPE of a conceptual row.
    Row,
    /// OBJECT-TYPE of a column.
    Column,
    /// NOTIFICATION-TYPE or SMIv1 TRAP-TYPE (placed at `enterprise.0.n`).
    Notification,
    /// OBJECT-GROUP or NOTIFICATION-GROUP.
    Group,
    /// MODULE-COMPLIANCE.
    Compliance,
    /// AGENT-CAPABILITIES.
    Capabilities,
    /// A node the resolver could not classify.
    Other,
}

impl NodeKind {
    /// A short lower-case name, for display and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::ValueAssignment => "value-assignment",
            NodeKind::ModuleIdentity => "module-identity",
            NodeKind::ObjectIdentity => "object-identity",
            NodeKind::Scalar => "scalar",
            NodeKind::Table => "table",
            NodeKind::Row => "row",
            NodeKind::Column => "column",
            NodeKind::Notification => "notification",
            NodeKind::Group => "group",
            NodeKind::Compliance => "compliance",
            NodeKind::Capabilities => "capabilities",
            NodeKind::Other => "other",
        }
    }

    /// Whether this is an OBJECT-TYPE (scalar, table, row or column).
    pub fn is_object_type(self) -> bool {
        matches!(self, NodeKind::Scalar | NodeKind::Table | NodeKind::Row | NodeKind::Column)
    }
}

/// MAX-ACCESS (SMIv2) or ACCESS (SMIv1) of an OBJECT-TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// not-accessible
    NotAccessible,
    /// accessible-for-notify
    AccessibleForNotify,
    /// read-only
    ReadOnly,
    /// read-write
    ReadWrite,
    /// read-create
    ReadCreate,
    /// write-only (SMIv1)
    WriteOnly,
    /// not-implemented (AGENT-CAPABILITIES variations)
    NotImplemented,
}

impl Access {
    /// The keyword as written in MIBs.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::NotAccessible => "not-accessible",
            Access::AccessibleForNotify => "accessible-for-notify",
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
            Access::ReadCreate => "read-create",
            Access::WriteOnly => "write-only",
            Access::NotImplemented => "not-implemented",
        }
    }
}

/// STATUS of a definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// current
    Current,
    /// deprecated
    Deprecated,
    /// obsolete
    Obsolete,
    /// mandatory (SMIv1)
    Mandatory,
    /// optional (SMIv1)
    Optional,
}

impl Status {
    /// The keyword as written in MIBs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Current => "current",
            Status::Deprecated => "deprecated",
            Status::Obsolete => "obsolete",
            Status::Mandatory => "mandatory",
            Status::Optional => "optional",
        }
    }
}

/// The SYNTAX of an OBJECT-TYPE, with textual conventions resolved to their base.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Syntax {
    /// The type named in SYNTAX (`DisplayString`, `InterfaceIndex`, `INTEGER`…), empty
    /// when the syntax is written inline without a name.
    pub type_name: String,
    /// The nearest TEXTUAL-CONVENTION in the type's chain, if any.
    pub textual_convention: Option<String>,
    /// The SMI base type the chain ends in, as RFC 2578 writes it: `Integer32`,
    /// `Unsigned32`, `Counter32`, `Counter64`, `Gauge32`, `TimeTicks`, `IpAddress`,
    /// `OCTET STRING`, `OBJECT IDENTIFIER`, `BITS`, `Opaque`, `SEQUENCE` (and SPPI's
    /// `Integer64`, `Unsigned64`); empty when the
    /// type could not be resolved.
    pub base: String,
    /// DISPLAY-HINT in effect, empty when none.
    pub display_hint: String,
    /// Named numbers of an enumeration or BITS, in declaration order.
    pub named_values: Vec<(String, i64)>,
    /// Value ranges or SIZE ranges in effect, as written (`0..255`), empty when none.
    pub ranges: Vec<String>,
}

/// One named node of the OID tree and its definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MibNode {
    /// The module defining the node (empty for the roots `ccitt`, `iso`,
    /// `joint-iso-ccitt`, which no module defines).
    pub module: String,
    /// The descriptor (`sysDescr`).
    pub name: String,
    /// Where it sits.
    pub oid: Oid,
    /// What defines it.
    pub kind: NodeKind,
    /// SYNTAX, for OBJECT-TYPEs.
    pub syntax: Option<Syntax>,
    /// MAX-ACCESS / ACCESS, for OBJECT-TYPEs.
    pub access: Option<Access>,
    /// STATUS, when the definition has one.
    pub status: Option<Status>,
    /// UNITS, empty when none.
    pub units: String,
    /// DEFVAL as the resolver renders it (`auto`, `42`, `"text"`, `0x0A0B`,
    /// `{ bit1, bit2 }`, an OID name), for OBJECT-TYPEs that have one.
    pub defval: Option<String>,
    /// INDEX objects of a row (empty for other nodes and for rows using AUGMENTS).
    pub index: Vec<String>,
    /// Whether the last INDEX object is IMPLIED.
    pub index_implied_last: bool,
    /// AUGMENTS target of a row.
    pub augments: Option<String>,
    /// Objects or notifications listed by a NOTIFICATION-TYPE (OBJECTS / VARIABLES) or
    /// a group (OBJECTS / NOTIFICATIONS).
    pub members: Vec<String>,
    /// DESCRIPTION, as written (line breaks and indentation kept).
    pub description: String,
}

impl MibNode {
    /// A node with its place and kind only; the definition's details are filled in by
    /// the engine that read it.
    pub fn new(module: &str, name: &str, oid: Oid, kind: NodeKind) -> MibNode {
        MibNode {
            module: module.to_owned(),
            name: name.to_owned(),
            oid,
            kind,
            syntax: None,
            access: None,
            status: None,
            units: String::new(),
            defval: None,
            index: Vec::new(),
            index_implied_last: false,
            augments: None,
            members: Vec::new(),
            description: String::new(),
        }
    }

    /// `MODULE::name`, or `name` alone for nodes no module defines.
    pub fn qualified_name(&self) -> String {
        if self.module.is_empty() {
            self.name.clone()
        } else {
            format!("{}::{}", self.module, self.name)
        }
    }
}

/// One loaded module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// The name from its `NAME DEFINITIONS ::= BEGIN` line.
    pub name: String,
    /// The label of the file it came from; `embedded:NAME` for the SMI base modules
    /// the parser carries itself when no file provides them.
    pub file: String,
    /// `SMIv1` or `SMIv2` (or `SPPI` for policy modules).
    pub language: String,
    /// The newest of LAST-UPDATED and the REVISIONs, as `YYYY-MM-DD HH:MM` UTC; `None`
    /// for modules without MODULE-IDENTITY (SMIv1) or with unreadable dates.
    pub last_revision: Option<String>,
    /// ORGANIZATION, empty when none.
    pub organization: String,
    /// The module's DESCRIPTION (of its MODULE-IDENTITY), empty when none.
    pub description: String,
    /// The modules named in its IMPORTS, in order.
    pub imports: Vec<String>,
    /// Every other module it names: IMPORTS, the MODULE clauses of its
    /// MODULE-COMPLIANCEs and the SUPPORTS clauses of its AGENT-CAPABILITIES; what its
    /// resolution (and its diagnostics) depends on. Sorted, without duplicates.
    pub references: Vec<String>,
}
