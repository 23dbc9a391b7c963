//! The real `flowvision-web mib dump`: runs with no configuration at all, resolves
//! imports by the module names inside files, prints `MODULE::name<TAB>oid` in numeric
//! OID order, diagnostics as `file:line: severity: message` on stderr, and exits 0 with
//! diagnostics, 2 for a path that does not exist or no path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_flowvision-web");

/// Two modules whose file names say nothing of their names; the second imports from
/// the first and has an error (an undefined parent) on line 14.
const PARENT: &str = "\
ACME-SMI DEFINITIONS ::= BEGIN
IMPORTS MODULE-IDENTITY, enterprises FROM SNMPv2-SMI;
acme MODULE-IDENTITY
    LAST-UPDATED \"202401010000Z\"
    ORGANIZATION \"Acme\"
    CONTACT-INFO \"none\"
    DESCRIPTION \"Acme root.\"
    REVISION \"202401010000Z\"
    DESCRIPTION \"First.\"
    ::= { enterprises 99999 }
acmeProducts OBJECT IDENTIFIER ::= { acme 1 }
acmeRouter10 OBJECT IDENTIFIER ::= { acmeProducts 10 }
acmeRouter9 OBJECT IDENTIFIER ::= { acmeProducts 9 }
END
";

const CHILD: &str = "\
ACME-THING-MIB DEFINITIONS ::= BEGIN
IMPORTS OBJECT-TYPE, Integer32 FROM SNMPv2-SMI
        acme FROM ACME-SMI;

acmeThing OBJECT IDENTIFIER ::= { acme 2 }

acmeThingCount OBJECT-TYPE
    SYNTAX Integer32
    MAX-ACCESS read-only
    STATUS current
    DESCRIPTION \"Things.\"
    ::= { acmeThing 1 }

acmeLost OBJECT IDENTIFIER ::= { nowhereDefined 3 }
END
";

fn dump(args: &[&Path], base: &Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FLOWVISION_BASE_MIBS", base)
        .arg("mib")
        .arg("dump")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn oid_key(line: &str) -> Vec<u32> {
    line.split('\t').nth(1).unwrap().split('.').map(|a| a.parse().unwrap()).collect()
}

#[test]
fn dumps_synthetic_modules_without_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/zz-parent.txt"), PARENT).unwrap();
    std::fs::write(dir.path().join("aa-child"), CHILD).unwrap();
    std::fs::write(dir.path().join("notes.md"), "no module here\n").unwrap();
    // No base folder: the SMI base modules come from the parser's own copies.
    let (code, out, err) = dump(&[dir.path()], &dir.path().join("no-base"));
    assert_eq!(code, 0, "{err}");

    let lines: Vec<&str> = out.lines().collect();
    for expected in [
        "ACME-SMI::acme\t1.3.6.1.4.1.99999",
        "ACME-SMI::acmeRouter9\t1.3.6.1.4.1.99999.1.9",
        "ACME-SMI::acmeRouter10\t1.3.6.1.4.1.99999.1.10",
        "ACME-THING-MIB::acmeThingCount\t1.3.6.1.4.1.99999.2.1",
    ] {
        assert!(lines.contains(&expected), "{expected} missing from:\n{out}");
    }
    // Numeric order: 9 before 10.
    let keys: Vec<Vec<u32>> = lines.iter().map(|l| oid_key(l)).collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "not in OID order:\n{out}");
    assert!(!out.contains("acmeLost"), "{out}");

    // The broken parent is reported at its line, and the non-MIB file as such.
    let child = dir.path().join("aa-child");
    let at = format!("{}:14: error:", child.display());
    assert!(err.lines().any(|l| l.starts_with(&at) && l.contains("nowhereDefined")), "{err}");
    assert!(err.contains("notes.md: warning: no MIB module"), "{err}");
    println!("{err}");
}

#[test]
fn unusable_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = dump(&[&dir.path().join("missing")], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("missing"), "{err}");
    let (code, _, err) = dump(&[], dir.path());
    assert_eq!(code, 2, "{err}");
}

/// The corpus's Cisco and IETF folders with the real base folder: product OIDs are
/// there, and every line is `MODULE::name<TAB>dotted-oid`.
#[test]
fn dumps_the_cisco_products() {
    let corpus = std::env::var_os("FLOWVISION_MIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/mibs"));
    assert!(corpus.is_dir(), "MIB corpus not found at {} (set FLOWVISION_MIBS)", corpus.display());
    let (code, out, err) =
        dump(&[&corpus.join("cisco"), &corpus.join("rfc")], Path::new("/usr/share/snmp/mibs"));
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().all(|l| l.split_once('\t').is_some_and(|(n, o)| n.contains("::") && !o.is_empty())));
    // One OID, two names from two modules: both are listed, as net-snmp does.
    assert!(out.contains("CISCO-PRODUCTS-MIB::cisco5520WLC\t1.3.6.1.4.1.9.1.2170\n"));
    assert!(out.contains("CISCO-PRODUCTS-MIB-CORRECTIONS::cisco5520Wlc\t1.3.6.1.4.1.9.1.2170\n"));
    assert!(out.contains("SNMPv2-MIB::sysObjectID\t1.3.6.1.2.1.1.2\n"));
    let products = out.lines().filter(|l| l.starts_with("CISCO-PRODUCTS-MIB::")).count();
    assert!(products > 2500, "{products} products");
    println!("{products} Cisco products; {}", err.lines().last().unwrap_or_default());
}
