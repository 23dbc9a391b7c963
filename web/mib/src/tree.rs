//! The resolved OID tree and its lookups.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::model::{MibNode, ModuleInfo};
use crate::oid::Oid;
use crate::scan::ModuleHeader;

/// What became of one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file's label.
    pub file: String,
    /// Module headers found in its text, in order.
    pub declared: Vec<ModuleHeader>,
    /// Of those, the modules loaded from this file (a module also defined by an earlier
    /// file, or one that did not parse, is declared but not loaded).
    pub loaded: Vec<String>,
    /// Number of diagnostics placed in this file.
    pub diagnostics: usize,
}

/// Every named node of a set of modules, in OID order, with the modules and the
/// problems found.
///
/// Nodes are shared (`Arc`): an incremental resolve keeps the unchanged ones without
/// copying their descriptions, and the console can hand them out cheaply.
#[derive(Debug, Clone, Default)]
pub struct Mib {
    /// Sorted by [`oid_order`].
    nodes: Vec<Arc<MibNode>>,
    /// The same nodes sorted by [`name_order`], for lookups by name.
    by_name: Vec<Arc<MibNode>>,
    modules: Vec<ModuleInfo>,
    diagnostics: Vec<Diagnostic>,
    files: Vec<FileReport>,
}

/// OID first, then module and name, so that two names of one arc come in a stable order.
fn oid_order(n: &MibNode) -> (&Oid, &str, &str) {
    (&n.oid, &n.module, &n.name)
}

fn name_order(n: &MibNode) -> (&str, &Oid, &str) {
    (&n.name, &n.oid, &n.module)
}

/// `kept` (sorted by `order`) with `added` inserted in order. Each added node is placed
/// by binary search and the kept ones are moved, not cloned: the nodes are separate
/// allocations, and touching each of 85,000 of them (to compare, or to count a
/// reference) is what rebuilding the tree spends its time on.
fn merge(
    kept: Vec<Arc<MibNode>>,
    mut added: Vec<Arc<MibNode>>,
    order: impl Fn(&MibNode, &MibNode) -> Ordering,
) -> Vec<Arc<MibNode>> {
    added.sort_by(|a, b| order(a, b));
    // Non-decreasing, as `added` is sorted.
    let positions: Vec<usize> =
        added.iter().map(|a| kept.partition_point(|k| order(k, a) != Ordering::Greater)).collect();
    let mut out = Vec::with_capacity(kept.len() + added.len());
    let mut kept = kept.into_iter();
    let mut taken = 0;
    for (a, at) in added.into_iter().zip(positions) {
        out.extend(kept.by_ref().take(at.saturating_sub(taken)));
        taken = taken.max(at);
        out.push(a);
    }
    out.extend(kept);
    out
}

impl Mib {
    /// Builds the lookups; `nodes` in any order.
    pub(crate) fn new(
        mut nodes: Vec<Arc<MibNode>>,
        mut modules: Vec<ModuleInfo>,
        diagnostics: Vec<Diagnostic>,
        files: Vec<FileReport>,
    ) -> Self {
        nodes.sort_by(|a, b| oid_order(a).cmp(&oid_order(b)));
        let mut by_name = nodes.clone();
        by_name.sort_by(|a, b| name_order(a).cmp(&name_order(b)));
        modules.sort_by(|a, b| a.name.cmp(&b.name));
        Self { nodes, by_name, modules, diagnostics, files }
    }

    /// `previous`'s nodes for which `keep` holds, plus `added`, without sorting the
    /// whole tree again (see [`merge`]).
    pub(crate) fn with_changes(
        previous: &Mib,
        keep: impl Fn(&MibNode) -> bool,
        added: Vec<Arc<MibNode>>,
        mut modules: Vec<ModuleInfo>,
        diagnostics: Vec<Diagnostic>,
        files: Vec<FileReport>,
    ) -> Self {
        let kept: Vec<Arc<MibNode>> = previous.nodes.iter().filter(|n| keep(n)).cloned().collect();
        let kept_by_name: Vec<Arc<MibNode>> = previous.by_name.iter().filter(|n| keep(n)).cloned().collect();
        let nodes = merge(kept, added.clone(), |a, b| oid_order(a).cmp(&oid_order(b)));
        let by_name = merge(kept_by_name, added, |a, b| name_order(a).cmp(&name_order(b)));
        modules.sort_by(|a, b| a.name.cmp(&b.name));
        Self { nodes, by_name, modules, diagnostics, files }
    }

    /// Every named node, sorted by OID (numeric, component by component).
    pub fn nodes(&self) -> &[Arc<MibNode>] {
        &self.nodes
    }

    /// Nodes with this descriptor (several when modules reuse a name), in OID order.
    pub fn by_name<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a MibNode> + 'a {
        let start = self.by_name.partition_point(|n| n.name.as_str() < name);
        let end = self.by_name.partition_point(|n| n.name.as_str() <= name);
        self.by_name.get(start..end).unwrap_or_default().iter().map(|n| &**n)
    }

    /// `MODULE::name`, or a plain `name` when it is unique enough to pick the first.
    pub fn lookup(&self, qualified: &str) -> Option<&MibNode> {
        match qualified.split_once("::") {
            Some((module, name)) => self.by_name(name).find(|n| n.module == module),
            None => self.by_name(qualified).next(),
        }
    }

    /// Nodes at exactly this OID.
    pub fn at(&self, oid: &Oid) -> &[Arc<MibNode>] {
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
            self.at(&prefix).first().map(|n| &**n)
        })
    }

    /// The named children and further descendants of `oid`, in OID order.
    pub fn subtree(&self, oid: &Oid) -> impl Iterator<Item = &MibNode> + '_ {
        let start = self.nodes.partition_point(|n| n.oid <= *oid);
        let oid = oid.clone();
        self.nodes
            .get(start..)
            .unwrap_or_default()
            .iter()
            .map(|n| &**n)
            .take_while(move |n| oid.is_prefix_of(&n.oid))
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
