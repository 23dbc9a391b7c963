//! The model on small synthetic modules: imports by module name (never file name),
//! several modules in one file, SMIv1 and SMIv2 constructs, textual conventions
//! resolved to their base, diagnostics with file and line, duplicates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_mib::{
    resolve, resolve_incremental, Access, Mib, NodeKind, Oid, ResolveOptions, Severity, SourceText, Status,
};

/// An SMIv2 module with a TC, a table (INDEX, IMPLIED, AUGMENTS), a scalar with
/// UNITS/DEFVAL/enumeration, a notification and conformance, then an SMIv1 module in
/// the same file with a TRAP-TYPE and a multi-component OID value.
const TWO_MODULES: &str = r#"
EXAMPLE-MIB DEFINITIONS ::= BEGIN
IMPORTS
    MODULE-IDENTITY, OBJECT-TYPE, NOTIFICATION-TYPE, OBJECT-IDENTITY,
    Integer32, Counter64, enterprises
        FROM SNMPv2-SMI
    TEXTUAL-CONVENTION, DisplayString
        FROM SNMPv2-TC
    MODULE-COMPLIANCE, OBJECT-GROUP
        FROM SNMPv2-CONF
    exRoot
        FROM EXAMPLE-ROOT-MIB;

exampleMib MODULE-IDENTITY
    LAST-UPDATED "201001010000Z"
    ORGANIZATION "Example Org"
    CONTACT-INFO "nobody"
    DESCRIPTION "An example."
    REVISION "202203040506Z"
    DESCRIPTION "Newer."
    REVISION "9912310000Z"
    DESCRIPTION "Oldest."
    ::= { exRoot 1 }

ExTemperature ::= TEXTUAL-CONVENTION
    DISPLAY-HINT "d-1"
    STATUS current
    DESCRIPTION "Tenths of a degree."
    SYNTAX Integer32 (-1000..1000)

exObjects OBJECT IDENTIFIER ::= { exampleMib 1 }

exKind OBJECT-IDENTITY
    STATUS current
    DESCRIPTION "A kind."
    ::= { exampleMib 3 }

exMode OBJECT-TYPE
    SYNTAX INTEGER { off(0), on(1), auto(2) }
    UNITS "mode"
    MAX-ACCESS read-write
    STATUS current
    DESCRIPTION "Mode."
    DEFVAL { auto }
    ::= { exObjects 1 }

exTable OBJECT-TYPE
    SYNTAX SEQUENCE OF ExEntry
    MAX-ACCESS not-accessible
    STATUS current
    DESCRIPTION "Table."
    ::= { exObjects 2 }

exEntry OBJECT-TYPE
    SYNTAX ExEntry
    MAX-ACCESS not-accessible
    STATUS current
    DESCRIPTION "Row."
    INDEX { exIndex, IMPLIED exName }
    ::= { exTable 1 }

ExEntry ::= SEQUENCE { exIndex Integer32, exName DisplayString, exTemp ExTemperature, exCount Counter64 }

exIndex OBJECT-TYPE
    SYNTAX Integer32 (1..100)
    MAX-ACCESS not-accessible
    STATUS current
    DESCRIPTION "Index."
    ::= { exEntry 1 }

exName OBJECT-TYPE
    SYNTAX DisplayString (SIZE (1..32))
    MAX-ACCESS not-accessible
    STATUS current
    DESCRIPTION "Name."
    ::= { exEntry 2 }

exTemp OBJECT-TYPE
    SYNTAX ExTemperature
    UNITS "0.1 degrees C"
    MAX-ACCESS read-only
    STATUS deprecated
    DESCRIPTION "Temperature."
    ::= { exEntry 3 }

exCount OBJECT-TYPE
    SYNTAX Counter64
    MAX-ACCESS read-only
    STATUS current
    DESCRIPTION "Count."
    ::= { exEntry 4 }

exExtTable OBJECT-TYPE
    SYNTAX SEQUENCE OF ExExtEntry
    MAX-ACCESS not-accessible
    STATUS current
    DESCRIPTION "Extension."
    ::= { exObjects 3 }

exExtEntry OBJECT-TYPE
    SYNTAX ExExtEntry
    MAX-ACCESS not-accessible
    STATUS current
    DESCRIPTION "Extension row."
    AUGMENTS { exEntry }
    ::= { exExtTable 1 }

ExExtEntry ::= SEQUENCE { exExtFlag INTEGER }

exExtFlag OBJECT-TYPE
    SYNTAX INTEGER { no(1), yes(2) }
    MAX-ACCESS read-only
    STATUS current
    DESCRIPTION "Flag."
    ::= { exExtEntry 1 }

