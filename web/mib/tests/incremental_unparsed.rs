//! An incremental resolve whose added files declare a module that does not parse (a
//! header quoted in a README or a diff) still loads the others: mib-rs drops a whole
//! load when a module asked for by name is not found, and the resolver asks again
//! without it. Found by uploading the whole corpus to the console at once (every
//! module came back "could not be parsed").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_mib::{resolve, resolve_incremental, ResolveOptions, SourceText};

const BASE: &str = "ACME-SMI DEFINITIONS ::= BEGIN
IMPORTS enterprises FROM SNMPv2-SMI;
acme OBJECT IDENTIFIER ::= { enterprises 99999 }
END
";

const GOOD: &str = "ACME-THING-MIB DEFINITIONS ::= BEGIN
IMPORTS acme FROM ACME-SMI;
acmeThing OBJECT IDENTIFIER ::= { acme 2 }
END
";

const README: &str = "How to write a MIB:\n\n    NAME DEFINITIONS ::= BEGIN\n    ...\n";

#[test]
fn an_unparsable_declared_module_does_not_drop_the_others() {
    let opts = ResolveOptions { threads: Some(1), ..Default::default() };
    let base = vec![SourceText::new("ACME-SMI.txt", BASE.as_bytes().to_vec())];
    let previous = resolve(&base, &opts);
    assert!(previous.module("ACME-SMI").is_some());
    let mut sources = vec![
        SourceText::new("README", README.as_bytes().to_vec()),
        SourceText::new("thing.txt", GOOD.as_bytes().to_vec()),
    ];
    sources.extend(base);
    let mib = resolve_incremental(&previous, &sources, &["README", "thing.txt"], &opts);
    assert!(mib.diagnostics().iter().all(|d| d.file != "<mib>"), "{:#?}", mib.diagnostics());
    assert_eq!(
        mib.lookup("ACME-THING-MIB::acmeThing").map(|n| n.oid.to_string()).as_deref(),
        Some("1.3.6.1.4.1.99999.2")
    );
    assert!(mib
        .diagnostics()
        .iter()
        .any(|d| d.file == "README" && d.message.contains("could not be parsed")));
    let full = resolve(&sources, &opts);
    assert_eq!(full.nodes().len(), mib.nodes().len());
}
