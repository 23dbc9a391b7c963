//! The resolved OID tree and its lookups.

use std::collections::HashMap;

use crate::diagnostic::Diagnostic;
use crate::model::{MibNode, ModuleInfo};
use crate::oid::Oid;

/// What became of one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file's label.
    pub file: String,
    /// Module headers found in its text, in order.
    pub declared: Vec<String>,
    /// Of those, the modules loaded from this file (a module also defined by an earlier
    /// file, or one that did not parse, is declared but not loaded).
    pub loaded: Vec<String>,
    /// Number of diagnostics placed in this file.
    pub diagnostics: usize,
}

/// Every named node of a set of modules, in OID order, with the modules and the
/// problems found.
#[derive(Debug, Clone, Default)]
pub struct Mib {
    nodes: Vec<MibNode>,
    by_name: HashMap<String, Vec<usize>>,
    modules: Vec<ModuleInfo>,
    diagnostics: Vec<Diagnostic>,
    files: Vec<FileReport>,
}

impl Mib {
    /// Builds the lookups; `nodes` in any order.
    pub(crate) fn new(
        mut nodes: Vec<MibNode>,
        mut modules: Vec<ModuleInfo>,
        diagnostics: Vec<Diagnostic>,
        files: Vec<FileReport>,
    ) -> Self {
        // OID first, then module and name so that two names of one arc print in a
        // stable order.
        nodes.sort_by(|a, b| (&a.oid, &a.module, &a.name).cmp(&(&b.oid, &b.module, &b.name)));
        modules.sort_by(|a, b| a.name.cmp(&b.name));
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            by_name.entry(n.name.clone()).or_default().push(i);
        }
        Self { nodes, by_name, modules, diagnostics, files }
    }

    /// Every named node, sorted by OID (numeric, component by component).
    pub fn nodes(&self) -> &[MibNode] {
        &self.nodes
    }

    /// Nodes with this descriptor (several when modules reuse a name).
    pub fn by_name<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a MibNode> + 'a {
        self.by_name.get(name).into_iter().flatten().filter_map(|&i| self.nodes.get(i))
    }

    /// `MODULE::name`, or a plain `name` when it is unique enough to pick the first.
    pub fn lookup(&self, qualified: &str) -> Option<&MibNode> {
        match qualified.split_once("::") {
            Some((module, name)) => self.by_name(name).find(|n| n.module == module),
            None => self.by_name(qualified).next(),
        }
    }

    /// Nodes at exactly this OID.
    pub fn at(&self, oid: &Oid) -> &[MibNode] {
        let start = self.nodes.partition_point(|n| n.oid < *oid);
        let end = self.nodes.partition_point(|n| n.oid <= *oid);
        self.nodes.get(start..end).unwrap_or_default()
    }

    /// The deepest named node at `oid` or above it: the object of an instance OID
    /// (`ifDescr` for `ifDescr.7`), or the product of a sysObjectID.
    pub fn longest_prefix(&self, oid: &Oid) -> Option<&MibNode> {
        let arcs = oid.arcs();
        (1..=arcs.len()).rev().find_map(|len| {
            let prefix = Oid::new(arcs.get(..len)?.to_vec());
            self.at(&prefix).first()
        })
    }

    /// The named children and further descendants of `oid`, in OID order.
    pub fn subtree(&self, oid: &Oid) -> impl Iterator<Item = &MibNode> + '_ {
        let start = self.nodes.partition_point(|n| n.oid <= *oid);
        let oid = oid.clone();
        self.nodes.get(start..).unwrap_or_default().iter().take_while(move |n| oid.is_prefix_of(&n.oid))
    }

    /// The loaded modules, by name.
    pub fn modules(&self) -> &[ModuleInfo] {
        &self.modules
    }

    /// A loaded module.
    pub fn module(&self, name: &str) -> Option<&ModuleInfo> {
        self.modules.binary_search_by(|m| m.name.as_str().cmp(name)).ok().and_then(|i| self.modules.get(i))
    }

    /// Every problem found, in file and line order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// What became of each input file, in input order.
    pub fn files(&self) -> &[FileReport] {
        &self.files
    }
}