exHot NOTIFICATION-TYPE
    OBJECTS { exTemp }
    STATUS current
    DESCRIPTION "Too hot."
    ::= { exampleMib 0 1 }

exGroups OBJECT IDENTIFIER ::= { exampleMib 2 }

exGroup OBJECT-GROUP
    OBJECTS { exMode, exTemp, exCount, exExtFlag }
    STATUS current
    DESCRIPTION "Objects."
    ::= { exGroups 1 }

exCompliance MODULE-COMPLIANCE
    STATUS current
    DESCRIPTION "Compliance."
    MODULE
        MANDATORY-GROUPS { exGroup }
        OBJECT exMode
            MIN-ACCESS read-only
            DESCRIPTION "Read-only is fine."
    ::= { exGroups 2 }

END

EXAMPLE-V1-MIB DEFINITIONS ::= BEGIN
IMPORTS
    OBJECT-TYPE FROM RFC-1212
    TRAP-TYPE FROM RFC-1215
    exRoot FROM EXAMPLE-ROOT-MIB;

exV1 OBJECT IDENTIFIER ::= { exRoot 7 }
exDeep OBJECT IDENTIFIER ::= { exV1 5 6 }
exAbs OBJECT IDENTIFIER ::= { iso org(3) dod(6) internet(1) private(4) enterprises(1) 99998 9 }

exV1Status OBJECT-TYPE
    SYNTAX INTEGER { up(1), down(2) }
    ACCESS read-only
    STATUS mandatory
    DESCRIPTION "Status."
    ::= { exV1 1 }

exV1Down TRAP-TYPE
    ENTERPRISE exV1
    VARIABLES { exV1Status }
    DESCRIPTION "Went down."
    ::= 3

END
"#;

/// The root, in a file whose name says nothing.
const ROOT: &str = r#"
EXAMPLE-ROOT-MIB DEFINITIONS ::= BEGIN
IMPORTS enterprises FROM SNMPv2-SMI;
exRoot OBJECT IDENTIFIER ::= { enterprises 99998 }
END
"#;

fn load(files: &[(&str, &str)]) -> Mib {
    let sources: Vec<SourceText> =
        files.iter().map(|(l, t)| SourceText::new(*l, t.as_bytes().to_vec())).collect();
    resolve(&sources, &ResolveOptions { threads: Some(1), ..Default::default() })
}

fn oid(s: &str) -> Oid {
    s.parse().unwrap()
}

