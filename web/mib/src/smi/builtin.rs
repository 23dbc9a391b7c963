//! The SMI's own modules, for when no file provides them.
//!
//! Written here from RFC 1155, 1212, 1215, 2578, 2579 and 2580: only what resolution
//! needs (the OID assignments, the types and textual conventions, the macro names that
//! modules import), not the macro grammars. A file defining one of these modules
//! always wins over this text; Debian's libsnmp-base installs the full ones.

/// `(module, text)`, parsed like any file under the label `embedded:MODULE`.
pub(crate) const MODULES: [(&str, &str); 6] = [
    ("SNMPv2-SMI", SNMPV2_SMI),
    ("SNMPv2-TC", SNMPV2_TC),
    ("SNMPv2-CONF", SNMPV2_CONF),
    ("RFC1155-SMI", RFC1155_SMI),
    ("RFC-1212", RFC_1212),
    ("RFC-1215", RFC_1215),
];

const SNMPV2_SMI: &str = r#"SNMPv2-SMI DEFINITIONS ::= BEGIN
org            OBJECT IDENTIFIER ::= { iso 3 }
dod            OBJECT IDENTIFIER ::= { org 6 }
internet       OBJECT IDENTIFIER ::= { dod 1 }
directory      OBJECT IDENTIFIER ::= { internet 1 }
mgmt           OBJECT IDENTIFIER ::= { internet 2 }
mib-2          OBJECT IDENTIFIER ::= { mgmt 1 }
transmission   OBJECT IDENTIFIER ::= { mib-2 10 }
experimental   OBJECT IDENTIFIER ::= { internet 3 }
private        OBJECT IDENTIFIER ::= { internet 4 }
enterprises    OBJECT IDENTIFIER ::= { private 1 }
security       OBJECT IDENTIFIER ::= { internet 5 }
snmpV2         OBJECT IDENTIFIER ::= { internet 6 }
snmpDomains    OBJECT IDENTIFIER ::= { snmpV2 1 }
snmpProxys     OBJECT IDENTIFIER ::= { snmpV2 2 }
snmpModules    OBJECT IDENTIFIER ::= { snmpV2 3 }
zeroDotZero    OBJECT IDENTIFIER ::= { 0 0 }
MODULE-IDENTITY MACRO ::= BEGIN END
OBJECT-IDENTITY MACRO ::= BEGIN END
OBJECT-TYPE MACRO ::= BEGIN END
NOTIFICATION-TYPE MACRO ::= BEGIN END
Integer32 ::= INTEGER (-2147483648..2147483647)
IpAddress ::= OCTET STRING (SIZE (4))
Counter32 ::= INTEGER (0..4294967295)
Gauge32 ::= INTEGER (0..4294967295)
Unsigned32 ::= INTEGER (0..4294967295)
TimeTicks ::= INTEGER (0..4294967295)
Opaque ::= OCTET STRING
Counter64 ::= INTEGER (0..18446744073709551615)
ObjectName ::= OBJECT IDENTIFIER
NotificationName ::= OBJECT IDENTIFIER
END
"#;

const SNMPV2_TC: &str = r#"SNMPv2-TC DEFINITIONS ::= BEGIN
IMPORTS TimeTicks FROM SNMPv2-SMI;
TEXTUAL-CONVENTION MACRO ::= BEGIN END
DisplayString ::= TEXTUAL-CONVENTION DISPLAY-HINT "255a" STATUS current SYNTAX OCTET STRING (SIZE (0..255))
PhysAddress ::= TEXTUAL-CONVENTION DISPLAY-HINT "1x:" STATUS current SYNTAX OCTET STRING
MacAddress ::= TEXTUAL-CONVENTION DISPLAY-HINT "1x:" STATUS current SYNTAX OCTET STRING (SIZE (6))
TruthValue ::= TEXTUAL-CONVENTION STATUS current SYNTAX INTEGER { true(1), false(2) }
TestAndIncr ::= TEXTUAL-CONVENTION STATUS current SYNTAX INTEGER (0..2147483647)
AutonomousType ::= TEXTUAL-CONVENTION STATUS current SYNTAX OBJECT IDENTIFIER
InstancePointer ::= TEXTUAL-CONVENTION STATUS obsolete SYNTAX OBJECT IDENTIFIER
VariablePointer ::= TEXTUAL-CONVENTION STATUS current SYNTAX OBJECT IDENTIFIER
RowPointer ::= TEXTUAL-CONVENTION STATUS current SYNTAX OBJECT IDENTIFIER
RowStatus ::= TEXTUAL-CONVENTION STATUS current SYNTAX INTEGER { active(1), notInService(2), notReady(3), createAndGo(4), createAndWait(5), destroy(6) }
TimeStamp ::= TEXTUAL-CONVENTION STATUS current SYNTAX TimeTicks
TimeInterval ::= TEXTUAL-CONVENTION STATUS current SYNTAX INTEGER (0..2147483647)
DateAndTime ::= TEXTUAL-CONVENTION DISPLAY-HINT "2d-1d-1d,1d:1d:1d.1d,1a1d:1d" STATUS current SYNTAX OCTET STRING (SIZE (8 | 11))
StorageType ::= TEXTUAL-CONVENTION STATUS current SYNTAX INTEGER { other(1), volatile(2), nonVolatile(3), permanent(4), readOnly(5) }
TDomain ::= TEXTUAL-CONVENTION STATUS current SYNTAX OBJECT IDENTIFIER
TAddress ::= TEXTUAL-CONVENTION STATUS current SYNTAX OCTET STRING (SIZE (1..255))
END
"#;

const SNMPV2_CONF: &str = r#"SNMPv2-CONF DEFINITIONS ::= BEGIN
OBJECT-GROUP MACRO ::= BEGIN END
NOTIFICATION-GROUP MACRO ::= BEGIN END
MODULE-COMPLIANCE MACRO ::= BEGIN END
AGENT-CAPABILITIES MACRO ::= BEGIN END
END
"#;

const RFC1155_SMI: &str = r#"RFC1155-SMI DEFINITIONS ::= BEGIN
internet      OBJECT IDENTIFIER ::= { iso org(3) dod(6) 1 }
directory     OBJECT IDENTIFIER ::= { internet 1 }
mgmt          OBJECT IDENTIFIER ::= { internet 2 }
experimental  OBJECT IDENTIFIER ::= { internet 3 }
private       OBJECT IDENTIFIER ::= { internet 4 }
enterprises   OBJECT IDENTIFIER ::= { private 1 }
OBJECT-TYPE MACRO ::= BEGIN END
ObjectName ::= OBJECT IDENTIFIER
NetworkAddress ::= IpAddress
IpAddress ::= OCTET STRING (SIZE (4))
Counter ::= INTEGER (0..4294967295)
Gauge ::= INTEGER (0..4294967295)
TimeTicks ::= INTEGER (0..4294967295)
Opaque ::= OCTET STRING
END
"#;

const RFC_1212: &str = r#"RFC-1212 DEFINITIONS ::= BEGIN
OBJECT-TYPE MACRO ::= BEGIN END
END
"#;

const RFC_1215: &str = r#"RFC-1215 DEFINITIONS ::= BEGIN
TRAP-TYPE MACRO ::= BEGIN END
END
"#;
