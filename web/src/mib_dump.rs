//! `flowvision-web mib dump PATH...`: the OID tree of MIB files, for people and for
//! comparing with net-snmp's `snmptranslate -Tz`.
//!
//! Deliberately apart from the console: no configuration, no database, so it runs on
//! any machine with the binary, including one where the console is not set up yet.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use flowvision_mib::fs::{self, LoadError};
use flowvision_mib::{resolve, ResolveOptions, Severity};

/// Runs the command and returns the exit status: 0 done (whatever the diagnostics),
/// 1 a file could not be read or stdout failed, 2 a PATH does not exist.
pub fn run(paths: &[PathBuf]) -> i32 {
    match dump(paths) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("flowvision-web: mib dump: {e:#}");
            match e.downcast_ref::<LoadError>() {
                Some(LoadError::Missing { .. }) => 2,
                _ => 1,
            }
        }
    }
}

fn dump(paths: &[PathBuf]) -> anyhow::Result<()> {
    let files = fs::collect_files(paths)?;
    // The user's files first: their copy of a module wins over the base folders'.
    let mut sources = fs::read_files(&files)?;
    sources.extend(fs::load_base()?);
    let mib = resolve(&sources, &ResolveOptions::default());

    let stderr = io::stderr();
    let mut err = BufWriter::new(stderr.lock());
    for d in mib.diagnostics() {
        writeln!(err, "{d}")?;
    }
    let count = |s: Severity| mib.diagnostics().iter().filter(|d| d.severity == s).count();
    writeln!(
        err,
        "{} files, {} modules, {} nodes; {} errors, {} warnings",
        mib.files().len(),
        mib.modules().len(),
        mib.nodes().len(),
        count(Severity::Error),
        count(Severity::Warning)
    )?;
    err.flush()?;

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = mib
        .nodes()
        .iter()
        .try_for_each(|n| writeln!(out, "{}\t{}", n.qualified_name(), n.oid))
        .and_then(|()| out.flush());
    match written {
        // `mib dump … | head` closes the pipe early: that is not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}