#[test]
fn smiv1_and_smiv2_constructs() {
    let mib = load(&[("vendor/two-modules.txt", TWO_MODULES), ("x/y/zz", ROOT)]);
    for d in mib.diagnostics() {
        println!("{d}");
    }
    assert!(
        !mib.diagnostics().iter().any(|d| d.severity == Severity::Error),
        "unexpected errors: {:?}",
        mib.diagnostics()
    );

    let node = |q: &str| mib.lookup(q).unwrap_or_else(|| panic!("{q} missing"));
    assert_eq!(node("EXAMPLE-ROOT-MIB::exRoot").oid, oid("1.3.6.1.4.1.99998"));
    let m = node("EXAMPLE-MIB::exampleMib");
    assert_eq!((m.kind, m.oid.clone()), (NodeKind::ModuleIdentity, oid("1.3.6.1.4.1.99998.1")));
    assert_eq!(node("exKind").kind, NodeKind::ObjectIdentity);
    assert_eq!(node("exObjects").kind, NodeKind::ValueAssignment);

    let mode = node("exMode");
    assert_eq!(mode.kind, NodeKind::Scalar);
    assert_eq!(mode.access, Some(Access::ReadWrite));
    assert_eq!(mode.units, "mode");
    assert_eq!(mode.defval.as_deref(), Some("auto"));
    let syn = mode.syntax.as_ref().unwrap();
    assert_eq!(syn.base, "Integer32");
    assert_eq!(syn.named_values, [("off".to_owned(), 0), ("on".to_owned(), 1), ("auto".to_owned(), 2)]);

    assert_eq!(node("exTable").kind, NodeKind::Table);
    let entry = node("exEntry");
    assert_eq!(entry.kind, NodeKind::Row);
    assert_eq!(entry.index, ["exIndex", "exName"]);
    assert!(entry.index_implied_last);
    let ext = node("exExtEntry");
    assert_eq!(ext.augments.as_deref(), Some("exEntry"));
    assert!(ext.index.is_empty());

    let temp = node("exTemp");
    assert_eq!(temp.kind, NodeKind::Column);
    assert_eq!(temp.oid, oid("1.3.6.1.4.1.99998.1.1.2.1.3"));
    assert_eq!(temp.status, Some(Status::Deprecated));
    assert_eq!(temp.units, "0.1 degrees C");
    assert_eq!(temp.defval, None);
    let syn = temp.syntax.as_ref().unwrap();
    assert_eq!(syn.type_name, "ExTemperature");
    assert_eq!(syn.textual_convention.as_deref(), Some("ExTemperature"));
    assert_eq!(syn.base, "Integer32");
    assert_eq!(syn.display_hint, "d-1");
    assert_eq!(syn.ranges, ["-1000..1000"]);
    assert_eq!(temp.description, "Temperature.");

    let name = node("exName").syntax.clone().unwrap();
    assert_eq!(
        (name.textual_convention.as_deref(), name.base.as_str()),
        (Some("DisplayString"), "OCTET STRING")
    );
    assert_eq!(node("exCount").syntax.as_ref().unwrap().base, "Counter64");

    let hot = node("exHot");
    assert_eq!((hot.kind, hot.oid.clone()), (NodeKind::Notification, oid("1.3.6.1.4.1.99998.1.0.1")));
    assert_eq!(hot.members, ["exTemp"]);
    assert_eq!(node("exGroup").kind, NodeKind::Group);
    assert_eq!(node("exGroup").members.len(), 4);
    assert_eq!(node("exCompliance").kind, NodeKind::Compliance);

    // SMIv1, second module of the same file.
    let v1 = node("EXAMPLE-V1-MIB::exV1Status");
    assert_eq!((v1.access, v1.status), (Some(Access::ReadOnly), Some(Status::Mandatory)));
    assert_eq!(node("exDeep").oid, oid("1.3.6.1.4.1.99998.7.5.6"));
    assert_eq!(node("exAbs").oid, oid("1.3.6.1.4.1.99998.9"));
    // TRAP-TYPE n sits at enterprise.0.n.
    let trap = node("exV1Down");
    assert_eq!((trap.kind, trap.oid.clone()), (NodeKind::Notification, oid("1.3.6.1.4.1.99998.7.0.3")));
    assert_eq!(trap.members, ["exV1Status"]);

    // Modules: file labels, newest revision across LAST-UPDATED and REVISIONs.
    let ex = mib.module("EXAMPLE-MIB").unwrap();
    assert_eq!(ex.file, "vendor/two-modules.txt");
    assert_eq!(ex.last_revision.as_deref(), Some("2022-03-04 05:06"));
    assert_eq!(ex.organization, "Example Org");
    assert_eq!(mib.module("EXAMPLE-V1-MIB").unwrap().last_revision, None);
    assert_eq!(mib.module("EXAMPLE-ROOT-MIB").unwrap().file, "x/y/zz");
    let report = &mib.files()[0];
    let declared: Vec<(&str, usize)> = report.declared.iter().map(|h| (h.name.as_str(), h.line)).collect();
    assert_eq!(declared, [("EXAMPLE-MIB", 2), ("EXAMPLE-V1-MIB", 143)]);
    assert_eq!(report.loaded.len(), 2);

    // Tree order and lookups.
    assert!(mib.nodes().windows(2).all(|w| w[0].oid <= w[1].oid));
    assert_eq!(mib.longest_prefix(&oid("1.3.6.1.4.1.99998.1.1.2.1.3.42.7")).unwrap().name, "exTemp");
    assert_eq!(mib.longest_prefix(&oid("1.3.6.1.4.1.99998.42")).unwrap().name, "exRoot");
    let under: Vec<&str> = mib.subtree(&oid("1.3.6.1.4.1.99998.1.1.3")).map(|n| n.name.as_str()).collect();
    assert_eq!(under, ["exExtEntry", "exExtFlag"]);
}

#[test]
fn imports_follow_module_names_not_file_names() {
    // The importing file comes first and is named like the module it imports.
    let mib = load(&[("EXAMPLE-ROOT-MIB.txt", TWO_MODULES), ("misc.bin", ROOT)]);
    assert_eq!(mib.lookup("exTemp").unwrap().oid, oid("1.3.6.1.4.1.99998.1.1.2.1.3"));
    // Without the root module, the import is reported where it is written.
    let mib = load(&[("only.txt", TWO_MODULES)]);
    let missing: Vec<String> = mib
        .diagnostics()
        .iter()
        .filter(|d| d.file == "only.txt" && d.message.contains("EXAMPLE-ROOT-MIB"))
        .map(ToString::to_string)
        .collect();
    assert!(!missing.is_empty(), "{:?}", mib.diagnostics());
    assert!(missing.iter().all(|d| d.starts_with("only.txt:")), "{missing:?}");
    assert!(mib.lookup("exTemp").is_none());
}

#[test]
fn bad_input_is_diagnosed_never_fatal() {
    let broken = "BROKEN-MIB DEFINITIONS ::= BEGIN\nIMPORTS enterprises FROM SNMPv2-SMI;\n\
                  good OBJECT IDENTIFIER ::= { enterprises 4242 }\n\
                  bad_name OBJECT IDENTIFIER ::= { good 1 }\n\
                  orphan OBJECT IDENTIFIER ::= { undefinedParent 2 }\n\
                  junk ::= = { {{ \n\
                  fine OBJECT IDENTIFIER ::= { good 3 }\nEND\n";
    let mib = load(&[
        ("broken.mib", broken),
        ("empty.txt", ""),
        ("binary", "\u{0}\u{1}\u{fffd}DEFINITIONS"),
        ("truncated.my", "TRUNC-MIB DEFINITIONS ::= BEGIN\nIMPORTS foo FROM"),
        ("dup-a.txt", ROOT),
        ("dup-b.txt", ROOT),
        ("rfc1215.txt", include_str!("fuzz_regressions/resolve/broken-base-module.mib")),
    ]);
    for d in mib.diagnostics() {
        println!("{d}");
    }
    assert_eq!(mib.lookup("good").unwrap().oid, oid("1.3.6.1.4.1.4242"));
    assert!(mib.lookup("orphan").is_none());
    let at = |file: &str| mib.diagnostics().iter().filter(|d| d.file == file).collect::<Vec<_>>();
    assert!(at("broken.mib").iter().any(|d| d.line == Some(5) && d.message.contains("undefinedParent")));
    assert!(at("broken.mib").iter().all(|d| d.line.is_some()));
    assert!(at("empty.txt").iter().any(|d| d.message.contains("no MIB module")));
    assert!(!at("binary").is_empty());
    assert!(!at("truncated.my").is_empty());
    // The second copy of a module loses, and says so at its header line.
    let dup = at("dup-b.txt");
    assert!(
        dup.iter().any(|d| d.line == Some(2) && d.message.contains("also defined in dup-a.txt")),
        "{dup:?}"
    );
    assert_eq!(mib.module("EXAMPLE-ROOT-MIB").unwrap().file, "dup-a.txt");
    // A copy of a base module whose MACRO body is mangled: the native reader skips
    // macro bodies, so it is the module used (mib-rs fell back to its own copy and
    // said so: the fuzz finding the file was saved for).
    assert_eq!(mib.module("RFC-1215").unwrap().file, "rfc1215.txt");
    // Every file is accounted for.
    assert!(mib.files().iter().all(|f| !f.loaded.is_empty() || f.diagnostics > 0), "{:?}", mib.files());
}

/// Everything a resolve produced, comparable between an incremental and a full one.
fn content(mib: &Mib) -> (Vec<String>, Vec<String>, Vec<String>) {
    (
        mib.nodes().iter().map(|n| format!("{} {} {:?}", n.qualified_name(), n.oid, n.kind)).collect(),
        mib.modules().iter().map(|m| format!("{} {}", m.name, m.file)).collect(),
        mib.diagnostics().iter().map(ToString::to_string).collect(),
    )
}

#[test]
fn incremental_add_replace_and_empty_equal_full() {
    let options = ResolveOptions { threads: Some(1), ..Default::default() };
    let two = SourceText::new("two.txt", TWO_MODULES.as_bytes().to_vec());
    // Without the root module the example modules cannot place their nodes.
    let before = resolve(std::slice::from_ref(&two), &options);
    assert!(before.lookup("exTemp").is_none());

    let versions = [ROOT.to_owned(), ROOT.replace("99998", "99997"), "no module here".to_owned()];
    let mut previous = before;
    for (step, root) in versions.iter().enumerate() {
        let all = vec![two.clone(), SourceText::new("root.txt", root.as_bytes().to_vec())];
        let incremental = resolve_incremental(&previous, &all, &["root.txt"], &options);
        let full = resolve(&all, &options);
        assert_eq!(content(&incremental), content(&full), "step {step}");
        assert_eq!(incremental.files(), full.files(), "step {step}");
        previous = incremental;
    }
    // The last version took the root module away again.
    assert!(previous.lookup("exTemp").is_none());
    assert!(previous.module("EXAMPLE-ROOT-MIB").is_none());
}
